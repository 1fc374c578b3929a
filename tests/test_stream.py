"""The stream restorer: equal to a whole-text restore for every chunking, holds back only a
possible placeholder start, logs once before the first restored text; the docs' SSE example."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import random
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_lenient import MAP, texts_and_maps

from vault import KdfParams, StreamRestorer, Vault
from vault.errors import InputError
from vault.models import JobContent
from vault.placeholders import Matcher, invert_map
from vault.restore import RestoreOptions, RestoreReport, restore_text
from vault.restore._engine import restore_stream

DOC = Path(__file__).resolve().parent.parent / "docs" / "python-api.md"
# The longest text a lenient token can span for MAP (brackets, padding, separators, number).
HOLD_LIMIT = 3 * max(len(p) for p in MAP.values()) + 60


def stream(text: str, cuts: list[int], mapping: dict[str, str], lenient: bool) -> tuple[str, int]:
    """Restore ``text`` cut at ``cuts``; (output, most input characters ever held back)."""
    _, out, held = stream_with(text, cuts, mapping, lenient)
    return out, held


def stream_with(
    text: str, cuts: list[int], mapping: dict[str, str], lenient: bool, watch: bool = True
) -> tuple[StreamRestorer, str, int]:
    """``watch``: read ``held_back`` after each chunk (it counts the chunks the fast paths
    released so far; without it, runs of them are counted when something else needs it)."""
    restorer = StreamRestorer(invert_map(mapping, "job"), lenient=lenient)
    out, held, fed, pos = [], 0, 0, 0
    for cut in [*sorted(cuts), len(text)]:
        piece = text[pos:cut]
        pos = max(pos, cut)
        out.append(restorer.feed(piece))
        fed += len(piece)
        if watch:
            held = max(held, restorer.held_back)
    out.append(restorer.close())
    return restorer, "".join(out), held


def same_report(streamed: RestoreReport, whole: RestoreReport) -> bool:
    """Equal in everything but how the input was given (format reason, byte counts), and in
    the order of the per-type counts. (The per-reason counts are in the order each reason was
    first met, which is not text order in a whole restore either.)"""
    fields = {"format_reason": "", "bytes_in": 0, "bytes_out": 0}
    same = dataclasses.replace(streamed, **fields) == dataclasses.replace(whole, **fields)
    return same and list(streamed.restored_by_type) == list(whole.restored_by_type)


# Words and pieces that exercise the streaming fast paths: label words whole, cut and inside
# other words, case variants (Kelvin sign lower-cases to "k"), link destinations, escapes.
STREAM_PIECES = [
    "PERS", "Person", "PERSON ", "pers", "\u212a", "İ", "ADDRESS", "e", "mail", "Email",
    "EMAIL_ADDRESS", "date", "DATE_", "update", "(mailto:", "](", "]", "[", "  ", "\\n",
    "\\", "城", "ñ", "x", "proj", "Project", "project x", "note", "NOTE_1", ".\n",
]  # fmt: skip


@st.composite
def stream_cases(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    text, mapping = draw(texts_and_maps())
    for piece in draw(st.lists(st.sampled_from(STREAM_PIECES), max_size=8)):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + piece + text[at:]
    return text, mapping


@given(stream_cases(), st.lists(st.integers(0, 200), max_size=12), st.booleans(), st.booleans())
def test_stream_equals_whole_restore_for_every_chunking(case, cuts, lenient, watch) -> None:
    text, mapping = case
    whole, report = restore_text(text, invert_map(mapping, "job"), lenient=lenient)
    restorer, out, _ = stream_with(text, cuts, mapping, lenient, watch)
    assert out == whole
    assert same_report(restorer.report, report)
    assert (restorer.report.bytes_in, restorer.report.bytes_out) == (len(text), len(out))


@given(stream_cases(), st.booleans())
def test_stream_one_character_at_a_time_equals_whole(case, lenient) -> None:
    text, mapping = case
    whole, report = restore_text(text, invert_map(mapping, "job"), lenient=lenient)
    restorer, out, held = stream_with(text, list(range(len(text))), mapping, lenient)
    assert out == whole
    assert same_report(restorer.report, report)


@given(stream_cases(), st.booleans())
def test_quiet_text_is_never_changed_held_or_reported(case, lenient) -> None:
    """The fast path's test: text called quiet (after released text that does not end with a
    backslash) is restored as it is, reports nothing, and nothing of it is held back."""
    text, mapping = case
    resolver = invert_map(mapping, "job")
    for cut in range(len(text) + 1):
        before, rest = text[:cut], text[cut:]
        matcher = Matcher(resolver, lenient=lenient)
        if before.endswith("\\") or not matcher.quiet(rest):
            continue
        assert matcher.safe_end(text, cut) == len(text)
        assert matcher.restore_region(text, cut, len(text), 0) == (rest, len(text))
        assert not matcher.tally.unresolved and not matcher.restored_counts()


def test_regression_quiet_needs_the_quick_search() -> None:
    # Found while building the fast path: with a label that is not ASCII there is no quick
    # search, and "[" was called quiet (released) although it may begin "[城市_1]".
    mapping = {"Rome": "[城市_1]"}
    assert not Matcher(invert_map(mapping, "job")).quiet("[")
    restorer = StreamRestorer(invert_map(mapping, "job"))
    assert restorer.feed("[") == ""
    assert restorer.feed("城市_1] ok") + restorer.close() == "Rome ok"
    # and a chunk that is one placeholder takes the general way too (nothing is known)
    assert Matcher(invert_map(mapping, "job")).unknown_words(["[城市_1]"]) == {"", "[城市_1]"}


@pytest.mark.parametrize("lenient", [False, True])
@pytest.mark.parametrize(
    "text",
    ["[PERSON_NAME_10  ]", "< person name 10 >", "{PERSON_NAME_10\t} x", "[PERSON_NAME_10 ]"],
)
def test_regression_padding_before_a_closer_not_yet_streamed(text: str, lenient: bool) -> None:
    # Found by the one-character property: padding after a whole token released the token
    # before its closer arrived, so lenient streamed "[John Doe  ]" where a whole restore
    # repairs the padded form (and strict lost its "mangled" report).
    mapping = {"John Doe": "[PERSON_NAME_10]"}
    whole, report = restore_text(text, invert_map(mapping, "job"), lenient=lenient)
    restorer, out, _ = stream_with(text, list(range(len(text))), mapping, lenient)
    assert out == whole
    assert same_report(restorer.report, report)


def test_regression_markdown_escaped_underscore_cut_after_its_backslash() -> None:
    # Found by tests/test_restore_edges.py: "\\[PERSON\\" looked like an opener, a label word
    # and the start of the closer "\\]" that could not close a whole token, so it was
    # released; the backslash was the start of "\\_" and the rest came as a bare token.
    text = "\\[PERSON\\_NAME\\_1\\]"
    whole, _ = restore_text(text, invert_map(MAP, "job"), lenient=True)
    assert whole == "John Doe"
    for cut in range(len(text) + 1):
        assert stream(text, [cut], MAP, True)[0] == whole, cut


@pytest.mark.parametrize("lenient", [False, True])
def test_regression_an_empty_chunk_without_the_quick_search(lenient: bool) -> None:
    # Found by the chunking property: with a label that is not ASCII (no quick search) an
    # empty chunk made the fast path index an empty string.
    restorer = StreamRestorer(invert_map({"Rome": "[城市_1]"}, "job"), lenient=lenient)
    assert [restorer.feed(piece) for piece in ["", "a [城市_1] b", ""]] == ["", "a Rome b", ""]
    assert restorer.close() == ""


@pytest.mark.parametrize("lenient", [False, True])
def test_one_character_chunks_keep_the_buffer_small(lenient: bool) -> None:
    restorer = StreamRestorer(invert_map(MAP, "job"), lenient=lenient)
    text = "plain words, one at a time.\n" * 200
    assert "".join(map(restorer.feed, text)) + restorer.close() == text
    assert len(restorer._buffer) <= 2
    assert restorer.report.bytes_in == restorer.report.bytes_out == len(text)


@pytest.mark.parametrize("lenient", [False, True])
def test_stream_one_character_at_a_time(lenient: bool) -> None:
    text = "Dear [PERSON_NAME_1], see <person name 10> and PERSON_NAME_1.\n[DATE_4](x) ok"
    whole = Matcher(invert_map(MAP, "job"), lenient=lenient).sub(text)
    out, held = stream(text, list(range(len(text))), MAP, lenient)
    assert out == whole
    assert held <= HOLD_LIMIT


@pytest.mark.parametrize("lenient", [False, True])
def test_a_long_answer_in_word_chunks_equals_whole(lenient: bool) -> None:
    """Longer than the strict fast path keeps before the matcher runs (``_AHEAD``), with
    placeholders, unknown and mangled ones and line breaks throughout; the report is read in
    the middle too (it runs the matcher over what the fast path returned)."""
    rng = random.Random(5)
    words = [*"the of and report customer please".split(), *MAP.values(), "line\n"]
    odd = ["[PERSON_NAME_99]", "PERSON_NAME_1", "<DATE_4>", "[Your Name]", "x](y", "\\"]
    # (fewer than 1,000 unresolved: beyond that a whole restore lists the candidates first)
    weights = [1.0] * len(words) + [0.05] * len(odd)
    text = " ".join(rng.choices(words + odd, weights, k=40_000))
    whole, report = restore_text(text, invert_map(MAP, "job"), lenient=lenient)
    restorer = StreamRestorer(invert_map(MAP, "job"), lenient=lenient)
    pieces = text.split(" ")
    chunks = [" ".join(pieces[i : i + 5]) + " " for i in range(0, len(pieces), 5)]
    chunks[-1] = chunks[-1][:-1]
    half = len(chunks) // 2
    out = "".join(map(restorer.feed, chunks[:half]))
    middle = restorer.report
    assert middle.bytes_out == len(out)
    assert middle.restored <= report.restored
    out += "".join(map(restorer.feed, chunks[half:])) + restorer.close()
    assert out == whole
    assert same_report(restorer.report, report)


def test_text_that_cannot_start_a_placeholder_is_returned_at_once() -> None:
    restorer = StreamRestorer(invert_map(MAP, "job"), lenient=True)
    assert restorer.feed("Hello, world. ") == "Hello, world. "
    assert restorer.feed("Dear [PERSON_NA") == "Dear "  # a placeholder may follow
    assert restorer.feed("ME_1], thanks") == "John Doe, thanks"
    assert restorer.feed(" PERS") == " "  # a bare label may follow
    assert restorer.feed("ONAL matters.") == "PERSONAL matters."
    assert restorer.close() == ""
    assert restorer.report.restored == 1


def test_the_documented_hold_back_table_is_what_feed_does() -> None:
    doc = (DOC.parent / "restore.md").read_text(encoding="utf-8")
    head = "| `feed(...)` | returns | strict returns | why |\n|---|---|---|---|\n"
    table = doc.split(head, 1)[1].split("\n\n")[0]
    rows = [re.findall(r"`([^`]*)`", line)[:3] for line in table.splitlines()]
    assert len(rows) == 6
    for lenient, column in ((True, 1), (False, 2)):
        restorer = StreamRestorer(
            invert_map({"John Doe": "[PERSON_NAME_1]"}, "job"), lenient=lenient
        )
        assert [restorer.feed(row[0]) for row in rows] == [row[column] for row in rows]


@given(st.text(alphabet="abc ,.!?\n", max_size=40))
def test_prose_without_label_letters_is_never_held(text: str) -> None:
    mapping = {"x": "[PERSON_NAME_1]"}
    restorer = StreamRestorer(invert_map(mapping, "job"), lenient=True)
    assert restorer.feed(text) == text


def test_stream_report_places_unresolved_placeholders() -> None:
    restorer = StreamRestorer(invert_map(MAP, "job"))
    out = "".join(restorer.feed(c) for c in "ok\nhi [PERSON_NAME_99] PERSON_NAME_1")
    out += restorer.close()
    assert out == "ok\nhi [PERSON_NAME_99] PERSON_NAME_1"
    found = [(u.placeholder, u.line, u.column, u.reason) for u in restorer.report.unresolved]
    assert found == [("[PERSON_NAME_99]", 2, 4, "unknown"), ("PERSON_NAME_1", 2, 21, "mangled")]


def test_stream_refuses_nul_and_use_after_close() -> None:
    restorer = StreamRestorer(invert_map(MAP, "job"))
    with pytest.raises(InputError):
        restorer.feed("a\x00b")
    restorer.close()
    with pytest.raises(InputError):
        restorer.feed("x")


def test_async_helper_over_an_async_iterator() -> None:
    async def chunks():
        for piece in ["Dear [PERSON", "_NAME_1", "], bye"]:
            yield piece

    async def run() -> list[str]:
        restorer = StreamRestorer(invert_map(MAP, "job"))
        return [piece async for piece in restorer.restore(chunks())]

    pieces = asyncio.run(run())
    assert "".join(pieces) == "Dear John Doe, bye"
    assert pieces[0] == "Dear "


# -- through the vault: one log entry, committed before the first restored text ------------------

FAST = KdfParams(memory_kib=8192, passes=1, lanes=1, unsafe=True)


def make_vault(path: Path) -> None:
    with Vault.create(path, user="alice", passphrase="correct horse", kdf=FAST) as v:
        v.custodian.store_job(
            JobContent(
                job_id="job-1",
                status="archived",
                file_type="text",
                created_at=1.0,
                entity_count=2,
                content=b"Mail [PERSON_NAME_1] at [EMAIL_ADDRESS_2]",
                mapping={"John Doe": "[PERSON_NAME_1]", "john@example.com": "[EMAIL_ADDRESS_2]"},
                source="text",
            ),
            actor="test",
        )


def test_one_log_entry_per_stream_before_the_first_restored_text(tmp_path: Path) -> None:
    make_vault(tmp_path / "v.db")
    with Vault.open(tmp_path / "v.db") as v:
        restorer = v.unlock("alice", "correct horse").stream_restorer(["job-1"])
        before = len(v.log())
        assert restorer.feed("[PERSON_NA") == ""
        assert len(v.log()) == before  # nothing released yet, nothing logged
        assert restorer.feed("ME_1] ok") == "John Doe ok"
        assert len(v.log()) == before + 1
        assert v.log()[-1].action == "restore" and v.log()[-1].job_id == "job-1"
        restorer.feed(" [EMAIL_ADDRESS_2] and more")
        restorer.close()
        assert len(v.log()) == before + 1


def test_a_job_named_twice_is_logged_once(tmp_path: Path) -> None:
    """The stream restorer releases through the one release path: one entry per job, a job
    named twice included once (as restore and restore_text do)."""
    make_vault(tmp_path / "v.db")
    with Vault.open(tmp_path / "v.db") as v:
        restorer = v.unlock("alice", "correct horse").stream_restorer(["job-1", "job-1"])
        before = len(v.log())
        assert restorer.feed("[PERSON_NAME_1] ok") == "John Doe ok"
        restorer.close()
        entries = v.log()[before:]
        assert [(e.action, e.job_id, dict(e.counts)) for e in entries] == [
            ("restore", "job-1", {"stream": 1})
        ]


def test_feeding_none_says_what_feed_takes() -> None:
    """An OpenAI-style delta's content may be None: the TypeError says so (it was "object of
    type 'NoneType' has no len()")."""
    restorer = StreamRestorer(invert_map(MAP, "job"))
    with pytest.raises(TypeError, match=r"feed\(\) takes a str, not NoneType .*or \"\"\)\)"):
        restorer.feed(None)  # type: ignore[arg-type]


