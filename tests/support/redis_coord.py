"""A listener on every signal of a coordinator (tests of runapi.coord, unit and e2e)."""

from __future__ import annotations


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
