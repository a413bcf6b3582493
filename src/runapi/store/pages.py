"""Cursor pagination over a table's rows in creation order, the shape the platform's SDKs list files in:
`limit`, `after`/`before` (ids of rows of the list), `order` asc|desc by creation.

Keyset, not offset: a page is found through the (created_at, id) of its cursor row, so it costs the same deep
in the list and rows written meanwhile neither repeat nor vanish. Rows created in the same instant (an LLM
batch shares its commit time) are ordered by id, so the order is total."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Row, Table, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import InvalidInput

Order = Literal["asc", "desc"]
MAX_LIMIT = 100
DEFAULT_LIMIT = 20


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    after: str | None = None  # the page that follows this row, in list order
    before: str | None = None  # the page that precedes this row, in list order
    order: Order = "desc"

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be an integer between 1 and {MAX_LIMIT}")
        if self.after is not None and self.before is not None:
            raise InvalidInput("after and before cannot be used together")
        if self.order not in ("asc", "desc"):
            raise InvalidInput("Invalid value for order: allowed values are asc, desc")


@dataclass(frozen=True)
class Page:
    rows: Sequence[Row[Any]]
    has_more: bool  # more rows lie beyond this page in the direction it was read (after: later; before: earlier)


async def read_page(
    conn: AsyncConnection,
    table: Table,
    scope: ColumnElement[bool],
    filters: Sequence[ColumnElement[bool]],
    page: PageRequest,
) -> Page:
    """One page of `table`'s rows within `scope` (what the caller may see) that match `filters`. A cursor must
    name a row within `scope` (422 otherwise: an id of another account's row is no cursor, and says nothing
    about it)."""
    created, ident = table.c.created_at, table.c.id
    where = [scope, *filters]
    newest_first = page.order == "desc"
    cursor = page.after or page.before
    if cursor is not None:
        at = (await conn.execute(select(created).where(ident == cursor, scope))).scalar()
        if at is None:
            name = "after" if page.after is not None else "before"
            raise InvalidInput(f"Invalid value for {name}: no record with id {cursor!r}")
        # rows past the cursor in the direction of reading: `after` reads on in list order, `before` back
        forward = page.after is not None
        later = forward != newest_first
        where.append(
            or_(created > at, and_(created == at, ident > cursor))
            if later
            else or_(created < at, and_(created == at, ident < cursor))
        )
        reading_newest_first = not later
    else:
        reading_newest_first = newest_first
    by = (created.desc(), ident.desc()) if reading_newest_first else (created.asc(), ident.asc())
    found = (await conn.execute(select(table).where(*where).order_by(*by).limit(page.limit + 1))).all()
    rows = list(found[: page.limit])
    if reading_newest_first != newest_first:  # read backwards from a `before` cursor: back to list order
        rows.reverse()
    return Page(rows, has_more=len(found) > page.limit)
