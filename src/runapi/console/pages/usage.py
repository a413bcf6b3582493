"""Usage: the usage log (billing/usage.py) as a filtered table, newest first, a page at a time, and the same rows
as CSV. The rows a member sees are the API's (UsageScope.of: an admin the account's, a member their keys')."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ...api.usage import usage_filters
from ...billing.usage import KINDS, UsageEvent, UsagePage, UsageScope, list_usage
from ...store.pages import MAX_LIMIT, PageRequest
from ..context import services
from ..session import Viewer
from ..web import render

PAGE_SIZE = 50
_PageReader = Callable[[str | None], Awaitable[UsagePage]]
MAX_EXPORT_ROWS = 100_000  # one export's bound: about 20 MB of CSV; narrow the filters for more
CSV_COLUMNS = (
    "id", "created_at", "kind", "status", "api_key_id", "model", "family", "action", "provider", "task_id",
    "request_id", "input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens",
    "unit", "units", "cost_micro_cents", "charged_cents", "latency_ms",
)  # fmt: skip


async def usage_page(request: Request, viewer: Viewer) -> Response:
    filters = usage_filters(request)
    after = request.query_params.get("after") or None
    page = await list_usage(
        services(request).db, UsageScope.of(viewer.principal), filters, PageRequest(limit=PAGE_SIZE, after=after)
    )
    query = {k: v for k, v in request.query_params.items() if k != "after" and v}
    return await render(
        request, "usage.html", viewer, rows=page.events, has_more=page.has_more, filters=filters,
        kinds=KINDS, query=query,
    )  # fmt: skip


async def usage_csv(request: Request, viewer: Viewer) -> Response:
    filters = usage_filters(request)
    scope, db = UsageScope.of(viewer.principal), services(request).db
    name = time.strftime("runapi-usage-%Y%m%d-%H%M%S.csv", time.gmtime())
    return StreamingResponse(
        csv_chunks(lambda after: list_usage(db, scope, filters, PageRequest(limit=MAX_LIMIT, after=after))),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"},
    )


def csv_row(e: UsageEvent) -> list[str]:
    task_id = e.ref if e.kind == "task" else None
    values = {**{c: getattr(e, c, None) for c in CSV_COLUMNS}, "task_id": task_id}
    values["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e.created_at))
    return ["" if values[c] is None else str(values[c]) for c in CSV_COLUMNS]


async def csv_chunks(read_page: _PageReader) -> AsyncIterator[str]:
    """The header, then the rows page by page (a page in memory at a time), at most MAX_EXPORT_ROWS."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    sent, after = 0, None
    while True:
        page = await read_page(after)
        for e in page.events[: MAX_EXPORT_ROWS - sent]:
            writer.writerow(csv_row(e))
        sent += len(page.events)
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if not page.has_more or not page.events or sent >= MAX_EXPORT_ROWS:
            return
        after = page.events[-1].id
