"""The client commands' exit codes, the platform CLI's (runapi-ai/cli@cmd/runapi/cli.go `exitCode`, README
"The CLI exits with non-zero status codes"), chosen in this one place from an HTTP status or a task status.

The platform classifies an API error by its HTTP status (runapi-ai/core-sdk@go/core/errors.go: 401
authentication, 402 insufficient credits, 400/404/409/413/422 validation, not found or conflict, 408 timeout,
429 rate limit); anything else (403, 5xx, a network error) is a plain 1. Local usage errors (a bad flag, an
unreadable --input) are validation errors there too, so they exit 4 here rather than click's usual 2, which
means authentication."""

from __future__ import annotations

OK = 0
ERROR = 1
AUTH = 2
INSUFFICIENT_CREDITS = 3
VALIDATION = 4
TIMEOUT = 5
RATE_LIMIT = 6
TASK_FAILED = 7

_BY_STATUS = {
    401: AUTH,
    402: INSUFFICIENT_CREDITS,
    400: VALIDATION,
    404: VALIDATION,
    409: VALIDATION,
    413: VALIDATION,
    422: VALIDATION,
    408: TIMEOUT,
    429: RATE_LIMIT,
}

# task statuses as the SDKs normalise them (runapi-ai/core-sdk@go/core/polling.go NormalizeStatus)
_FAILED_STATUSES = frozenset({"failed", "error", "generate_failed", "create_task_failed"})
_COMPLETED_STATUSES = frozenset({"completed", "success"})


def for_http_status(status: int) -> int:
    """The exit code for an answer with this HTTP status (0 for a success)."""
    if 200 <= status < 400:
        return OK
    return _BY_STATUS.get(status, ERROR)


def task_phase(status: object) -> str:
    """completed, failed or processing (anything else is still running)."""
    text = str(status or "").lower()
    if text in _COMPLETED_STATUSES:
        return "completed"
    if text in _FAILED_STATUSES:
        return "failed"
    return "processing"


def for_task_status(status: object) -> int:
    """The exit code for a task in this status once waiting is over: 7 for a failed task, else 0."""
    return TASK_FAILED if task_phase(status) == "failed" else OK
