"""How busy the task queue is, for the instance operator: tasks waiting and running, per provider, and how the
providers' tasks ended lately (a rough health signal: a deployment whose tasks all fail is visible at once)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select

from ..store import Database
from ..store.schema import tasks

RECENT_SECONDS = 3600.0


@dataclass(frozen=True)
class ProviderLoad:
    provider: str
    queued: int = 0
    running: int = 0
    completed_recently: int = 0  # within RECENT_SECONDS
    failed_recently: int = 0


@dataclass(frozen=True)
class QueueDepth:
    queued: int
    running: int
    providers: tuple[ProviderLoad, ...]


async def queue_depth(db: Database, now: float | None = None) -> QueueDepth:
    since = (time.time() if now is None else now) - RECENT_SECONDS
    async with db.read() as conn:
        open_rows = (
            await conn.execute(
                select(tasks.c.provider, tasks.c.state, func.count())
                .where(tasks.c.state.in_(("queued", "running")))
                .group_by(tasks.c.provider, tasks.c.state)
            )
        ).all()
        ended = (
            await conn.execute(
                select(tasks.c.provider, tasks.c.state, func.count())
                .where(tasks.c.state.in_(("completed", "failed")), tasks.c.completed_at >= since)
                .group_by(tasks.c.provider, tasks.c.state)
            )
        ).all()
    counts: dict[str, dict[str, int]] = {}
    for provider, state, n in (*open_rows, *ended):
        counts.setdefault(provider, {})[state] = int(n)
    providers = tuple(
        ProviderLoad(p, c.get("queued", 0), c.get("running", 0), c.get("completed", 0), c.get("failed", 0))
        for p, c in sorted(counts.items())
    )
    return QueueDepth(
        queued=sum(p.queued for p in providers), running=sum(p.running for p in providers), providers=providers
    )
