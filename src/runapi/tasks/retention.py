"""The rows side of retention (storage/expiry.py runs it): finished tasks whose generated files are due, and
finished tasks that are due for deletion with everything that hangs off them.

Several processes run the job at once, so rows are claimed before anything is deleted: one write transaction
picks a bounded batch (SKIP LOCKED on PostgreSQL; SQLite serialises writers) and leases it with the task's
lease columns, which a finished task otherwise never uses, and marks its files expired in the same update —
from then on the status body signs no link to them, before any object goes. The objects are deleted after
that (idempotently), then the lease is released, or the rows are deleted when the task itself is due. A
process that dies in between leaves a lease that runs out, and the task pass deletes the task's objects again
before its rows, so nothing is left that no row names.

A task is deleted only when it is finished, its money is settled (its reservation settled or refunded, no
open reservation under its id) and no callback of it is still being delivered. The ledger and the usage log
keep their rows (they have their own lifetimes: billing/usage.py, the ledger never); their task_id is a
reference to history, not a child row.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, exists, func, or_, select, update

from ..domain.task import TERMINAL_STATES
from ..store import Database
from ..store.schema import (
    callback_attempts,
    callback_deliveries,
    cli_listen_events,
    ledger,
    open_reservations,
    task_deletions,
    tasks,
)

CLAIM_SECONDS = 600.0  # a claimed batch's objects are deleted well within this; then another process may retry


def generated_prefix(task_id: str) -> str:
    """Where a task's generated files live (tasks/worker.py names them generated/<id>/<i>.<ext>)."""
    return f"generated/{task_id}/"


@dataclass(frozen=True)
class Claimed:
    """A task this process claimed: its id, account and the storage keys its result names."""

    id: str
    account_id: int
    keys: tuple[str, ...]


def result_keys(result: dict[str, Any] | None) -> tuple[str, ...]:
    """Every storage key a task's result names: its files and the {"$key": ...} references in its extras."""
    if not result:
        return ()
    found: list[str] = []
    for items in (result.get("files") or {}).values():
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                found.append(item["key"])
    found += _refs(result.get("extra"))
    return tuple(dict.fromkeys(found))


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if set(value) == {"$key"} and isinstance(value["$key"], str):
            yield value["$key"]
            return
        for v in value.values():
            yield from _refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from _refs(v)


def _lease_free(now: float) -> ColumnElement[bool]:
    return or_(tasks.c.lease_until.is_(None), tasks.c.lease_until < now)


def settled() -> ColumnElement[bool]:
    """The task's money is final: no reservation, or its settle/refund row is there; and no open (metered)
    reservation carries its id."""
    reserved = exists().where(ledger.c.task_id == tasks.c.id, ledger.c.kind == "reserve")
    closed = exists().where(ledger.c.task_id == tasks.c.id, ledger.c.kind.in_(("settle", "refund")))
    still_open = exists().where(open_reservations.c.request_id == tasks.c.id)
    return and_(or_(~reserved, closed), ~still_open)


def no_callback_in_flight() -> ColumnElement[bool]:
    return ~exists().where(callback_deliveries.c.task_id == tasks.c.id, callback_deliveries.c.state == "pending")


def new_owner() -> str:
    return f"retention-{uuid.uuid4().hex[:12]}"


