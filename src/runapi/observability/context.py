"""The id of the request being served, visible to every log record made while serving it, and when it started
(the usage log times LLM calls from it)."""

from __future__ import annotations

from contextvars import ContextVar

# "-" outside a request (workers, startup), so every log line has the field.
NO_REQUEST = "-"
request_id: ContextVar[str] = ContextVar("runapi_request_id", default=NO_REQUEST)
# time.perf_counter() when the request arrived; None outside a request
request_started: ContextVar[float | None] = ContextVar("runapi_request_started", default=None)
