"""Roles under attack (issue 11, item 9): a non-admin member cannot escape the guardrails and limits an admin
put on them; a disabled key-level guardrail falls back to the member's; key- and member-level guardrails both
apply (their intersection). Members are added with `POST /api/v1/members` and `runapi admin add-member`."""

import json
import time

import pytest
from sqlalchemy import insert

from runapi.auth import admin
from runapi.store.schema import memberships, users
from tests.support.cli import cli
from tests.support.servers import start_server

T2I = "/api/v1/nano_banana/text_to_image"  # nano-banana costs 4 cents, nano-banana-pro 12


@pytest.fixture(scope="module")
def admin_mgmt(server):
    key = server.db_call(lambda db: admin.mint_key(db, 1, "management"))
    with server.client(key.token) as c:
        yield c


def new_member(server) -> tuple[str, str]:
    """A non-admin member written straight to the database (so these tests do not depend on the endpoint)."""

    async def go(db):
        async with db.write() as conn:
            uid = (
                await conn.execute(
                    insert(users).values(name="m", email=f"r{time.time_ns()}@x", created_at=0).returning(users.c.id)
                )
            ).scalar_one()
            mid = f"member_r{uid}"
            await conn.execute(
                insert(memberships).values(id=mid, account_id=1, user_id=uid, role="member", created_at=0)
            )
        return mid, (await admin.mint_key(db, 1, "management", membership_id=mid)).token

    return server.db_call(go)


def guardrail(mgmt, **rules) -> dict:
    resp = mgmt.post("/api/v1/guardrails", json={"name": f"g{time.time_ns()}", **rules})
    assert resp.status_code == 201, resp.text
    return resp.json()["guardrail"]


def assign(mgmt, guardrail_id: str, **target) -> dict:
    resp = mgmt.post("/api/v1/guardrail_assignments", json={"guardrail_id": guardrail_id, **target})
    assert resp.status_code == 201, resp.text
    return resp.json()["guardrail_assignment"]


def generate(server, key: str, model: str = "nano-banana"):
    with server.client(key) as c:
        return c.post(T2I, json={"model": model, "prompt": "x"})


def test_member_cannot_delete_an_assignment_an_admin_made(server, admin_mgmt):
    _, token = new_member(server)
    with server.client(token) as m:
        key = m.post("/api/v1/keys", json={"name": "mine"}).json()
        block = guardrail(admin_mgmt, blocked_models=["nano-banana"])
        a = assign(admin_mgmt, block["id"], api_token_id=key["id"])
        assert [x["id"] for x in m.get("/api/v1/guardrail_assignments").json()["guardrail_assignments"]] == [a["id"]]
        refused = m.delete(f"/api/v1/guardrail_assignments/{a['id']}")
        assert refused.status_code == 403 and "admin" in refused.json()["error"]
        assert generate(server, key["key"]).status_code == 403  # still in force
        # nor can the member change or delete the admin's guardrail
        assert m.patch(f"/api/v1/guardrails/{block['id']}", json={"blocked_models": None}).status_code == 403
        assert m.delete(f"/api/v1/guardrails/{block['id']}").status_code == 403
    assert admin_mgmt.delete(f"/api/v1/guardrail_assignments/{a['id']}").status_code == 204
    assert generate(server, key["key"]).status_code == 202


def test_member_may_undo_only_their_own_binding(server, admin_mgmt):
    _, token = new_member(server)
    with server.client(token) as m:
        key = m.post("/api/v1/keys", json={"name": "mine"}).json()
        mine = guardrail(m, blocked_models=["nano-banana"])
        a = assign(m, mine["id"], api_token_id=key["id"])
        assert m.patch(f"/api/v1/guardrails/{mine['id']}", json={"description": "mine"}).status_code == 200
        assert m.delete(f"/api/v1/guardrail_assignments/{a['id']}").status_code == 204
        # the same guardrail of theirs, bound by an admin: the admin's decision now
        assign(admin_mgmt, mine["id"], api_token_id=key["id"])
        assert m.patch(f"/api/v1/guardrails/{mine['id']}", json={"blocked_models": None}).status_code == 403
        assert m.delete(f"/api/v1/guardrails/{mine['id']}").status_code == 403
    assert generate(server, key["key"]).status_code == 403


