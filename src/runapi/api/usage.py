"""GET /api/v1/usage (the usage log, one row per billed request) and GET /api/v1/usage/summary (its totals per
day, model or API key). Any key may read it: an API key sees its own requests; a management key its account's
(an admin's) or its member's keys' (billing/usage.py, UsageScope)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..billing import usage
from ..billing.usage import GROUPINGS, KINDS, UsageEvent, UsageFilter, UsageGroup, UsageScope
from ..domain.times import iso
from .context import authenticated, runtime
from .listing import choice, page_request, text, unix_time
from .responses import Json


def usage_filters(request: Request) -> UsageFilter:
    return UsageFilter(
        api_key_id=text(request, "api_key_id"),
        model=text(request, "model"),
        kind=choice(request, "kind", KINDS),
        created_after=unix_time(request, "created_after"),
        created_before=unix_time(request, "created_before"),
    )


def event_object(e: UsageEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "object": "usage",
        "created": round(e.created_at, 3),
        "created_at": iso(e.created_at),
        "kind": e.kind,
        "api_key_id": e.api_key_id,
        "model": e.model,
        "family": e.family,
        "action": e.action,
        "provider": e.provider,
        "status": e.status,
        "task_id": e.ref if e.kind == "task" else None,
        "request_id": e.request_id,
        "input_tokens": e.input_tokens,
        "output_tokens": e.output_tokens,
        "cached_tokens": e.cached_tokens,
        "cache_write_tokens": e.cache_write_tokens,
        "reasoning_tokens": e.reasoning_tokens,
        "unit": e.unit,
        "units": e.units,
        "cost_cents": e.cost_cents,
        "cost_micro_cents": e.cost_micro_cents,
        "charged_cents": e.charged_cents,
        "latency_ms": e.latency_ms,
    }


def group_object(g: UsageGroup) -> dict[str, Any]:
    return {
        "key": g.key,
        "requests": g.requests,
        "failed": g.failed,
        "input_tokens": g.input_tokens,
        "output_tokens": g.output_tokens,
        "cached_tokens": g.cached_tokens,
        "cache_write_tokens": g.cache_write_tokens,
        "reasoning_tokens": g.reasoning_tokens,
        "cost_cents": g.cost_cents,
        "cost_micro_cents": g.cost_micro_cents,
        "charged_cents": g.charged_cents,
    }


async def list_usage(request: Request) -> Json:
    who = await authenticated(request)
    page = await usage.list_usage(
        runtime(request).db, UsageScope.of(who), usage_filters(request), page_request(request)
    )
    first_id, last_id = usage.ids(page.events)
    return Json(
        {
            "object": "list",
            "data": [event_object(e) for e in page.events],
            "first_id": first_id,
            "last_id": last_id,
            "has_more": page.has_more,
        }
    )


async def usage_summary(request: Request) -> Json:
    who = await authenticated(request)
    group_by = choice(request, "group_by", GROUPINGS, "day") or "day"
    groups = await usage.summarize_usage(runtime(request).db, UsageScope.of(who), usage_filters(request), group_by)
    return Json({"object": "list", "group_by": group_by, "data": [group_object(g) for g in groups]})


routes = [
    Route("/api/v1/usage", list_usage, methods=["GET"]),
    Route("/api/v1/usage/summary", usage_summary, methods=["GET"]),
]
