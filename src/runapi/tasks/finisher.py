"""Group commit for the worker's task finishes.

Finishing a task is one transaction (state, settlement or refund, usage row, callback: engine._close), and
on SQLite synchronous=FULL each is an fsync on the one writer: about 2 ms, which caps a process at a few
hundred finished tasks a second however cheap the tasks are. Here the finishes of concurrent steps queue up
and commit together, as the LLM ledger's moves do (billing/batcher.py): while one batch commits, the next
gathers, so under load one transaction carries dozens of finishes and an idle worker still commits each at
once. Every step still waits for its own commit and learns its own outcome.

Each finish is still all of its task's state and money: a batch commits all of them or none, and if a batch
fails as a whole its finishes are retried one per transaction, so a bad one fails alone (its step then
handles the error like any other; the task's lease expires and it is run again). A crash loses only
uncommitted finishes, whose tasks are re-run after their lease like before; each finish is conditional on
the lease, so a task never settles twice.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from ..store import Database

log = logging.getLogger("runapi.worker")

Close = Callable[[Connection], Any]  # one finish: runs in the batch's transaction; None if it did not apply


@dataclass
class _Pending:
    close: Close
    sort_key: tuple[int, str]  # (account id, task id): batches lock accounts in one order on PostgreSQL
    future: asyncio.Future[Any] = field(init=False, repr=False)


class FinishBatcher:
    def __init__(self, db: Database, max_batch: int = 128):
        self.db = db
        self.max_batch = max_batch
        self._queue: list[_Pending] = []
        self._drain: asyncio.Task[None] | None = None
        self.stats = {"finishes": 0, "commits": 0}  # how well finishes are grouped (tests, benchmarks)

    async def commit(self, close: Close, account_id: int, task_id: str) -> Any:
        """Run `close` in a transaction shared with the finishes queued meanwhile; its result once committed."""
        pending = _Pending(close, (account_id, task_id))
        pending.future = asyncio.get_running_loop().create_future()
        self._queue.append(pending)
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._run(), name="task-finisher")
        # Shielded: a cancelled step (shutdown) must not cancel the batch's future; the finish still commits.
        return await asyncio.shield(pending.future)

    async def _run(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[_Pending]) -> None:
        batch.sort(key=lambda p: p.sort_key)
        try:
            outcomes = await self.db.write_sync(_close_all, [p.close for p in batch])
        except Exception as exc:  # noqa: BLE001 - any failure: isolate the finishes, then report per finish
            if len(batch) > 1:
                log.warning("finish batch of %d failed (%s); committing its finishes one by one", len(batch), exc)
                for pending in batch:
                    await self._commit_batch([pending])
                return
            if not batch[0].future.done():
                batch[0].future.set_exception(exc)
            return
        self.stats["commits"] += 1
        self.stats["finishes"] += len(batch)
        for pending, outcome in zip(batch, outcomes, strict=True):
            if not pending.future.done():
                pending.future.set_result(outcome)


def _close_all(conn: Connection, closes: list[Close]) -> list[Any]:
    return [close(conn) for close in closes]


_BATCHERS: weakref.WeakKeyDictionary[Database, FinishBatcher] = weakref.WeakKeyDictionary()


def finisher(db: Database) -> FinishBatcher:
    """The batcher of this database's finishes (one per Database, made on first use)."""
    batcher = _BATCHERS.get(db)
    if batcher is None:
        batcher = _BATCHERS[db] = FinishBatcher(db)
    return batcher
