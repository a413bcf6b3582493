"""Delivers callbacks from the outbox: signed POST, retried up to 10 times with growing delays, every
attempt recorded. A delivery is leased while in flight, so a crash mid-send only means one more attempt."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import insert, or_, select, update

from ..observability.metrics import record_callback_attempt
from ..store.schema import accounts, callback_attempts, callback_deliveries
from . import signing

log = logging.getLogger("runapi.callbacks")


class CallbackDispatcher:
    def __init__(self, runtime: Any, http: httpx.AsyncClient):
        self.rt = runtime
        self.http = http
        self.owner = f"cb-{uuid.uuid4().hex[:12]}"
        self.inflight: set[asyncio.Task] = set()

    async def claim_due(self, limit: int) -> list[dict[str, Any]]:
        now = time.time()
        cd = callback_deliveries
        due = (select(cd.c.id).where(cd.c.state == "pending", cd.c.next_attempt_at <= now,
                                     or_(cd.c.lease_until.is_(None), cd.c.lease_until < now))
               .order_by(cd.c.next_attempt_at).limit(limit).with_for_update(skip_locked=True))
        lease = now + self.rt.settings.callback_timeout_seconds + 5  # a crashed sender is retried soon after
        async with self.rt.db.write() as conn:
            ids = [r[0] for r in (await conn.execute(due)).all()]
            if not ids:
                return []
            await conn.execute(update(cd).where(cd.c.id.in_(ids)).values(lease_owner=self.owner, lease_until=lease))
            rows = (await conn.execute(
                select(cd, accounts.c.callback_secret).join(accounts, accounts.c.id == cd.c.account_id)
                .where(cd.c.id.in_(ids)))).mappings().all()
        return [dict(r) for r in rows]

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
                t = asyncio.create_task(self.deliver(d))
                self.inflight.add(t)
                t.add_done_callback(self.inflight.discard)
            if claimed:
                continue
            self.rt.callback_wake.clear()
            waiters = [asyncio.create_task(self.rt.callback_wake.wait()), asyncio.create_task(stop.wait())]
            await asyncio.wait(waiters, timeout=s.worker_idle_poll_seconds, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
        if self.inflight:
            await asyncio.wait(self.inflight, timeout=5)

    async def deliver(self, d: dict[str, Any]) -> None:
        s = self.rt.settings
        attempt = d["attempts"] + 1
        started = time.time()
        status_code: int | None = None
        error: str | None = None
        try:
            hdrs = signing.headers(d["callback_secret"], d["id"], int(started), d["body"])
            resp = await self.http.post(d["url"], content=d["body"].encode(), headers=hdrs,
                                        timeout=s.callback_timeout_seconds)
            status_code = resp.status_code
            if not 200 <= resp.status_code < 300:
                error = f"HTTP {resp.status_code}"
        except httpx.TimeoutException:
            error = "timeout"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration_ms = int((time.time() - started) * 1000)
        delivered = error is None
        retries_left = attempt <= len(s.callback_retry_delays)
        values: dict[str, Any] = {"attempts": attempt, "last_status": status_code, "last_error": error,
                                  "lease_owner": None, "lease_until": None}
        if delivered:
            values.update(state="delivered", delivered_at=time.time())
        elif retries_left:
            values.update(next_attempt_at=time.time() + s.callback_retry_delays[attempt - 1])
        else:
            values.update(state="failed")
        cd = callback_deliveries
        try:
            async with self.rt.db.write() as conn:
                await conn.execute(insert(callback_attempts).values(
                    delivery_id=d["id"], attempt=attempt, started_at=started, duration_ms=duration_ms,
                    status_code=status_code, error=error))
                await conn.execute(update(cd).where(cd.c.id == d["id"], cd.c.lease_owner == self.owner)
                                   .values(**values))
            record_callback_attempt(delivered, will_retry=retries_left)
        except Exception:
            log.exception("recording callback attempt %s/%s failed", d["id"], attempt)
