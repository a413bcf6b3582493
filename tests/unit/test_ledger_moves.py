"""Credit movements (billing/ledger.py) on SQLite in memory: each move changes the balance and writes its one
ledger row in the same transaction, a reserve the balance cannot cover changes nothing, and a task has at most
one reserve, settle and refund row, so a retried step cannot count twice."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from runapi.billing import ledger as moves
from runapi.errors import InsufficientCredits
from runapi.store.schema import accounts, ledger, metadata


@pytest.fixture
def engine():
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(accounts).values(id=1, name="acme", balance_cents=100, callback_secret="s", created_at=0.0))
    yield engine
    engine.dispose()


def books(engine) -> tuple[int, list[tuple[str, int]]]:
    """(balance, the ledger's (kind, amount) rows in order)."""
    with engine.connect() as conn:
        balance = conn.execute(select(accounts.c.balance_cents).where(accounts.c.id == 1)).scalar_one()
        rows = conn.execute(select(ledger.c.kind, ledger.c.amount_cents).order_by(ledger.c.id)).all()
    return balance, [tuple(r) for r in rows]


def test_reserve_then_settle_gives_back_the_unused_part(engine):
    with engine.begin() as conn:
        moves.reserve(conn, 1, "key_1", "t1", 30, model="m")
    assert books(engine) == (70, [("reserve", -30)])
    with engine.begin() as conn:
        moves.settle(conn, 1, "key_1", "t1", reserved=30, charged=12)
    balance, rows = books(engine)
    assert (balance, rows) == (88, [("reserve", -30), ("settle", 18)])
    assert balance == 100 + sum(amount for _, amount in rows)  # the ledger explains the balance


def test_settle_of_the_full_reservation_gives_nothing_back(engine):
    with engine.begin() as conn:
        moves.reserve(conn, 1, None, "t1", 40)
        moves.settle(conn, 1, None, "t1", reserved=40, charged=40)
    assert books(engine) == (60, [("reserve", -40), ("settle", 0)])


def test_refund_returns_the_whole_reservation(engine):
    with engine.begin() as conn:
        moves.reserve(conn, 1, None, "t1", 25)
        moves.refund(conn, 1, None, "t1", reserved=25, note="upstream failed")
    assert books(engine) == (100, [("reserve", -25), ("refund", 25)])


def test_a_reserve_the_balance_cannot_cover_changes_nothing(engine):
    with pytest.raises(InsufficientCredits), engine.begin() as conn:
        moves.reserve(conn, 1, None, "t1", 101)
    assert books(engine) == (100, [])
    with engine.begin() as conn:
        moves.reserve(conn, 1, None, "t2", 100)  # exactly the balance is enough
    assert books(engine) == (0, [("reserve", -100)])


def test_a_free_task_reserves_nothing_but_is_still_recorded(engine):
    with engine.begin() as conn:
        moves.reserve(conn, 1, None, "t1", 0)
    assert books(engine) == (100, [("reserve", 0)])


def test_a_retried_move_cannot_count_twice(engine):
    with engine.begin() as conn:
        moves.reserve(conn, 1, None, "t1", 10)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        moves.refund(conn, 1, None, "t1", reserved=10)
        moves.refund(conn, 1, None, "t1", reserved=10)  # the same step again: the unique index refuses it
    assert books(engine) == (90, [("reserve", -10)])  # and the whole transaction rolled back


def test_credit_adds_or_removes_and_returns_the_new_balance(engine):
    with engine.begin() as conn:
        assert moves.credit(conn, 1, 250, note="top-up") == 350
        assert moves.credit(conn, 1, -50) == 300
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(ledger).where(ledger.c.kind == "credit")).scalar_one()
    assert count == 2 and books(engine)[0] == 300
