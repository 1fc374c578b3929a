"""The two clients: ``QuestaClient`` (blocking) and ``AsyncQuestaClient`` (asyncio).

Both send the same ``Call`` objects through the same retry bookkeeping; only the waiting and the
httpx client differ. The outside world is injected: the transport (``httpx.MockTransport`` in
tests), the sleep function, the monotonic clock that bounds retries, and the random source of the
jitter. ``QuestaClient.aio()`` makes the async twin with the same settings, which is what the
archive's concurrent fetch uses.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from vault._version import __version__
from vault.client._calls import (
    Call,
    entities_call,
    health_call,
    status_call,
    text_call,
    upload_call,
)
from vault.client._retry import Attempts, RetryPolicy, undecodable
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
    ) -> None:
        try:
            url = httpx.URL(base_url)
        except httpx.InvalidURL as exc:
            raise InputError("the API URL is not a valid URL") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise InputError("the API URL must start with http:// or https:// and name a host")
        if token is not None:
            _check_token(token)
        self.base_url = base_url
        self.token = token
        self.timeout = timeout
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
    def request_args(call: Call[Any]) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if call.json_body is not None:
            args["json"] = call.json_body
        if call.form is not None:
            args["data"] = dict(call.form)
        if call.files is not None:
            args["files"] = dict(call.files)
        return args

    @staticmethod
    def finish(call: Call[T], response: httpx.Response) -> T:
        if not call.json_answer:
            return call.parse(None)
        try:
            body = response.json()
        except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, nesting too deep
            raise MalformedResponse(
                f"{call.what}: the answer is not valid JSON; nothing was stored"
            ) from exc
        return call.parse(body)


class QuestaClient:
    """Blocking client of the Questa anonymization API.

    ``token=None`` sends no Authorization header (self-hosted). Errors are ``ApiError``
    subclasses: ``ApiAuthError`` (401/403, at once), ``JobNotFound`` (404 on a status call),
    ``RateLimited`` and ``ServerError`` (after bounded retries), ``MalformedResponse``.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: Transport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = _Settings(
            base_url,
            token,
            timeout=timeout,
            transport=transport,
            retry=retry or RetryPolicy(),
            clock=clock,
            rng=rng,
        )
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._http: httpx.Client | None = None

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
        other._http = None
        return other

    def aio(self) -> AsyncQuestaClient:
        """The asyncio twin with the same URL, token, transport, retries, clock and sleep."""
        s = self._settings
        if s.transport is not None and not isinstance(s.transport, httpx.AsyncBaseTransport):
            raise InputError("the injected transport cannot serve the asyncio client")
        return AsyncQuestaClient(
            s.base_url,
            s.token,
            timeout=s.timeout,
            transport=s.transport,
            retry=s.retry,
            sleep=self._async_sleep,
            clock=s.clock,
            rng=s.rng,
        )

    def _client(self) -> httpx.Client:
        if self._http is None:
            s = self._settings
            transport = s.transport
            if transport is not None and not isinstance(transport, httpx.BaseTransport):
                raise InputError("the injected transport cannot serve the blocking client")
            self._http = httpx.Client(
                base_url=s.base_url, headers=s.headers(), timeout=s.timeout, transport=transport
            )
        return self._http

    def _send(self, call: Call[T]) -> T:
        http = self._client()
        attempts = self._settings.attempts(call)
        args = self._settings.request_args(call)
        while True:
            try:
                response = http.request(call.method, call.path, **args)
            except httpx.TransportError as exc:
                self._sleep(attempts.after_error(exc))
                continue
            except httpx.RequestError as exc:  # e.g. a body that does not decode
                raise undecodable(call.what, exc) from exc
            delay = attempts.after_response(response)
            if delay is None:
                return self._settings.finish(call, response)
            self._sleep(delay)

    def status(self, job_id: str) -> RemoteJob:
        """The validated state of a job (``GET /anonymize/status/{job_id}``)."""
        return self._send(status_call(job_id))

    def anonymize_text(self, text: str, options: SubmitOptions | None = None) -> TextResult:
        """Anonymize text synchronously (``POST /anonymize/text``)."""
        return self._send(text_call(text, options))

    def upload(
        self,
        source: Path | bytes,
        file_type: str,
        *,
        filename: str | None = None,
        options: SubmitOptions | None = None,
    ) -> str:
        """Start a job for a pdf, docx, csv or excel file; return the server's job id."""
        return self._send(upload_call(source, file_type, filename, options))

    def entities(self) -> tuple[str, ...]:
        """The entity type names the service detects."""
        return self._send(entities_call())

    def health(self) -> None:
        """Return when ``GET /health`` answers 2xx; raise ``ApiError`` otherwise."""
        self._send(health_call())

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> QuestaClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


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
    ) -> None:
        self._settings = _Settings(
            base_url,
            token,
            timeout=timeout,
            transport=transport,
            retry=retry or RetryPolicy(),
            clock=clock,
            rng=rng,
        )
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
            transport = s.transport
            if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
                raise InputError("the injected transport cannot serve the asyncio client")
            self._http = httpx.AsyncClient(
                base_url=s.base_url,
                headers=s.headers(),
                timeout=s.timeout,
                transport=transport,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
            )
        return self._http

    async def _send(self, call: Call[T]) -> T:
        http = self._client()
        attempts = self._settings.attempts(call)
        args = self._settings.request_args(call)
        while True:
            try:
                response = await http.request(call.method, call.path, **args)
            except httpx.TransportError as exc:
                await self._sleep(attempts.after_error(exc))
                continue
            except httpx.RequestError as exc:  # e.g. a body that does not decode
                raise undecodable(call.what, exc) from exc
            delay = attempts.after_response(response)
            if delay is None:
                return self._settings.finish(call, response)
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
    ) -> str:
        return await self._send(upload_call(source, file_type, filename, options))

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
