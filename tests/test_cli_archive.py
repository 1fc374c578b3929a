"""submit, fetch, sync, jobs, show, export: the real CLI, the real vault, the simulator over
loopback. Includes a fetch killed mid-way and two syncs at once (separate processes)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_KDF, interruptible, invoke
from custody_kit import raw_db

from vault.custody import Custodian
from vault.simulator import SimulatorConfig, run_simulator

PASS = "correct horse battery staple"
CSV = b"name,email\nJohn Doe,john@example.com\n"
ANON_CSV = b"name,email\n[PERSON_NAME_1],[EMAIL_ADDRESS_2]\n"
REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "cli.md"


@pytest.fixture
def sim() -> Iterator[Any]:
    with run_simulator(SimulatorConfig(processing_time=0.05, progress_steps=2)) as s:
        yield s


@pytest.fixture
def env(sim: Any, cli_vault: Path | str) -> dict[str, str]:
    """A vault with user alice (once per backend), the API URL and the passphrase in the
    environment."""
    values = {"QUESTA_API_URL": sim.url, "QUESTA_VAULT_PASSPHRASE": PASS}
    result = invoke(["init", "--user", "alice", *FAST_KDF], env=values)
    assert result.exit_code == 0, result.output
    return values


def run(args: list[str], env: dict[str, str], **kw: Any) -> Any:
    return invoke(args, env=env, **kw)


def job_ids(stdout: str) -> list[str]:
    return [line.split()[1] for line in stdout.splitlines() if line.strip()]


def custodian(vault: Path | str) -> Custodian:
    return Custodian.open(vault)


# --- submit ----------------------------------------------------------------------------------

OPAQUE = b"%PDF-1.4 opaque bytes \x00\xff Phoenix"


@pytest.mark.parametrize(
    ("name", "data", "file_type", "exported"),
    [
        ("people.csv", CSV, "csv", ANON_CSV),
        ("report.pdf", OPAQUE, "pdf", OPAQUE),
        ("letter.docx", OPAQUE, "docx", OPAQUE),
        ("sheet.xlsx", OPAQUE, "excel", OPAQUE),
        ("note.txt", b"Hi John Doe\n", "text", b"Hi [PERSON_NAME_1]\n"),
        ("note.md", b"# John Doe\n", "text", b"# [PERSON_NAME_1]\n"),
    ],
)
def test_submit_then_export_every_file_type(
    env: dict[str, str], tmp_path: Path, cli_vault: Path | str,
    name: str, data: bytes, file_type: str, exported: bytes,
) -> None:  # fmt: skip
    (tmp_path / name).write_bytes(data)
    result = run(
        ["submit", str(tmp_path / name), "--custom-entities", '{"Phoenix": "PROJECT"}'], env
    )
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    assert line.startswith("archived ")
    job = line.split()[1]
    assert result.stderr == "1 file: 1 archived\n"

    shown = json.loads(run(["show", job, "--json"], env).stdout)
    assert (shown["status"], shown["file_type"], shown["recipients"]) == (
        "archived",
        file_type,
        ["alice"],
    )
    if file_type in ("pdf", "docx", "excel"):
        assert shown["entity_counts"] == {"PROJECT": 1}

    out = tmp_path / "out.bin"
    result = run(["export", job, "-o", str(out)], env)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == exported
    assert out.stat().st_mode & 0o777 == 0o600
    with custodian(cli_vault) as kr:
        actions = [e.action for e in kr.log_entries(job_id=job)]
    assert actions == ["submit", "fetch", "export"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv"], "nothing submitted; 1 file cannot be sent: "),
        (["empty.csv"], "empty.csv: empty"),
        (["data.json"], "data.json: unsupported type"),
        (["ok.csv", "--custom-entities", "[{]"], "--custom-entities is not valid JSON"),
        (["ok.csv", "--custom-entities", '"Phoenix"'], "must be a JSON list or object"),
        (["ok.csv", "--custom-entities", '[{"original": "Secret Name"}]'],
         "entry 1: needs exactly 'original' and 'placeholder'"),
        (["ok.csv", "--custom-entities", '{"Secret Name": ""}'], "entry 1: 'placeholder' must be"),
        (["ok.csv", "--custom-entities", json.dumps({f"n{i}": "X" for i in range(51)})],
         "at most 50 entries"),
        (["ok.csv", "--custom-entities", json.dumps({"Secret Name" * 30: "X"})],
         "longer than 200 characters"),
        (["ok.csv", "--custom-entities", "@nowhere.json"], "cannot read --custom-entities file"),
        # Labels the vault would refuse in the service's answer, after the file was sent.
        (["ok.csv", "--custom-entities", '{"Secret Name": "PRO]JECT"}'],
         "entry 1: 'placeholder' is a label"),
        (["note.txt", "--custom-entities", '{"A": "OK", "Secret Name": "X[Y"}'],
         "entry 2: 'placeholder' is a label"),
        (["ok.csv", "--custom-entities", '[{"original": "Secret Name", "placeholder": "A\\nB"}]'],
         "entry 1: 'placeholder' is a label"),
    ],
)  # fmt: skip
def test_submit_refuses_bad_input_before_sending(
    env: dict[str, str], sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    args: list[str], message: str,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "ok.csv").write_bytes(CSV)
    (tmp_path / "data.json").write_bytes(b"{}")
    (tmp_path / "note.txt").write_bytes(b"Hi Secret Name\n")
    result = run(["submit", *args], env)
    assert result.exit_code == 1
    assert result.stderr.startswith("questa-vault: ") and message in result.stderr
    assert "Secret Name" not in result.output
    assert sim.state.request_counts() == {}


def test_submit_without_a_vault_sends_nothing(sim: Any, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(CSV)
    result = invoke(["submit", str(tmp_path / "a.csv")], env={"QUESTA_API_URL": sim.url})
    assert result.exit_code == 1 and "no vault at" in result.stderr
    assert sim.state.request_counts() == {}


def test_submit_no_wait_then_sync(env: dict[str, str], tmp_path: Path) -> None:
    files = []
    for i in range(3):
        (tmp_path / f"f{i}.csv").write_bytes(CSV)
        files.append(str(tmp_path / f"f{i}.csv"))
    result = run(["submit", "--no-wait", "--json", *files], env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert list(report) == ["jobs", "counts", "ok"]
    assert list(report["jobs"][0]) == ["file", "job_id", "outcome", "ok", "detail"]
    assert report["counts"] == {"pending": 3} and report["ok"] is True
    ids = [j["job_id"] for j in report["jobs"]]

    listed = run(["jobs", "--status", "pending", "--json"], env)
    assert sorted(j["job_id"] for j in json.loads(listed.stdout)) == sorted(ids)
    assert all(j["estimated_expiry"] is not None for j in json.loads(listed.stdout))

    synced = run(["sync"], env)
    assert synced.exit_code == 0, synced.output
    assert sorted(job_ids(synced.stdout)) == sorted(ids)
    assert synced.stderr == "3 jobs: 3 archived\n"
    again = run(["sync", "--json"], env)
    assert json.loads(again.stdout) == {"jobs": [], "counts": {}, "warnings": [], "ok": True}
    assert again.stderr == "nothing pending\n"


# --- fetch -----------------------------------------------------------------------------------


def test_fetch_archives_and_refetch_says_so(env: dict[str, str], sim: Any) -> None:
    ids = [sim.submit("csv", CSV) for _ in range(3)]
    result = run(["fetch", *ids], env)
    assert result.exit_code == 0, result.output
    assert sorted(job_ids(result.stdout)) == sorted(ids)
    assert all(line.startswith("archived ") for line in result.stdout.splitlines())
    again = run(["fetch", "--json", ids[0]], env)
    assert again.exit_code == 0
    assert json.loads(again.stdout) == {
        "jobs": [{"job_id": ids[0], "outcome": "already-archived", "ok": True,
                  "detail": "already in the vault; nothing to do"}],
        "counts": {"already-archived": 1},
        "ok": True,
    }  # fmt: skip


def test_fetch_takes_a_short_id_as_every_command_does(env: dict[str, str], sim: Any) -> None:
    job = sim.submit("csv", CSV)
    assert run(["fetch", job], env).exit_code == 0
    again = run(["fetch", "--json", job[:8]], env)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["jobs"][0]["job_id"] == job
    assert json.loads(again.stdout)["jobs"][0]["outcome"] == "already-archived"


def test_fetch_incomplete_exits_3(env: dict[str, str], sim: Any) -> None:
    good, failed = sim.submit("csv", CSV), sim.submit("pdf", OPAQUE)
    sim.state.fail(failed)
    unknown = "00000000-0000-4000-8000-000000000000"
    result = run(["fetch", good, failed, unknown], env)
    assert result.exit_code == 3
    lines = {line.split()[1]: line.split()[0] for line in result.stdout.splitlines()}
    assert lines == {good: "archived", failed: "failed", unknown: "not-found"}
    assert result.stderr.endswith("questa-vault: 2 of 3 jobs did not archive\n")
    shown = json.loads(run(["show", failed, "--json"], env).stdout)
    assert shown["status"] == "failed"


def test_a_failed_job_says_how_to_read_its_message_and_is_not_called_archived(
    env: dict[str, str], sim: Any, tmp_path: Path
) -> None:
    """sync holds no key, so it cannot print the server's message or the file name: it must
    say which command does (review-newuser6, finding 3)."""
    (tmp_path / "people.csv").write_bytes(CSV)
    with run_simulator(SimulatorConfig(processing_time=600, progress_steps=2)) as slow:
        env = {**env, "QUESTA_API_URL": slow.url}
        submitted = run(["submit", "--no-wait", str(tmp_path / "people.csv")], env)
        [job] = job_ids(submitted.stdout)
        slow.state.fail(job)  # while it is surely still processing
        synced = run(["sync"], env)
    assert synced.exit_code == 3
    line = next(x for x in synced.stdout.splitlines() if x.startswith("failed"))
    hint = f"questa-vault show {job} --reveal"
    assert hint in line and "submit the file again" in line, line
    revealed = run(["show", job, "--reveal"], env)  # the hint's command works as said
    assert revealed.exit_code == 0, revealed.output
    assert "people.csv" in revealed.stdout and "server error" in revealed.stdout
    rows = dict(re.split(r"\s{2,}", x.strip(), maxsplit=1) for x in revealed.stdout.splitlines()
                if re.search(r"\S\s{2,}\S", x))  # fmt: skip
    assert "archived" not in rows and rows["stored"] != "-", revealed.stdout


def test_fetch_refuses_a_malformed_job_id(env: dict[str, str], sim: Any) -> None:
    result = run(["fetch", "../../etc/passwd"], env)
    assert result.exit_code == 1 and "not a valid job id" in result.stderr
    assert sim.state.request_counts() == {}


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (None, "HTTP 401: Bearer token missing"),
        ("wrong", "HTTP 401: Invalid bearer token"),
        ("t0k", None),
    ],
)
def test_token_from_env_or_file(
    cli_vault: Path | str, tmp_path: Path, token: str | None, expected: str | None
) -> None:
    with run_simulator(SimulatorConfig(tokens=("t0k",), processing_time=0)) as secured:
        job = secured.submit("csv", CSV)
        values = {"QUESTA_API_URL": secured.url, "QUESTA_VAULT_PASSPHRASE": PASS}
        assert invoke(["init", *FAST_KDF], env=values).exit_code == 0
        if token is not None:
            values["QUESTA_API_TOKEN"] = token
        result = run(["fetch", job], values)
        if expected is None:
            assert result.exit_code == 0, result.output
            (tmp_path / "tok").write_text(token + "\n")
            by_file = run(
                ["fetch", job, "--token-file", str(tmp_path / "tok")],
                {**values, "QUESTA_API_TOKEN": "wrong"},
            )
            assert by_file.exit_code == 0 and "already-archived" in by_file.stdout
        else:
            assert result.exit_code == 1
            assert result.stderr == f"questa-vault: job {job}: {expected}\n"


@pytest.mark.parametrize("source", ["file", "env"])
def test_a_non_ascii_token_is_a_one_line_error(
    env: dict[str, str], sim: Any, tmp_path: Path, source: str
) -> None:
    token = "tökén-secret"
    (tmp_path / "tok").write_text(token + "\n", encoding="utf-8")
    (tmp_path / "tok").chmod(0o600)
    args = ["--token-file", str(tmp_path / "tok")] if source == "file" else []
    values = {**env, "QUESTA_API_TOKEN": token} if source == "env" else env
    result = run(["fetch", "550e8400-e29b-41d4-a716-446655440000", *args], values)
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "questa-vault: the API token has characters an HTTP header cannot carry\n"
    )
    assert "secret" not in result.output and "internal error" not in result.output
    assert sim.state.request_counts() == {}


def test_timeout_leaves_pending_and_warns_near_expiry(cli_vault: Path | str) -> None:
    with run_simulator(SimulatorConfig(processing_time=60)) as slow:
        values = {"QUESTA_API_URL": slow.url, "QUESTA_VAULT_PASSPHRASE": PASS}
        assert invoke(["init", *FAST_KDF], env=values).exit_code == 0
        job = slow.submit("csv", CSV)
        result = run(["fetch", job, "--timeout", "0.3"], values)
        assert result.exit_code == 3
        assert result.stdout.startswith(f"timeout          {job}  queued, 0% done after 0.3 s")
        with raw_db(cli_vault) as con:  # pretend it was submitted 55 minutes ago
            con.execute(
                "UPDATE jobs SET submitted_at = ? WHERE job_id = ?", (time.time() - 3300, job)
            )
        synced = run(["sync", "--no-wait", "--json"], values)
    assert synced.exit_code == 0
    report = json.loads(synced.stdout)
    assert report["counts"] == {"pending": 1}
    [warning] = report["warnings"]
    assert warning["job_id"] == job and 280 < warning["seconds_left"] <= 300
    assert f"warning: job {job} is still pending and may expire in about 5 min" in synced.stderr


# --- jobs, show, export ----------------------------------------------------------------------


def test_jobs_and_show_need_no_passphrase(env: dict[str, str], sim: Any) -> None:
    job = sim.submit("csv", CSV)
    assert run(["fetch", job], env).exit_code == 0
    no_secret = {"QUESTA_API_URL": env["QUESTA_API_URL"]}
    table = run(["jobs"], no_secret)
    assert table.exit_code == 0
    header, row = table.stdout.splitlines()
    assert header.split() == ["JOB", "STATUS", "TYPE", "ENT", "ARCHIVED", "(UTC)"]
    assert row.split()[:4] == [job, "archived", "csv", "2"]
    assert all(len(line) <= 80 for line in table.stdout.splitlines())
    shown = run(["show", job], no_secret)
    assert shown.exit_code == 0
    assert "per type     EMAIL_ADDRESS 1, PERSON_NAME 1" in shown.stdout
    assert "John" not in shown.stdout and "john@" not in shown.stdout
    data = json.loads(run(["show", job, "--json"], no_secret).stdout)
    assert list(data)[:5] == ["job_id", "status", "file_type", "source", "created_at"]
    assert data["estimated_expiry"] is None
    assert run(["jobs", "--status", "failed"], no_secret).stderr == "no failed jobs\n"


def test_show_unknown_job(env: dict[str, str]) -> None:
    result = run(["show", "nope"], env)
    assert (result.exit_code, result.stderr) == (
        1,
        "questa-vault: job nope is not in this vault (questa-vault jobs lists its jobs)\n",
    )


def test_export_default_name_stdout_and_refusals(
    env: dict[str, str], sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    job = sim.submit("excel", OPAQUE)
    assert run(["fetch", job], env).exit_code == 0

    result = run(["export", job], env)
    assert result.exit_code == 0, result.output
    assert (work / f"{job}.xlsx").read_bytes() == OPAQUE
    assert result.stderr == f"exported job {job} to {job}.xlsx ({len(OPAQUE)} bytes)\n"

    text_job = sim.submit("csv", CSV)
    assert run(["fetch", text_job], env).exit_code == 0
    piped = run(["export", text_job, "-o", "-"], env)
    assert piped.exit_code == 0
    assert piped.stdout == ANON_CSV.decode()

    wrong = run(["export", job, "-o", "denied.xlsx"], {**env, "QUESTA_VAULT_PASSPHRASE": "nope"})
    assert wrong.exit_code == 4 and not (work / "denied.xlsx").exists()
    assert [p.name for p in work.iterdir()] == [f"{job}.xlsx"]  # no temporary left over
    with custodian(os.environ["QUESTA_VAULT"]) as kr:
        exports = kr.log_entries(action="export")
    assert [(e.job_id, dict(e.counts)) for e in exports] == [
        (job, {"file_bytes": len(OPAQUE)}),
        (text_job, {"file_bytes": len(ANON_CSV)}),
    ]


def test_export_of_a_job_without_a_file(env: dict[str, str], sim: Any) -> None:
    job = sim.submit("pdf", OPAQUE)
    sim.state.fail(job)
    assert run(["fetch", job], env).exit_code == 3
    result = run(["export", job], env)
    assert (result.exit_code, result.stderr) == (
        1, f"questa-vault: job {job} is failed: only archived jobs have a file\n"
    )  # fmt: skip


# --- processes -------------------------------------------------------------------------------


def cli_process(args: list[str], vault: Path | str, url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTA_")}
    env.update(QUESTA_VAULT=str(vault), QUESTA_API_URL=url, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "vault", *args], env=env, cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible,
    )  # fmt: skip


def fetch_counts(vault: Path | str) -> Counter[str]:
    with custodian(vault) as kr:
        return Counter(e.job_id for e in kr.log_entries(action="fetch") if e.job_id)


@pytest.mark.sqlite_only("separate CLI processes on one PostgreSQL vault: test_pg_multihost.py")
def test_fetch_killed_midway_then_rerun_archives_each_job_once(
    env: dict[str, str], cli_vault: Path | str
) -> None:
    config = SimulatorConfig(processing_time=0, latency=0.03)
    with run_simulator(config) as sim:
        ids = [sim.submit("csv", CSV) for _ in range(120)]
        child = cli_process(["fetch", "--concurrency", "2", *ids], cli_vault, sim.url)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum(fetch_counts(cli_vault).values()) < 10:
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait()
        first = fetch_counts(cli_vault)
        assert 10 <= sum(first.values()) < 120, "the kill came too late to test anything"

        result = run(["fetch", *ids], {**env, "QUESTA_API_URL": sim.url})
    assert result.exit_code == 0, result.output
    outcomes = Counter(line.split()[0] for line in result.stdout.splitlines())
    assert outcomes["already-archived"] >= sum(first.values())
    assert outcomes["archived"] + outcomes["already-archived"] == 120
    assert fetch_counts(cli_vault) == Counter({job: 1 for job in ids})
    with custodian(cli_vault) as kr:
        assert {j.status for j in kr.list_jobs()} == {"archived"}
        kr.verify_chain()


@pytest.mark.sqlite_only("separate CLI processes on one PostgreSQL vault: test_pg_multihost.py")
def test_two_syncs_at_once_store_each_job_once(env: dict[str, str], cli_vault: Path | str) -> None:
    config = SimulatorConfig(processing_time=0, latency=0.1)
    with run_simulator(config) as sim:
        ids = [sim.submit("csv", CSV) for _ in range(40)]
        with custodian(cli_vault) as kr:
            for job in ids:
                kr.record_pending(job, file_type="csv", source="upload", submitted_at=time.time(),
                                  filename=None, options=None, actor="test")  # fmt: skip
        # At concurrency 4 a sync takes about 10 x 0.1 s on the network: long enough for the
        # two processes to overlap even when one starts much later on a loaded machine.
        procs = [
            cli_process(["sync", "--json", "--concurrency", "4"], cli_vault, sim.url)
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=60) for p in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    reports = [json.loads(out) for out, _ in outputs]
    seen = [j["job_id"] for r in reports for j in r["jobs"]]
    assert len(seen) > 40, "the two syncs did not overlap"
    archived = Counter(
        j["job_id"] for r in reports for j in r["jobs"] if j["outcome"] == "archived"
    )
    assert archived == Counter({job: 1 for job in ids})
    others = {j["outcome"] for r in reports for j in r["jobs"] if j["outcome"] != "archived"}
    assert others <= {"already-archived"}
    assert fetch_counts(cli_vault) == Counter({job: 1 for job in ids})


# --- docs ------------------------------------------------------------------------------------


def doc_examples(section: str) -> list[str]:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"^## {section}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/cli.md has no section {section}"
    return [line[2:] for line in match.group(1).splitlines() if line.startswith("$ questa-vault ")]


def test_docs_examples_run(
    env: dict[str, str], sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "customers.csv").write_bytes(CSV)
    (tmp_path / "notes.md").write_bytes(b"Call John Doe about Phoenix.\n")
    (tmp_path / "contract.pdf").write_bytes(OPAQUE)
    variables = {"JOB": sim.submit("csv", CSV)}
    ran = 0
    for section in ("submit", "fetch", "sync", "jobs", "show", "export"):
        examples = doc_examples(section)
        assert examples, f"no runnable example in section {section}"
        for line in examples:
            words = [
                re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], w) for w in shlex.split(line)
            ]
            result = run(words[1:], env)
            assert result.exit_code == 0, (line, result.output)
            ran += 1
    assert ran >= 6


def test_show_reveal_decrypts_the_details_after_logging(
    env: dict[str, str], tmp_path: Path
) -> None:
    upload = tmp_path / "people.csv"
    upload.write_bytes(b"name\nJohn Doe\n")
    # A slow simulator, so the job is surely still processing when the test makes it fail
    # (with the shared fast one, a busy machine let it complete first).
    with run_simulator(SimulatorConfig(processing_time=600, progress_steps=2)) as sim:
        env = {**env, "QUESTA_API_URL": sim.url}
        submitted = run(
            ["submit", str(upload), "--no-wait", "--custom-entities",
             '[{"original": "Phoenix", "placeholder": "PROJECT"}]'],
            env,
        )  # fmt: skip
        assert submitted.exit_code == 0, submitted.output
        [job] = job_ids(submitted.stdout)
        sim.state.fail(job, error="could not parse row 2")
        assert run(["fetch", job], env).exit_code == 3

    plain = run(["show", job], {"QUESTA_API_URL": env["QUESTA_API_URL"]})
    assert plain.exit_code == 0 and "server error" not in plain.stdout

    revealed = run(["show", job, "--reveal"], env)
    assert revealed.exit_code == 0, revealed.output
    lines = {" ".join(line.split()) for line in revealed.stdout.splitlines()}
    assert "server error could not parse row 2" in lines
    assert "custom entities Phoenix -> PROJECT" in lines
    assert "file name people.csv" in lines
    data = json.loads(run(["show", job, "--reveal", "--json"], env).stdout)
    assert data["details"]["error"] == "could not parse row 2"
    assert data["details"]["options"]["custom_entities"] == [
        {"original": "Phoenix", "placeholder": "PROJECT"}
    ]
    log = json.loads(run(["log", "--json", "--action", "show"], env).stdout)
    assert [e["job_id"] for e in log] == [job, job]

    wrong = run(["show", job, "--reveal"], {**env, "QUESTA_VAULT_PASSPHRASE": "wrong"})
    assert wrong.exit_code == 4 and "could not parse" not in wrong.output


# --- Ctrl-C ----------------------------------------------------------------------------------


def polls(sim: Any) -> int:
    return sim.state.request_counts().get("GET /anonymize/status/{job_id}", 0)


@pytest.mark.sqlite_only("signal handling in a child process; no backend-specific step")
@pytest.mark.parametrize("command", ["fetch", "sync", "submit"])
# SIGTERM (`timeout`, systemd, a CI cancel) reports as Ctrl-C does, with 128 + 15.
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_exits_130_naming_the_jobs_left_pending(
    command: str, cli_vault: Path | str, tmp_path: Path, signum: int, code: int
) -> None:
    with run_simulator(SimulatorConfig(processing_time=600)) as slow:
        values = {"QUESTA_API_URL": slow.url, "QUESTA_VAULT_PASSPHRASE": PASS}
        assert invoke(["init", "--user", "alice", *FAST_KDF], env=values).exit_code == 0
        files = [tmp_path / f"people{i}.csv" for i in range(2)]
        for file in files:
            file.write_bytes(CSV)
        earlier = run(["submit", "--no-wait", *map(str, files)], values)
        assert earlier.exit_code == 0, earlier.output
        old = job_ids(earlier.stdout)
        args = {
            "fetch": ["fetch", *old],
            "sync": ["sync"],
            "submit": ["submit", str(files[0])],
        }[command]
        child = cli_process(args, cli_vault, slow.url)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and polls(slow) < (1 if command == "submit" else 2):
            time.sleep(0.05)
        child.send_signal(signum)
        stdout, stderr = child.communicate(timeout=30)
    assert child.returncode == code, stderr
    [line] = stderr.splitlines()
    assert "Traceback" not in stderr and stdout == ""
    with custodian(cli_vault) as kr:
        pending = [j.job_id for j in kr.pending_jobs()]
    if command == "submit":
        [new] = [j for j in pending if j not in old]
        expected = [new]
    else:
        expected = old
    assert line == (
        f"questa-vault: interrupted; {len(expected)} "
        f"{'job stays' if len(expected) == 1 else 'jobs stay'} pending: {', '.join(expected)}; "
        "`questa-vault sync` archives them later"
    )


def _seen_during_run(previous: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """SIGTERM's handler while ``run`` runs a command and after it returns, with
    ``previous`` installed before."""
    from vault.cli import _app

    seen: list[Any] = []
    monkeypatch.setattr(
        _app, "_run_cli", lambda argv: seen.append(signal.getsignal(signal.SIGTERM)) or 0
    )
    saved = signal.signal(signal.SIGTERM, previous)
    try:
        assert _app.run(["--version"]) == 0
        return seen[0], signal.getsignal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, saved)


def test_run_turns_sigterm_into_an_interrupt_and_puts_the_default_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vault.cli._app import _on_sigterm

    during, after = _seen_during_run(signal.SIG_DFL, monkeypatch)
    assert during is _on_sigterm and after is signal.SIG_DFL


@pytest.mark.parametrize("previous", ["ignored", "handler"])
def test_run_leaves_a_sigterm_handler_the_process_chose(
    previous: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An application that embeds ``run`` and chose what SIGTERM does keeps its choice."""

    def handler(signum: int, frame: object) -> None:
        pass

    chosen = signal.SIG_IGN if previous == "ignored" else handler
    assert _seen_during_run(chosen, monkeypatch) == (chosen, chosen)


