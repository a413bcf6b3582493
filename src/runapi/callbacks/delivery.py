"""Delivers callbacks from the outbox: signed POST, retried up to 10 times with growing delays, every
attempt recorded. A delivery is leased while in flight, so a crash mid-send only means one more attempt.

An attempt is counted when it is claimed (so one cut short by a crash or a hang still counts towards the
retry cap) and its whole exchange (connect, send, answer and body) must end within the callback timeout,
which is shorter than the lease: the same callback is never sent twice at once. Each account may hold at
most `callback_account_concurrency` of this process's delivery slots, so one account's slow receivers
cannot delay the others' callbacks.

When a failed attempt is tried again is retry.py's: the schedule with jitter, a receiver's Retry-After on
429/503 honoured up to a cap, and no retry at all after a 410 Gone (the delivery is given up, and the attempt's
error says why)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

import httpx
from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from ..observability import tracing
from ..observability.metrics import record_callback_attempt
from ..settings import Settings
from ..store import Database
from ..store.schema import accounts, callback_attempts, callback_deliveries
from . import retry, signing

log = logging.getLogger("runapi.callbacks")

# The lease outlives an attempt's deadline by this much, so a live sender always records its outcome first.
LEASE_MARGIN_SECONDS = 5.0
# Only the status matters; a receiver's answer body is read up to this much (keeps the connection reusable).
MAX_ANSWER_BYTES = 64 * 1024
INTERRUPTED = "interrupted: the sender stopped before an answer was recorded"


# Whether any delivery may be due (`now` bound per call): a read, so a wake with nothing to send (every task
# finished without a callback_url wakes the dispatcher) takes neither the write lock nor a write transaction.
# The claim itself checks the rest (ordering, shares, attempts).
_ANY_DUE = (
    select(callback_deliveries.c.id)
    .where(
        callback_deliveries.c.state == "pending",
        callback_deliveries.c.next_attempt_at <= bindparam("now"),
        or_(callback_deliveries.c.lease_until.is_(None), callback_deliveries.c.lease_until < bindparam("now")),
    )
    .limit(1)
)


def _any_due(conn: Connection, now: float) -> bool:
    return conn.execute(_ANY_DUE, {"now": now}).first() is not None


class DispatcherServices(Protocol):
    """What the dispatcher uses of the services (runapi.services.Services is one)."""

    settings: Settings
    db: Database
    callback_wake: asyncio.Event  # set when a callback is due now (a task finished, a stage was reached)


class CallbackDispatcher:
    def __init__(
        self, services: DispatcherServices, http: httpx.AsyncClient, rand: Callable[[], float] = random.random
    ):
        self.rt = services
        self.http = http
        self.rand = rand  # the retry delays' jitter (a fixed source in tests)
        self.owner = f"cb-{uuid.uuid4().hex[:12]}"
        self.inflight: set[asyncio.Task[None]] = set()
        self.busy: Counter[int] = Counter()  # account id → its deliveries in flight here

    async def claim_due(self, limit: int) -> list[dict[str, Any]]:
        """Lease up to `limit` due deliveries, taking accounts in turn and none past its share of slots;
        each claimed delivery's attempt is counted (and recorded as interrupted until its outcome is known)."""
        s = self.rt.settings
        share = max(1, s.callback_account_concurrency)
        max_attempts = 1 + len(s.callback_retry_delays)
        now = time.time()
        if not await self.rt.db.read_sync(_any_due, now):
            return []
        cd = callback_deliveries
        full = [account for account, n in self.busy.items() if n >= share]
        # A task's callbacks (its stages, then its final one) go out in order: one waits while an earlier one
        # has not had its first attempt or is being sent. A failing earlier stage holds back none after it.
        earlier = aliased(cd)
        waits = (
            select(earlier.c.id)
            .where(
                earlier.c.task_id == cd.c.task_id,
                earlier.c.seq < cd.c.seq,
                earlier.c.state == "pending",
                or_(earlier.c.attempts == 0, earlier.c.lease_until >= now),
            )
            .exists()
        )
        due = (
            select(cd.c.id, cd.c.account_id, cd.c.attempts)
            .where(
                cd.c.state == "pending",
                cd.c.next_attempt_at <= now,
                or_(cd.c.lease_until.is_(None), cd.c.lease_until < now),
                ~waits,
                *([cd.c.account_id.not_in(full)] if full else []),
            )
            .order_by(cd.c.next_attempt_at)
            .limit(limit * 2)
            .with_for_update(skip_locked=True)
        )
        lease = now + s.callback_timeout_seconds + LEASE_MARGIN_SECONDS
        async with self.rt.db.write() as conn:
            candidates = (await conn.execute(due)).all()
            # The last attempt was cut short (a crash, or a lease lost mid-write): the cap is reached.
            spent = [c.id for c in candidates if c.attempts >= max_attempts]
            if spent:
                await conn.execute(
                    update(cd)
                    .where(cd.c.id.in_(spent))
                    .values(state="failed", last_error=INTERRUPTED, lease_owner=None, lease_until=None)
                )
                for _ in spent:
                    record_callback_attempt(False, will_retry=False)
            picked = self._round_robin([c for c in candidates if c.attempts < max_attempts], limit, share)
            if not picked:
                return []
            await conn.execute(
                update(cd)
                .where(cd.c.id.in_(picked))
                .values(attempts=cd.c.attempts + 1, lease_owner=self.owner, lease_until=lease)
            )
            rows = [
                dict(r)
                for r in (
                    await conn.execute(
                        select(cd, accounts.c.callback_secret)
                        .join(accounts, accounts.c.id == cd.c.account_id)
                        .where(cd.c.id.in_(picked))
                    )
                )
                .mappings()
                .all()
            ]
            await conn.execute(
                insert(callback_attempts),
                [
                    {
                        "delivery_id": r["id"],
                        "attempt": r["attempts"],
                        "started_at": now,
                        "duration_ms": 0,
                        "status_code": None,
                        "error": INTERRUPTED,
                    }
                    for r in rows
                ],
            )
        return rows

    def _round_robin(self, candidates: list[Any], limit: int, share: int) -> list[str]:
        """The oldest due delivery of each account, then each one's next, …, within each account's share."""
        queues: dict[int, list[str]] = {}
        for c in candidates:  # oldest first
            queues.setdefault(c.account_id, []).append(c.id)
        room = {account: share - self.busy[account] for account in queues}
        picked: list[str] = []
        while len(picked) < limit and any(queues.values()):
            for account, ids in queues.items():
                if ids and room[account] > 0 and len(picked) < limit:
                    picked.append(ids.pop(0))
                    room[account] -= 1
                elif room[account] <= 0:
                    ids.clear()
        return picked

    async def run(self, stop: asyncio.Event) -> None:
        s = self.rt.settings
        while not stop.is_set():
            free = s.callback_concurrency - len(self.inflight)
            claimed = []
            if free > 0:
                try:
                    claimed = await self.claim_due(free)
                except Exception:
                    log.exception("callback claim failed")
            for d in claimed:
                self._start(d)
            if claimed:
                continue
            self.rt.callback_wake.clear()
            waiters = [asyncio.create_task(self.rt.callback_wake.wait()), asyncio.create_task(stop.wait())]
            await asyncio.wait(waiters, timeout=s.worker_idle_poll_seconds, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
        if self.inflight:
            await asyncio.wait(self.inflight, timeout=5)

    def _start(self, d: dict[str, Any]) -> None:
        account = d["account_id"]
        self.busy[account] += 1

        def done(t: asyncio.Task[None]) -> None:
            self.inflight.discard(t)
            # the account may have been held back at its share, or the task's next callback (a later stage,
            # the final one) waited for this one: look again now rather than at the next idle poll
            self.rt.callback_wake.set()
            self.busy[account] -= 1
            if self.busy[account] <= 0:
                del self.busy[account]

        t = asyncio.create_task(self.traced_delivery(d))
        self.inflight.add(t)
        t.add_done_callback(done)

    async def traced_delivery(self, d: dict[str, Any]) -> None:
        """`deliver` as one client span (a no-op while tracing is off). No trace context is sent: a callback
        receiver is the customer's endpoint, outside our traces, and its documented headers are the signed set."""
        with tracing.span(
            "callback.deliver", "client", task_id=d["task_id"], delivery_id=d["id"], attempt=d["attempts"]
        ) as span:
            status_code, error = await self.deliver(d)
            span.set(error=error)
            if status_code is not None:
                span.set_attributes({"http.response.status_code": status_code})
            if error is not None:
                span.fail(error)

    async def deliver(self, d: dict[str, Any]) -> tuple[int | None, str | None]:
        """Send one attempt and record its outcome; returns (status code, error)."""
        s = self.rt.settings
        attempt = d["attempts"]  # counted at claim
        started = time.time()
        status_code: int | None = None
        retry_after: str | None = None
        error: str | None = None
        try:
            hdrs = signing.headers(d["callback_secret"], d["id"], int(started), d["body"])
            # One deadline for the whole exchange: httpx's own timeouts are per read, and a receiver that
            # answers 200 and then drips its body would hold the slot (and outlive the lease) for ever.
            async with asyncio.timeout(s.callback_timeout_seconds):
                async with self.http.stream(
                    "POST", d["url"], content=d["body"].encode(), headers=hdrs, timeout=s.callback_timeout_seconds
                ) as resp:
                    status_code = resp.status_code
                    retry_after = resp.headers.get("retry-after")
                    read = 0
                    async for chunk in resp.aiter_raw():
                        read += len(chunk)
                        if read >= MAX_ANSWER_BYTES:
                            break
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except (TimeoutError, httpx.TimeoutException):
            error = "timeout"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration_ms = int((time.time() - started) * 1000)
        delivered = error is None
        gone = status_code == retry.GONE
        if gone:
            error = retry.GONE_ERROR
        retries_left = attempt <= len(s.callback_retry_delays) and not gone
        values: dict[str, Any] = {
            "last_status": status_code,
            "lease_owner": None,
            "lease_until": None,
        }
        if delivered:
            values.update(state="delivered", delivered_at=time.time())
        elif retries_left:
            delay, asked = retry.next_delay(
                s.callback_retry_delays[attempt - 1],
                s.callback_retry_jitter,
                self.rand,
                status_code,
                retry_after,
                s.callback_retry_after_max_seconds,
            )
            if asked is not None:
                error = f"{error}, Retry-After {asked:g} s"
            values.update(next_attempt_at=time.time() + delay)
        else:
            values.update(state="failed")
        values["last_error"] = error
        cd, ca = callback_deliveries, callback_attempts
        try:
            async with self.rt.db.write() as conn:
                # the newest row of this attempt number: a replay starts its numbering again at 1
                newest = (
                    select(func.max(ca.c.id))
                    .where(and_(ca.c.delivery_id == d["id"], ca.c.attempt == attempt))
                    .scalar_subquery()
                )
                await conn.execute(
                    update(ca)
                    .where(ca.c.id == newest)
                    .values(started_at=started, duration_ms=duration_ms, status_code=status_code, error=error)
                )
                # Only while this attempt still holds the lease (not one taken over after it ran out).
                await conn.execute(
                    update(cd)
                    .where(cd.c.id == d["id"], cd.c.lease_owner == self.owner, cd.c.attempts == attempt)
                    .values(**values)
                )
            record_callback_attempt(delivered, will_retry=retries_left)
        except Exception:
            log.exception("recording callback attempt %s/%s failed", d["id"], attempt)
        return status_code, error
