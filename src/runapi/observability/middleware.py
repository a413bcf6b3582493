"""One pure-ASGI layer around the whole app: request id, HTTP metrics and the access log line.

Pure ASGI (no BaseHTTPMiddleware) so streamed responses (SSE) pass through untouched, message by message,
and the per-request cost stays at a few microseconds: a header scan, two clock reads, two cached metric
children and, when the access logger is enabled, one access line (observability.logs: no LogRecord while
the default handler is the only one). With tracing on (observability.tracing) it
also opens the request's server span, named by the route template once the router has matched."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

import anyio
from starlette._utils import is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import tracing
from .context import request_id, request_started
from .logs import ACCESS_LOGGER, access_handler
from .metrics import HTTP_DURATION, HTTP_REQUESTS

access_log = logging.getLogger(ACCESS_LOGGER)

MAX_REQUEST_ID = 128
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # one label for every path no route matched, so scanners can't inflate the series
# The server's own send, in the scope, for responses that write many small body messages (SSE): each one
# sent through the layers' send wrappers costs a few calls that only look at http.response.start.
DIRECT_SEND = "runapi.direct_send"


def incoming_request_id(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The client's X-Request-Id when it is short printable ASCII (it goes into logs and headers as is)."""
    for name, value in headers:
        if name == b"x-request-id":
            if 0 < len(value) <= MAX_REQUEST_ID and value.isascii():
                text = value.decode()
                if text.isprintable():
                    return text
            return None
    return None


def route_template(scope: Scope) -> str:
    """The path template of the route Starlette's router matched (it records it in the scope)."""
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED


Finish = Callable[[Scope], Awaitable[None] | None]


