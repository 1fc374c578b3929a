"""`audit --html`: one self-contained page with charts above the tables, the same filters as
`audit`, and a real browser (headless Chromium) that loads it without a console error and
draws the charts.

Chromium comes from the OS packages (.ci/run installs it when missing). Elsewhere the browser
tests skip with a loud reason; under CI=true they fail instead of skipping.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from pathlib import Path

import pytest
from conftest import invoke
from custody_kit import FAST, PASSPHRASE, StepClock, sample_job

from vault.audit._html import PALETTE
from vault.custody import Custodian

HOSTILE = '<img src=x onerror="alert(1)">&'


@pytest.fixture
def vault(isolated_env: Path) -> Path:
    """Jobs spread over several days (a clock stepping 9 hours per reading), three statuses,
    two file types, log entries by two users, one with a hostile name."""
    clock = StepClock(start=1_800_000_000.0, step=9 * 3600)
    with Custodian.create(
        isolated_env, user="alice", passphrase=PASSPHRASE, kdf=FAST, clock=clock
    ) as kr:
        for i in range(8):
            kr.store_job(sample_job(f"job-{i}"), actor="alice")
        kr.store_job(sample_job("job-failed", status="failed", error="boom"), actor="alice")
        kr.record_pending(
            "job-pending", file_type="pdf", source="fetch", submitted_at=clock(),
            filename=None, options=None, actor="alice",
        )  # fmt: skip
        kr.record("bob", "restore", "job-1", {"restored": 3})
        kr.record(HOSTILE, "export", "job-2", {"file_bytes": 10})
    return isolated_env


def page(args: list[str], tmp_path: Path) -> str:
    out = tmp_path / "audit.html"
    result = invoke(["audit", *args, "--html", str(out), "--force"])  # one page per call
    assert result.exit_code == 0, result.output
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    return out.read_text(encoding="utf-8")


def test_page_is_self_contained(vault: Path, tmp_path: Path) -> None:
    text = page([], tmp_path)
    lowered = text.lower()
    for forbidden in ("<script", "<link", "<img", "<iframe", "<object", "@import", "url("):
        assert forbidden not in lowered, forbidden
    assert re.search(r"<[^>]*\s(src|href|on\w+)\s*=", lowered) is None  # no loading attribute
    assert re.search(r"https?://", text) is None
    assert "default-src 'none'" in text  # the browser refuses any load a change might add
    # Charts come before the tables.
    assert text.index('data-chart="entities-over-time"') < text.index("<table")
    for chart in ("entities-over-time", "jobs-by-status", "jobs-by-file-type", "log-by-user"):
        assert f'data-chart="{chart}"' in text
    # The hostile user name is escaped, never markup.
    assert HOSTILE not in text and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;" in text


def _drawn(text: str, chart: str) -> list[int]:
    start = text.index(f'data-chart="{chart}"')
    section = text[start : text.index("</figure>", start)]
    return [int(v) for v in re.findall(r'data-value="(\d+)"', section)]


def test_charts_draw_the_audit_numbers(vault: Path, tmp_path: Path) -> None:
    text = page([], tmp_path)
    # 9 finished jobs x 3 entities, over several days; the pending job has none.
    assert sum(_drawn(text, "entities-over-time")) == 9 * 3
    assert len(re.findall(r"<text[^>]*>\d\d-\d\d</text>", text)) >= 3  # several days
    assert sorted(_drawn(text, "jobs-by-status")) == [1, 1, 8]
    assert sorted(_drawn(text, "jobs-by-file-type")) == [1, 9]
    log = Counter(e.user for e in Custodian.open(vault).log_entries())
    assert sum(_drawn(text, "log-by-user")) == sum(log.values())


def test_the_same_filters_as_audit(vault: Path, tmp_path: Path) -> None:
    text = page(["--status", "failed"], tmp_path)
    assert _drawn(text, "jobs-by-status") == [1]
    assert "job-failed" in text and "job-3" not in text
    # The log chart keeps only entries about the selected jobs.
    assert sum(_drawn(text, "log-by-user")) == 1  # its fetch entry
    empty = page(["--since", "2100-01-01"], tmp_path)
    assert "no entities in the selected jobs" in empty and "0</b>jobs" in empty


def test_html_to_stdout_and_refusals(vault: Path) -> None:
    result = invoke(["audit", "--html", "-"])
    assert result.exit_code == 0 and result.stdout.startswith("<!DOCTYPE html>")
    assert invoke(["audit", "--html", "x.html", "--deep"]).exit_code == 2
    assert invoke(["audit", "--html", "x.html", "--summary"]).exit_code == 2


# --- a real browser -----------------------------------------------------------------------

CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    reason = (
        "!!! CHROMIUM NOT INSTALLED: the audit --html browser tests did NOT run "
        "(apt-get install chromium; .ci/run installs it) !!!"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def browse(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [chromium(), *CHROME_FLAGS, f"--user-data-dir={profile}", *args, url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Refused to" in line]


def png_pixels(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """A minimal PNG reader for Chromium's 8-bit RGB/RGBA, non-interlaced screenshots."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytearray] = []
    prev = bytearray(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        kind, cur = line[0], bytearray(line[1:])
        for i in range(stride):
            a = cur[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if kind == 1:
                cur[i] = (cur[i] + a) & 255
            elif kind == 2:
                cur[i] = (cur[i] + b) & 255
            elif kind == 3:
                cur[i] = (cur[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(cur)
        prev = cur
    pixels = [
        (row[x * channels], row[x * channels + 1], row[x * channels + 2])
        for row in rows
        for x in range(width)
    ]
    return width, height, pixels


def test_console_check_catches_errors(tmp_path: Path) -> None:
    """The detector itself works: a broken page shows up in the console lines."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><p>x</p><script>undefined_fn()</script>", encoding="utf-8")
    proc = browse(bad.as_uri(), tmp_path, "--dump-dom")
    assert any("undefined_fn" in line for line in console_messages(proc.stderr))


def test_chromium_loads_the_page_and_draws_the_charts(vault: Path, tmp_path: Path) -> None:
    text = page([], tmp_path)
    url = (tmp_path / "audit.html").as_uri()
    dom = browse(url, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_messages(dom.stderr) == [], console_messages(dom.stderr)
    # The browser parsed every chart and bar (the DOM it built, not our text).
    assert dom.stdout.count("<svg") == 4
    assert dom.stdout.count('class="bar"') == text.count('class="bar"') > 10

    shot = tmp_path / "shot.png"
    proc = browse(url, tmp_path, f"--screenshot={shot}", "--window-size=860,1100")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    assert console_messages(proc.stderr) == []
    width, height, pixels = png_pixels(shot.read_bytes())
    assert (width, height) == (860, 1100)
    colours = Counter(pixels)
    # The chart colours were painted: each of the first three palette colours covers a
    # real area (a bar, not a legend swatch).
    for hex_colour in PALETTE[:3]:
        rgb = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        assert colours[rgb] > 500, (hex_colour, colours[rgb])


def test_chromium_paints_every_series_in_its_own_colour(isolated_env: Path, tmp_path: Path) -> None:
    """More entity types than the palette has colours: the legend and the bars still give
    each type its own colour, and the browser paints each of them."""
    types = [f"TYPE_{chr(65 + i)}" for i in range(16)]
    mapping = {f"original {i}": f"[{name}_1]" for i, name in enumerate(types)}
    with Custodian.create(isolated_env, user="alice", passphrase=PASSPHRASE, kdf=FAST) as kr:
        kr.store_job(sample_job("job-many", mapping=mapping), actor="alice")
    page([], tmp_path)
    url = (tmp_path / "audit.html").as_uri()
    dom = browse(url, tmp_path, "--dump-dom")
    assert dom.returncode == 0 and console_messages(dom.stderr) == []
    figure = dom.stdout.split('data-chart="entities-over-time"')[1].split("</figure>")[0]
    legend = re.findall(r'<i style="background:\s*(#[0-9a-f]{6})', figure)
    assert len(legend) == len(types) == len(set(legend)), legend
    shot = tmp_path / "many.png"
    proc = browse(url, tmp_path, f"--screenshot={shot}", "--window-size=860,1100")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    colours = Counter(png_pixels(shot.read_bytes())[2])
    for hex_colour in legend:
        rgb = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        assert colours[rgb] >= 60, (hex_colour, colours[rgb])  # swatch and bar painted
