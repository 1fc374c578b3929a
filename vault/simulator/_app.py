"""The HTTP face of the simulator: a Starlette app with the service's routes and answers.

Layers, outermost first:
- ``_Faults``: counts every request per route and, on ``/anonymize/*``, adds the configured
  latency, then may drop the connection (``DropConnection``, turned into a silent close by the
  server's protocol) or answer the injected ``500``.
- CORS (``Access-Control-Allow-Origin: *``, all methods and headers, preflights answered).
- The routes. Each checks, in the documented order: 401, then 403 (lifetime cap), then 429
  (rate limit, with ``Retry-After``), then validation; only accepted requests (200/202) of the
  text route and the four uploads are counted against the limits.
"""

from __future__ import annotations

import asyncio
import hmac
import json

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from vault.errors import VaultError
from vault.simulator._config import REQUEST_CAP
from vault.simulator._detect import ENTITY_TYPES
from vault.simulator._service import (
    FILE_MISSING,
    TEXT_MISSING,
    UPLOAD_TYPES,
    RejectedRequest,
    anonymize_request,
    job_started_message,
    parse_custom,
    parse_options,
    start_job,
)
from vault.simulator._state import LimitDecision, SimulatorState

WELCOME = "Welcome to the Questa AI anonymization API (local simulator)."
TOKEN_MISSING = "Bearer token missing"  # noqa: S105 (an error message)
TOKEN_INVALID = "Invalid bearer token"  # noqa: S105 (an error message)
CAP_REACHED = (
    f"Evaluation request limit reached ({REQUEST_CAP}). "
    "Contact techsupport@questa.solutions for a license."
)
TEXT_REQUIRED = "text field is required"
UNSUPPORTED_TYPE = "Unsupported file type. Supported types: pdf, docx, csv, excel"
EMPTY_UPLOAD = "Uploaded file is empty"
JOB_NOT_FOUND = "Job not found"
INTERNAL_ERROR = "Internal server error"

_CORS: dict[str, list[str]] = {
    "allow_origins": ["*"],
    "allow_methods": ["*"],
    "allow_headers": ["*"],
}


class DropConnection(VaultError):
    """Raised to make the server close the connection without answering (fault injection)."""


