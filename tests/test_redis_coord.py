"""The coordination interface: two coordinators stand for two processes. Over Redis every signal published
by one reaches the other's listeners; in-process, signals stay local. Both deliver locally at once."""

from __future__ import annotations

import asyncio
import time

import pytest

from runapi.coord import ALL, InProcessCoordinator, make_coordinator


async def until(condition, what: str, timeout: float = 10) -> None:
    """Wait for a signal to arrive (pub/sub is asynchronous); fail after `timeout` (a bound, not a measure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        await asyncio.sleep(0.01)


class Listener:
    def __init__(self, coord) -> None:
        self.invalidated: list[tuple[str, str]] = []
        self.woken = 0
        self.finished: list[str] = []
        for kind in ("api_key", "guardrail", "account"):
            coord.subscribe_invalidation(kind, lambda key, kind=kind: self.invalidated.append((kind, key)))
        coord.on_task_created(self.wake)
        coord.on_task_finished(self.finished.append)

    def wake(self) -> None:
        self.woken += 1


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


def test_unknown_invalidation_kind_is_refused():
    with pytest.raises(ValueError, match="unknown invalidation kind"):
        InProcessCoordinator().publish_invalidation("apikey", "x")


def test_in_process_coordinator_delivers_locally():
    coord = make_coordinator(None)
    got = Listener(coord)
    coord.publish_invalidation("account", ALL)
    coord.task_created()
    coord.task_finished("t1")
    assert (got.invalidated, got.woken, got.finished) == ([("account", "*")], 1, ["t1"])
    assert not coord.shared


def test_a_broken_listener_does_not_stop_the_others():
    coord = InProcessCoordinator()
    seen: list[str] = []
    coord.subscribe_invalidation("api_key", lambda key: 1 / 0)
    coord.subscribe_invalidation("api_key", seen.append)
    coord.publish_invalidation("api_key", "k")
    assert seen == ["k"]
