"""Network bounds (issue 11, point 5): hostile servers on loopback cannot hold the client past
its timeouts, cannot make it read more than the size limit, and a large result is parsed in
bounded memory.

The servers are raw sockets in a thread, so they can misbehave in ways an HTTP framework
would not allow: accept and never answer, trickle the status line, trickle the body.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import socket
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_KDF, invoke

from vault import archive
from vault.archive import PollPolicy, RunOptions
from vault.client import QuestaClient, RetryPolicy
from vault.client._body import loads
from vault.custody import Custodian, KdfParams
from vault.errors import ResponseTooLarge, ServerError
from vault.simulator import SimulatorConfig, run_simulator

NO_RETRY = RetryPolicy(max_retries=0)
TICK = 0.25  # seconds between the trickled bytes: far below every read timeout used here
MARGIN = 1.5  # seconds of scheduling slack on a loaded 2-core machine (the bug took minutes)


class Hostile:
    """A loopback HTTP server that answers every request the way ``mode`` says."""

    def __init__(self, mode: str, body: bytes = b"", headers: str = "") -> None:
        self.mode, self.body, self.headers = mode, body, headers
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests = 0
        self.received: list[int] = []  # body bytes of each request
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.requests += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read_request(self, conn: socket.socket) -> None:
        """Read one request, discarding its body as it arrives; note the body's size."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        got = len(rest)
        while got < length:
            chunk = conn.recv(1 << 16)
            if not chunk:
                return
            got += len(chunk)
        self.received.append(got)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                self._read_request(conn)
                if self.mode == "silent":
                    self.stop.wait()
                elif self.mode == "trickle-status":
                    for byte in b"HTTP/1.1 200 OK\r\n":
                        if self.stop.wait(TICK):
                            return
                        conn.sendall(bytes([byte]))
                    self.stop.wait()
                elif self.mode == "trickle-body":
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 1000000\r\n\r\n{"
                    )
                    while not self.stop.wait(TICK):
                        conn.sendall(b" ")
                elif self.mode == "upload":  # 503 to the first, 202 to the others
                    answer = (
                        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
                        if len(self.received) == 1
                        else b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                        b'Content-Length: 26\r\n\r\n{"job_id": "accepted-job"}'
                    )
                    conn.sendall(answer)
                else:  # "answer": the given body, at once
                    conn.sendall(
                        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{self.headers}"
                        f"Content-Length: {len(self.body)}\r\n\r\n".encode()
                    )
                    conn.sendall(self.body)  # no copy: the server shares the traced process
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def hostile() -> Iterator[Any]:
    servers: list[Hostile] = []

    def make(mode: str, body: bytes = b"", headers: str = "") -> Hostile:
        servers.append(Hostile(mode, body, headers))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


JOB = str(uuid.UUID(int=7))
STALLS = ["silent", "trickle-status", "trickle-body"]


@pytest.mark.parametrize("mode", STALLS)
def test_asyncio_client_abandons_a_stalled_request_at_its_timeout(hostile: Any, mode: str) -> None:
    server = hostile(mode)

    async def poll() -> None:
        client = QuestaClient(server.url, timeout=1.0, retry=NO_RETRY).aio()
        async with client:
            await client.status(JOB)

    started = time.monotonic()
    with pytest.raises(ServerError, match="timed out talking to 127.0.0.1"):
        asyncio.run(poll())
    assert time.monotonic() - started < 1.0 + MARGIN


@pytest.mark.parametrize("mode", STALLS)
def test_blocking_client_abandons_a_stalled_request(hostile: Any, mode: str) -> None:
    server = hostile(mode)
    started = time.monotonic()
    with QuestaClient(server.url, timeout=1.0, retry=NO_RETRY) as client:
        with pytest.raises(ServerError, match="timed out"):
            client.status(JOB)
    assert time.monotonic() - started < 1.0 + MARGIN


@pytest.fixture
def custodian(tmp_path: Path) -> Iterator[Custodian]:
    fast = KdfParams("argon2id", 8192, 1, 1, unsafe=True)
    with Custodian.create(tmp_path / "v.db", user="alice", passphrase="pw", kdf=fast) as kr:
        yield kr


@pytest.mark.parametrize("mode", STALLS)
def test_the_runs_timeout_bounds_requests_in_flight(
    hostile: Any, custodian: Custodian, mode: str
) -> None:
    """The reported case: a 30 s request timeout and five retries, but ``--timeout 1``."""
    server = hostile(mode)
    custodian.record_pending(JOB, file_type="csv", source="upload", submitted_at=time.time(),
                           filename=None, options=None, actor="t", api_url=server.url)  # fmt: skip
    options = RunOptions(actor="t", timeout=1.0, poll=PollPolicy(0.01, 1.5, 0.05))
    started = time.monotonic()
    with QuestaClient(server.url, timeout=30.0) as client:
        [outcome] = archive.sync(client, custodian, options).outcomes
    elapsed = time.monotonic() - started
    assert outcome.outcome == "timeout"
    assert outcome.detail.startswith("no answer from 127.0.0.1:")
    assert "left pending" in outcome.detail
    assert elapsed < 1.0 + 1.0 + MARGIN  # the timeout, the 1 s grace, a margin
    assert custodian.get_job(JOB).status == "pending"  # type: ignore[union-attr]


def test_cli_fetch_timeout_against_a_silent_server(hostile: Any, isolated_env: Path) -> None:
    server = hostile("silent")
    env = {"QUESTA_API_URL": server.url, "QUESTA_VAULT_PASSPHRASE": "pw"}
    assert invoke(["init", "--user", "alice", *FAST_KDF], env=env).exit_code == 0
    started = time.monotonic()
    result = invoke(["fetch", JOB, "--timeout", "1"], env=env)
    assert time.monotonic() - started < 2.0 + MARGIN + 1.0  # + the CLI's start-up
    assert result.exit_code == 3, result.output
    assert "timeout" in result.stdout and "no answer from" in result.stdout


