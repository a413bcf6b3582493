"""Spend limits (a key's credit limit, a guardrail's budget, its model budgets) checked and charged in one step.

The docs let only the request that crosses a limit run ("单次请求即使把用量推过上限也会正常完成;之后的请求会在
下次重置前被阻止"). A check read before the reservation lets every simultaneous request through, so the check
happens inside the reservation's write transaction, against a counter per limited scope and window
(`spend_counters`), while that transaction holds the account's row lock (FOR UPDATE on PostgreSQL; SQLite has
one writer). Every reservation of an account takes that lock, so the read-check-add below is one step for all
processes. A reservation records the counters it charged, and its settle or refund gives back to exactly
those, so spend stays attributed to the reservation's window, as `spent_since` attributes it.

A counter is derived from the ledger (`spent_since`) the first time its scope and window are needed, and again
whenever its limit's configuration `version` changes, so a limit set or edited mid-window counts what was
already spent.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Delete, bindparam, delete, insert, select, update

from ..errors import Forbidden
from ..store.db import CompiledWrite, plain_sqlite
from ..store.schema import accounts, spend_counters
from .ledger import spent_query, window_start

Charged = list[list[Any]]  # [[scope, window_start], ...]: the counters one reservation charged (JSON)


@dataclass(frozen=True)
class Limit:
    """One limit a request is under, and what the ledger counts towards it (spent_since's filters)."""

    scope: str  # the counter's name
    interval: str | None  # daily | weekly | monthly | None (all time)
    cents: int
    refusal: str  # the 403 message once it is reached
    version: str = ""  # the configuration the counter was derived under
    api_key_id: str | None = None
    guardrail_id: str | None = None
    models: tuple[str, ...] | None = None
    exclude_models: bool = False


def key_limits(key_id: str, cents: int | None, interval: str | None) -> tuple[Limit, ...]:
    """A key's own credit limit, if it has one."""
    if cents is None:
        return ()
    return (
        Limit(f"key:{key_id}:{interval or 'all'}", interval, cents, "API key credit limit exceeded", api_key_id=key_id),
    )


def budget_scope(guardrail_id: str, models: list[str], match_mode: str, interval: str | None) -> str:
    """A model budget's counter: one per set of requests it counts (its models and mode), not per position."""
    digest = hashlib.sha256(f"{match_mode}:{','.join(sorted(models))}".encode()).hexdigest()[:16]
    return f"budget:{guardrail_id}:{digest}:{interval or 'all'}"


def forget_key_counters(key_id: str) -> Delete:
    """Statement dropping a key's counters (its limit changed: the next request derives them again, counting
    what was spent while no limit was kept)."""
    return delete(spend_counters).where(spend_counters.c.scope.startswith(f"key:{key_id}:", autoescape=True))


def window_of(interval: str | None, now: float) -> float:
    start = window_start(interval, now)
    return 0.0 if start is None else start


_GET = select(spend_counters.c.version, spend_counters.c.spent_cents).where(
    spend_counters.c.scope == bindparam("s"), spend_counters.c.window_start == bindparam("w")
)
_ADD = (
    update(spend_counters)
    .where(spend_counters.c.scope == bindparam("s"), spend_counters.c.window_start == bindparam("w"))
    .values(spent_cents=spend_counters.c.spent_cents + bindparam("c"))
)
_RESET = (
    update(spend_counters)
    .where(spend_counters.c.scope == bindparam("s"), spend_counters.c.window_start == bindparam("w"))
    .values(spent_cents=bindparam("c"), version=bindparam("v"))
)
_OLD_WINDOWS = delete(spend_counters).where(
    spend_counters.c.scope == bindparam("s"), spend_counters.c.window_start < bindparam("w")
)
_NEW = insert(spend_counters)


class Counters:
    """The counters of one account within one write transaction that holds the account's row lock. Charges
    are kept here and written by `flush()`, so a batch of reservations costs one read per counter and one
    write per counter however many of them it admits."""

    def __init__(self, conn: Connection, account_id: int, now: float):
        self.conn = conn
        self.account_id = account_id
        self.now = now
        self._base: dict[tuple[str, float], int] = {}
        self._added: dict[tuple[str, float], int] = defaultdict(int)

    def _spent(self, limit: Limit) -> tuple[tuple[str, float], int]:
        key = (limit.scope, window_of(limit.interval, self.now))
        if key not in self._base:
            params = {"s": key[0], "w": key[1]}
            row = self.conn.execute(_GET, params).first()
            if row is not None and row.version == limit.version:
                self._base[key] = int(row.spent_cents)
            else:
                since = window_start(limit.interval, self.now)
                spent = -int(
                    self.conn.execute(
                        spent_query(
                            self.account_id,
                            since,
                            api_key_id=limit.api_key_id,
                            guardrail_id=limit.guardrail_id,
                            models=limit.models,
                            exclude_models=limit.exclude_models,
                        )
                    ).scalar_one()
                )
                if row is None:
                    self.conn.execute(_OLD_WINDOWS, params)  # past windows are never checked again
                    self.conn.execute(
                        _NEW,
                        {
                            "scope": key[0],
                            "window_start": key[1],
                            "account_id": self.account_id,
                            "version": limit.version,
                            "spent_cents": spent,
                        },
                    )
                else:
                    self.conn.execute(_RESET, {**params, "c": spent, "v": limit.version})
                self._base[key] = spent
        return key, self._base[key] + self._added[key]

    def charge(self, limits: tuple[Limit, ...], cents: int) -> Charged | Forbidden:
        """Charge `cents` to every limit, or to none and return the refusal of the first one already reached."""
        keys: dict[tuple[str, float], None] = {}
        for limit in limits:
            key, spent = self._spent(limit)
            if spent >= limit.cents:
                return Forbidden(limit.refusal)
            keys[key] = None  # two budgets counting the same requests share one counter: charged once
        for key in keys:
            self._added[key] += cents
        return [list(k) for k in keys]

    def uncharge(self, charged: Charged, cents: int) -> None:
        for scope, window in charged:
            self._added[(scope, window)] -= cents

    def reset(self) -> None:
        self._added.clear()

    def flush(self) -> None:
        _add(self.conn, [{"s": s, "w": w, "c": c} for (s, w), c in self._added.items() if c])
        self._added.clear()


_LOCK_ACCOUNT = select(accounts.c.id).where(accounts.c.id == bindparam("aid")).with_for_update()


def charge(conn: Connection, account_id: int, limits: tuple[Limit, ...], cents: int, now: float) -> Charged | None:
    """For one reservation (tasks): lock the account, then check and charge its limits, or raise the refusal.
    Run before the reservation in the same transaction, so a 402 after it rolls the charge back."""
    if not limits:
        return None
    conn.execute(_LOCK_ACCOUNT, {"aid": account_id})  # no-op on SQLite, whose write transaction is exclusive
    counters = Counters(conn, account_id, now)
    charged = counters.charge(limits, cents)
    if isinstance(charged, Forbidden):
        raise charged
    counters.flush()
    return charged


def give_back(conn: Connection, returns: list[tuple[Charged | None, int]]) -> None:
    """Give `cents` back to the counters each finished reservation charged (negative: charge more)."""
    _add(conn, [{"s": s, "w": w, "c": -cents} for charged, cents in returns if charged and cents for s, w in charged])


_PLAIN_ADD: CompiledWrite | None = None


def _add(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Add to counters in one executemany; on a SQLite file as plain sqlite3 (the LLM batches' hot path)."""
    global _PLAIN_ADD
    if not rows:
        return
    raw = plain_sqlite(conn)
    if raw is None:
        conn.execute(_ADD, rows)
        return
    if _PLAIN_ADD is None:
        _PLAIN_ADD = CompiledWrite.of(_ADD, conn.dialect)
    _PLAIN_ADD.run_many(raw, rows)
