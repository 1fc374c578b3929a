"""`questa-vault restore` through the real CLI: outputs, exit codes, the access log, failures."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from conftest import invoke
from custody_kit import FAST, PASSPHRASE, new_vault, raw_db, sample_job

from vault.custody import Custodian
from vault.models import JobContent

JOB_A = "job-a"
JOB_B = "job-b"
MAP_A = {"John Doe": "[PERSON_NAME_1]", "john@example.com": "[EMAIL_ADDRESS_2]", "Doe, J.": "[X_3]"}
MAP_B = {"Bea Bolt": "[PERSON_NAME_1]", "bea@example.org": "[EMAIL_ADDRESS_2]"}
ENV = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}


@pytest.fixture
def vault(cli_vault: Path | str) -> Path | str:
    """A vault with user alice and two archived CSV jobs whose placeholders collide, once per
    backend."""
    with new_vault(cli_vault) as custodian:
        custodian.store_job(
            sample_job(
                JOB_A,
                mapping=MAP_A,
                content=b"name,email\r\n[PERSON_NAME_1],[EMAIL_ADDRESS_2]\r\n[X_3],x\r\n",
            ),
            actor="alice",
        )
        custodian.store_job(sample_job(JOB_B, mapping=MAP_B), actor="alice")
    return cli_vault


def restore_log(vault: Path) -> list:
    with Custodian.open(vault) as custodian:
        return custodian.log_entries(action="restore")


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_restore_file_to_file(vault: Path, tmp_path: Path) -> None:
    src = write(tmp_path, "answer.txt", "Dear [PERSON_NAME_1] <[EMAIL_ADDRESS_2]>\n")
    out = tmp_path / "answer.restored.txt"
    result = invoke(["restore", str(src), "-j", JOB_A, "-o", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == b"Dear John Doe <john@example.com>\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert result.stdout == ""
    assert result.stderr == (
        "restored 2 of 2 placeholders found (EMAIL_ADDRESS 1, PERSON_NAME 1)\n"
        "1 map entry not used\n"
    )
    assert "John Doe" not in result.stderr
    [entry] = restore_log(vault)
    assert (entry.user, entry.job_id) == ("alice", JOB_A)
    assert entry.counts["restored"] == 2 and entry.counts["unresolved"] == 0
    assert not list(tmp_path.glob(".answer.restored.txt.*"))  # no temporary file left


def test_restore_stdin_to_stdout(vault: Path) -> None:
    result = invoke(["restore", "-", "-j", JOB_A], input=b"hi [PERSON_NAME_1]", env=ENV)
    assert result.exit_code == 0, result.output
    assert result.stdout == "hi John Doe"


def test_restore_the_jobs_own_file(vault: Path, tmp_path: Path) -> None:
    out = tmp_path / "people.csv"
    result = invoke(["restore", "-j", JOB_A, "-o", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == b'name,email\r\nJohn Doe,john@example.com\r\n"Doe, J.",x\r\n'


def test_restore_own_file_needs_one_job(vault: Path) -> None:
    result = invoke(["restore", "-j", JOB_A, "-j", JOB_B], env=ENV)
    assert result.exit_code == 2
    assert "without INPUT, give exactly one job" in result.stderr


def test_restore_own_file_of_a_pdf_job_says_write_text(vault: Path) -> None:
    pdf = JobContent(
        job_id="job-pdf",
        status="archived",
        file_type="pdf",
        created_at=1.0,
        content=b"%PDF-1.4 ...",
        mapping={"Phoenix": "[PROJECT_1]"},
    )
    with Custodian.open(vault) as custodian:
        custodian.store_job(pdf, actor="alice")
    result = invoke(["restore", "-j", "job-pdf"], env=ENV)
    assert result.exit_code == 1
    assert result.stderr == (
        "questa-vault: a restored PDF cannot be written faithfully (its fonts and layout only "
        "fit the placeholders): write the restored text instead with -o FILE.txt (or .md), or "
        "--to text\n"
    )
    assert restore_log(vault) == []


def test_unresolved_exit_3_output_still_written(vault: Path, tmp_path: Path) -> None:
    src = write(tmp_path, "a.md", "[PERSON_NAME_1] and [PERSON_NAME_99]\n")
    out = tmp_path / "out.md"
    result = invoke(["restore", str(src), "-j", JOB_A, "-o", str(out)], env=ENV)
    assert result.exit_code == 3
    assert out.read_text() == "John Doe and [PERSON_NAME_99]\n"
    assert "1 left unresolved: [PERSON_NAME_99] at 1:21" in result.stderr
    assert result.stderr.endswith(
        "questa-vault: 1 placeholder left unresolved "
        "(the output was written; --allow-unresolved accepts this)\n"
    )
    allowed = invoke(
        ["restore", str(src), "-j", JOB_A, "-o", str(out), "--allow-unresolved", "--force"],
        env=ENV,
    )
    assert allowed.exit_code == 0


def test_report_file(vault: Path, tmp_path: Path) -> None:
    src = write(tmp_path, "a.txt", "[person_name_1] [EMAIL_ADDRESS_2] [PERSON_NAME_7]\n")
    report = tmp_path / "report.json"
    result = invoke(
        ["restore", str(src), "-j", JOB_A, "--lenient", "--report", str(report)], env=ENV
    )
    assert result.exit_code == 3
    data = json.loads(report.read_text())
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert data["found"] == 3 and data["restored"] == 2 and data["repaired"] == 1
    assert data["restored_by_type"] == {"EMAIL_ADDRESS": 1, "PERSON_NAME": 1}
    assert data["unresolved"] == [
        {"placeholder": "[PERSON_NAME_7]", "line": 1, "column": 35, "reason": "unknown"}
    ]
    assert data["unused"] == ["[X_3]"]
    assert data["jobs"] == [JOB_A]
    text = report.read_text()
    for original in MAP_A:
        assert original not in text


def test_every_output_refuses_an_existing_file_without_force(vault: Path, tmp_path: Path) -> None:
    """--report is an output like -o: an existing file (or a link) is kept unless --force, and
    the same path for both outputs is named as such."""
    src = write(tmp_path, "a.txt", "[PERSON_NAME_1]\n")
    out, kept, link = tmp_path / "out.txt", tmp_path / "kept.json", tmp_path / "link.json"
    kept.write_text("keep\n")
    link.symlink_to(kept)
    for existing in (kept, link):
        args = ["restore", str(src), "-j", JOB_A, "-o", str(out), "--report", str(existing)]
        refused = invoke(args, env=ENV)
        assert (refused.exit_code, refused.stderr) == (
            1,
            f"questa-vault: {existing} exists; --force replaces it\n",
        )
        assert kept.read_text() == "keep\n" and not out.exists()
    both = invoke(["restore", str(src), "-j", JOB_A, "-o", str(out), "--report", str(out)], env=ENV)
    assert both.exit_code == 1
    assert both.stderr == f"questa-vault: {out} is given for two outputs; choose another\n"
    args = ["restore", str(src), "-j", JOB_A, "-o", str(out), "--report", str(kept), "--force"]
    assert invoke(args, env=ENV).exit_code == 0
    assert json.loads(kept.read_text())["restored"] == 1


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"QUESTA_VAULT_PASSPHRASE": "wrong"}, "questa-vault: "),
        ({"QUESTA_VAULT_PASSPHRASE": PASSPHRASE, "QUESTA_VAULT_USER": "mallory"}, "mallory"),
    ],
)
def test_access_denied_exit_4_nothing_written_nothing_logged(
    vault: Path, tmp_path: Path, env: dict[str, str], needle: str
) -> None:
    src = write(tmp_path, "a.txt", "[PERSON_NAME_1]\n")
    out = tmp_path / "out.txt"
    result = invoke(["restore", str(src), "-j", JOB_A, "-o", str(out)], env=env)
    assert result.exit_code == 4, result.output
    assert needle in result.stderr
    assert not out.exists()
    assert restore_log(vault) == []


def test_user_without_grant_exit_4(vault: Path, tmp_path: Path) -> None:
    with Custodian.open(vault) as custodian:
        custodian.add_user("bob", passphrase=PASSPHRASE, kdf=FAST, actor="alice")
    src = write(tmp_path, "a.txt", "[PERSON_NAME_1]\n")
    out = tmp_path / "out.txt"
    result = invoke(["--user", "bob", "restore", str(src), "-j", JOB_A, "-o", str(out)], env=ENV)
    assert result.exit_code == 4
    assert result.stderr == (
        "questa-vault: user bob holds no grant for job job-a: a user who holds one "
        "(`questa-vault show job-a` lists them) can run `questa-vault --user HOLDER grant bob "
        "-j job-a`\n"
    )
    assert not out.exists()
    assert restore_log(vault) == []


@pytest.mark.sqlite_only("a SQLite trigger makes the log write fail")
def test_log_entry_that_cannot_be_written_releases_nothing(vault: Path, tmp_path: Path) -> None:
    with raw_db(vault) as conn:
        conn.execute(
            "CREATE TRIGGER refuse_restore BEFORE INSERT ON access_log "
            "WHEN NEW.action = 'restore' BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    src = write(tmp_path, "a.txt", "[PERSON_NAME_1]\n")
    out = tmp_path / "out.txt"
    result = invoke(["restore", str(src), "-j", JOB_A, "-o", str(out)], env=ENV)
    assert result.exit_code != 0
    assert not out.exists()
    assert list(tmp_path.glob(".out.txt.*")) == []
    stdout = invoke(["restore", str(src), "-j", JOB_A], env=ENV)
    assert stdout.exit_code != 0
    assert stdout.stdout == ""


def test_collision_between_jobs_and_prefer(vault: Path, tmp_path: Path) -> None:
    src = write(tmp_path, "a.txt", "[PERSON_NAME_1] [X_3]")
    result = invoke(["restore", str(src), "-j", JOB_A, "-j", JOB_B], env=ENV)
    assert result.exit_code == 1
    assert result.stderr == (
        "questa-vault: 2 placeholders mean different originals in jobs job-a, job-b: "
        "[EMAIL_ADDRESS_2], [PERSON_NAME_1]; choose the job that wins with --prefer JOB\n"
    )
    assert restore_log(vault) == []
    preferred = invoke(["restore", str(src), "-j", JOB_A, "-j", JOB_B, "--prefer", JOB_B], env=ENV)
    assert preferred.exit_code == 0
    assert preferred.stdout == "Bea Bolt Doe, J."
    assert {e.job_id for e in restore_log(vault)} == {JOB_A, JOB_B}


def test_multi_job_restore_logs_each_jobs_own_counts(vault: Path, tmp_path: Path) -> None:
    """Each job's entry counts the values taken from its own map, never the other job's: here
    the name comes from job-b (preferred) and [X_3] only from job-a."""
    src = write(tmp_path, "a.txt", "[PERSON_NAME_1] [X_3] [NOPE_9]")
    result = invoke(
        ["restore", str(src), "-j", JOB_A, "-j", JOB_B, "--prefer", JOB_B, "--allow-unresolved"],
        env=ENV,
    )
    assert result.exit_code == 0, result.output
    counts = {e.job_id: dict(e.counts) for e in restore_log(vault)}
    shared = {"found": 3, "repaired": 0, "unresolved": 1, "jobs": 2}
    assert counts == {
        JOB_A: {**shared, "restored": 1, "restored:X": 1},
        JOB_B: {**shared, "restored": 1, "restored:PERSON_NAME": 1},
    }
    log = invoke(["log", "--job", JOB_A])
    assert log.exit_code == 0, log.output
    assert "PERSON_NAME" not in log.stdout


def test_a_chat_answer_saved_as_json_is_told_to_use_format_text(
    vault: Path, tmp_path: Path
) -> None:
    """A .json file that is a chat answer (prose, a fenced block): the prose's placeholders
    are outside any JSON string, and the report says what to do."""
    src = write(
        tmp_path,
        "answer.json",
        'Here is the JSON for [PERSON_NAME_1]:\n```json\n{"name": "[PERSON_NAME_1]"}\n```\n',
    )
    result = invoke(["restore", str(src), "-j", JOB_A], env=ENV)
    assert result.exit_code == 3, result.output
    assert result.stdout.endswith('{"name": "John Doe"}\n```\n')
    assert (
        "1 placeholder outside any JSON string: if the input is not JSON (a chat answer with "
        "prose or ``` fences), restore it with --format text"
    ) in result.stderr
    text = invoke(["restore", str(src), "-j", JOB_A, "--format", "text"], env=ENV)
    assert text.exit_code == 0, text.output
    assert "[PERSON_NAME_1]" not in text.stdout


@pytest.mark.parametrize(
    ("name", "data", "options", "code", "message"),
    [
        ("doc.pdf", b"%PDF-1.4", [], 1, "a restored PDF cannot be written faithfully"),
        ("doc.pdf", b"%PDF-1.4", ["--to", "text"], 1, "doc.pdf is not a readable PDF"),
        ("doc.docx", b"PK\x03\x04 cut", [], 1, "doc.docx is not a readable zip container"),
        ("a.txt", b"caf\xe9 [PERSON_NAME_1]", [], 1, "not valid utf-8 at byte offset 3"),
        ("a.txt", b"\x00\x01\x02binary", [], 1, "input looks binary (NUL byte at byte offset 0)"),
        ("a.txt", b"x", ["--format", "xml"], 2, "Invalid value for '--format'"),
        ("a.txt", b"x", ["--neutralize-formulas"], 1, "applies to CSV and XLSX only"),
        ("a.csv", b"x", ["--delimiter", ",,"], 2, "delimiter must be one character"),
        ("a.txt", b"x", ["--encoding", "nope"], 1, "unknown encoding 'nope'"),
        ("a.txt", b"x" * 64 + b" [X_3]", ["--encoding", "idna"], 1, "cannot be written in idna"),
        ("a.txt", b"x", ["-j", "bad id!"], 1, "not a valid job id"),
        ("a.txt", b"x", ["-j", "job-zzz"], 1, "job job-zzz is not in this vault"),
    ],
)
def test_bad_inputs_are_one_line_errors(
    vault: Path, tmp_path: Path, name, data, options, code, message
) -> None:
    src = write(tmp_path, name, data)
    result = invoke(["restore", str(src), "-j", JOB_A, *options], env=ENV)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert restore_log(vault) == []


def test_missing_input_file(vault: Path, tmp_path: Path) -> None:
    result = invoke(["restore", str(tmp_path / "nope.txt"), "-j", JOB_A], env=ENV)
    assert result.exit_code == 1
    assert re.search(r"cannot read .*nope\.txt: No such file", result.stderr)


def test_encoding_option_and_empty_input(vault: Path, tmp_path: Path) -> None:
    src = write(tmp_path, "a.txt", b"caf\xe9 [PERSON_NAME_1]")
    out = tmp_path / "out.txt"
    result = invoke(
        ["restore", str(src), "-j", JOB_A, "--encoding", "latin-1", "-o", str(out)], env=ENV
    )
    assert result.exit_code == 0
    assert out.read_bytes() == b"caf\xe9 John Doe"  # written back in the input's encoding
    empty = write(tmp_path, "empty.txt", b"")
    result = invoke(["restore", str(empty), "-j", JOB_A], env=ENV)
    assert (result.exit_code, result.stdout) == (0, "")


@pytest.mark.parametrize("codec", ["rot13", "base64", "zlib", "hex", "bz2", "uu", "quopri"])
def test_encoding_must_be_a_text_encoding(vault: Path, tmp_path: Path, codec: str) -> None:
    """codecs also knows bytes-to-bytes and str-to-str transforms; they are not encodings."""
    src = write(tmp_path, "a.txt", b"hi [PERSON_NAME_1]\n")
    result = invoke(["restore", str(src), "-j", JOB_A, "--encoding", codec], env=ENV)
    assert result.exit_code == 1, result.output
    assert result.stderr == f"questa-vault: {codec!r} is not a text encoding\n"
    assert result.stdout == ""
    assert restore_log(vault) == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"[PERSON_NAME_1].example.org", b"John Doe.example.org"),
        (b"mail.[PERSON_NAME_1]", b"mail.John Doe"),  # the last label is held back to the end
        (b"ab." * 30_000 + b"[PERSON_NAME_1]", b"ab." * 30_000 + b"John Doe"),  # many chunks
    ],
)
def test_encoder_is_flushed_at_the_end(
    vault: Path, tmp_path: Path, data: bytes, expected: bytes
) -> None:
    src = write(tmp_path, "a.txt", data)
    out = tmp_path / "out.txt"
    args = ["restore", str(src), "-j", JOB_A, "--encoding", "idna", "--format", "text"]
    result = invoke([*args, "-o", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == expected
    piped = invoke([*args[:1], "-", *args[2:]], input=data, env=ENV)
    assert (piped.exit_code, piped.stdout.encode()) == (0, expected)


def test_csv_options(vault: Path, tmp_path: Path) -> None:
    src = write(tmp_path, "data.txt", "a;b\n[X_3];[PERSON_NAME_1]\n")
    out = tmp_path / "o.csv"
    result = invoke(
        ["restore", str(src), "-j", JOB_A, "--format", "csv", "--delimiter", ";", "-o", str(out)],
        env=ENV,
    )
    assert result.exit_code == 0, result.output
    assert out.read_text() == "a;b\nDoe, J.;John Doe\n"
    tsv = write(tmp_path, "t.txt", "a\tb\n[X_3]\t=[PERSON_NAME_1]\n")
    result = invoke(
        [
            "restore",
            str(tsv),
            "-j",
            JOB_A,
            "--format",
            "csv",
            "--delimiter",
            "tab",
            "--neutralize-formulas",
        ],
        env=ENV,
    )
    assert result.stdout == "a\tb\nDoe, J.\t'=John Doe\n"
    assert "1 cell starting like a formula prefixed with '" in result.stderr


def test_output_into_missing_directory(vault: Path, tmp_path: Path) -> None:
    src = write(tmp_path, "a.txt", "[PERSON_NAME_1]")
    result = invoke(["restore", str(src), "-j", JOB_A, "-o", str(tmp_path / "no" / "x")], env=ENV)
    assert result.exit_code == 1
    assert "cannot write" in result.stderr
    assert restore_log(vault) == []


def test_never_overwrites_the_input_itself(vault: Path, tmp_path: Path) -> None:
    src = write(tmp_path, "a.txt", "[PERSON_NAME_1]\n" * 1000)
    for extra in ([], ["--force"]):
        result = invoke(["restore", str(src), "-j", JOB_A, "-o", str(src), *extra], env=ENV)
        assert result.exit_code == 1
        assert "own input" in result.stderr
        assert src.read_text() == "[PERSON_NAME_1]\n" * 1000


def test_help_has_an_example() -> None:
    result = invoke(["restore", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.stdout
    assert "questa-vault restore answer.txt -j" in result.stdout


def test_docs_section_exists() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    section = text.split("\n## restore\n", 1)[1].split("\n## ", 1)[0]
    for option in ("--lenient", "--prefer", "--report", "--allow-unresolved", "--encoding"):
        assert option in section


@pytest.mark.parametrize("undo", ["--no-lenient", "--strict"])
def test_a_lenient_file_default_is_undone_for_one_run(vault: Path, undo: str) -> None:
    assert invoke(["config", "set", "restore.lenient", "true"]).exit_code == 0
    mangled = b"hi [person_name_1]"
    lenient = invoke(["restore", "-", "-j", JOB_A], input=mangled, env=ENV)
    assert (lenient.exit_code, lenient.stdout) == (0, "hi John Doe")
    strict = invoke(["restore", "-", "-j", JOB_A, undo], input=mangled, env=ENV)
    assert (strict.exit_code, strict.stdout) == (3, "hi [person_name_1]")
