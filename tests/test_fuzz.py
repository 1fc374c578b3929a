"""Fuzzing the inputs questa-vault parses: no traceback, only ``VaultError``s with clear messages.

- Server answers (status, upload, text, entity list) through ``httpx.MockTransport`` into the
  real client: any status code, headers (``Retry-After``, content encodings), bodies (valid
  answers with fields mutated, arbitrary JSON, raw bytes, deep nesting).
- Restore input (text, CSV, JSON, JSON Lines, bytes in any encoding) against maps with any
  originals, read in chunks as small as one byte: the output never depends on where the reads
  split the input, and CSV/text built from known cells restore to exactly the expected cells.
- Placeholders and maps (``invert_map``, ``merge_resolvers``), and ``--custom-entities`` JSON.
- Stored data: a byte of a ciphertext, sealed key, wrapped key or seal changed, or a byte of the
  vault file itself: reading fails with a ``VaultError`` (never wrong plaintext, never a
  foreign exception).

A "clear message" here: non-empty, one line, at most 500 characters, and never an original
value (the map's originals carry a marker the messages must not contain).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from custody_kit import FAST
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from vault.archive import custom_entities
from vault.client import QuestaClient, RetryPolicy
from vault.custody import Custodian
from vault.errors import VaultError
from vault.models import JobContent, RemoteJob, TextResult
from vault.placeholders import invert_map, merge_resolvers
from vault.restore import FORMATS, RestoreOptions, restore_bytes

MARK = "SECRET-"  # every original in these maps starts with it; no message may show it
FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_clear(exc: VaultError) -> None:
    message = str(exc)
    assert message and "\n" not in message and len(message) <= 500, repr(message)
    assert MARK not in message, "an original value leaked into an error message"


def expect_vault_error(call: Callable[[], Any]) -> Any:
    """The call's result, or None when it raised a clear ``VaultError``; anything else fails."""
    try:
        return call()
    except VaultError as exc:
        assert_clear(exc)
        return None


# --------------------------------------------------------------------------- server answers

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

VALID_STATUS: dict[str, Any] = {
    "status": "completed",
    "progress": 100,
    "file_type": "csv",
    "result": base64.b64encode(b"name\n[PERSON_NAME_1]\n").decode(),
    "de_anonymization_map": {MARK + "John Doe": "[PERSON_NAME_1]"},
    "entity_count": 1,
    "error": None,
    "created_at": 1_700_000_000.0,
}


@st.composite
def status_bodies(draw: st.DrawFn) -> Any:
    """A valid status answer with some fields removed, replaced or made subtly wrong."""
    body = dict(VALID_STATUS)
    body["status"] = draw(st.sampled_from(["queued", "processing", "completed", "failed"]))
    originals = draw(st.lists(st.text(max_size=12), max_size=4))
    body["de_anonymization_map"] = {
        MARK + o: draw(st.sampled_from(["[PERSON_NAME_1]", "[X_2]", "PERSON_1", "[A]", "", "[]_1"]))
        for o in originals
    }
    for key in draw(st.lists(st.sampled_from(sorted(VALID_STATUS)), max_size=3, unique=True)):
        choice = draw(st.integers(0, 3))
        if choice == 0:
            del body[key]
        elif choice == 1:
            body[key] = draw(json_values)
        elif choice == 2:
            body[key] = draw(st.sampled_from(
                ["", "!!!", "QUJD", "QUJ", "Zm9v\n", -1, 101, 1e309, True, [], {}, "csv"]
            ))  # fmt: skip
        else:
            body[key] = {MARK + "x": draw(json_values)}
    return body


@st.composite
def answers(draw: st.DrawFn) -> tuple[int, dict[str, str], bytes]:
    code = draw(st.sampled_from([200, 200, 200, 202, 204, 301, 400, 404, 422, 429, 500, 503]))
    kind = draw(st.sampled_from(["status", "json", "bytes", "nested", "text", "accepted"]))
    if kind == "status":
        body = json.dumps(draw(status_bodies())).encode()
    elif kind == "json":
        body = json.dumps(draw(json_values)).encode()
    elif kind == "nested":
        depth = draw(st.sampled_from([10, 1000, 3000]))
        body = (draw(st.sampled_from(["[", '{"a":'])) * depth).encode()
    elif kind == "text":
        body = json.dumps({
            "anonymized_text": draw(st.text(max_size=20)),
            "map": {MARK + draw(st.text(max_size=5)): draw(st.sampled_from(["[A_1]", "[A]", 3]))},
            "entities": draw(st.sampled_from([0, 1, -1, "1", None])),
        }).encode()  # fmt: skip
    elif kind == "accepted":
        job_id = draw(st.sampled_from(["550e8400-e29b-41d4-a716-446655440000", "../x", "", 7]))
        body = json.dumps({"job_id": job_id, "message": "CSV anonymization job started."}).encode()
    else:
        body = draw(st.binary(max_size=64))
    headers = {"content-type": draw(st.sampled_from(
        ["application/json", "application/json; charset=utf-16", "text/plain", "text/html"]
    ))}  # fmt: skip
    if draw(st.booleans()):
        headers["retry-after"] = draw(st.sampled_from(
            ["0", "1", "-5", "nan", "inf", "1e400", "soon", "", "Mon, 01 Jan 99999 00:00:00 GMT",
             "Wed, 21 Oct 2015 07:28:00 GMT"]
        ))  # fmt: skip
    if draw(st.integers(0, 4)) == 0:
        headers["content-encoding"] = draw(st.sampled_from(["gzip", "deflate", "br", "x-junk"]))
    return code, headers, body