def test_nothing_is_returned_when_the_log_entry_fails(tmp_path: Path) -> None:
    def refuse() -> None:
        raise InputError("the access log cannot be written")

    restorer = StreamRestorer(invert_map(MAP, "job"), on_first=refuse)
    with pytest.raises(InputError):
        restorer.feed("Hi [PERSON_NAME_1]!")


# -- the documented example, against a local server streaming an OpenAI-style SSE answer ----------

ANSWER = "Please e-mail [PERSON_NAME_1] at [EMAIL_ADDRESS_2] today."


class _Sse(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for i in range(0, len(ANSWER), 4):  # a few characters per event, as models stream
            event = {"choices": [{"index": 0, "delta": {"content": ANSWER[i : i + 4]}}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def sse_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_python_api_streaming_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    example = next(b for b in blocks if "stream_restorer" in b)
    make_vault(tmp_path / "v.db")
    shown = io.StringIO()
    with sse_server() as url, contextlib.redirect_stdout(shown):
        names = {"LLM_URL": url, "VAULT": tmp_path / "v.db", "JOB": "job-1"}
        names["PASSPHRASE"] = "correct horse"
        exec(compile(example, str(DOC), "exec"), names)
    assert shown.getvalue() == "Please e-mail John Doe at john@example.com today.\n"


@given(texts_and_maps(), st.booleans(), st.integers(1, 64))
def test_restore_text_straight_to_the_matcher_equals_the_engine(case, lenient, chunk) -> None:
    from vault.restore import RestoreOptions, restore_bytes, restore_text

    text, mapping = case
    resolver = invert_map(mapping, "job")
    out, report = restore_text(text, resolver, lenient=lenient)
    data, reference = restore_bytes(
        text.encode(), resolver, RestoreOptions(format="text", lenient=lenient, chunk_size=chunk)
    )
    assert out.encode() == data
    assert (report.restored, report.repaired, report.unresolved_count) == (
        reference.restored,
        reference.repaired,
        reference.unresolved_count,
    )
    assert report.unresolved == reference.unresolved


@pytest.mark.parametrize("lenient", [False, True], ids=["strict", "lenient"])
def test_more_than_1000_unresolved_are_listed_in_text_order_by_every_restore(
    lenient: bool,
) -> None:
    """The report lists the first 1,000 unresolved in text order, whether the text is restored
    whole, from a file in regions, from a pipe, or streamed in chunks. (A whole strict restore
    listed the unknown candidates first and the mangled forms only with the room left.)"""
    rng = random.Random(12)
    odd = ["[PERSON_NAME_99]", "PERSON_NAME_1", "PERSON_NAME_99", "[ＰＥＲＳＯＮ_ＮＡＭＥ_９]"]
    words = [
        rng.choice(odd) if rng.random() < 0.06 else rng.choice(["the", "a", "word", "x\n"])
        for _ in range(120_000)
    ]
    text = " ".join(words)  # about 400 kB: more than one 256 KiB region of a file
    resolver = invert_map(MAP, "job")
    _, whole = restore_text(text, resolver, lenient=lenient)
    assert whole.unresolved_count > 3000
    listed = [(u.line, u.column) for u in whole.unresolved]
    assert len(listed) == 1000 and listed == sorted(listed)
    data = text.encode()
    options = RestoreOptions(format="text", lenient=lenient)
    for live in (False, True):
        report = restore_stream(io.BytesIO(data), io.BytesIO(), resolver, options, live=live)
        assert report.unresolved == whole.unresolved, f"live={live}"
    restorer = StreamRestorer(resolver, lenient=lenient)
    for at in range(0, len(text), 33):
        restorer.feed(text[at : at + 33])
    restorer.close()
    assert restorer.report.unresolved == whole.unresolved
