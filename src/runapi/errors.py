"""Refusals a client can cause, raised below the HTTP edge with the documented messages (seed: 错误 section).

Nothing under `runapi` except `runapi.api` chooses an HTTP status: code below the edge raises one of these,
and `runapi.api.errors` maps each class to its status and to each surface's error shape in one place.

    RunapiError                   any refusal; `message` is what the client reads, `code` a machine code
    ├── BadRequest                the request is malformed (not a JSON object, an unknown shape)     → 400
    │   └── MissingParameter      a required parameter is absent                                    → 400
    ├── Unauthenticated           no key, an unknown, revoked or expired key                        → 401
    ├── InsufficientCredits       the balance cannot cover the reservation                          → 402
    ├── Forbidden                 the key's kind, a role, a guardrail or a spend limit refuses      → 403
    ├── NotFound                  the thing named does not exist for this account                   → 404
    │   ├── TaskNotFound          "Task not found"
    │   └── RecordNotFound        a record id (persona, voice…) this account did not make
    ├── Conflict                  an Idempotency-Key reused with other input                        → 409
    ├── TooLarge                  a body or file over its size limit                                → 413
    ├── InvalidInput              well-formed but not acceptable (value, kind, state of a reference) → 422
    ├── RateLimited               too many requests; `retry_after` seconds                          → 429
    ├── Unavailable               nothing can serve it now (no upstream, database down); retryable  → 503
    ├── StorageFull               no room to store the file now                                     → 507
    └── UpstreamFailed            the provider failed or refused; `upstream_status` when it said so → 502
"""

from __future__ import annotations

# The documented message for a referenced task that has not finished yet.
RECORDS_BEING_GENERATED = "Records are being generated"


class RunapiError(Exception):
    """A refusal the client caused or can retry; never a bug of ours (those stay ordinary exceptions)."""

    def __init__(self, message: str, *, code: str | None = None, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_after = retry_after  # seconds, sent as Retry-After when set


class BadRequest(RunapiError):
    pass


class MissingParameter(BadRequest):
    def __init__(self, name: str):
        super().__init__(f"Missing required parameter: {name}")
        self.parameter = name


class Unauthenticated(RunapiError):
    def __init__(self, message: str = "Unauthorized"):
        super().__init__(message)


class InsufficientCredits(RunapiError):
    def __init__(self, message: str = "Insufficient credits"):
        super().__init__(message)


class Forbidden(RunapiError):
    pass


class NotFound(RunapiError):
    pass


class TaskNotFound(NotFound):
    def __init__(self, message: str = "Task not found"):
        super().__init__(message)


class RecordNotFound(NotFound):
    pass


class Conflict(RunapiError):
    pass


class TooLarge(RunapiError):
    pass


class InvalidInput(RunapiError):
    pass


class RateLimited(RunapiError):
    pass


class Unavailable(RunapiError):
    pass


class StorageFull(RunapiError):
    pass


class UpstreamFailed(RunapiError):
    """The provider failed (no `upstream_status`) or refused with its own status (a content policy 400, say),
    which the edge passes on as is."""

    def __init__(self, message: str, *, upstream_status: int | None = None, code: str | None = None):
        super().__init__(message, code=code)
        self.upstream_status = upstream_status


class ApiError(Exception):
    """Transitional: an error that already carries its HTTP status. Only `runapi.api` may raise it; code
    below the edge raises a RunapiError subclass instead (being converted, issue 13)."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def unauthorized() -> Unauthenticated:
    return Unauthenticated()


def insufficient_credits() -> InsufficientCredits:
    return InsufficientCredits()


def task_not_found() -> TaskNotFound:
    return TaskNotFound()


def missing_parameter(name: str) -> MissingParameter:
    return MissingParameter(name)


def invalid(message: str) -> InvalidInput:
    return InvalidInput(message)


# The documented message for a record (key, guardrail, assignment, file) this account cannot see.
RECORD_NOT_FOUND = "Record does not exist"


def record_not_found() -> NotFound:
    return NotFound(RECORD_NOT_FOUND)