def fuzz_client(code: int, headers: dict[str, str], body: bytes) -> QuestaClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(code, headers=headers, content=body)

    return QuestaClient(
        "http://questa.test",
        token="tok",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_retries=2, max_rate_limited=2, deadline=60),
        sleep=lambda seconds: None,
    )


@FUZZ
@given(answers(), st.sampled_from(["status", "upload", "text", "entities"]))
def test_any_server_answer_is_a_result_or_a_clear_error(
    answer: tuple[int, dict[str, str], bytes], call: str
) -> None:
    with fuzz_client(*answer) as client:
        calls: dict[str, Callable[[], Any]] = {
            "status": lambda: client.status("550e8400-e29b-41d4-a716-446655440000"),
            "upload": lambda: client.upload(b"name\nJohn\n", "csv", filename="x.csv"),
            "text": lambda: client.anonymize_text("John Doe"),
            "entities": lambda: client.entities(),
        }
        result = expect_vault_error(calls[call])
    if result is None:
        return
    expected = {"status": RemoteJob, "upload": str, "text": TextResult, "entities": tuple}[call]
    assert isinstance(result, expected)
    if isinstance(result, RemoteJob) and result.status == "completed":
        assert result.result is not None
        assert all(p.startswith("[") and p.endswith("]") for p in result.mapping.values())


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 100_000])
def test_deeply_nested_json_is_a_malformed_answer(body: bytes) -> None:
    """Found by the fuzzer: json raised RecursionError, which is no VaultError."""
    with fuzz_client(200, {"content-type": "application/json"}, body) as client:
        with pytest.raises(VaultError, match="not valid JSON"):
            client.status("550e8400-e29b-41d4-a716-446655440000")


# --------------------------------------------------------------------------- restore input

LABELS = ["PERSON_NAME", "EMAIL_ADDRESS", "X", "Project Name", "ü_LABEL"]
placeholders = st.builds(
    lambda label, n: f"[{label}_{n}]", st.sampled_from(LABELS), st.integers(1, 12)
)
# Originals: anything, including delimiters, quotes, line breaks and placeholder look-alikes.
originals = st.builds(
    lambda text: MARK + text,
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
    | st.sampled_from([",", '"', "\n", "\r\n", "[X_1]", "=cmd()", "\\1", "\t", "\ufeff"]),
)
maps = st.dictionaries(originals, placeholders, max_size=8)
# Text pieces: ordinary text, the map's placeholders, mangled ones, and CSV/JSON syntax.
pieces = st.one_of(
    st.text(max_size=8),
    placeholders,
    st.sampled_from([
        ",", ";", "\t", '"', "'", "\n", "\r\n", "\r", "[", "]", "{", "}", ":", "\\", "\ufeff",
        "[person_name_1]", "PERSON NAME 1", "\\[X\\_2\\]", "［X_3］", "[X_10]", "[Your Name]",
        '{"a": "[X_1]"}', '"[X_2]"', "[X_", "_1]",
    ]),
)  # fmt: skip


@st.composite
def restore_inputs(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=200))
    text = "".join(draw(st.lists(pieces, max_size=30)))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    return text.encode(encoding, errors="replace")


def restore_options(draw: st.DrawFn) -> RestoreOptions:
    fmt = draw(st.sampled_from(FORMATS))
    return RestoreOptions(
        format=fmt,
        lenient=draw(st.booleans()),
        neutralize_formulas=fmt == "csv" and draw(st.booleans()),
        delimiter=draw(st.sampled_from([None, None, ",", ";", "\t"])) if fmt == "csv" else None,
        encoding=draw(st.sampled_from([None, None, "utf-8", "latin-1", "utf-16", "no-such"])),
        name=draw(st.sampled_from([None, "a.txt", "a.csv", "a.json", "a.jsonl", "a.pdf"])),
    )


