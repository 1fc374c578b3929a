"""Serving the simulator: uvicorn in a background thread, on a port of the caller's choosing.

``run_simulator`` binds the socket itself (port 0 picks a free one, so parallel tests never
collide), starts uvicorn on its own event loop in a daemon thread, and returns once the server
accepts connections. ``stop()`` (or leaving the ``with`` block) shuts it down and joins the
thread. The process's logging configuration is left alone.

Dropped connections (``drop_rate``) need the transport, which ASGI hides; a small subclass of
uvicorn's h11 protocol closes it when the app raises ``DropConnection`` before answering, so the
client sees the connection end with no response at all.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from vault.errors import VaultError
from vault.simulator._app import DropConnection, create_app
from vault.simulator._config import SimulatorConfig
from vault.simulator._service import make_options, start_job
from vault.simulator._state import SimulatorState

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


class SimulatorError(VaultError):
    """The simulator could not start (e.g. the port is taken)."""


class _DroppingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, able to hang up without answering."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            try:
                await inner(scope, receive, send)
            except DropConnection:
                if self.cycle is not None:
                    self.cycle.disconnected = True  # so uvicorn does not send its own 500
                self.transport.close()

        self.app = app


class RunningSimulator:
    """A simulator serving on ``url`` until ``stop()``; also a context manager."""

    def __init__(self, config: SimulatorConfig, host: str, port: int) -> None:
        self.config = config
        self.state = SimulatorState(config)
        self._sock = _bind(host, port)
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(
                create_app(self.state),
                http=_DroppingH11Protocol,
                lifespan="off",
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=1,
            )
        )
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="questa-simulator", daemon=True)
        self._thread.start()
        self._wait_started()

    def _serve(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # reported to the starting thread, never lost
            self._failure = exc

    def _wait_started(self) -> None:
        waited = 0.0
        while not self._server.started:
            if not self._thread.is_alive() or waited >= _START_TIMEOUT:
                self._sock.close()
                raise SimulatorError(f"the simulator did not start on {self.url}") from (
                    self._failure
                )
            self._thread.join(0.01)
            waited += 0.01

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop serving and wait for the server thread (idempotent)."""
        self._server.should_exit = True
        self._thread.join(_STOP_TIMEOUT)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(_STOP_TIMEOUT)
        self._sock.close()

    def submit(
        self,
        file_type: str,
        data: bytes,
        *,
        entities: str | None = None,
        start_index: int = 0,
        custom_entities: Sequence[tuple[str, str]] = (),
    ) -> str:
        """Start a job as an upload would, without HTTP and without counting it; the job id.

        For tests and benchmarks that need many jobs quickly.
        """
        if file_type not in ("pdf", "docx", "csv", "excel"):
            raise SimulatorError(f"unsupported file type {file_type!r}")
        options = make_options(entities, start_index, custom_entities)
        return start_job(self.state, file_type, data, options)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_simulator(
    config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningSimulator:
    """Start a simulator in a background thread; ``port=0`` picks a free port.

    Use it as a context manager (``with run_simulator(cfg) as sim: ... sim.url``) or call
    ``stop()``. Raises ``SimulatorError`` when it cannot listen.
    """
    return RunningSimulator(config or SimulatorConfig(), host, port)


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos: list[Any] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, _, proto = infos[0][:3]
        # The protocol must be IPPROTO_TCP (not 0): asyncio only sets TCP_NODELAY on such
        # sockets, and without it every response waits ~40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, proto or socket.IPPROTO_TCP)
    except OSError as exc:
        raise SimulatorError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.set_inheritable(True)
    except OSError as exc:
        sock.close()
        raise SimulatorError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock
