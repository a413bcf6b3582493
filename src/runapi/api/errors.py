"""The one place a domain refusal (runapi.errors) becomes an HTTP status: the class decides, the message and
code pass through, `retry_after` becomes a Retry-After header. Each surface then renders its own shape."""

from __future__ import annotations

from .. import errors as e
from ..errors import ApiError

STATUS: tuple[tuple[type[e.RunapiError], int], ...] = (  # most specific first; subclasses follow their base
    (e.BadRequest, 400),
    (e.Unauthenticated, 401),
    (e.InsufficientCredits, 402),
    (e.Forbidden, 403),
    (e.NotFound, 404),
    (e.Conflict, 409),
    (e.TooLarge, 413),
    (e.InvalidInput, 422),
    (e.RateLimited, 429),
    (e.UpstreamFailed, 502),
    (e.Unavailable, 503),
    (e.StorageFull, 507),
)


def http_status(exc: e.RunapiError) -> int:
    if isinstance(exc, e.UpstreamFailed) and exc.upstream_status:
        return exc.upstream_status  # the upstream's own refusal, as it said it
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 400  # a RunapiError subclass not in the table is still the client's; the table test keeps this unused


def as_api_error(exc: e.RunapiError | ApiError) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return ApiError(http_status(exc), exc.message, code=exc.code, headers=headers)