@FUZZ
@given(maps, restore_inputs(), st.data())
def test_restore_never_fails_on_input_and_ignores_read_boundaries(
    mapping: dict[str, str], data: bytes, choice: st.DataObject
) -> None:
    resolver = invert_map(mapping, "job-fuzz")
    options = restore_options(choice.draw)
    whole = expect_vault_error(lambda: restore_bytes(data, resolver, options))
    chunk = choice.draw(st.integers(1, 16))
    small = RestoreOptions(**{**options.__dict__, "chunk_size": chunk})
    pieces = expect_vault_error(lambda: restore_bytes(data, resolver, small))
    if whole is None or pieces is None:
        # Only the format/encoding guess may see less of the input with tiny reads.
        return
    out, report = whole
    out_small, report_small = pieces
    if report.format == report_small.format and report.encoding == report_small.encoding:
        assert out_small == out, f"chunk size {chunk} changed the output"
        assert report_small.restored == report.restored
        assert report_small.unresolved_count == report.unresolved_count


# Cells and text made of plain words (no brackets) and the map's placeholders: the expected
# result is known exactly, whatever the originals hold.
words = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="[]［］\\\x00"),
    max_size=6,
)
TOKEN = re.compile(r"\[[^\[\]]*\]")


def usable(mapping: dict[str, str]) -> dict[str, str]:
    """placeholder -> original, for placeholders that stand for exactly one original."""
    values = list(mapping.values())
    return {p: o for o, p in mapping.items() if values.count(p) == 1}


# A Markdown link destination after "](" (docs/restore.md): link text keeps its brackets.
LINK = re.compile(r"\((?:mailto:|https?:|tel:|ftp:|www\.|#|/|\./|\.\./)", re.IGNORECASE)


def restored(text: str, inverse: dict[str, str], *, links: bool = False) -> str:
    """The reference: every bracketed token that is a usable placeholder, replaced once
    (``links``: one that is Markdown link text keeps its brackets, as in text)."""

    def one(token: re.Match[str]) -> str:
        value = inverse.get(token.group(0))
        if value is None:
            return token.group(0)
        return f"[{value}]" if links and LINK.match(text, token.end()) else value

    return TOKEN.sub(one, text)


def texts(mapping: dict[str, str]) -> st.SearchStrategy[str]:
    known = sorted(usable(mapping))
    return st.lists(words | (st.sampled_from(known) if known else words), max_size=4).map("".join)


@FUZZ
@given(maps, st.data())
def test_csv_tables_restore_to_the_expected_cells(
    mapping: dict[str, str], data: st.DataObject
) -> None:
    delimiter = data.draw(st.sampled_from([",", ";", "\t", "|"]))
    quoting = data.draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    terminator = data.draw(st.sampled_from(["\r\n", "\n"]))
    width = data.draw(st.integers(1, 4))
    rows = data.draw(st.lists(st.lists(texts(mapping), min_size=width, max_size=width),
                              min_size=1, max_size=6))  # fmt: skip
    anonymized = io.StringIO()
    csv.writer(anonymized, delimiter=delimiter, quoting=quoting, lineterminator=terminator
               ).writerows(rows)  # fmt: skip
    source = anonymized.getvalue()
    chunk = data.draw(st.sampled_from([1, 3, 17, 1 << 20]))
    options = RestoreOptions(format="csv", delimiter=delimiter, encoding="utf-8", chunk_size=chunk)
    out, _ = restore_bytes(source.encode("utf-8"), invert_map(mapping, "job-fuzz"), options)

    def parse(text: str) -> list[list[str]]:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))

    # The table a CSV reader sees in the anonymized file, with the placeholders restored.
    inverse = usable(mapping)
    want = [[restored(cell, inverse) for cell in row] for row in parse(source)]
    assert parse(out.decode("utf-8")) == want


@FUZZ
@given(maps, st.data())
def test_text_restores_to_the_expected_text(mapping: dict[str, str], data: st.DataObject) -> None:
    source = " ".join(data.draw(st.lists(texts(mapping), max_size=8)))
    chunk = data.draw(st.sampled_from([1, 2, 5, 1 << 20]))
    options = RestoreOptions(format="text", encoding="utf-8", chunk_size=chunk)
    out, _ = restore_bytes(source.encode("utf-8"), invert_map(mapping, "job-fuzz"), options)
    assert out.decode("utf-8") == restored(source, usable(mapping), links=True)


