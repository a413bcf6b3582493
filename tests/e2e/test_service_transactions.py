"""Multi-step writes of the account services are one transaction (issue 13, item 2): when the last step fails,
nothing of the first stays behind (a member without the management key they were promised, a new account
without its first key)."""

import time

import pytest
from sqlalchemy import func, select

from runapi.auth import admin, tokens
from runapi.store.schema import accounts, api_keys, memberships, users


def _colliding_key_ids(monkeypatch, existing_id: str, prefix: str) -> None:
    """Make the next key id of `prefix` one that exists, so the database refuses the key's insert (the second
    step) after the first step succeeded."""
    real = tokens.new_prefixed_id
    monkeypatch.setattr(tokens, "new_prefixed_id", lambda p: existing_id if p == prefix else real(p))


def _count(server, table, *where) -> int:
    async def go(db):
        async with db.read() as conn:
            return (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()

    return server.db_call(go)


def test_add_member_leaves_no_member_without_its_key(server, monkeypatch):
    existing = server.db_call(lambda db: admin.mint_key(db, 1, "management"))
    email = f"orphan{time.time_ns()}@acme.test"
    _colliding_key_ids(monkeypatch, existing.id, "mgmt")
    with server.client(existing.token) as m:
        resp = m.post("/api/v1/members", json={"email": email})
    assert resp.status_code == 500
    monkeypatch.undo()
    assert _count(server, users, users.c.email == email) == 0
    assert _count(server, memberships, memberships.c.user_id.in_(select(users.c.id).where(users.c.email == email))) == 0
    with server.client(existing.token) as m:  # and the member can be added once the failure is gone
        resp = m.post("/api/v1/members", json={"email": email})
    assert resp.status_code == 201, resp.text
    assert _count(server, api_keys, api_keys.c.membership_id == resp.json()["member"]["id"]) == 1


def test_add_member_with_key_is_one_step(server, monkeypatch):
    existing = server.db_call(lambda db: admin.mint_key(db, 1, "management"))
    email = f"orphan-op{time.time_ns()}@acme.test"
    _colliding_key_ids(monkeypatch, existing.id, "mgmt")
    with pytest.raises(RuntimeError, match="key could not be stored"):
        server.db_call(lambda db: admin.add_member_with_key(db, 1, email))
    monkeypatch.undo()
    assert _count(server, users, users.c.email == email) == 0


def test_create_account_leaves_no_account_without_its_key(server, monkeypatch):
    existing = server.db_call(lambda db: admin.mint_key(db, 1, "api"))
    name = f"orphan{time.time_ns()}"
    _colliding_key_ids(monkeypatch, existing.id, "token")
    with pytest.raises(RuntimeError, match="key could not be stored"):
        server.db_call(lambda db: admin.create_account_with_key(db, name, f"{name}@acme.test", 100, "default"))
    monkeypatch.undo()
    assert _count(server, accounts, accounts.c.name == name) == 0
    created, key = server.db_call(
        lambda db: admin.create_account_with_key(db, name, f"{name}@acme.test", 100, "default")
    )
    with server.client(key.token) as c:
        assert c.get("/api/v1/me/balance").json()["balance_cents"] == 100
    assert created["account_id"] > 1