@pytest.mark.parametrize("count", [0, 1, 2, 10, 11, 57])
def test_interrupted_message_names_ten_and_counts_the_rest(count: int) -> None:
    from vault.cli.archive import interrupted_message

    ids = [f"job-{i:03d}" for i in range(count)]
    message = interrupted_message(ids)
    assert "\n" not in message
    if count == 0:
        assert message == "interrupted; no job of this run is left pending"
        return
    assert f"interrupted; {count} job" in message and "`questa-vault sync`" in message
    assert all((f"job-{i:03d}" in message) == (i < 10) for i in range(count))
    assert (f"and {count - 10} more" in message) == (count > 10)


# --- submit - (standard input) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "exported"),
    [
        ("notes.txt", b"Hi John Doe\n", b"Hi [PERSON_NAME_1]\n"),
        ("people.csv", CSV, ANON_CSV),
        ("report.pdf", OPAQUE, OPAQUE),
    ],
)
def test_submit_reads_stdin_under_its_name(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    name: str, data: bytes, exported: bytes,
) -> None:  # fmt: skip
    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setenv("TMPDIR", str(spool))
    monkeypatch.setattr("tempfile.tempdir", None)  # TMPDIR is read again
    other = tmp_path / "other.csv"
    other.write_bytes(CSV)
    result = run(["submit", "-", str(other), "--name", name, "--json"], env, input=data)
    assert result.exit_code == 0, result.output
    jobs = json.loads(result.stdout)["jobs"]
    assert sorted(j["file"] for j in jobs) == sorted([f"- ({name})", str(other)])
    [mine] = [j for j in jobs if j["file"] == f"- ({name})"]
    assert mine["outcome"] == "archived"
    shown = json.loads(run(["show", mine["job_id"], "--json"], env).stdout)
    assert str(spool) not in json.dumps(shown)
    out = tmp_path / "out.bin"
    assert run(["export", mine["job_id"], "-o", str(out)], env).exit_code == 0
    assert out.read_bytes() == exported
    assert list(spool.iterdir()) == []  # the spooled copy is gone


