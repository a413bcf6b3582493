"""The id of the request being served, visible to every log record made while serving it."""

from __future__ import annotations

from contextvars import ContextVar

# "-" outside a request (workers, startup), so every log line has the field.
NO_REQUEST = "-"
request_id: ContextVar[str] = ContextVar("runapi_request_id", default=NO_REQUEST)