def test_own_empty_guardrail_does_not_replace_the_admins_member_level_one(server, admin_mgmt):
    member_id, token = new_member(server)
    assign(admin_mgmt, guardrail(admin_mgmt, blocked_models=["nano-banana"])["id"], account_user_id=member_id)
    with server.client(token) as m:
        key = m.post("/api/v1/keys", json={"name": "escape"}).json()
        assert generate(server, key["key"]).status_code == 403
        empty = guardrail(m)
        assign(m, empty["id"], api_token_id=key["id"])  # allowed: their own key, their own guardrail
        refused = generate(server, key["key"])
        assert refused.status_code == 403 and "blocked" in refused.json()["error"]
        assert generate(server, key["key"], "nano-banana-pro").status_code == 202


def test_disabled_key_level_guardrail_falls_back_to_the_member_level_one(server, admin_mgmt):
    member_id, token = new_member(server)
    assign(admin_mgmt, guardrail(admin_mgmt, blocked_models=["nano-banana"])["id"], account_user_id=member_id)
    with server.client(token) as m:
        key = m.post("/api/v1/keys", json={"name": "k"}).json()
    key_level = guardrail(admin_mgmt, allowed_models=["nano-banana", "nano-banana-pro"])
    assign(admin_mgmt, key_level["id"], api_token_id=key["id"])
    assert generate(server, key["key"]).status_code == 403
    # an admin merely disabling the key-level guardrail must not lift the member-level one
    admin_mgmt.patch(f"/api/v1/guardrails/{key_level['id']}", json={"enabled": False})
    assert generate(server, key["key"]).status_code == 403
    assert generate(server, key["key"], "nano-banana-2").status_code == 202  # key-level no longer narrows


def test_effective_policy_is_the_intersection(server, admin_mgmt):
    member_id, token = new_member(server)
    member_level = guardrail(
        admin_mgmt,
        allowed_models=["nano-banana", "nano-banana-pro"],
        credit_limit_cents=4,
        credit_limit_reset_interval="daily",
    )
    assign(admin_mgmt, member_level["id"], account_user_id=member_id)
    with server.client(token) as m:
        key = m.post("/api/v1/keys", json={"name": "k"}).json()
        key_level = guardrail(
            m, blocked_models=["nano-banana-pro"], credit_limit_cents=1000, credit_limit_reset_interval="daily"
        )
        assign(m, key_level["id"], api_token_id=key["id"])
    outside = generate(server, key["key"], "nano-banana-2")  # key-level allows it, member-level does not
    assert outside.status_code == 403 and member_level["name"] in outside.json()["error"]
    blocked = generate(server, key["key"], "nano-banana-pro")  # member-level allows it, key-level blocks it
    assert blocked.status_code == 403 and key_level["name"] in blocked.json()["error"]
    assert generate(server, key["key"]).status_code == 202  # 4 cents: counted against both budgets
    over = generate(server, key["key"])
    assert (over.status_code, over.json()["error"]) == (403, f"Guardrail {member_level['name']} credit limit exceeded")


def test_member_cannot_lift_limits_an_admin_set(server, admin_mgmt):
    _, token = new_member(server)
    with server.client(token) as m:
        key = m.post(
            "/api/v1/keys", json={"name": "limited", "credit_limit_cents": 50, "credit_limit_reset_interval": "daily"}
        ).json()
        # their own limits: theirs to change
        assert m.patch(f"/api/v1/keys/{key['id']}", json={"credit_limit_cents": 60}).status_code == 200
        limits = {"credit_limit_cents": 4, "credit_limit_reset_interval": "daily", "allowed_models": ["nano-banana"]}
        assert admin_mgmt.patch(f"/api/v1/keys/{key['id']}", json=limits).status_code == 200
        for lift in (
            {"credit_limit_cents": None},
            {"credit_limit_cents": 10_000},
            {"allowed_models": None},
            {"allowed_models": ["nano-banana", "nano-banana-pro"]},
            {"credit_limit_reset_interval": "monthly"},
        ):
            refused = m.patch(f"/api/v1/keys/{key['id']}", json=lift)
            assert refused.status_code == 403 and "admin" in refused.json()["error"], lift
        got = m.get(f"/api/v1/keys/{key['id']}").json()
        assert {k: got[k] for k in limits} == limits
        assert m.patch(f"/api/v1/keys/{key['id']}", json={"name": "renamed"}).status_code == 200
        assert generate(server, key["key"], "nano-banana-pro").status_code == 422
        # disabling one's own key is always allowed, and so is enabling it again
        assert m.patch(f"/api/v1/keys/{key['id']}", json={"enabled": False}).status_code == 200
        assert m.patch(f"/api/v1/keys/{key['id']}", json={"enabled": True}).status_code == 200
        # ...but not when an admin disabled it
        assert admin_mgmt.patch(f"/api/v1/keys/{key['id']}", json={"enabled": False}).status_code == 200
        assert m.patch(f"/api/v1/keys/{key['id']}", json={"enabled": True}).status_code == 403
        assert generate(server, key["key"]).status_code == 401
        # the admin can lift what the admin set; then the member is free to set their own again
        assert (
            admin_mgmt.patch(
                f"/api/v1/keys/{key['id']}", json={"enabled": True, "credit_limit_cents": None, "allowed_models": None}
            ).status_code
            == 200
        )
        assert generate(server, key["key"], "nano-banana-pro").status_code == 202
        assert m.patch(f"/api/v1/keys/{key['id']}", json={"allowed_models": ["nano-banana"]}).status_code == 200