def test_regression_fuzzed_text_with_markdown_link_text() -> None:
    # Found by test_text_restores_to_the_expected_text: a word "(WWW." after a placeholder
    # makes it Markdown link text, which keeps its brackets; the reference did not know.
    mapping = {"SECRET-": "[PERSON_NAME_1]", "SECRET-0": "[PERSON_NAME_2]"}
    source = "[PERSON_NAME_1](WWW."
    options = RestoreOptions(format="text", encoding="utf-8", chunk_size=1)
    out, _ = restore_bytes(source.encode("utf-8"), invert_map(mapping, "job-fuzz"), options)
    assert out.decode("utf-8") == restored(source, usable(mapping), links=True)
    assert out.decode("utf-8") == "[SECRET-](WWW."


# --------------------------------------------------------------------------- maps, custom entities

any_text = st.text(max_size=30)


@FUZZ
@given(st.lists(st.dictionaries(any_text, any_text, max_size=6), min_size=1, max_size=3),
       st.one_of(st.none(), st.sampled_from(["job-0", "job-1", "job-9"])))  # fmt: skip
def test_any_maps_invert_and_merge_or_fail_clearly(
    maps_: list[dict[str, str]], prefer: str | None
) -> None:
    marked = [{MARK + o: p for o, p in m.items()} for m in maps_]
    resolvers = [invert_map(m, f"job-{i}") for i, m in enumerate(marked)]
    for resolver in resolvers:
        for problem in resolver.problems:
            assert MARK not in problem.describe()
    merged = expect_vault_error(lambda: merge_resolvers(resolvers, prefer=prefer))
    if merged is not None:
        assert set(merged.originals.values()) <= {o for m in marked for o in m}


@FUZZ
@given(st.one_of(any_text, json_values.map(json.dumps), st.lists(st.fixed_dictionaries(
    {"original": json_values, "placeholder": json_values})).map(json.dumps)))  # fmt: skip
def test_custom_entities_json_is_parsed_or_refused_clearly(text: str) -> None:
    result = expect_vault_error(lambda: custom_entities(text))
    if result is not None:
        assert all(isinstance(o, str) and isinstance(p, str) for o, p in result)


# --------------------------------------------------------------------------- stored data

STORED_MAP = {MARK + "Johanna Quisling": "[PERSON_NAME_1]", MARK + "jq@example.org": "[EMAIL_2]"}
STORED_FILE = b"name,email\n[PERSON_NAME_1],[EMAIL_2]\n" * 50


