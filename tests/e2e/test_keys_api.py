"""Management Keys API: every documented field and semantic, permissions, and enforcement on requests."""

import time

import pytest

from runapi.auth import admin
from tests.support.servers import wait_done

T2I = "/api/v1/nano_banana/text_to_image"


@pytest.fixture(scope="module")
def mgmt(server):
    key = server.db_call(lambda db: admin.mint_key(db, 1, "management", name="ops"))
    with server.client(key.token) as c:
        yield c


def test_create_shows_the_key_once_then_masked(mgmt, server):
    resp = mgmt.post(
        "/api/v1/keys",
        json={
            "name": "Production",
            "credit_limit_cents": 100,
            "credit_limit_reset_interval": "daily",
            "allowed_models": ["nano-banana", "veo-3.1"],
        },
    )
    assert resp.status_code == 201
    created = resp.json()
    token = created["key"]
    assert created["masked_token"] == f"{token[3:7]}••••••••{token[-4:]}"
    assert set(created) == {
        "name",
        "last_used_at",
        "created_at",
        "credit_limit_cents",
        "credit_limit_reset_interval",
        "allowed_models",
        "enabled",
        "id",
        "masked_token",
        "guardrail_id",
        "rpm_limit",
        "tpm_limit",
        "max_parallel_requests",
        "key",
    }
    assert created["id"].startswith("token_") and created["enabled"] is True and created["last_used_at"] is None
    assert created["created_at"].endswith("Z")
    listed = mgmt.get("/api/v1/keys").json()
    mine = next(k for k in listed if k["id"] == created["id"])
    assert "key" not in mine and mine["masked_token"] == created["masked_token"]
    fetched = mgmt.get(f"/api/v1/keys/{created['id']}").json()
    assert "key" not in fetched
    assert {fetched[f"credit_usage_cents_{w}"] for w in ("total", "today", "this_week", "this_month")} == {0}
    # the new key works for generation
    with server.client(token) as c:
        assert c.post(T2I, json={"model": "nano-banana", "prompt": "x"}).status_code == 202


def test_limit_needs_an_interval(mgmt):
    resp = mgmt.post("/api/v1/keys", json={"credit_limit_cents": 100})
    assert resp.status_code == 422 and "credit_limit_reset_interval" in resp.json()["error"]
    assert (
        mgmt.post("/api/v1/keys", json={"credit_limit_cents": 5, "credit_limit_reset_interval": "hourly"}).status_code
        == 422
    )
    assert (
        mgmt.post("/api/v1/keys", json={"credit_limit_cents": -1, "credit_limit_reset_interval": "daily"}).status_code
        == 422
    )
    assert mgmt.post("/api/v1/keys", json={"allowed_models": "nano-banana"}).status_code == 422
    assert mgmt.post("/api/v1/keys", json={"enabled": "yes"}).status_code == 422


def test_patch_semantics(mgmt):
    key = mgmt.post(
        "/api/v1/keys",
        json={
            "name": "a",
            "credit_limit_cents": 100,
            "credit_limit_reset_interval": "daily",
            "allowed_models": ["nano-banana"],
        },
    ).json()
    path = f"/api/v1/keys/{key['id']}"
    patched = mgmt.patch(
        path,
        json={
            "name": "Production (rotated)",
            "credit_limit_cents": 500,
            "credit_limit_reset_interval": "weekly",
            "allowed_models": ["veo-3.1"],
        },
    ).json()
    assert (
        patched["name"],
        patched["credit_limit_cents"],
        patched["credit_limit_reset_interval"],
        patched["allowed_models"],
    ) == ("Production (rotated)", 500, "weekly", ["veo-3.1"])
    # omitted fields keep their value
    assert mgmt.patch(path, json={"name": "b"}).json()["allowed_models"] == ["veo-3.1"]
    # allowed_models: replaced whole; null and [] clear
    assert mgmt.patch(path, json={"allowed_models": ["x", "y"]}).json()["allowed_models"] == ["x", "y"]
    assert mgmt.patch(path, json={"allowed_models": []}).json()["allowed_models"] is None
    mgmt.patch(path, json={"allowed_models": ["x"]})
    assert mgmt.patch(path, json={"allowed_models": None}).json()["allowed_models"] is None
    # null or "" clears the limit; clearing and disabling together both apply
    cleared = mgmt.patch(path, json={"credit_limit_cents": "", "enabled": False}).json()
    assert cleared["credit_limit_cents"] is None and cleared["enabled"] is False
    assert mgmt.get(path).json()["credit_limit_cents"] is None
    assert mgmt.patch(path, json={"credit_limit_cents": None}).status_code == 200
    # a limit again needs an interval (the cleared one does not count)
    assert mgmt.patch(path, json={"credit_limit_cents": 10}).status_code == 422


