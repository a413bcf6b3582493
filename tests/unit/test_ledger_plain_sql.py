"""The LLM ledger's batches on a SQLite file run as plain sqlite3 statements (billing/batcher.py `_PlainSql`): they
must leave exactly the rows and balances the SQLAlchemy Core statements leave (still the path on PostgreSQL).
The same sequence of batches (reserves under spend limits, refusals for the balance and for limits inside one
batch, settles with sub-cent carry and a shortfall, refunds, moves for requests already finished) runs through
both, on two copies of one database, and every billing table is compared row by row."""

import asyncio
import sqlite3
import time

import pytest
from sqlalchemy import select

from runapi.auth import admin
from runapi.billing import batcher
from runapi.billing.batcher import ALREADY_FINISHED, Move
from runapi.billing.limits import Limit
from runapi.billing.usage import LlmUsage
from runapi.errors import RunapiError
from runapi.store import Database
from runapi.store.db import plain_sqlite
from runapi.store.schema import accounts, ledger, open_reservations, spend_counters, usage_events

NOW = 1_765_000_000.25  # a fixed clock: both runs write the same created_at
KEY_ALL = Limit("key:k1:all", None, 300, "API key credit limit exceeded", api_key_id="k1")
GUARD_DAILY = Limit("guardrail:g1:daily", "daily", 120, "guardrail budget reached", version="v1", guardrail_id="g1")
GUARD_EDITED = Limit("guardrail:g1:daily", "daily", 500, "guardrail budget reached", version="v2", guardrail_id="g1")
ROOMY = Limit("key:k2:all", None, 10**9, "API key credit limit exceeded", api_key_id="k2")


def usage(model="gpt-x", tokens=7):
    return LlmUsage(model, "chat", "up-1", "req-x", 12, input_tokens=tokens, output_tokens=tokens + 1)


def reserve(account, rid, cents, limits=(), key="k1", guardrail=None):
    return Move("reserve", account, key, rid, cents, model="gpt-x", guardrail_id=guardrail, limits=limits)


def settle(account, rid, reserved, cost, with_usage=True):
    return Move("settle", account, "k1", rid, reserved, cost_micro_cents=cost, usage=usage() if with_usage else None)


def refund(account, rid, reserved, note="upstream failure", with_usage=True):
    return Move("refund", account, "k1", rid, reserved, note=note, usage=usage(tokens=0) if with_usage else None)


def batches(a, b):
    """Account `a` holds 1000 cents, `b` 50."""
    return [
        [  # reserves only: limits reached inside the batch (403), and `b`'s balance covering only the first (402)
            reserve(a, "r1", 100, (KEY_ALL,)),
            reserve(a, "r2", 100, (KEY_ALL, GUARD_DAILY), guardrail="g1"),
            reserve(a, "r3", 100, (KEY_ALL, GUARD_DAILY), guardrail="g1"),
            reserve(a, "r4", 50, (GUARD_DAILY,), guardrail="g1"),
            reserve(b, "r5", 30),
            reserve(b, "r6", 30),
            reserve(a, "r7", 0),
            reserve(a, "r8", 100, (KEY_ALL,)),
        ],
        [  # finishing: past the reservation, a sub-cent carry, a refund, a shortfall, twice, never opened
            settle(a, "r1", 100, 12_345_678),
            settle(a, "r2", 100, 999_999),
            refund(a, "r3", 100),
            settle(b, "r5", 30, 10_000_000_000),
            settle(a, "r1", 100, 1),
            refund(a, "nope", 10, with_usage=False),
            settle(a, "r7", 0, 1, with_usage=False),
        ],
        [  # mixed: what a settle gives back covers a reservation; the guardrail's limit edited (counter derived)
            settle(a, "r2", 100, 5),
            reserve(a, "r9", 600, (GUARD_EDITED,), guardrail="g1"),
            reserve(b, "r10", 10**6),
            reserve(a, "r11", 40, (GUARD_EDITED,), guardrail="g1"),
        ],
        [  # the balance covers neither the whole batch nor the middle move: its limit charge is taken back
            reserve(a, "r12", 50, (ROOMY,), key="k2"),
            reserve(a, "r13", 10**7, (ROOMY,), key="k2"),
            reserve(a, "r14", 20, (ROOMY,), key="k2"),
            refund(a, "r9", 600, note="client went away", with_usage=False),
        ],
        [settle(a, "r11", 40, 39_000_001), settle(a, "r12", 50, 49_999_999)],  # r14 stays open
    ]


