"""The clients: ``AsyncQuestaClient`` (asyncio) does the work; ``QuestaClient`` (blocking) is a
thin wrapper that runs its calls on a private event loop.

One request path: the same ``Call`` objects, retry bookkeeping, overall deadline
(``asyncio.timeout``) and size limit serve both. The outside world is injected: the transport
(``httpx.MockTransport`` in tests; it must serve asyncio), the sleep function, the monotonic
clock that bounds retries, and the random source of the jitter. ``QuestaClient.aio()`` makes
the async twin with the same settings, which is what the archive's concurrent fetch uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from vault._version import __version__
from vault.client._body import (
    DEFAULT_MAX_RESPONSE,
    aread_body,
    expected_size,
    loads,
)
from vault.client._calls import (
    Call,
    entities_call,
    health_call,
    status_call,
    text_call,
    upload_call,
)
from vault.client._retry import Attempts, RetryPolicy, undecodable, unreadable
from vault.config import check_api_url
from vault.errors import InputError, MalformedResponse
from vault.models import RemoteJob, SubmitOptions, TextResult

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0

Transport = httpx.BaseTransport | httpx.AsyncBaseTransport


# Visible ASCII only: a header value cannot carry other text (httpx encodes it as ASCII), and a
# space, tab or line break would let the token end the header or add another one.
_TOKEN = re.compile(r"[\x21-\x7e]+")


def _check_token(token: str) -> None:
    """Refuse a token an Authorization header cannot carry; the message never shows it."""
    if not token:
        raise InputError("the API token is empty")
    if not _TOKEN.fullmatch(token):
        raise InputError("the API token has characters an HTTP header cannot carry")


class _Settings:
    """What both clients share: where, who, how long, how often."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float,
        transport: Transport | None,
        retry: RetryPolicy,
        clock: Callable[[], float],
        rng: random.Random | None,
        max_response: int = DEFAULT_MAX_RESPONSE,
    ) -> None:
        if not timeout > 0:
            raise InputError("the request timeout must be a number of seconds > 0")
        if isinstance(max_response, bool) or max_response < 1:
            raise InputError("the maximum response size must be at least 1 byte")
        try:
            url = httpx.URL(base_url)
        except httpx.InvalidURL as exc:
            raise InputError("the API URL is not a valid URL") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise InputError("the API URL must start with http:// or https:// and name a host")
        check_api_url(base_url)  # no credentials in a URL stored with every job
        if token is not None:
            _check_token(token)
        self.base_url = base_url
        self.token = token
        self.timeout = timeout
        self.max_response = max_response
        self.transport = transport
        self.retry = retry
        self.clock = clock
        self.rng = rng or random.Random()  # jitter, not a secret
        self.host = f"{url.host}:{url.port}" if url.port else url.host
        self.origin = (url.scheme, url.host, url.port)

    def at(self, base_url: str) -> _Settings:
        """The same settings for another server. The token goes along only to the same
        origin (scheme, host, port): a URL recorded in the vault file must not be able to
        send the bearer token somewhere else."""
        other = _Settings(
            base_url,
            None,
            timeout=self.timeout,
            transport=self.transport,
            retry=self.retry,
            clock=self.clock,
            rng=self.rng,
            max_response=self.max_response,
        )
        if other.origin == self.origin:
            other.token = self.token
        return other

    def headers(self) -> dict[str, str]:
        headers = {"User-Agent": f"questa-vault/{__version__}", "Accept": "application/json"}
        if self.token:  # self-hosted deployments take no Authorization header at all
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def attempts(self, call: Call[Any]) -> Attempts:
        return Attempts(
            call.what,
            self.retry,
            clock=self.clock,
            rng=self.rng,
            not_found=call.not_found,
            host=self.host,
        )

    @staticmethod
    def request_args(call: Call[Any], stack: contextlib.ExitStack) -> dict[str, Any]:
        """The request's arguments for one attempt: an upload is opened afresh each time
        (a retry streams it from disk again) and closed with ``stack``."""
        args: dict[str, Any] = {}
        if call.json_body is not None:
            args["json"] = call.json_body
        if call.form is not None:
            args["data"] = dict(call.form)
        if call.upload is not None:
            args["files"] = {"file": call.upload.open(stack)}
        return args

    @staticmethod
    def finish(call: Call[T], body: bytearray) -> T:
        if not call.json_answer:
            return call.parse(None)
        try:
            data = loads(body, big_string=call.big_string)
        except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, nesting too deep
            raise MalformedResponse(
                f"{call.what}: the answer is not valid JSON; nothing was stored"
            ) from exc
        return call.parse(data)

    @staticmethod
    def with_body(response: httpx.Response, body: bytearray) -> httpx.Response:
        """A non-2xx answer with its (bounded, decoded) body, for the retry bookkeeping."""
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code, headers=headers, content=bytes(body), request=response.request
        )


