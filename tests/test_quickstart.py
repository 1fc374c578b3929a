"""The README/quickstart commands work against the simulator, exactly as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FAST_KDF, invoke

from vault.simulator import SimulatorConfig, run_simulator


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch):
    with run_simulator(SimulatorConfig(processing_time=0.2)) as sim:
        monkeypatch.setenv("QUESTA_API_URL", sim.url)
        yield sim


def test_quickstart_commands(service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUESTA_VAULT_PASSPHRASE", "correct horse battery")
    customers = tmp_path / "customers.csv"
    customers.write_bytes(b"name,email\r\nJohn Doe,john@example.com\r\n")
    ticket = tmp_path / "ticket.txt"
    ticket.write_text("Jane Smith wrote from jane@example.org.\n", encoding="utf-8")

    assert invoke(["init", "--user", "alice", *FAST_KDF]).exit_code == 0
    submitted = invoke(["submit", str(customers), str(ticket)])
    assert submitted.exit_code == 0, submitted.output
    jobs = json.loads(invoke(["jobs", "--json"]).stdout)
    by_type = {j["file_type"]: j["job_id"] for j in jobs}
    assert set(by_type) == {"csv", "text"}

    answer = tmp_path / "answer.txt"
    answer.write_text("Write to [person_name_1] today.\n", encoding="utf-8")
    strict = invoke(["restore", str(answer), "-j", by_type["text"], "-o", str(tmp_path / "s.txt")])
    assert strict.exit_code == 3  # the case-mangled placeholder is unknown in strict mode
    lenient = invoke(
        ["restore", str(answer), "-j", by_type["text"], "--lenient", "-o", str(tmp_path / "r.txt")]
    )
    assert lenient.exit_code == 0, lenient.output
    assert (tmp_path / "r.txt").read_text(encoding="utf-8") == "Write to Jane Smith today.\n"

    audit = invoke(["audit", "--format", "json"])
    assert audit.exit_code == 0
    log = invoke(["log"])
    assert log.exit_code == 0 and "restore" in log.stdout
    head = invoke(["log", "--head"]).stdout.strip()
    assert invoke(["verify", "--expect-head", head]).exit_code == 0
