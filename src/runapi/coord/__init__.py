"""Coordination between the processes serving one database: cache invalidation, task wake-ups and finish
notifications. In-process by default; over Redis when `RUNAPI_REDIS_URL` is set."""

from __future__ import annotations

from .base import ALL, INVALIDATION_KINDS, Coordinator
from .local import InProcessCoordinator


def make_coordinator(redis_url: str | None, prefix: str = "runapi") -> Coordinator:
    if redis_url:
        from .redis_bus import RedisCoordinator

        return RedisCoordinator(redis_url, prefix)
    return InProcessCoordinator()


__all__ = ["ALL", "INVALIDATION_KINDS", "Coordinator", "InProcessCoordinator", "make_coordinator"]
