"""Single-flight: concurrent callers that need the same missing cache entry share one lookup.

When a cached entry expires under load, a hundred requests for it would otherwise run a hundred identical
queries at once. The first starts the lookup as a task of its own; the others (and the first) await it. The
task is shielded, so a caller that gives up (a closed connection) neither cancels it for the rest nor leaves
them waiting; an exception reaches every caller of that flight, and the next caller starts a new one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._flights: dict[K, asyncio.Task[V]] = {}

    async def do(self, key: K, lookup: Callable[[], Coroutine[Any, Any, V]]) -> V:
        """`lookup()`'s result, shared with every caller of the same `key` while it runs."""
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.create_task(lookup())
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        return await asyncio.shield(flight)

    def forget(self) -> None:
        """Callers from now on start new lookups (the data changed: a flight under way may have read it before)."""
        self._flights.clear()

    def _landed(self, key: K, done: asyncio.Task[V]) -> None:
        if self._flights.get(key) is done:
            del self._flights[key]
        if not done.cancelled():
            done.exception()  # retrieved: no "never retrieved" warning when every caller gave up
