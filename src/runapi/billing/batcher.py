"""Group commit for metered (LLM) requests.

Every LLM call moves money twice (reserve before, settle or refund after), and each move must be durable
before the call goes on. One transaction per move caps a SQLite gateway at a few hundred calls a second (one
fsync each) and costs several statements each. Here moves queue up and commit together: while one batch
commits, the next gathers, so under load one transaction (one fsync, a handful of statements) carries dozens
of moves, and an idle gateway still commits each move at once. Every caller still waits for its own commit.

Settling or refunding deletes the request's `open_reservations` row, and only the move that deletes it takes
effect, so a request is finished exactly once even when a crashed process's janitor and a live process race.
If a batch fails as a whole, its moves are retried one per transaction, so one bad move fails alone.

A reservation's spend limits (billing/limits.py) are checked and charged in the batch's transaction, under the
account locks it takes first, so simultaneous requests cannot all pass a limit. A settle never takes more than
the balance holds: usage beyond the reservation and the balance is recorded as a shortfall, not owed.

On a SQLite file the batch's statements are compiled once and run as plain sqlite3 on write_sync's own
connection, inside the same transaction (one executemany per table, one UPDATE per account): SQLAlchemy's
per-execution work was most of the writer's CPU on every LLM call. They write exactly the rows the Core
statements write (tests/unit/test_ledger_plain_sql.py); PostgreSQL runs the Core statements.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Dialect, bindparam, delete, insert, select, update

from ..errors import RunapiError, insufficient_credits
from ..observability.metrics import record_ledger_batch
from ..store import Database
from ..store.db import CompiledWrite, compiled_in, plain_sqlite
from ..store.schema import accounts, open_reservations
from .ledger import ENTRY, ENTRY_KEYS, TAKE
from .limits import Charged, Counters, Limit, give_back
from .usage import LlmUsage, Row, llm_row, record_rows

log = logging.getLogger("runapi.billing")

# Built once: the compiled-statement cache then serves every batch.
_LOCK_ACCOUNTS = (
    select(accounts.c.id, accounts.c.carry_micro_cents, accounts.c.balance_cents)
    .where(accounts.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(accounts.c.id)
    .with_for_update()
)
_GIVE_BACK = (
    update(accounts)
    .where(accounts.c.id == bindparam("aid"))
    .values(balance_cents=accounts.c.balance_cents + bindparam("delta"), carry_micro_cents=bindparam("carry"))
)
_CLOSE = (
    delete(open_reservations)
    .where(open_reservations.c.request_id.in_(bindparam("ids", expanding=True)))
    .returning(open_reservations.c.request_id, open_reservations.c.counters)
)


@dataclass
class Move:
    kind: str  # reserve | settle | refund
    account_id: int
    api_key_id: str | None
    request_id: str
    cents: int  # reserved cents (what a settle or refund gives back against)
    cost_micro_cents: int = 0  # settle: the exact cost
    model: str | None = None
    guardrail_id: str | None = None
    member_guardrail_id: str | None = None
    note: str | None = None
    limits: tuple[Limit, ...] = ()  # reserve: checked and charged with it
    usage: LlmUsage | None = None  # settle/refund: the call's usage-log row, written with the move
    future: asyncio.Future[Any] = field(init=False, repr=False)  # set by LedgerBatcher._commit, on the running loop


ALREADY_FINISHED = object()  # outcome of a settle/refund whose reservation was already closed


class LedgerBatcher:
    def __init__(self, db: Database, max_batch: int = 256):
        self.db = db
        self.max_batch = max_batch
        self._queue: list[Move] = []
        self._drain: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.stats = {"moves": 0, "commits": 0}  # how well moves are grouped (metrics, tests)

    async def reserve(
        self,
        account_id: int,
        api_key_id: str | None,
        request_id: str,
        cents: int,
        model: str | None,
        guardrail_id: str | None,
        limits: tuple[Limit, ...] = (),
        member_guardrail_id: str | None = None,
    ) -> None:
        """Hold `cents` for a request: 403 once one of its `limits` is reached, 402 if the balance cannot cover
        it."""
        move = Move(
            "reserve",
            account_id,
            api_key_id,
            request_id,
            cents,
            model=model,
            guardrail_id=guardrail_id,
            member_guardrail_id=member_guardrail_id,
            limits=limits,
        )
        try:
            await self._commit(move)
        except asyncio.CancelledError:
            # The caller is gone but the move may still commit; give the money back if it does.
            move.future.add_done_callback(lambda f: self._refund_abandoned(move, f))
            raise

    async def settle(
        self,
        account_id: int,
        api_key_id: str | None,
        request_id: str,
        reserved: int,
        cost_micro_cents: int,
        usage: LlmUsage | None = None,
    ) -> int | None:
        """Charge the exact cost (whole cents, the sub-cent rest carried per account) against the reservation,
        and log its `usage` in the same commit. Returns the cents charged, or None if the request was already
        settled or refunded."""
        out = await self._commit(
            Move("settle", account_id, api_key_id, request_id, reserved, cost_micro_cents=cost_micro_cents, usage=usage)
        )
        return None if out is ALREADY_FINISHED else out

    async def refund(
        self,
        account_id: int,
        api_key_id: str | None,
        request_id: str,
        reserved: int,
        note: str | None = None,
        usage: LlmUsage | None = None,
    ) -> bool:
        """Give the whole reservation back (and log the failed call's `usage`, if given, in the same commit).
        False if the request was already settled or refunded."""
        out = await self._commit(Move("refund", account_id, api_key_id, request_id, reserved, note=note, usage=usage))
        return out is not ALREADY_FINISHED

    async def close(self) -> None:
        """Let queued moves commit (shutdown)."""
        while self._drain is not None and not self._drain.done() or self._background:
            await asyncio.wait([t for t in [self._drain, *self._background] if t is not None], timeout=10)

    async def _commit(self, move: Move) -> Any:
        move.future = asyncio.get_running_loop().create_future()
        self._queue.append(move)
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._run(), name="ledger-batcher")
        # Shielded: a cancelled caller must not cancel the future the batch resolves.
        return await asyncio.shield(move.future)

    def _refund_abandoned(self, move: Move, fut: asyncio.Future[Any]) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return
        task = asyncio.ensure_future(
            self.refund(move.account_id, move.api_key_id, move.request_id, move.cents, note="client went away")
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _run(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[Move]) -> None:
        try:
            outcomes = await self.db.write_sync(apply_moves, batch)
            self.stats["commits"] += 1
            self.stats["moves"] += len(batch)
            record_ledger_batch(len(batch))
        except Exception as exc:  # noqa: BLE001 - any failure: isolate the moves, then report per move
            if len(batch) > 1:
                log.warning("ledger batch of %d failed (%s); committing its moves one by one", len(batch), exc)
                for move in batch:
                    await self._commit_batch([move])
                return
            _resolve(batch[0], exc)
            return
        for move, outcome in zip(batch, outcomes):
            _resolve(move, outcome)


def _resolve(move: Move, outcome: Any) -> None:
    if move.future.done():
        return
    if isinstance(outcome, BaseException):
        move.future.set_exception(outcome)
    else:
        move.future.set_result(outcome)


class _CoreSql:
    """The batch's statements through SQLAlchemy Core: PostgreSQL (and a private in-memory SQLite database)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def lock(self, all_ids: list[int], finishing_ids: list[int]) -> list[tuple[int, Any, Any]]:
        # Every account of the batch, in id order: the row locks that serialise it with other processes.
        return [tuple(r) for r in self.conn.execute(_LOCK_ACCOUNTS, {"ids": all_ids})]

    def close(self, request_ids: list[str]) -> dict[str, Any]:
        return {r.request_id: r.counters for r in self.conn.execute(_CLOSE, {"ids": request_ids})}

    def give_back(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.conn.execute(_GIVE_BACK, row)

    def take(self, account_id: int, cents: int) -> bool:
        return self.conn.execute(TAKE, {"aid": account_id, "cents": cents}).rowcount == 1

    def insert(self, opened: list[dict[str, Any]], ledger_rows: list[dict[str, Any]]) -> None:
        if opened:
            self.conn.execute(_OPEN, opened)
        if ledger_rows:
            self.conn.execute(ENTRY, ledger_rows)


class _PlainSql(_CoreSql):
    """The same statements compiled once and run on the writer's plain sqlite3 connection (a SQLite file):
    every LLM call's reserve and settle run these, and SQLAlchemy's per-execution work (cache key, execution
    context, result object, per-row parameter handling) was most of the batch's CPU."""

    def __init__(self, conn: Connection, raw: sqlite3.Connection):
        super().__init__(conn)
        self.raw = raw
        self.dialect = conn.dialect

    def lock(self, all_ids: list[int], finishing_ids: list[int]) -> list[tuple[int, Any, Any]]:
        # SQLite has one writer (the write transaction is the lock): only settles and refunds need the
        # balance and carry, so a batch of reservations reads nothing.
        if not finishing_ids:
            return []
        return self.raw.execute(compiled_in(_LOCK_ACCOUNTS, self.dialect, len(finishing_ids)), finishing_ids).fetchall()

    def close(self, request_ids: list[str]) -> dict[str, Any]:
        rows = self.raw.execute(compiled_in(_CLOSE, self.dialect, len(request_ids)), request_ids).fetchall()
        decode = _counters_decoder(self.dialect)
        return {rid: decode(counters) if decode is not None else counters for rid, counters in rows}

    def give_back(self, rows: list[dict[str, Any]]) -> None:
        _plain(_GIVE_BACK, self.dialect).run_many(self.raw, rows)

    def take(self, account_id: int, cents: int) -> bool:
        return _plain(TAKE, self.dialect).run(self.raw, {"aid": account_id, "cents": cents}).rowcount == 1

    def insert(self, opened: list[dict[str, Any]], ledger_rows: list[dict[str, Any]]) -> None:
        if opened:
            _plain(_OPEN, self.dialect, _OPEN_KEYS).run_many(self.raw, opened)
        if ledger_rows:
            _plain(ENTRY, self.dialect, ENTRY_KEYS).run_many(self.raw, ledger_rows)


_OPEN = insert(open_reservations)
_OPEN_KEYS = ("request_id", "account_id", "api_key_id", "cents", "counters", "created_at")
_PLAIN: dict[tuple[Any, tuple[str, ...] | None], CompiledWrite] = {}


def _plain(stmt: Any, dialect: Dialect, keys: tuple[str, ...] | None = None) -> CompiledWrite:
    compiled = _PLAIN.get((stmt, keys))
    if compiled is None:
        compiled = _PLAIN[(stmt, keys)] = CompiledWrite.of(stmt, dialect, keys)
    return compiled


def _counters_decoder(dialect: Dialect) -> Any:
    return open_reservations.c.counters.type._cached_result_processor(dialect, None)


def apply_moves(conn: Connection, moves: list[Move]) -> list[Any]:
    """Apply a batch in one transaction (synchronous: run by Database.write_sync). Settles and refunds go
    first, so what they give back can cover the batch's reservations; every account involved is locked up
    front in id order (no deadlocks between processes on PostgreSQL), which also makes each reservation's
    limit check and charge one step. A settle or refund that takes effect writes its usage-log row too (one
    insert for the batch). Returns each move's outcome: None, cents charged, ALREADY_FINISHED, a 403 (a limit
    reached) or a 402.

    On a SQLite file the same statements run as plain sqlite3 (`_PlainSql`): the same rows, fewer cycles."""
    raw = plain_sqlite(conn)
    return _apply(conn, _PlainSql(conn, raw) if raw is not None else _CoreSql(conn), moves)


def _apply(conn: Connection, sql: _CoreSql, moves: list[Move]) -> list[Any]:
    now = time.time()
    outcomes: list[Any] = [None] * len(moves)
    finishing = [i for i, m in enumerate(moves) if m.kind != "reserve"]
    carry, balance = {}, {}
    for aid, carried, cents in sql.lock(
        sorted({m.account_id for m in moves}), sorted({moves[i].account_id for i in finishing})
    ):
        carry[aid], balance[aid] = int(carried or 0), int(cents)
    ledger_rows: list[dict[str, Any]] = []
    usage_rows: list[Row] = []

    delta: dict[int, int] = defaultdict(int)
    if finishing:
        still_open = sql.close(list({moves[i].request_id for i in finishing}))
        returns: list[tuple[Charged | None, int]] = []
        for i in finishing:
            m = moves[i]
            if m.request_id not in still_open:
                outcomes[i] = ALREADY_FINISHED
                continue
            counters = still_open.pop(m.request_id)  # a second move for the same request in this batch is too late
            note = m.note
            if m.kind == "settle":
                charged, carry[m.account_id] = divmod(carry[m.account_id] + m.cost_micro_cents, 1_000_000)
                back = m.cents - charged
                left = balance[m.account_id] + delta[m.account_id] + back
                if back < 0 and left < 0:  # usage past the reservation and the balance: take what there is
                    short = min(-left, -back)
                    back += short
                    charged -= short
                    note = f"shortfall {short} cents: usage exceeded the reservation and the balance"
                    log.warning("request %s: %s", m.request_id, note)
                outcomes[i] = charged
                if m.usage is not None:
                    usage_rows.append(
                        llm_row(
                            m.account_id,
                            m.api_key_id,
                            m.request_id,
                            m.usage,
                            completed=True,
                            cost_micro_cents=m.cost_micro_cents,
                            charged_cents=charged,
                            at=now,
                        )
                    )
            else:
                back = m.cents
                if m.usage is not None:
                    usage_rows.append(
                        llm_row(
                            m.account_id,
                            m.api_key_id,
                            m.request_id,
                            m.usage,
                            completed=False,
                            cost_micro_cents=0,
                            charged_cents=0,
                            at=now,
                        )
                    )
            delta[m.account_id] += back
            returns.append((counters, back))
            ledger_rows.append(_row(m, m.kind, back, now, note))
        sql.give_back([{"aid": a, "delta": delta[a], "carry": carry[a]} for a in sorted(delta)])
        give_back(conn, returns)

    reserving = [i for i, m in enumerate(moves) if m.kind == "reserve"]
    opened: list[dict[str, Any]] = []
    by_account: dict[int, list[int]] = defaultdict(list)
    for i in reserving:
        by_account[moves[i].account_id].append(i)
    for account_id in sorted(by_account):
        idx = by_account[account_id]
        charged_limits = _reserve_for_account(conn, sql, account_id, [moves[i] for i in idx], now)
        for i, outcome in zip(idx, charged_limits):
            if isinstance(outcome, RunapiError):
                outcomes[i] = outcome
                continue
            m = moves[i]
            ledger_rows.append(_row(m, "reserve", -m.cents, now))
            opened.append(
                {
                    "request_id": m.request_id,
                    "account_id": m.account_id,
                    "api_key_id": m.api_key_id,
                    "cents": m.cents,
                    "counters": outcome,
                    "created_at": now,
                }
            )
    sql.insert(opened, ledger_rows)
    record_rows(conn, usage_rows)
    return outcomes


def _reserve_for_account(conn: Connection, sql: _CoreSql, account_id: int, moves: list[Move], now: float) -> list[Any]:
    """Reserve one account's moves of a batch (its row is locked). Each outcome: the limit counters charged
    (None without limits), or the 403/402 refusing it."""
    counters = Counters(conn, account_id, now) if any(m.limits for m in moves) else None

    def limits_of(m: Move) -> Any:
        return counters.charge(m.limits, m.cents) if counters is not None and m.limits else None

    outcomes = [limits_of(m) for m in moves]
    total = sum(m.cents for m, out in zip(moves, outcomes) if not isinstance(out, RunapiError))
    # Usually the balance covers them all: one statement. Otherwise first come, first served, each move's
    # limits charged only if the balance covers it.
    if total > 0 and not sql.take(account_id, total):
        if counters is not None:
            counters.reset()
        outcomes = []
        for m in moves:
            out = limits_of(m)
            if not isinstance(out, RunapiError) and m.cents > 0 and not sql.take(account_id, m.cents):
                if out is not None:
                    assert counters is not None  # only counters charge limits
                    counters.uncharge(out, m.cents)
                out = insufficient_credits()
            outcomes.append(out)
    if counters is not None:
        counters.flush()
    return outcomes


def _row(m: Move, kind: str, amount: int, now: float, note: str | None = None) -> dict[str, Any]:
    return {
        "account_id": m.account_id,
        "api_key_id": m.api_key_id,
        "task_id": m.request_id,
        "kind": kind,
        "model": m.model if kind == "reserve" else None,
        "guardrail_id": m.guardrail_id if kind == "reserve" else None,
        "member_guardrail_id": m.member_guardrail_id if kind == "reserve" else None,
        "amount_cents": amount,
        "note": note if note is not None else m.note,
        "created_at": now,
    }


async def abandoned_reservations(db: Database, older_than: float, limit: int = 500) -> list[dict[str, Any]]:
    """Reservations still open after `older_than` seconds: their process died mid-call."""
    async with db.read() as conn:
        rows = await conn.execute(
            select(open_reservations)
            .where(open_reservations.c.created_at < time.time() - older_than)
            .order_by(open_reservations.c.created_at)
            .limit(limit)
        )
        return [dict(r) for r in rows.mappings()]


async def refund_abandoned(db: Database, batcher: LedgerBatcher, older_than: float) -> int:
    """The janitor: refund reservations left open by a crash (the call's usage is unknown, so the client is
    not charged for it). Returns how many were refunded here."""
    refunded = 0
    for r in await abandoned_reservations(db, older_than):
        if await batcher.refund(
            r["account_id"],
            r["api_key_id"],
            r["request_id"],
            int(r["cents"]),
            note="abandoned: the serving process stopped mid-call",
        ):
            refunded += 1
    return refunded