def _status(result: bytes, **extra: Any) -> bytes:
    body = {
        "job_id": JOB,
        "status": "completed",
        "progress": 100,
        "file_type": "csv",
        "created_at": 1_700_000_000.0,
        "entity_count": 1,
        "de_anonymization_map": {"John Doe": "[PERSON_NAME_1]"},
        "result": base64.b64encode(result).decode(),
    }
    body.update(extra)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("size", "compressed"),
    [(4096, False), (64 * 1024, False), (4 * 1024 * 1024, True)],  # the last a gzip bomb
)
def test_an_answer_over_the_size_limit_is_refused(
    hostile: Any, size: int, compressed: bool
) -> None:
    body = _status(b"x" * size)
    headers = ""
    if compressed:
        body, headers = gzip.compress(body), "Content-Encoding: gzip\r\n"
        assert len(body) < 64 * 1024  # small on the wire, large once decoded
    server = hostile("answer", body, headers)
    with QuestaClient(server.url, retry=NO_RETRY, max_response=2048) as client:
        with pytest.raises(ResponseTooLarge, match=r"larger than the 0.00195312 MiB allowed"):
            client.status(JOB)


def test_an_answer_within_the_limit_is_read(hostile: Any) -> None:
    server = hostile("answer", _status(b"name\n[PERSON_NAME_1]\n"))
    with QuestaClient(server.url, retry=NO_RETRY, max_response=4096) as client:
        assert client.status(JOB).result == b"name\n[PERSON_NAME_1]\n"


def test_a_large_result_costs_at_most_two_and_a_half_times_its_size(hostile: Any) -> None:
    size = 16 * 1024 * 1024
    result = bytes(range(256)) * (size // 256)
    server = hostile("answer", _status(result))
    with QuestaClient(server.url, retry=NO_RETRY) as client:
        client.health  # noqa: B018 - the connection pool is made lazily; keep it out of the peak
        tracemalloc.start()
        try:
            remote = client.status(JOB)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert remote.result == result
    del remote, result
    assert peak <= 2.5 * size, f"peak {peak / size:.2f} x the result"


# The splice that keeps the base64 text out of Python strings must parse exactly as json does.
SPLICE_CASES = [
    b'{"result": "QUJD", "x": 1}',
    b'{"x": {"result": "AAAA"}, "result": "QUJD"}',  # nested key first: only the top one counts
    b'{"x": ["result", "AAAA"], "result" : \n "QUJD"}',
    b'{"s": "a \\" result", "result": "QUJD"}',
    b'{"result": "QU\\/J"}',  # an escape: left to json
    b'{"result": null}',
    b'{"result": "QUJD", "result": "REVG"}',  # a duplicate key: the last wins, as in json
    b'{"result": 5}',
    b'["result", "QUJD"]',
]


@pytest.mark.parametrize("body", SPLICE_CASES)
def test_the_splice_parses_like_json(body: bytes) -> None:
    expected = json.loads(body)
    got = loads(bytearray(body), big_string="result", splice_from=0)
    if isinstance(got, dict) and not isinstance(got.get("result"), str | int | type(None)):
        got["result"] = bytes(got["result"].data).decode()
    assert got == expected


@pytest.mark.parametrize("body", [b'{"result": "QUJD"', b'{"result": "QUJD"}}', b'{"a" "result"}'])
def test_the_splice_refuses_what_json_refuses(body: bytes) -> None:
    with pytest.raises(ValueError):
        loads(bytearray(body), big_string="result", splice_from=0)


def test_upload_streams_the_file_and_a_retry_reads_it_again(hostile: Any, tmp_path: Path) -> None:
    """A 32 MiB upload does not cost its size in memory; the first attempt gets a 503 and the
    retry sends the whole file again from disk (real sockets; the server discards as it reads)."""
    size = 32 * 1024 * 1024
    path = tmp_path / "big.pdf"
    with path.open("wb") as f:
        f.write(b"%PDF-1.4\n" + b"0" * (size - 9))
    server = hostile("upload")
    seen: list[tuple[int, int]] = []
    retry = RetryPolicy(max_retries=2, backoff_base=0.001, backoff_cap=0.002)
    with QuestaClient(server.url, retry=retry) as client:
        tracemalloc.start()
        try:
            job = client.upload(path, "pdf", on_progress=lambda s, t: seen.append((s, t)))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert job == "accepted-job"
    assert len(server.received) == 2 and min(server.received) > size  # both carried the file
    assert peak < 4 * 1024 * 1024, f"peak {peak / 1024 / 1024:.1f} MiB for a 32 MiB upload"
    assert seen[-1] == (size, size)
    restarts = sum(1 for (a, _), (b, _) in zip(seen, seen[1:]) if b < a)
    assert restarts == 1  # read whole twice: the retry opened the file again


def test_submit_of_an_unreadable_file_fails_that_file_only(
    tmp_path: Path, custodian: Custodian
) -> None:

    good, gone = tmp_path / "a.pdf", tmp_path / "b.pdf"
    good.write_bytes(b"%PDF-1.4 a")
    gone.write_bytes(b"%PDF-1.4 b")
    files = archive.check_files([good, gone])
    gone.unlink()  # vanishes between the check and the upload
    with run_simulator(SimulatorConfig(processing_time=0.0)) as sim:
        with QuestaClient(sim.url) as client:
            outcomes = archive.submit(client, custodian, files, RunOptions(actor="t", wait=False))
    assert [o.outcome for o in outcomes] == ["pending", "error"]
    assert "cannot read the file" in outcomes[1].detail
