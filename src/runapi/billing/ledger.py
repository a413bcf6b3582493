"""Credit movements. Every change of an account's balance is one ledger row written in the same transaction,
and each task can have at most one reserve, settle and refund row (a unique index), so nothing is lost or
counted twice however often a step is retried.

The moves are synchronous SQLAlchemy, run inside `Database.write_sync` transactions (one thread hop per
transaction on SQLite); the spend queries below are ordinary async reads.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Dialect, Select, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import insufficient_credits
from ..store.db import CompiledWrite, plain_sqlite
from ..store.schema import accounts, ledger


def credit(conn: Connection, account_id: int, cents: int, note: str | None = None) -> int:
    """Add (or, with a negative amount, remove) credits. Returns the new balance."""
    res = conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(balance_cents=accounts.c.balance_cents + cents)
        .returning(accounts.c.balance_cents)
    )
    balance: int = res.scalar_one()
    conn.execute(ENTRY, _entry(account_id, "credit", cents, note=note))
    return balance


# Built once, executed with parameters: the hot paths (every task created, every LLM call) then skip building
# and cache-keying a statement per call.
TAKE = (
    update(accounts)
    .where(accounts.c.id == bindparam("aid"), accounts.c.balance_cents >= bindparam("cents"))
    .values(balance_cents=accounts.c.balance_cents - bindparam("cents"))
)
_GIVE = (
    update(accounts)
    .where(accounts.c.id == bindparam("aid"))
    .values(balance_cents=accounts.c.balance_cents + bindparam("cents"))
)
ENTRY = insert(ledger)
ENTRY_KEYS = (
    "account_id",
    "api_key_id",
    "task_id",
    "kind",
    "model",
    "guardrail_id",
    "member_guardrail_id",
    "amount_cents",
    "note",
    "created_at",
)


def _entry(
    account_id: int,
    kind: str,
    cents: int,
    *,
    api_key_id: str | None = None,
    task_id: str | None = None,
    model: str | None = None,
    guardrail_id: str | None = None,
    member_guardrail_id: str | None = None,
    note: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "api_key_id": api_key_id,
        "task_id": task_id,
        "kind": kind,
        "model": model,
        "guardrail_id": guardrail_id,
        "member_guardrail_id": member_guardrail_id,
        "amount_cents": cents,
        "note": note,
        "created_at": time.time() if at is None else at,
    }


def reserve(
    conn: Connection,
    account_id: int,
    api_key_id: str | None,
    task_id: str,
    cents: int,
    model: str | None = None,
    guardrail_id: str | None = None,
    member_guardrail_id: str | None = None,
    at: float | None = None,
) -> None:
    """Take `cents` from the balance for a task, or raise 402 if the balance cannot cover it. The spend
    counts against each guardrail in force (the key's and its member's). `at`: the time the reservation counts
    in (the window its limits were charged in; billing/limits.py)."""
    entry = _entry(
        account_id,
        "reserve",
        -cents,
        api_key_id=api_key_id,
        task_id=task_id,
        model=model,
        guardrail_id=guardrail_id,
        member_guardrail_id=member_guardrail_id,
        at=at,
    )
    raw = plain_sqlite(conn)
    if raw is not None:  # a SQLite file: the same two statements as plain sqlite3 (every task create runs them)
        take, add = _plain(conn.dialect)
        if cents > 0 and take.run(raw, {"aid": account_id, "cents": cents}).rowcount != 1:
            raise insufficient_credits()
        add.run(raw, entry)
        return
    if cents > 0 and (conn.execute(TAKE, {"aid": account_id, "cents": cents})).rowcount != 1:
        raise insufficient_credits()
    conn.execute(ENTRY, entry)


_PLAIN: tuple[CompiledWrite, CompiledWrite] | None = None


def _plain(dialect: Dialect) -> tuple[CompiledWrite, CompiledWrite]:
    """`TAKE` and `ENTRY` (with every column `_entry` names) compiled once for SQLite."""
    global _PLAIN
    if _PLAIN is None:
        _PLAIN = CompiledWrite.of(TAKE, dialect), CompiledWrite.of(ENTRY, dialect, ENTRY_KEYS)
    return _PLAIN


def settle(
    conn: Connection, account_id: int, api_key_id: str | None, task_id: str, reserved: int, charged: int
) -> None:
    """Finalise a completed task's charge; any unused part of the reservation goes back."""
    back = max(reserved - charged, 0)
    if back:
        conn.execute(_GIVE, {"aid": account_id, "cents": back})
    conn.execute(ENTRY, _entry(account_id, "settle", back, api_key_id=api_key_id, task_id=task_id))