class StarletteErrors:
    """The work of Starlette's ServerErrorMiddleware and ExceptionMiddleware, for the observer to do in its own
    layer: the same handlers (taken from those middlewares, built as Starlette builds them), the same answers.
    Those two layers each add a coroutine and a send wrapper to every request (ExceptionMiddleware also a
    Request and a closure); here an answered request costs nothing more than the observer's own send wrapper."""

    def __init__(self, server: ServerErrorMiddleware, handling: ExceptionMiddleware):
        self.server = server
        self.exception_handlers = handling._exception_handlers
        self.status_handlers = handling._status_handlers

    async def failed(self, scope: Scope, receive: Receive, send: Send, exc: Exception, started: bool) -> None:
        """After `exc` escaped the router: its exception handler's answer (ExceptionMiddleware), else the 500
        answer (ServerErrorMiddleware, which then re-raises for the server to log)."""
        sent = started

        async def sender(message: Message) -> None:
            nonlocal sent
            if message["type"] == "http.response.start":
                sent = True
            await send(message)

        try:
            handler: Any = None  # Starlette's handler types allow websockets too; this layer sees http only
            if isinstance(exc, HTTPException):
                handler = self.status_handlers.get(exc.status_code)
            if handler is None:
                handler = next(
                    (self.exception_handlers[c] for c in type(exc).__mro__ if c in self.exception_handlers), None
                )
            if handler is None:
                raise exc
            if started:
                raise RuntimeError("Caught handled exception, but response already started.") from exc
            request = Request(scope, receive, send)
            if is_async_callable(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
            if response is not None:
                await response(scope, receive, sender)
            exc.__traceback__ = None  # reused exception instances accumulate tracebacks across requests
        except Exception as failure:
            server = self.server
            request = Request(scope)
            on_error: Any = server.handler
            if on_error is None:
                answer: Any = server.error_response(request, failure)
            elif is_async_callable(on_error):
                answer = await on_error(request, failure)
            else:
                answer = await run_in_threadpool(on_error, request, failure)
            if not sent:
                await answer(scope, receive, send)
            raise failure


class RequestObserver:
    """`errors`: the app is the router, and the observer handles what escapes it as Starlette's two error
    layers would (StarletteErrors); `finish`: called once the response is over (before it is counted and
    logged), its awaitable, if any, awaited shielded from cancellation (the rate limits' slot release);
    `fallback`: the app for scopes other than http (lifespan, websocket), when the app is the bare router."""

    def __init__(
        self,
        app: ASGIApp,
        access_log_enabled: bool = True,
        *,
        errors: StarletteErrors | None = None,
        finish: Finish | None = None,
        fallback: ASGIApp | None = None,
    ):
        self.app = app
        self.access_log_enabled = access_log_enabled
        self.errors = errors
        self.finish = finish
        self.fallback = fallback or app
        # prometheus_client's .labels() takes a lock and builds a key each call; the label sets are bounded
        # (routes × methods × statuses), so the children are cached here.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fallback(scope, receive, send)
            return
        rid = incoming_request_id(scope["headers"]) or os.urandom(16).hex()
        scope[DIRECT_SEND] = send
        token = request_id.set(rid)
        rid_header = (b"x-request-id", rid.encode())
        status = 500  # if the app fails before answering, the server answers 500
        answering = False  # the response has started
        started = perf_counter()
        started_token = request_started.set(started)

        async def send_with_id(message: Message) -> None:
            nonlocal status, answering
            if message["type"] == "http.response.start":
                status = message["status"]
                answering = True
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        if tracing.enabled():
            await self._traced(scope, receive, send_with_id, lambda: status, lambda: answering, started)
        else:
            try:
                try:
                    await self.app(scope, receive, send_with_id)
                except Exception as exc:
                    if self.errors is None:
                        raise
                    await self.errors.failed(scope, receive, send_with_id, exc, answering)
                finally:
                    if self.finish is not None:
                        await self._finish(scope)
            finally:
                self._observe(scope, status, perf_counter() - started)
        # Reset only after a normal return: when an exception escapes, the server's own error log line for
        # it is written in this same context and should carry the id too.
        request_id.reset(token)
        request_started.reset(started_token)

    async def _finish(self, scope: Scope) -> None:
        assert self.finish is not None
        pending = self.finish(scope)
        if pending is not None:
            with anyio.CancelScope(shield=True):  # a cancelled request must still finish
                await pending

    async def _traced(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: Callable[[], int],
        answering: Callable[[], bool],
        started: float,
    ) -> None:
        with tracing.server_span(scope["method"], scope["headers"]) as span:
            try:
                try:
                    await self.app(scope, receive, send)
                except Exception as exc:
                    if self.errors is None:
                        raise
                    await self.errors.failed(scope, receive, send, exc, answering())
                finally:
                    if self.finish is not None:
                        await self._finish(scope)
            finally:
                route = route_template(scope)
                span.rename(f"{scope['method']} {route}")
                span.set_attributes(
                    {"http.route": route, "http.response.status_code": status(), "url.path": scope["path"]}
                )
                if status() >= 500:
                    span.fail(f"HTTP {status()}")
                self._observe(scope, status(), perf_counter() - started)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in KNOWN_METHODS else "OTHER"
        route = route_template(scope)
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = self._counters[(method, route, status)] = HTTP_REQUESTS.labels(method, route, str(status))
        counter.inc()
        histogram = self._histograms.get((method, route))
        if histogram is None:
            histogram = self._histograms[(method, route)] = HTTP_DURATION.labels(method, route)
        histogram.observe(seconds)
        if self.access_log_enabled and access_log.isEnabledFor(logging.INFO):
            duration_ms = round(seconds * 1000, 2)
            # The path only, never the query string: it can hold keys (?key=) and file-link signatures.
            extra = {"method": scope["method"], "path": scope["path"], "status": status, "duration_ms": duration_ms}
            handler = access_handler(access_log)
            if handler is not None:  # the same line, without a LogRecord, filter and formatter per request
                line = f"{scope['method']} {scope['path']} {status:d} {duration_ms:.2f}ms"  # the format below
                handler.access_line(line, request_id.get(), extra)
            else:
                access_log.info("%s %s %d %.2fms", scope["method"], scope["path"], status, duration_ms, extra=extra)
