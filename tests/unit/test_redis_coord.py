"""The in-process coordinator, without Redis: signals stay local and are delivered at once, an unknown invalidation
kind is refused, and a broken listener does not stop the others. Over Redis: tests/e2e/test_redis_coord.py."""

from __future__ import annotations

import pytest

from runapi.coord import ALL, InProcessCoordinator, make_coordinator
from tests.support.redis_coord import Listener


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
