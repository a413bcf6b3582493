"""Telling "the database is unreachable" apart from every other database error.

A lost connection (server restarting, network gone, too many clients) is the only error a client should
see as 503 and retry; everything else (constraint violations, bugs) keeps its own handling.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from ..errors import ApiError

# SQLSTATE classes/codes that mean "no usable connection": 08 connection exceptions, 57P01-57P03 admin
# shutdown / crash shutdown / cannot connect now, 53300 too many connections.
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


class DatabaseUnavailable(ApiError):
    """The database cannot be reached right now; the request may be retried."""

    def __init__(self) -> None:
        super().__init__(503, "Service temporarily unavailable", headers={"Retry-After": "1"})


def is_unavailable(exc: BaseException) -> bool:
    """A driver error (wrapped by SQLAlchemy) caused by a lost or refused connection, or a socket error or
    timeout raised directly while connecting. Other errors that merely happened inside a transaction (an
    HTTP call failing, say) are not the database's."""
    if isinstance(exc, (OSError, TimeoutError)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    seen: set[int] = set()
    err: BaseException | None = exc
    while err is not None and id(err) not in seen:  # walk SQLAlchemy -> adapter -> driver -> socket errors
        seen.add(id(err))
        if isinstance(err, (OSError, TimeoutError, ConnectionError)):
            return True
        state = getattr(err, "sqlstate", None) or getattr(err, "pgcode", None)
        if isinstance(state, str) and state.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        if type(err).__name__ in ("ConnectionDoesNotExistError", "InterfaceError") and "closed" in str(err):
            return True
        err = getattr(err, "orig", None) or err.__cause__ or err.__context__
    return False
