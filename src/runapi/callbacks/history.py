"""A task's callback deliveries as its owner sees them (each with its attempts), and the replay of its final one.

A replay resets the final delivery's row rather than adding one: the row's id *is* the X-Callback-Id (the
primary key the sender signs with), so a second row could not carry the same id without a schema change, and a
receiver that de-duplicates on X-Callback-Id recognises the replay as the same callback. The reset makes the row
pending again with its attempt count at 0, so it gets the full retry budget; the body is the frozen final body
and is signed afresh (secret and timestamp) when it is sent. Earlier attempts stay in callback_attempts: their
numbers start again at 1 for each round, and rows are listed in the order they were made."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select, update

from ..errors import Conflict
from ..store import Database
from ..store.schema import callback_attempts, callback_deliveries


@dataclass(frozen=True)
class Attempt:
    attempt: int  # 1, 2, ... within a round (a replay starts a new round)
    started_at: float
    latency_ms: int
    status_code: int | None
    error: str | None


@dataclass(frozen=True)
class Delivery:
    id: str  # the X-Callback-Id
    seq: int
    final: bool  # the final callback (the others are progress stages)
    url: str
    state: str  # pending | delivered | failed
    created_at: float
    delivered_at: float | None
    last_status: int | None
    last_error: str | None
    attempts: tuple[Attempt, ...]


async def deliveries_of(db: Database, task_id: str, final_seq: int) -> list[Delivery]:
    """The task's deliveries in the order they are sent, each with its attempts (oldest first); `final_seq` is
    the seq of its final callback (engine.final_callback_seq)."""
    cd, ca = callback_deliveries, callback_attempts
    async with db.read() as conn:
        rows = (await conn.execute(select(cd).where(cd.c.task_id == task_id).order_by(cd.c.seq))).mappings().all()
        tried = (
            (
                await conn.execute(
                    select(ca).where(ca.c.delivery_id.in_([r["id"] for r in rows])).order_by(ca.c.delivery_id, ca.c.id)
                )
            )
            .mappings()
            .all()
        )
    by_delivery: dict[str, list[Attempt]] = {}
    for a in tried:
        by_delivery.setdefault(a["delivery_id"], []).append(
            Attempt(a["attempt"], a["started_at"], a["duration_ms"], a["status_code"], a["error"])
        )
    return [
        Delivery(
            id=r["id"],
            seq=r["seq"],
            final=r["seq"] == final_seq,
            url=r["url"],
            state=r["state"],
            created_at=r["created_at"],
            delivered_at=r["delivered_at"],
            last_status=r["last_status"],
            last_error=r["last_error"],
            attempts=tuple(by_delivery.get(r["id"], ())),
        )
        for r in rows
    ]


async def replay_final(db: Database, task_id: str, final_seq: int) -> str:
    """Send the task's final callback again (a new round of attempts, same X-Callback-Id). Returns its id;
    Conflict if there is none or it is still being delivered (pending: its own retries are not over)."""
    cd = callback_deliveries
    now = time.time()
    stmt = (
        update(cd)
        .where(cd.c.task_id == task_id, cd.c.seq == final_seq, cd.c.state != "pending")
        .values(
            state="pending",
            attempts=0,
            next_attempt_at=now,
            lease_owner=None,
            lease_until=None,
            delivered_at=None,
        )
        .returning(cd.c.id)
    )
    async with db.write() as conn:
        replayed = (await conn.execute(stmt)).scalar()
        if replayed is None:
            state = (
                await conn.execute(select(cd.c.state).where(cd.c.task_id == task_id, cd.c.seq == final_seq))
            ).scalar()
    if replayed is not None:
        return str(replayed)
    if state == "pending":
        raise Conflict("The task's final callback is still being delivered; replay it once it is delivered or failed")
    raise Conflict("The task has no final callback to replay")
