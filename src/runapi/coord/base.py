"""The coordination interface: signals one process sends to every process serving the same database.

Three signals, all best-effort hints layered on top of the database (which stays the source of truth):
- invalidations: a cached row changed (kinds "api_key", "guardrail", "account"; key "*" means everything);
- task created: wake an idle task worker now instead of at its next poll;
- task finished: a request waiting for a synchronous result can stop waiting.

Publishing is synchronous and never blocks: listeners in this process run at once, other processes hear it
shortly after. Listeners are plain callables that must be quick (set an event, drop a cache entry).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

log = logging.getLogger("runapi.coord")

INVALIDATION_KINDS = ("api_key", "guardrail", "account")
ALL = "*"  # an invalidation key meaning "drop everything of this kind"

KeyListener = Callable[[str], None]
Listener = Callable[[], None]


class Coordinator:
    """Fans signals out to listeners in this process. Subclasses also carry them to other processes."""

    #: True when signals reach other processes (then slow database polls can stand in as a mere backstop).
    shared = False

    def __init__(self) -> None:
        self._invalidation: dict[str, list[KeyListener]] = defaultdict(list)
        self._created: list[Listener] = []
        self._finished: list[KeyListener] = []

    async def start(self) -> None:
        """Connect (if there is anything to connect to)."""

    async def close(self) -> None:
        """Disconnect; signals published afterwards stay local."""

    # -- invalidation ------------------------------------------------------------------------------------------
    def subscribe_invalidation(self, kind: str, listener: KeyListener) -> None:
        _check_kind(kind)
        self._invalidation[kind].append(listener)

    def publish_invalidation(self, kind: str, key: str) -> None:
        """`key` (e.g. a key id, guardrail id, account id as text, or "*") changed: every process drops it."""
        _check_kind(kind)
        self._deliver_invalidation(kind, str(key))
        self._send("inval", f"{kind}|{key}")

    # -- task wake-ups -----------------------------------------------------------------------------------------
    def on_task_created(self, listener: Listener) -> None:
        self._created.append(listener)

    def task_created(self) -> None:
        self._deliver_created()
        self._send("wake", "")

    # -- finish notifications ----------------------------------------------------------------------------------
    def on_task_finished(self, listener: KeyListener) -> None:
        self._finished.append(listener)

    def task_finished(self, task_id: str) -> None:
        self._deliver_finished(task_id)
        self._send("done", task_id)

    # -- transport hooks ---------------------------------------------------------------------------------------
    def _send(self, channel: str, payload: str) -> None:
        """Carry a signal to other processes; nothing to do for a single process."""

    def _deliver_invalidation(self, kind: str, key: str) -> None:
        for listener in self._invalidation.get(kind, ()):
            _call(listener, key)

    def _deliver_created(self) -> None:
        for listener in self._created:
            _call(listener)

    def _deliver_finished(self, task_id: str) -> None:
        for listener in self._finished:
            _call(listener, task_id)

    def _deliver_remote(self, channel: str, payload: str) -> None:
        """Dispatch a signal that arrived from another process."""
        if channel == "inval":
            kind, _, key = payload.partition("|")
            if kind in INVALIDATION_KINDS:
                self._deliver_invalidation(kind, key)
        elif channel == "wake":
            self._deliver_created()
        elif channel == "done":
            self._deliver_finished(payload)

    def _deliver_everything_missed(self) -> None:
        """After a gap in delivery: assume every cache is stale and there may be work."""
        for kind in INVALIDATION_KINDS:
            self._deliver_invalidation(kind, ALL)
        self._deliver_created()


def _check_kind(kind: str) -> None:
    if kind not in INVALIDATION_KINDS:
        raise ValueError(f"unknown invalidation kind {kind!r} (one of {', '.join(INVALIDATION_KINDS)})")


def _call(listener: Callable[..., object], *args: object) -> None:
    try:
        listener(*args)
    except Exception:  # one broken listener must not stop the others
        log.exception("coordination listener %r failed", listener)