def create_app(state: SimulatorState) -> ASGIApp:
    """The ASGI application of one simulator, serving ``state``."""
    routes = _Routes(state)
    starlette = Starlette(
        routes=[
            Route("/", routes.home, methods=["GET"]),
            Route("/health", routes.health, methods=["GET"]),
            Route("/anonymize/text", routes.text, methods=["POST"]),
            Route("/anonymize/entities", routes.entities, methods=["GET"]),
            Route("/anonymize/status/{job_id}", routes.status, methods=["GET"]),
            Route("/anonymize/{file_type}", routes.upload, methods=["POST"]),
        ],
        middleware=[Middleware(CORSMiddleware, **_CORS)],  # type: ignore[arg-type]
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    # No 307 to the slash-less path: "/anonymize/status/" is a plain 404, never a redirect.
    starlette.router.redirect_slashes = False
    return _Faults(starlette, state)


def route_key(method: str, path: str) -> str:
    """The name a request is counted under, e.g. ``GET /anonymize/status/{job_id}``."""
    if path.startswith("/anonymize/status/"):
        path = "/anonymize/status/{job_id}"
    return f"{method} {path}"


class _Faults:
    """Counts requests; injects latency, dropped connections and 500s on ``/anonymize/*``."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state
        error = JSONResponse({"detail": INTERNAL_ERROR}, status_code=500)
        self.error_app: ASGIApp = CORSMiddleware(error, **_CORS)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        self.state.count_request(route_key(method, path))
        config = self.state.config
        if path.startswith("/anonymize/") and method != "OPTIONS":
            if config.latency > 0:
                await asyncio.sleep(config.latency)
            if config.drop_rate > 0 or config.error_rate > 0:
                draw = self.state.draw()
                if draw < config.drop_rate:
                    # Read the request first: closing a socket with unread input sends a
                    # reset instead of a clean end of stream.
                    await _drain(receive)
                    raise DropConnection("connection dropped on purpose")
                if draw < config.drop_rate + config.error_rate:
                    await self.error_app(scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


class _Routes:
    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    async def home(self, request: Request) -> Response:
        return JSONResponse({"message": WELCOME})

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def entities(self, request: Request) -> Response:
        _, denied = self._authorize(request)
        return denied or JSONResponse({"entities": list(ENTITY_TYPES)})

    async def status(self, request: Request) -> Response:
        _, denied = self._authorize(request)
        if denied is not None:
            return denied
        view = self.state.view(request.path_params["job_id"])
        if view is None:
            return _detail(404, JOB_NOT_FOUND)
        return JSONResponse(view.to_json())

    async def text(self, request: Request) -> Response:
        key, refused = self._admit(request)
        if refused is not None:
            return refused
        try:
            payload = json.loads(await request.body())
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            payload = {}
        text = payload.get("text")
        errors: list[dict[str, object]] = [] if isinstance(text, str) else [TEXT_MISSING]
        options, option_errors = parse_options(payload.get("entities"), payload.get("start_index"))
        errors += option_errors
        if errors or options is None or not isinstance(text, str):
            return JSONResponse({"detail": errors}, status_code=422)
        if not text.strip():
            return _detail(400, TEXT_REQUIRED)
        try:
            options = parse_custom(options, payload.get("custom_entities"), is_json=False)
        except RejectedRequest as exc:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)
        late = self._count(key)
        if late is not None:
            return late
        body = await run_in_threadpool(anonymize_request, text, options)
        return JSONResponse(body)

    async def upload(self, request: Request) -> Response:
        key, refused = self._admit(request)
        if refused is not None:
            return refused
        file_type = request.path_params["file_type"]
        if file_type not in UPLOAD_TYPES:
            return _detail(400, UNSUPPORTED_TYPE)
        async with request.form() as form:
            upload = form.get("file")
            errors: list[dict[str, object]] = (
                [] if isinstance(upload, UploadFile) else [FILE_MISSING]
            )
            options, option_errors = parse_options(form.get("entities"), form.get("start_index"))
            errors += option_errors
            if errors or options is None or not isinstance(upload, UploadFile):
                return JSONResponse({"detail": errors}, status_code=422)
            data = await upload.read()
            if not data:
                return _detail(400, EMPTY_UPLOAD)
            try:
                options = parse_custom(options, form.get("custom_entities"), is_json=True)
            except RejectedRequest as exc:
                return JSONResponse({"detail": exc.detail}, status_code=exc.status)
        late = self._count(key)
        if late is not None:
            return late
        job_id = await run_in_threadpool(start_job, self.state, file_type, data, options)
        return JSONResponse(
            {"job_id": job_id, "message": job_started_message(file_type)}, status_code=202
        )

    # ------------------------------------------------------------------ checks

    def _authorize(self, request: Request) -> tuple[str, Response | None]:
        """The limits key of the caller (its token; "" without auth), or the 401 answer."""
        tokens = self.state.config.tokens
        if not tokens:
            return "", None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "", _detail(401, TOKEN_MISSING, {"WWW-Authenticate": "Bearer"})
        given = token.encode()
        matches = [hmac.compare_digest(given, t.encode()) for t in tokens]
        if not any(matches):
            return "", _detail(401, TOKEN_INVALID, {"WWW-Authenticate": "Bearer"})
        return token, None

    def _admit(self, request: Request) -> tuple[str, Response | None]:
        """401, then 403, then 429 for a request that would count."""
        key, denied = self._authorize(request)
        if denied is not None:
            return key, denied
        return key, _limit_answer(self.state.check_limits(key))

    def _count(self, key: str) -> Response | None:
        """Count an accepted request (or refuse it if a concurrent one took the last slot)."""
        return _limit_answer(self.state.accept(key))


def _limit_answer(decision: LimitDecision) -> Response | None:
    if decision.status == 403:
        return _detail(403, CAP_REACHED)
    if decision.status == 429:
        seconds = decision.retry_after
        return _detail(
            429,
            f"Rate limit exceeded. Try again in {seconds} seconds.",
            {"Retry-After": str(seconds)},
        )
    return None


def _detail(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for HTTPException
        return await _internal_error(request, exc)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return _detail(500, INTERNAL_ERROR)
