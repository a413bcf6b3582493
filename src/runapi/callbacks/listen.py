"""The account's local callback listeners (`runapi listen`): sessions, and the durable queue of final callbacks
they receive.

Protocol after the platform CLI (runapi-ai/cli@cmd/runapi/listen.go, the account-wide version authenticated by
the API key): a listener opens a session, long-polls for events after its cursor, acks each one; an acked event
is never handed out again, an unacked one is handed out again to the next poll from an earlier cursor (a new
session starts from 0). Only tasks without a callback_url feed it (that CLI's rule: "Only tasks created without
a callback_url are delivered"), and only while the account has a live session, so an account that never
listens stores nothing. Events are signed when handed out exactly as callbacks are when sent (signing.py, the
account's callback secret, X-Callback-Id = the event's callback_id), so a receiver verifies both the same way."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from ..errors import RateLimited
from ..store import Database
from ..store.schema import accounts, cli_listen_events, cli_listen_sessions
from . import signing

SESSION_IDLE_SECONDS = 120.0  # a session not polled for this long is gone (its listener died or stopped)
MAX_SESSIONS_PER_ACCOUNT = 20
MAX_PENDING_PER_ACCOUNT = 1000  # unacked events kept per account; later ones are dropped until some are acked
RETENTION_SECONDS = 24 * 3600  # unacked events older than this are dropped
PAGE_SIZE = 50  # events per poll answer
DEFAULT_WAIT_SECONDS = 20.0  # a poll with nothing to hand out answers after this long (the long poll)
MAX_WAIT_SECONDS = 30.0
POLL_STEP_SECONDS = 0.25  # how often a waiting poll looks again


@dataclass(frozen=True)
class Event:
    id: int
    task_id: str
    callback_id: str
    body: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Built once (values bound per call): every finished task runs the first, in the writer's transaction.
_LIVE = (
    select(cli_listen_sessions.c.token_hash)
    .where(
        cli_listen_sessions.c.account_id == bindparam("account_id"),
        cli_listen_sessions.c.last_seen_at >= bindparam("since"),
    )
    .limit(1)
)
_PENDING = (
    select(func.count())
    .select_from(cli_listen_events)
    .where(cli_listen_events.c.account_id == bindparam("account_id"), cli_listen_events.c.acked_at.is_(None))
)


def queue_final(conn: Connection, account_id: int, task_id: str, body: dict[str, Any], now: float) -> bool:
    """In the finishing task's transaction: keep its final callback body for the account's listeners, if one
    is live and the queue has room. True if it was kept."""
    e = cli_listen_events
    live = conn.execute(_LIVE, {"account_id": account_id, "since": now - SESSION_IDLE_SECONDS}).first()
    if live is None:
        return False
    pending = conn.execute(_PENDING, {"account_id": account_id}).scalar()
    if (pending or 0) >= MAX_PENDING_PER_ACCOUNT:
        return False
    conn.execute(
        insert(e).values(
            account_id=account_id,
            task_id=task_id,
            callback_id=str(uuid.uuid4()),
            body=orjson.dumps(body).decode(),
            created_at=now,
        )
    )
    return True


async def open_session(db: Database, account_id: int, now: float | None = None) -> str:
    """A new session's token (shown once). Drops the account's dead sessions and spent events first;
    RateLimited when the account already has MAX_SESSIONS_PER_ACCOUNT live ones."""
    now = time.time() if now is None else now
    s, e = cli_listen_sessions, cli_listen_events
    token = "lsn_" + secrets.token_urlsafe(24)
    async with db.write() as conn:
        await conn.execute(delete(s).where(s.c.account_id == account_id, s.c.last_seen_at < now - SESSION_IDLE_SECONDS))
        await conn.execute(
            delete(e).where(
                e.c.account_id == account_id,
                (e.c.acked_at.is_not(None)) | (e.c.created_at < now - RETENTION_SECONDS),
            )
        )
        live = (await conn.execute(select(func.count()).select_from(s).where(s.c.account_id == account_id))).scalar()
        if (live or 0) >= MAX_SESSIONS_PER_ACCOUNT:
            raise RateLimited(
                f"Too many active listeners for this account (at most {MAX_SESSIONS_PER_ACCOUNT}): stop one "
                "or wait for an idle one to expire",
                code="listener_limit_reached",
                retry_after=int(SESSION_IDLE_SECONDS),
            )
        await conn.execute(
            insert(s).values(token_hash=_hash(token), account_id=account_id, created_at=now, last_seen_at=now)
        )
    return token


async def close_session(db: Database, account_id: int, token: str) -> bool:
    s = cli_listen_sessions
    async with db.write() as conn:
        res = await conn.execute(delete(s).where(s.c.token_hash == _hash(token), s.c.account_id == account_id))
    return bool(res.rowcount)


async def touch_session(db: Database, account_id: int, token: str, now: float | None = None) -> bool:
    """Mark the session seen now; False if it is not a live session of this account."""
    now = time.time() if now is None else now
    s = cli_listen_sessions
    async with db.write() as conn:
        res = await conn.execute(
            update(s)
            .where(
                s.c.token_hash == _hash(token),
                s.c.account_id == account_id,
                s.c.last_seen_at >= now - SESSION_IDLE_SECONDS,
            )
            .values(last_seen_at=now)
        )
    return bool(res.rowcount)


async def pending(db: Database, account_id: int, after_id: int, limit: int = PAGE_SIZE) -> list[Event]:
    """The account's unacked events after `after_id`, oldest first."""
    e = cli_listen_events
    async with db.read() as conn:
        rows = (
            await conn.execute(
                select(e.c.id, e.c.task_id, e.c.callback_id, e.c.body)
                .where(e.c.account_id == account_id, e.c.acked_at.is_(None), e.c.id > after_id)
                .order_by(e.c.id)
                .limit(limit)
            )
        ).all()
    return [Event(r.id, r.task_id, r.callback_id, r.body) for r in rows]