def _claim(conn: Connection, where: Sequence[ColumnElement[bool]], limit: int, owner: str, now: float) -> list[Claimed]:
    ids = list(
        conn.execute(
            select(tasks.c.id)
            .where(*where, tasks.c.state.in_(TERMINAL_STATES), _lease_free(now))
            .order_by(tasks.c.completed_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if not ids:
        return []
    rows = conn.execute(
        update(tasks)
        .where(tasks.c.id.in_(ids), tasks.c.state.in_(TERMINAL_STATES), _lease_free(now))
        .values(
            lease_owner=owner,
            lease_until=now + CLAIM_SECONDS,
            outputs_expired_at=func.coalesce(tasks.c.outputs_expired_at, now),
        )
        .returning(tasks.c.id, tasks.c.account_id, tasks.c.result)
    ).all()
    return [Claimed(r.id, r.account_id, result_keys(r.result)) for r in rows]


async def claim_media(db: Database, finished_before: float, limit: int, owner: str) -> list[Claimed]:
    """Claim up to `limit` finished tasks whose files are still kept and that finished before the cutoff,
    oldest first, marking their files expired."""
    now = time.time()
    where = [tasks.c.outputs_expired_at.is_(None), tasks.c.completed_at < finished_before]
    return await db.write_sync(_claim, where, limit, owner, now)


async def release(db: Database, ids: Sequence[str], owner: str) -> None:
    """The claimed tasks' files are gone: give up the lease (the tasks stay, their files marked expired)."""
    if not ids:
        return
    stmt = update(tasks).where(tasks.c.id.in_(list(ids)), tasks.c.lease_owner == owner)
    await db.write_sync(lambda conn: conn.execute(stmt.values(lease_owner=None, lease_until=None)))


async def claim_deletable(db: Database, finished_before: float, limit: int, owner: str) -> list[Claimed]:
    """Claim up to `limit` tasks due for deletion (finished before the cutoff, settled, no callback being
    delivered), oldest first, marking their files expired."""
    now = time.time()
    where = [tasks.c.completed_at < finished_before, settled(), no_callback_in_flight()]
    return await db.write_sync(_claim, where, limit, owner, now)


@dataclass(frozen=True)
class Deleted:
    tasks: int = 0
    callback_deliveries: int = 0
    callback_attempts: int = 0
    listen_events: int = 0


def _delete_rows(conn: Connection, ids: list[str], owner: str) -> Deleted:
    # checked again under the rows' locks: still ours, still settled, no callback replayed meanwhile
    mine = list(
        conn.execute(
            select(tasks.c.id)
            .where(
                tasks.c.id.in_(ids),
                tasks.c.lease_owner == owner,
                tasks.c.state.in_(TERMINAL_STATES),
                settled(),
                no_callback_in_flight(),
            )
            .with_for_update()
        ).scalars()
    )
    if not mine:
        return Deleted()
    deliveries = select(callback_deliveries.c.id).where(callback_deliveries.c.task_id.in_(mine))
    attempts = conn.execute(delete(callback_attempts).where(callback_attempts.c.delivery_id.in_(deliveries)))
    delivered = conn.execute(delete(callback_deliveries).where(callback_deliveries.c.task_id.in_(mine)))
    events = conn.execute(delete(cli_listen_events).where(cli_listen_events.c.task_id.in_(mine)))
    conn.execute(delete(task_deletions).where(task_deletions.c.task_id.in_(mine)))
    gone = conn.execute(delete(tasks).where(tasks.c.id.in_(mine)))
    return Deleted(gone.rowcount, delivered.rowcount, attempts.rowcount, events.rowcount)


async def delete_claimed(db: Database, ids: Sequence[str], owner: str) -> Deleted:
    """Delete the claimed tasks (whose objects are already gone) with their callback deliveries and attempts,
    their `runapi listen` events and their OpenAI-video deletion marks, in one transaction: no orphan rows."""
    if not ids:
        return Deleted()
    return await db.write_sync(_delete_rows, list(ids), owner)


async def outputs_expired(db: Database, task_id: str) -> float | None:
    """When this task's generated files were deleted by retention (None: kept, or no such task)."""
    async with db.read() as conn:
        at: float | None = (
            await conn.execute(select(tasks.c.outputs_expired_at).where(tasks.c.id == task_id))
        ).scalar_one_or_none()
    return at


async def generated_usage(db: Database) -> tuple[list[tuple[int, int, int, int]], int]:
    """What kept generated files hold, per account: (account_id, tasks, files, bytes), from the sizes recorded
    when each task completed; and how many finished tasks with kept files have no recorded size (older rows)."""
    kept = and_(tasks.c.state.in_(TERMINAL_STATES), tasks.c.outputs_expired_at.is_(None))
    async with db.read() as conn:
        rows = (
            await conn.execute(
                select(
                    tasks.c.account_id,
                    func.count(),
                    func.coalesce(func.sum(tasks.c.output_files), 0),
                    func.coalesce(func.sum(tasks.c.output_bytes), 0),
                )
                .where(kept, tasks.c.output_files > 0)
                .group_by(tasks.c.account_id)
                .order_by(tasks.c.account_id)
            )
        ).all()
        unknown = (
            await conn.execute(
                select(func.count()).where(kept, tasks.c.output_files.is_(None), tasks.c.result.is_not(None))
            )
        ).scalar_one()
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in rows], int(unknown)