def test_disable_is_immediate_and_delete_revokes(mgmt, server):
    key = mgmt.post("/api/v1/keys", json={"name": "temp"}).json()
    with server.client(key["key"]) as c:
        assert c.get("/api/v1/me/balance").status_code == 200
        mgmt.patch(f"/api/v1/keys/{key['id']}", json={"enabled": False})
        assert c.get("/api/v1/me/balance").status_code == 401
        mgmt.patch(f"/api/v1/keys/{key['id']}", json={"enabled": True})
        assert c.get("/api/v1/me/balance").status_code == 200
        assert mgmt.delete(f"/api/v1/keys/{key['id']}").status_code == 204
        assert c.get("/api/v1/me/balance").status_code == 401
    assert mgmt.get(f"/api/v1/keys/{key['id']}").json() == {"error": "Record does not exist"}
    assert mgmt.delete(f"/api/v1/keys/{key['id']}").status_code == 404


def test_allowed_models_enforced_with_422(mgmt, server):
    key = mgmt.post("/api/v1/keys", json={"allowed_models": ["nano-banana-pro"]}).json()
    with server.client(key["key"]) as c:
        resp = c.post(T2I, json={"model": "nano-banana", "prompt": "x"})
        assert resp.status_code == 422 and "not allowed" in resp.json()["error"]
        assert c.post(T2I, json={"model": "nano-banana-pro", "prompt": "x"}).status_code == 202


def test_credit_limit_window(mgmt, server):
    key = mgmt.post("/api/v1/keys", json={"credit_limit_cents": 10, "credit_limit_reset_interval": "daily"}).json()
    with server.client(key["key"]) as c:
        ids = []
        for _ in range(3):  # 4 cents each: 4, 8, then 12 crosses the limit and still runs
            resp = c.post(T2I, json={"model": "nano-banana", "prompt": "x"})
            assert resp.status_code == 202
            ids.append(resp.json()["id"])
        refused = c.post(T2I, json={"model": "nano-banana", "prompt": "x"})
        assert (refused.status_code, refused.json()) == (403, {"error": "API key credit limit exceeded"})
        for i in ids:
            wait_done(c, T2I, i)
    usage = mgmt.get(f"/api/v1/keys/{key['id']}").json()
    assert usage["credit_usage_cents_today"] == usage["credit_usage_cents_total"] == 12
    # raising the limit lets it through again at once
    mgmt.patch(f"/api/v1/keys/{key['id']}", json={"credit_limit_cents": 100})
    with server.client(key["key"]) as c:
        assert c.post(T2I, json={"model": "nano-banana", "prompt": "x"}).status_code == 202


def test_api_keys_cannot_manage_and_members_see_their_own(server, mgmt):
    with server.client() as api_key_client:
        assert api_key_client.get("/api/v1/keys").status_code == 403
        assert api_key_client.post("/api/v1/keys", json={}).status_code == 403

    # a member (not admin) management key sees and manages only its own keys
    async def member_key(db):
        from sqlalchemy import insert

        from runapi.store.schema import memberships, users

        async with db.write() as conn:
            uid = (
                await conn.execute(
                    insert(users).values(name="m", email=f"m{time.time_ns()}@x", created_at=0).returning(users.c.id)
                )
            ).scalar_one()
            await conn.execute(
                insert(memberships).values(id=f"member_m{uid}", account_id=1, user_id=uid, role="member", created_at=0)
            )
        return await admin.mint_key(db, 1, "management", membership_id=f"member_m{uid}")

    member = server.db_call(member_key)
    with server.client(member.token) as m:
        assert m.get("/api/v1/keys").json() == []
        own = m.post("/api/v1/keys", json={"name": "mine"}).json()
        assert [k["id"] for k in m.get("/api/v1/keys").json()] == [own["id"]]
        admins_key = mgmt.get("/api/v1/keys").json()[0]["id"]
        assert m.get(f"/api/v1/keys/{admins_key}").status_code == 404
        assert m.patch(f"/api/v1/keys/{admins_key}", json={"enabled": False}).status_code == 404
    assert own["id"] in {k["id"] for k in mgmt.get("/api/v1/keys").json()}  # the admin sees all


def test_last_used_at_is_recorded(mgmt, server):
    key = mgmt.post("/api/v1/keys", json={"name": "used"}).json()
    with server.client(key["key"]) as c:
        c.get("/api/v1/me")
    deadline = time.time() + 10
    while time.time() < deadline:
        seen = mgmt.get(f"/api/v1/keys/{key['id']}").json()["last_used_at"]
        if seen:
            break
        time.sleep(0.2)
    assert seen and seen.endswith("Z")
