"""The `/metrics` body: process-local (or, with PROMETHEUS_MULTIPROC_DIR, merged multi-process) counters and
histograms, plus gauges read from the database at scrape time with one grouped query."""

from __future__ import annotations

import logging
import os
import time

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import and_, case, func, or_, select

from ..domain.task import UNFINISHED_STATES
from ..store import Database
from ..store.schema import tasks

log = logging.getLogger("runapi.metrics")
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
UNFINISHED = tuple(state.value for state in UNFINISHED_STATES)  # the label values, as stored


async def task_gauges(db: Database) -> list[Metric]:
    """Unfinished tasks by state, how many are waiting for a worker right now, and how long the oldest has
    waited. Finished tasks are not counted here (that would scan the whole table on every scrape); their
    rates come from runapi_tasks_finished_total."""
    now = time.time()
    ready = and_(tasks.c.next_run_at <= now, or_(tasks.c.lease_until.is_(None), tasks.c.lease_until < now))
    due = case((ready, 1), else_=0).label("due")
    query = (
        select(tasks.c.state, due, func.count(), func.min(tasks.c.next_run_at))
        .where(tasks.c.state.in_(UNFINISHED))
        .group_by(tasks.c.state, due)
    )
    async with db.read() as conn:
        rows = (await conn.execute(query)).all()
    by_state = dict.fromkeys(UNFINISHED, 0)
    depth, oldest = 0, None
    for state, is_due, count, first_due in rows:
        by_state[state] = by_state.get(state, 0) + count
        if is_due:
            depth += count
            oldest = first_due if oldest is None else min(oldest, first_due)
    states = GaugeMetricFamily(
        "runapi_tasks",
        "Unfinished media tasks by state (queued: never claimed; "
        "running: claimed, being worked on or waiting for its next poll).",
        labels=["state"],
    )
    for state, count in sorted(by_state.items()):
        states.add_metric([state], count)
    return [
        states,
        GaugeMetricFamily(
            "runapi_tasks_queue_depth", "Tasks due now and not leased: waiting for a worker.", value=depth
        ),
        GaugeMetricFamily(
            "runapi_tasks_queue_lag_seconds",
            "How long the longest-waiting due task has waited.",
            value=max(now - oldest, 0.0) if oldest is not None else 0.0,
        ),
    ]


class _Fixed:
    """A collector that yields metric families computed beforehand (the async database read)."""

    def __init__(self, families: list[Metric]):
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def process_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # sums the samples every process wrote into the shared directory
        return merged
    return REGISTRY


async def render(db: Database) -> bytes:
    database_up = 1
    try:
        families = await task_gauges(db)
    except Exception:
        log.warning("metrics: database gauges unavailable", exc_info=True)
        families, database_up = [], 0
    families.append(
        GaugeMetricFamily("runapi_database_up", "1 when the scrape-time database query answered.", value=database_up)
    )
    snapshot = CollectorRegistry(auto_describe=False)
    snapshot.register(_Fixed(families))
    return generate_latest(process_registry()) + generate_latest(snapshot)


def serve_process_metrics(port: int, host: str = "0.0.0.0") -> None:
    """For `runapi worker` on its own node: its counters (tasks finished, callbacks, upstream errors) on a
    plain HTTP port, since it serves no API. The database gauges stay on the API's /metrics."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=process_registry())
