"""``questa-vault simulate``: the real command as a subprocess, answering over HTTP."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from conftest import interruptible, invoke

NOT_FOUND = b'{"detail":"Job not found"}'
MISSING = b'{"detail":"Bearer token missing"}'


class Running:
    def __init__(self, args, env):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vault", "simulate", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            preexec_fn=interruptible,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        if not ready:
            self.proc.kill()
            raise AssertionError("the simulator printed no URL")
        line = self.proc.stdout.readline().decode()
        assert line.startswith("Questa API simulator listening on http://127.0.0.1:"), line
        self.url = line.split()[-1]

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        return code, self.proc.stderr.read().decode()


@pytest.fixture
def simulate():
    started = []
    env = {k: v for k, v in os.environ.items() if k != "QUESTA_SIM_TOKENS"}

    def _start(*args, extra_env=None):
        running = Running(args, {**env, **(extra_env or {})})
        started.append(running)
        return running

    yield _start
    for running in started:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_simulate_answers_documented_404_and_stops_cleanly(simulate, sig):
    sim = simulate("--processing-time", "0.1")
    response = httpx.get(f"{sim.url}/anonymize/status/nope")
    assert response.status_code == 404
    assert response.content == NOT_FOUND
    code, stderr = sim.stop(sig)
    assert code == 0
    assert "auth: none (self-hosted)" in stderr
    assert stderr.rstrip().endswith("simulator stopped")
    assert "Traceback" not in stderr


def test_simulate_with_a_token_file_answers_401_first(simulate, tmp_path):
    token_file = tmp_path / "tokens"
    token_file.write_text("# accepted tokens\nfirst-token\n\nsecond-token\n", encoding="utf-8")
    sim = simulate("--token-file", str(token_file))
    response = httpx.get(f"{sim.url}/anonymize/status/nope")
    assert (response.status_code, response.content) == (401, MISSING)
    for token in ("first-token", "second-token"):
        response = httpx.get(
            f"{sim.url}/anonymize/status/nope", headers={"Authorization": f"Bearer {token}"}
        )
        assert (response.status_code, response.content) == (404, NOT_FOUND)
    code, stderr = sim.stop()
    assert "2 token(s)" in stderr
    assert "first-token" not in stderr  # secrets are never echoed


def test_simulate_reads_tokens_from_the_environment_and_applies_knobs(simulate):
    sim = simulate(
        "--processing-time",
        "0",
        "--rate-limit",
        "--request-cap",
        "--seed",
        "4",
        extra_env={"QUESTA_SIM_TOKENS": "env-one, env-two"},
    )
    headers = {"Authorization": "Bearer env-two"}
    with httpx.Client(base_url=sim.url, headers=headers) as client:
        assert client.get("/anonymize/status/x", headers={"Authorization": "Bearer x"}).json() == {
            "detail": "Invalid bearer token"
        }
        job = client.post("/anonymize/csv", files={"file": ("a.csv", b"n\nJane Smith\n")})
        assert job.status_code == 202
        status = client.get(f"/anonymize/status/{job.json()['job_id']}").json()
        assert status["status"] == "completed"
        assert status["de_anonymization_map"] == {"Jane Smith": "[PERSON_NAME_1]"}
        codes = [client.post("/anonymize/text", json={"text": "x"}).status_code for _ in range(30)]
    assert codes == [200] * 29 + [429]
    _, stderr = sim.stop()
    assert "limits: 30/min, 1000-request cap" in stderr


def test_simulate_help_has_an_example():
    result = invoke(["simulate", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.stdout
    assert "questa-vault simulate --port 8765" in result.stdout
    for option in (
        "--host",
        "--port",
        "--token-file",
        "--processing-time",
        "--progress-steps",
        "--retention",
        "--failure-rate",
        "--error-rate",
        "--drop-rate",
        "--latency",
        "--rate-limit / --no-rate-limit",
        "--request-cap / --no-request-cap",
        "--seed",
    ):
        assert option in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--failure-rate", "1.5"],
        ["--error-rate", "-0.1"],
        ["--error-rate", "0.6", "--drop-rate", "0.6"],
        ["--port", "70000"],
        ["--processing-time", "-1"],
        ["--progress-steps", "100"],
        ["--token", "secret"],
    ],
)
def test_simulate_rejects_bad_options_with_exit_2(args):
    result = invoke(["simulate", *args])
    assert result.exit_code == 2


def test_simulate_reports_a_taken_port_with_exit_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke(["simulate", "--port", str(port)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"questa-vault: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


@pytest.mark.parametrize("content", [None, "# only a comment\n\n"])
def test_simulate_refuses_an_unusable_token_file(tmp_path, content):
    token_file = tmp_path / "tokens"
    if content is not None:
        token_file.write_text(content, encoding="utf-8")
    began = time.monotonic()
    result = invoke(["simulate", "--token-file", str(token_file)])
    assert result.exit_code == 1
    expected = "cannot read token file" if content is None else "no token in"
    assert expected in result.stderr
    assert time.monotonic() - began < 5  # refused before serving anything
