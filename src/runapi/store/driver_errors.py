"""The database errors a client should see as something other than a 500.

A lost connection (server restarting, network gone, too many clients) is a 503 to retry. Text PostgreSQL
cannot store (a NUL character; SQLite takes it) is the client's 422. Everything else (constraint violations,
bugs) keeps its own handling.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from ..errors import InvalidInput, Unavailable

# SQLSTATE classes/codes that mean "no usable connection": 08 connection exceptions, 57P01-57P03 admin
# shutdown / crash shutdown / cannot connect now, 53300 too many connections.
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


# SQLSTATE 22021 character_not_in_repertoire, 22P05 untranslatable_character
_UNSTORABLE_TEXT_SQLSTATES = ("22021", "22P05")


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached right now; the request may be retried."""

    def __init__(self) -> None:
        super().__init__("Service temporarily unavailable", retry_after=1)


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


def unstorable_text(exc: BaseException) -> InvalidInput | None:
    """The 422 for a parameter PostgreSQL cannot hold as text (a NUL character), else None."""
    if isinstance(exc, DBAPIError) and _sqlstate(exc) in _UNSTORABLE_TEXT_SQLSTATES:
        return InvalidInput("Text parameters must not contain NUL characters")
    return None


def _sqlstate(exc: BaseException) -> str | None:
    err: BaseException | None = exc
    for _ in range(5):  # SQLAlchemy -> adapter -> driver
        if err is None:
            return None
        state = getattr(err, "sqlstate", None) or getattr(err, "pgcode", None)
        if isinstance(state, str):
            return state
        err = getattr(err, "orig", None) or err.__cause__
    return None
