"""The coordination interface: two coordinators stand for two processes. Over Redis every signal published
by one reaches the other's listeners; in-process, signals stay local. Both deliver locally at once."""

from __future__ import annotations

import asyncio
import time

import pytest

from runapi.coord import make_coordinator
from tests.support.redis_coord import Listener


async def until(condition, what: str, timeout: float = 10) -> None:
    """Wait for a signal to arrive (pub/sub is asynchronous); fail after `timeout` (a bound, not a measure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        await asyncio.sleep(0.01)


def test_redis_carries_every_signal_between_processes(services):
    async def go() -> None:
        prefix = f"t{time.time_ns()}"
        a, b = make_coordinator(services.redis_url, prefix), make_coordinator(services.redis_url, prefix)
        await a.start()
        await b.start()
        try:
            assert a.shared and b.shared
            got_a, got_b = Listener(a), Listener(b)

            a.publish_invalidation("api_key", "token_1")
            assert got_a.invalidated == [("api_key", "token_1")]  # the publisher's own listeners: synchronously
            await until(lambda: ("api_key", "token_1") in got_b.invalidated, "invalidation reaches b")
            b.publish_invalidation("guardrail", "guardrail_9")
            await until(lambda: ("guardrail", "guardrail_9") in got_a.invalidated, "invalidation reaches a")

            for _ in range(50):  # a burst of creates coalesces, but at least one wake-up crosses
                a.task_created()
            await until(lambda: got_b.woken >= 1, "wake-up reaches b")
            b.task_finished("task-42")
            await until(lambda: "task-42" in got_a.finished, "finish notification reaches a")
            assert got_b.finished == ["task-42"]
            assert got_a.invalidated.count(("api_key", "token_1")) == 1  # no echo of our own message
        finally:
            await a.close()
            await b.close()

    asyncio.run(go())