def refund(
    conn: Connection, account_id: int, api_key_id: str | None, task_id: str, reserved: int, note: str | None = None
) -> None:
    if reserved:
        conn.execute(_GIVE, {"aid": account_id, "cents": reserved})
    conn.execute(ENTRY, _entry(account_id, "refund", reserved, api_key_id=api_key_id, task_id=task_id, note=note))


def window_start(interval: str | None, now: float | None = None) -> float | None:
    """Start of the current UTC window: daily at 00:00, weekly from Monday 00:00, monthly from the 1st.
    None (no interval) means all time."""
    if interval is None:
        return None
    dt = datetime.fromtimestamp(now if now is not None else time.time(), tz=UTC)
    day = dt.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "daily":
        return day.timestamp()
    if interval == "weekly":
        return (day - timedelta(days=day.weekday())).timestamp()
    if interval == "monthly":
        return day.replace(day=1).timestamp()
    raise ValueError(f"unknown interval {interval!r}")


def utc_day_start(now: float | None = None) -> float:
    start = window_start("daily", now)
    assert start is not None  # a named interval always has a start
    return start


def spent_query(
    account_id: int,
    since: float | None,
    *,
    api_key_id: str | None = None,
    guardrail_id: str | None = None,
    models: list[str] | tuple[str, ...] | None = None,
    exclude_models: bool = False,
) -> Select[Any]:
    """The statement behind `spent_since` (also run synchronously, inside a write transaction, to derive a
    limit's counter: billing/limits.py)."""
    reserved = select(ledger.c.task_id).where(ledger.c.account_id == account_id, ledger.c.kind == "reserve")
    if since is not None:
        reserved = reserved.where(ledger.c.created_at >= since)
    if api_key_id is not None:
        reserved = reserved.where(ledger.c.api_key_id == api_key_id)
    if guardrail_id is not None:  # in force as the key's guardrail or as its member's
        reserved = reserved.where(
            or_(ledger.c.guardrail_id == guardrail_id, ledger.c.member_guardrail_id == guardrail_id)
        )
    if models is not None:
        in_scope = ledger.c.model.in_(list(models))
        reserved = reserved.where(~in_scope | ledger.c.model.is_(None) if exclude_models else in_scope)
    q = select(func.coalesce(func.sum(ledger.c.amount_cents), 0)).where(
        ledger.c.account_id == account_id, ledger.c.kind != "credit"
    )
    if since is not None or api_key_id is not None or guardrail_id is not None or models is not None:
        q = q.where(ledger.c.task_id.in_(reserved))
    return q


async def spent_since(
    conn: AsyncConnection,
    account_id: int,
    since: float | None,
    *,
    api_key_id: str | None = None,
    guardrail_id: str | None = None,
    models: list[str] | None = None,
    exclude_models: bool = False,
) -> int:
    """Net spend of the tasks reserved since `since` (optionally of one key, one guardrail, or a model
    scope): each reservation less what settle/refund gave back, attributed to the reservation's time so a
    refund never makes a later window negative."""
    q = spent_query(
        account_id,
        since,
        api_key_id=api_key_id,
        guardrail_id=guardrail_id,
        models=models,
        exclude_models=exclude_models,
    )
    return -int((await conn.execute(q)).scalar_one())


async def balance_summary(conn: AsyncConnection, account_id: int) -> dict[str, int]:
    balance = (await conn.execute(select(accounts.c.balance_cents).where(accounts.c.id == account_id))).scalar_one()
    return {
        "balance_cents": int(balance),
        "spent_cents_today": await spent_since(conn, account_id, utc_day_start()),
        "spent_cents_total": await spent_since(conn, account_id, None),
    }
