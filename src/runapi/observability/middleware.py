"""One pure-ASGI layer around the whole app: request id, HTTP metrics and the access log line.

Pure ASGI (no BaseHTTPMiddleware) so streamed responses (SSE) pass through untouched, message by message,
and the per-request cost stays at a few microseconds: a header scan, two clock reads, two cached metric
children and, when the access logger is enabled, one access line (observability.logs: no LogRecord while
the default handler is the only one). With tracing on (observability.tracing) it
also opens the request's server span, named by the route template once the router has matched."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from time import perf_counter
from typing import Any

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


class RequestObserver:
    def __init__(self, app: ASGIApp, access_log_enabled: bool = True):
        self.app = app
        self.access_log_enabled = access_log_enabled
        # prometheus_client's .labels() takes a lock and builds a key each call; the label sets are bounded
        # (routes × methods × statuses), so the children are cached here.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_request_id(scope["headers"]) or os.urandom(16).hex()
        scope[DIRECT_SEND] = send
        token = request_id.set(rid)
        rid_header = (b"x-request-id", rid.encode())
        status = 500  # if the app fails before answering, the server answers 500
        started = perf_counter()
        started_token = request_started.set(started)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        if tracing.enabled():
            await self._traced(scope, receive, send_with_id, lambda: status, started)
        else:
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                self._observe(scope, status, perf_counter() - started)
        # Reset only after a normal return: when an exception escapes, the server's own error log line for
        # it is written in this same context and should carry the id too.
        request_id.reset(token)
        request_started.reset(started_token)

    async def _traced(
        self, scope: Scope, receive: Receive, send: Send, status: Callable[[], int], started: float
    ) -> None:
        with tracing.server_span(scope["method"], scope["headers"]) as span:
            try:
                await self.app(scope, receive, send)
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