class QuestaClient:
    """Blocking client of the Questa anonymization API: a thin wrapper over
    ``AsyncQuestaClient``, whose calls it runs to completion on a private event loop (one
    connection pool for the client's life). It is also what the archive's runs are handed:
    they use ``.aio()``, the asyncio twin with the same settings. From async code, use
    ``.aio()`` (or ``AsyncQuestaClient``) directly: a blocking call inside a running event
    loop raises ``InputError``.

    ``token=None`` sends no Authorization header (self-hosted). Errors are ``ApiError``
    subclasses: ``ApiAuthError`` (401/403, at once), ``JobNotFound`` (404 on a status call),
    ``RateLimited`` and ``ServerError`` (after bounded retries), ``MalformedResponse``.
    ``sleep`` replaces the waits between retries of the blocking calls (tests), ``async_sleep``
    those of the asyncio twin.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: Transport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        max_response: int = DEFAULT_MAX_RESPONSE,
    ) -> None:
        self._settings = _Settings(
            base_url,
            token,
            timeout=timeout,
            transport=transport,
            retry=retry or RetryPolicy(),
            clock=clock,
            rng=rng,
            max_response=max_response,
        )
        _check_async_transport(transport)
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._runner: asyncio.Runner | None = None
        self._blocking: AsyncQuestaClient | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    @property
    def host(self) -> str:
        """``host[:port]`` of the server, for messages."""
        return self._settings.host

    def at(self, base_url: str) -> QuestaClient:
        """A client of another server with the same timeouts, retries and transport; the
        token is kept only when ``base_url`` has the same origin (see ``_Settings.at``).
        ``InputError`` when ``base_url`` is not an http(s) URL."""
        other = QuestaClient.__new__(QuestaClient)
        other._settings = self._settings.at(base_url)
        other._sleep = self._sleep
        other._async_sleep = self._async_sleep
        other._runner = None
        other._blocking = None
        other._lock = threading.Lock()
        return other

    def aio(self, sleep: Callable[[float], Awaitable[None]] | None = None) -> AsyncQuestaClient:
        """The asyncio twin with the same URL, token, transport, retries, clock and sleep."""
        s = self._settings
        client = AsyncQuestaClient.__new__(AsyncQuestaClient)
        client._settings = s
        client._sleep = sleep or self._async_sleep
        client._http = None
        return client

    def _run(self, call: Call[T]) -> T:
        """Run one call on the private event loop (created on first use)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise InputError(
                "a blocking QuestaClient call inside a running event loop: use .aio() there"
            )
        with self._lock:
            if self._runner is None:
                self._runner = asyncio.Runner()
            if self._blocking is None:
                blocking_sleep = self._sleep
                if blocking_sleep is None:
                    self._blocking = self.aio(asyncio.sleep)
                else:

                    async def wait(seconds: float) -> None:
                        blocking_sleep(seconds)

                    self._blocking = self.aio(wait)
            # The answer comes back through a box, not as the task's result: on Python 3.11
            # ``Runner.run`` formats its main task's repr when it restores the SIGINT handler,
            # and that would copy a large result (and the map's originals) into a string.
            box: list[T] = []
            blocking = self._blocking

            async def into_box() -> None:
                box.append(await blocking._send(call))

            self._runner.run(into_box())
            return box[0]

    def status(self, job_id: str) -> RemoteJob:
        """The validated state of a job (``GET /anonymize/status/{job_id}``)."""
        return self._run(status_call(job_id))

    def anonymize_text(self, text: str, options: SubmitOptions | None = None) -> TextResult:
        """Anonymize text synchronously (``POST /anonymize/text``)."""
        return self._run(text_call(text, options))

    def upload(
        self,
        source: Path | bytes,
        file_type: str,
        *,
        filename: str | None = None,
        options: SubmitOptions | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> str:
        """Start a job for a pdf, docx, csv or excel file; return the server's job id. A file
        is streamed from disk (re-opened for each retry); ``on_progress(sent, total)``
        follows the bytes read for sending."""
        return self._run(upload_call(source, file_type, filename, options, on_progress))

    def entities(self) -> tuple[str, ...]:
        """The entity type names the service detects."""
        return self._run(entities_call())

    def health(self) -> None:
        """Return when ``GET /health`` answers 2xx; raise ``ApiError`` otherwise."""
        self._run(health_call())

    def close(self) -> None:
        with self._lock:
            runner, blocking = self._runner, self._blocking
            self._runner = self._blocking = None
            if runner is None:
                return
            try:
                if blocking is not None:
                    runner.run(blocking.aclose())
            finally:
                runner.close()

    def __enter__(self) -> QuestaClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _check_async_transport(transport: Transport | None) -> httpx.AsyncBaseTransport | None:
    if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
        raise InputError(
            "the injected transport cannot serve the asyncio client (on which the blocking "
            "client runs too)"
        )
    return transport


class AsyncQuestaClient:
    """Asyncio client with the methods of ``QuestaClient`` as coroutines.

    Use it as ``async with``; one instance shares a connection pool across concurrent calls.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: Transport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        max_response: int = DEFAULT_MAX_RESPONSE,
    ) -> None:
        self._settings = _Settings(
            base_url,
            token,
            timeout=timeout,
            transport=transport,
            retry=retry or RetryPolicy(),
            clock=clock,
            rng=rng,
            max_response=max_response,
        )
        _check_async_transport(transport)
        self._sleep = sleep
        self._http: httpx.AsyncClient | None = None

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    @property
    def host(self) -> str:
        """``host[:port]`` of the server, for messages."""
        return self._settings.host

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            s = self._settings
            self._http = httpx.AsyncClient(
                base_url=s.base_url,
                headers=s.headers(),
                timeout=s.timeout,
                transport=_check_async_transport(s.transport),
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
            )
        return self._http

    async def _attempt(
        self, http: httpx.AsyncClient, call: Call[T]
    ) -> tuple[httpx.Response, bytearray]:
        """One request and its body, within the size limit and one overall deadline (the
        timeout): a server that accepts and never answers, or trickles a byte at a time, is
        abandoned when it passes, as ``httpx.ReadTimeout`` (retried like any timeout)."""
        s = self._settings
        try:
            async with asyncio.timeout(s.timeout):
                with contextlib.ExitStack() as stack:
                    args = s.request_args(call, stack)
                    async with http.stream(call.method, call.path, **args) as response:
                        size = expected_size(response.headers)
                        chunks = response.aiter_bytes()
                        body = await aread_body(chunks, s.max_response, call.what, size)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no complete answer within {s.timeout:g} s") from exc
        return response, body

    async def _send(self, call: Call[T]) -> T:
        http = self._client()
        attempts = self._settings.attempts(call)
        while True:
            try:
                response, body = await self._attempt(http, call)
            except httpx.TransportError as exc:
                await self._sleep(attempts.after_error(exc))
                continue
            except httpx.RequestError as exc:  # e.g. a body that does not decode
                raise undecodable(call.what, exc) from exc
            except OSError as exc:  # the upload cannot be read
                raise unreadable(call, exc) from exc
            ok = 200 <= response.status_code < 300
            delay = attempts.after_response(response if ok else _Settings.with_body(response, body))
            if delay is None:
                return self._settings.finish(call, body)
            await self._sleep(delay)

    async def status(self, job_id: str) -> RemoteJob:
        return await self._send(status_call(job_id))

    async def anonymize_text(self, text: str, options: SubmitOptions | None = None) -> TextResult:
        return await self._send(text_call(text, options))

    async def upload(
        self,
        source: Path | bytes,
        file_type: str,
        *,
        filename: str | None = None,
        options: SubmitOptions | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> str:
        return await self._send(upload_call(source, file_type, filename, options, on_progress))

    async def entities(self) -> tuple[str, ...]:
        return await self._send(entities_call())

    async def health(self) -> None:
        await self._send(health_call())

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> AsyncQuestaClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