@pytest.mark.parametrize(
    "args",
    [
        ["submit", "-"],  # no --name
        ["submit", "x.csv", "--name", "a.csv"],  # --name without -
        ["submit", "-", "-", "--name", "a.csv"],
        *(
            ["submit", "-", "--name", bad]
            for bad in [
                "",
                ".",
                "..",
                "a/b.csv",
                "a\\b.csv",
                " a.csv",
                "a\n.csv",
                "a\x1b.csv",
                "a" * 252 + ".csv",
                "\u00e9" * 126 + ".csv",
            ]
        ),  # fmt: skip
        ["submit", "-", "--name", "a.csv", "--token-file", "-"],  # stdin read once
    ],
)
def test_submit_stdin_refusals_send_nothing(
    env: dict[str, str], sim: Any, tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "x.csv").write_bytes(CSV)
    result = run(args, env, input=CSV)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    assert sim.state.request_counts() == {}


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("a.csv", b"", "empty"),
        ("a.bin", b"data", "unsupported type"),
        ("a.txt", b"\xff\xfe not utf-8", "text is not UTF-8"),
    ],
)
def test_submit_stdin_checks_the_data_under_its_name(
    env: dict[str, str], sim: Any, name: str, data: bytes, problem: str
) -> None:
    result = run(["submit", "-", "--name", name], env, input=data)
    assert result.exit_code == 1
    assert result.stderr == (
        f"questa-vault: nothing submitted; 1 file cannot be sent: - ({name}): {problem}"
        + (" (use .csv .pdf .docx .xlsx .txt .md, or --type)" if "type" in problem else "")
        + "\n"
    )
    assert sim.state.request_counts() == {}


def test_custom_entities_from_stdin(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "report.pdf").write_bytes(OPAQUE)
    result = run(
        ["submit", str(tmp_path / "report.pdf"), "--custom-entities", "@-"],
        env,
        input='{"Phoenix": "PROJECT"}',
    )
    assert result.exit_code == 0, result.output
    job = job_ids(result.stdout)[0]
    assert json.loads(run(["show", job, "--json"], env).stdout)["entity_counts"] == {"PROJECT": 1}
    bad = run(["submit", str(tmp_path / "report.pdf"), "--custom-entities", "@-"], env, input="[{]")
    assert bad.exit_code == 1 and "--custom-entities is not valid JSON" in bad.stderr
    both = run(["submit", "-", "--name", "a.txt", "--custom-entities", "@-"], env, input="x")
    assert both.exit_code == 2 and "cannot both read '-'" in both.stderr