async def poll(
    db: Database,
    account_id: int,
    token: str,
    after_id: int,
    wait: float,
    *,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[Event] | None:
    """Events after `after_id`, waiting up to `wait` seconds for the first one (a long poll); None if the
    session is not live (the listener must open a new one)."""
    if not await touch_session(db, account_id, token):
        return None
    deadline = clock() + min(max(wait, 0.0), MAX_WAIT_SECONDS)
    while True:
        found = await pending(db, account_id, after_id)
        if found or clock() >= deadline:
            break
        await sleep(min(POLL_STEP_SECONDS, max(deadline - clock(), 0.0)))
    await touch_session(db, account_id, token)  # the wait itself counts as being seen
    return found


async def ack(db: Database, account_id: int, event_id: int, now: float | None = None) -> bool:
    """Mark the event delivered (again is fine); False if the account has no such event."""
    now = time.time() if now is None else now
    e = cli_listen_events
    async with db.write() as conn:
        await conn.execute(
            update(e)
            .where(e.c.id == event_id, e.c.account_id == account_id, e.c.acked_at.is_(None))
            .values(acked_at=now)
        )
        found = (await conn.execute(select(e.c.id).where(e.c.id == event_id, e.c.account_id == account_id))).scalar()
    return found is not None


async def callback_secret(db: Database, account_id: int) -> str:
    async with db.read() as conn:
        return str((await conn.execute(select(accounts.c.callback_secret).where(accounts.c.id == account_id))).scalar())


def signed(event: Event, secret_b64: str, now: float | None = None) -> dict[str, Any]:
    """The event as a listener receives it: the body and the headers to forward it with (signed now)."""
    timestamp = int(time.time() if now is None else now)
    return {
        "id": event.id,
        "task_id": event.task_id,
        "signed_body": event.body,
        "headers": signing.headers(secret_b64, event.callback_id, timestamp, event.body),
    }
