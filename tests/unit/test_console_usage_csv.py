"""The console's usage CSV: a header, one line per row, read page by page and bounded."""

from __future__ import annotations

import asyncio
import csv
import io

from runapi.billing.usage import UsageEvent, UsagePage
from runapi.console.pages import usage


def event(i: int, kind: str = "task") -> UsageEvent:
    return UsageEvent(
        id=f"usage_{i}", created_at=1_796_529_757.0 + i, account_id=1, api_key_id="token_1", kind=kind,
        ref=f"task-{i}", request_id=None, model="nano-banana", family="nano_banana", action="text_to_image",
        provider="sandbox", status="completed", input_tokens=0, output_tokens=0, cached_tokens=0,
        cache_write_tokens=0, reasoning_tokens=0, unit="request", units=1.0, cost_micro_cents=4_000_000,
        charged_cents=4, latency_ms=120,
    )  # fmt: skip


def export(pages: list[list[UsageEvent]]) -> list[list[str]]:
    asked: list[str | None] = []

    async def read(after: str | None) -> UsagePage:
        asked.append(after)
        i = len(asked) - 1
        return UsagePage(tuple(pages[i]), has_more=i + 1 < len(pages))

    async def go() -> str:
        return "".join([chunk async for chunk in usage.csv_chunks(read)])

    rows = list(csv.reader(io.StringIO(asyncio.run(go()))))
    assert asked == [None] + [p[-1].id for p in pages[:-1]]  # each page after the last row of the one before
    return rows


def test_header_then_one_line_per_row_across_pages():
    rows = export([[event(1), event(2)], [event(3, kind="llm")]])
    assert rows[0] == list(usage.CSV_COLUMNS)
    assert [r[0] for r in rows[1:]] == ["usage_1", "usage_2", "usage_3"]
    line = dict(zip(usage.CSV_COLUMNS, rows[1], strict=True))
    assert line["created_at"] == "2026-12-06T04:02:38Z" and line["task_id"] == "task-1" and line["charged_cents"] == "4"
    assert dict(zip(usage.CSV_COLUMNS, rows[3], strict=True))["task_id"] == ""  # an LLM call has no task


def test_an_export_stops_at_its_bound(monkeypatch):
    monkeypatch.setattr(usage, "MAX_EXPORT_ROWS", 3)
    rows = export([[event(1), event(2)], [event(3), event(4)]])
    assert len(rows) == 1 + 3