def test_add_member_endpoint(server, admin_mgmt):
    email = f"new{time.time_ns()}@acme.test"
    resp = admin_mgmt.post("/api/v1/members", json={"email": email, "name": "New"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    member, key = body["member"], body["management_key"]
    assert member["id"].startswith("member_") and member["role"] == "member" and member["email"] == email
    assert key["key"].startswith("rk-mgmt-") and key["masked_token"] not in key["key"]
    with server.client(key["key"]) as m:
        me = m.get("/api/v1/me").json()
        assert (me["email"], me["role"]) == (email, "member")
        assert m.post("/api/v1/keys", json={"name": "theirs"}).status_code == 201
        # members cannot add members, and see only themselves
        assert m.post("/api/v1/members", json={"email": f"x{email}"}).status_code == 403
        assert [x["id"] for x in m.get("/api/v1/members").json()["members"]] == [member["id"]]
    assert member["id"] in [x["id"] for x in admin_mgmt.get("/api/v1/members").json()["members"]]
    # the admin can now bind a member-level guardrail to them
    assign(admin_mgmt, guardrail(admin_mgmt)["id"], account_user_id=member["id"])
    assert admin_mgmt.post("/api/v1/members", json={"email": email}).status_code == 422  # already a member
    for bad, status in (
        ({}, 400),
        ({"email": "not an email"}, 422),
        ({"email": f"y{email}", "role": "owner"}, 422),
        ({"email": 5}, 422),
    ):
        assert admin_mgmt.post("/api/v1/members", json=bad).status_code == status, bad
    # API keys cannot manage
    assert server.client().post("/api/v1/members", json={"email": f"z{email}"}).status_code == 403


def test_add_member_cli_end_to_end(tmp_path):
    server = start_server(tmp_path)  # account 1, its admin holding the bootstrap key
    try:
        env = {
            "RUNAPI_DATA_DIR": str(tmp_path),
            **({"RUNAPI_DATABASE_URL": server.settings.database_url} if server.settings.database_url else {}),
        }
        out = cli("admin", "add-member", "--account", "1", "--email", "dev@acme.test", "--name", "Dev", env=env)
        assert out.returncode == 0, out.stderr
        member = json.loads(out.stdout)
        assert member["role"] == "member" and member["management_key"].startswith("rk-mgmt-")
        again = cli("admin", "add-member", "--account", "1", "--email", "dev@acme.test", env=env)
        assert again.returncode != 0 and "already a member" in again.stderr
        with pytest.raises(LookupError, match="account 9 not found"):
            server.db_call(lambda db: admin.add_member(db, 9, "x@acme.test"))
        with server.client(member["management_key"]) as m, server.client() as owner:
            assert m.get("/api/v1/me").json()["role"] == "member"
            assert owner.get("/api/v1/me").json()["role"] == "admin"
            key = m.post("/api/v1/keys", json={"name": "dev"}).json()
        admin_key = server.db_call(lambda db: admin.mint_key(db, 1, "management"))
        with server.client(admin_key.token) as a:
            assert (
                a.patch(
                    f"/api/v1/keys/{key['id']}", json={"credit_limit_cents": 1, "credit_limit_reset_interval": "daily"}
                ).status_code
                == 200
            )
        with server.client(member["management_key"]) as m:
            assert m.patch(f"/api/v1/keys/{key['id']}", json={"credit_limit_cents": None}).status_code == 403
    finally:
        server.stop()