@pytest.fixture(scope="module")
def pristine() -> Iterator[Path]:
    """A checkpointed vault with two users and two archived jobs (small chunks: several rows)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vault.db"
        with Custodian.create(path, user="alice", passphrase="pw", kdf=FAST, chunk_size=512) as kr:
            kr.add_user("bob", passphrase="pw2", kdf=FAST, actor="alice")
            for job_id in ("job-1", "job-2"):
                kr.store_job(
                    JobContent(job_id=job_id, status="archived", file_type="csv",
                               created_at=1.0, entity_count=2, content=STORED_FILE,
                               mapping=STORED_MAP, filename="people.csv"),
                    actor="alice",
                )  # fmt: skip
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
        yield path


def read_everything(path: Path) -> list[tuple[bytes, dict[str, str]]]:
    with Custodian.open(path) as kr:
        session = kr.unlock("alice", "pw")
        jobs = [session.open_job(j) for j in ("job-1", "job-2")]
    return [(job.content or b"", dict(job.mapping)) for job in jobs]


COLUMNS = [
    ("blobs", "data", "job_id = 'job-1' AND field = 'file' AND idx = 1"),
    ("blobs", "data", "job_id = 'job-1' AND field = 'map'"),
    ("grants", "sealed_dek", "job_id = 'job-1' AND user_id = 1"),
    ("users", "wrapped_key", "name = 'alice'"),
    ("users", "public_key", "name = 'alice'"),
    ("jobs", "seal", "job_id = 'job-1'"),
]


@FUZZ
@given(st.sampled_from(COLUMNS), st.data())
def test_a_changed_byte_in_stored_data_is_refused(
    pristine: Path, column: tuple[str, str, str], data: st.DataObject
) -> None:
    table, name, where = column
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vault.db"
        shutil.copyfile(pristine, path)
        with sqlite3.connect(path) as db:
            (value,) = db.execute(f"SELECT {name} FROM {table} WHERE {where}").fetchone()
            blob = bytearray(value)
            how = data.draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
            at = data.draw(st.integers(0, len(blob) - 1))
            if how == "flip":
                blob[at] ^= data.draw(st.integers(1, 255))
            elif how == "cut":
                del blob[at]
            elif how == "insert":
                blob.insert(at, data.draw(st.integers(0, 255)))
            else:
                del blob[at:]
            db.execute(f"UPDATE {table} SET {name} = ? WHERE {where}", (bytes(blob),))
        result = expect_vault_error(lambda: read_everything(path))
    assert result is None, f"{how} at {at} of {table}.{name} went unnoticed"


@FUZZ
@given(st.data())
def test_a_changed_byte_in_the_vault_file_is_never_a_crash_or_wrong_data(
    pristine: Path, data: st.DataObject
) -> None:
    size = pristine.stat().st_size
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vault.db"
        raw = bytearray(pristine.read_bytes())
        for _ in range(data.draw(st.integers(1, 4))):
            at = data.draw(st.integers(0, size - 1))
            raw[at] ^= data.draw(st.integers(1, 255))
        path.write_bytes(bytes(raw))
        result = expect_vault_error(lambda: read_everything(path))
        if result is not None:  # the change hit a byte nothing reads: the data must be intact
            assert result == [(STORED_FILE, STORED_MAP)] * 2
        assume(True)


# Found by a random run of the test above: a changed cell count (byte 4099, xor 1) on the
# page that holds schema_migrations made a row with a NULL name appear, and the refusal's
# message crashed on it (TypeError) instead of saying the vault is damaged.
def test_a_changed_cell_count_on_the_migrations_page_is_a_clear_error(pristine: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vault.db"
        raw = bytearray(pristine.read_bytes())
        raw[4099] ^= 1
        path.write_bytes(bytes(raw))
        result = expect_vault_error(lambda: read_everything(path))
        assert result is None or result == [(STORED_FILE, STORED_MAP)] * 2


@pytest.mark.parametrize("name", [None, 7, 1.5, b"m002_job_api_url"], ids=repr)
def test_a_migration_name_that_is_not_text_is_damage_not_a_newer_version(name: object) -> None:
    from vault.errors import IntegrityError
    from vault.store._migrations import unknown_schema

    error = unknown_schema(["m001_initial", name])
    assert isinstance(error, IntegrityError) and "damaged" in str(error)
    assert_clear(error)


def _damage_schema_name(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    at = raw.index(b"schema_migrations")
    raw[at + 3] = 0xE1  # no longer UTF-8
    path.write_bytes(bytes(raw))


def _sql(statement: str) -> Callable[[Path], None]:
    def run(path: Path) -> None:
        with sqlite3.connect(path) as db:
            db.execute(statement)

    return run


@pytest.mark.parametrize(
    "damage",
    [
        _damage_schema_name,
        _sql("UPDATE jobs SET map_size = 'two' WHERE job_id = 'job-1'"),
        _sql("UPDATE jobs SET entity_counts = 5 WHERE job_id = 'job-1'"),
        _sql("UPDATE users SET created_at = 'yesterday' WHERE name = 'alice'"),
        _sql("UPDATE blobs SET key_version = x'01d96d' WHERE job_id = 'job-1'"),
        _sql("UPDATE grants SET key_version = 'one' WHERE job_id = 'job-1'"),
    ],
    ids=[
        "schema name not UTF-8",
        "integer column is text",
        "counts not text",
        "time not a number",
        "blob key version is bytes",
        "grant key version is text",
    ],
)
def test_damaged_rows_are_integrity_errors(pristine: Path, damage: Callable[[Path], None]) -> None:
    """Found by the fuzzer: such rows raised UnicodeDecodeError, ValueError or TypeError."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vault.db"
        shutil.copyfile(pristine, path)
        damage(path)
        with pytest.raises(VaultError, match="damaged|not valid JSON|wrong shape"):
            read_everything(path)


def test_a_damaged_schema_is_reported_on_one_line(pristine: Path) -> None:
    """Found by the fuzzer: the message quoted whole CREATE statements, over many lines."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vault.db"
        raw = bytearray(pristine.read_bytes())
        at = raw.index(b"file_size")
        raw[at] = ord("`")
        path.write_bytes(bytes(raw))
        with pytest.raises(VaultError) as caught:
            read_everything(path)
    assert_clear(caught.value)
    assert str(caught.value).startswith("the vault file is damaged or not a questa-vault database")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_without_a_byte_order_mark_is_an_input_error(encoding: str) -> None:
    """Found by the fuzzer: the codec raised a bare UnicodeError."""
    options = RestoreOptions(format="text", encoding=encoding)
    with pytest.raises(VaultError, match="no byte-order mark"):
        restore_bytes(b"\x00" * 8, invert_map({}, "job-fuzz"), options)