def outcome(value):
    if value is ALREADY_FINISHED:
        return "finished"
    if isinstance(value, RunapiError):
        return (type(value).__name__, str(value))
    return value


async def scenario(path, apply):
    """Every batch through `apply(conn, moves)`; returns the outcomes and every billing table's rows."""
    db = Database(f"sqlite+aiosqlite:///{path}", "NORMAL")
    await db.create_schema()
    try:
        a = (await admin.create_account(db, "a", "a@x.test", credits_cents=1000))["account_id"]
        b = (await admin.create_account(db, "b", "b@x.test", credits_cents=50))["account_id"]
        outcomes = [[outcome(o) for o in await db.write_sync(apply, moves)] for moves in batches(a, b)]
        async with db.read() as conn:
            tables = {
                "accounts": (
                    await conn.execute(
                        select(accounts.c.id, accounts.c.balance_cents, accounts.c.carry_micro_cents).order_by(
                            accounts.c.id
                        )
                    )
                ).all(),
                "ledger": (await conn.execute(select(ledger).order_by(ledger.c.id))).all(),
                "open": (await conn.execute(select(open_reservations).order_by(open_reservations.c.request_id))).all(),
                "counters": (
                    await conn.execute(select(spend_counters).order_by(spend_counters.c.scope, "window_start"))
                ).all(),
                "usage": sorted(
                    tuple(r)[1:]  # without the random id
                    for r in (await conn.execute(select(usage_events))).all()
                ),
            }
        with sqlite3.connect(path) as raw:  # the stored text too (JSON counters), not only what it decodes to
            tables["open_stored"] = raw.execute("SELECT * FROM open_reservations ORDER BY request_id").fetchall()
        return outcomes, {name: [tuple(r) for r in rows] for name, rows in tables.items()}
    finally:
        await db.dispose()


def plain(conn, moves):
    assert plain_sqlite(conn) is not None  # the path under test really runs
    return batcher.apply_moves(conn, moves)


def core(conn, moves):
    return batcher._apply(conn, batcher._CoreSql(conn), moves)


@pytest.fixture
def frozen_clock(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: NOW)


def test_plain_sqlite_batches_write_exactly_what_core_statements_write(tmp_path, frozen_clock):
    new_outcomes, new_tables = asyncio.run(scenario(tmp_path / "plain.db", plain))
    old_outcomes, old_tables = asyncio.run(scenario(tmp_path / "core.db", core))
    assert new_outcomes == old_outcomes
    for name in old_tables:
        assert new_tables[name] == old_tables[name], name
    # the sequence did exercise what it claims to
    flat = [o for batch in new_outcomes for o in batch]
    assert ("Forbidden", "guardrail budget reached") in flat
    assert ("Forbidden", "API key credit limit exceeded") in flat
    assert sum(isinstance(o, tuple) and o[0] == "InsufficientCredits" for o in flat) == 3
    assert "finished" in flat
    note = list(ledger.c.keys()).index("note")
    assert any(r[note] and "shortfall" in r[note] for r in new_tables["ledger"])
    assert new_tables["counters"] and new_tables["usage"]
    assert [r[0] for r in new_tables["open_stored"]] == ["r14"] and "key:k2:all" in str(new_tables["open_stored"][0])
