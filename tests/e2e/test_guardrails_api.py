"""Guardrails and assignments: CRUD, names, permissions, and enforcement on requests."""

import time

import pytest
from sqlalchemy import insert

from runapi.auth import admin
from runapi.store.schema import memberships, users

T2I = "/api/v1/nano_banana/text_to_image"


@pytest.fixture(scope="module")
def admin_mgmt(server):
    key = server.db_call(lambda db: admin.mint_key(db, 1, "management"))
    with server.client(key.token) as c:
        yield c


def make_member(server):
    async def go(db):
        async with db.write() as conn:
            uid = (
                await conn.execute(
                    insert(users).values(name="m", email=f"g{time.time_ns()}@x", created_at=0).returning(users.c.id)
                )
            ).scalar_one()
            mid = f"member_g{uid}"
            await conn.execute(
                insert(memberships).values(id=mid, account_id=1, user_id=uid, role="member", created_at=0)
            )
        mgmt = await admin.mint_key(db, 1, "management", membership_id=mid)
        return mid, mgmt.token

    return server.db_call(go)


def test_crud_and_case_insensitive_unique_names(admin_mgmt):
    body = {
        "name": "Tier 1",
        "credit_limit_cents": 100000,
        "credit_limit_reset_interval": "monthly",
        "allowed_models": ["gpt-5.4", "claude-sonnet-4-6"],
        "model_budgets": [
            {
                "match_mode": "exclude",
                "models": ["gpt-5.4", "claude-sonnet-4-6"],
                "credit_limit_cents": 1000,
                "credit_limit_reset_interval": None,
            }
        ],
    }
    resp = admin_mgmt.post("/api/v1/guardrails", json=body)
    assert resp.status_code == 201
    g = resp.json()["guardrail"]
    assert g["id"].startswith("guardrail_") and g["enabled"] is True and g["model_budgets"] == body["model_budgets"]
    assert admin_mgmt.post("/api/v1/guardrails", json={"name": "tier 1"}).status_code == 422
    assert g["id"] in [x["id"] for x in admin_mgmt.get("/api/v1/guardrails").json()["guardrails"]]
    assert admin_mgmt.get(f"/api/v1/guardrails/{g['id']}").json()["guardrail"]["name"] == "Tier 1"
    # PATCH: scalars overwrite when present, arrays replaced whole, null/[] clear, omitted keep
    p = admin_mgmt.patch(
        f"/api/v1/guardrails/{g['id']}", json={"description": "d", "blocked_models": ["x"], "allowed_models": []}
    ).json()["guardrail"]
    assert p["description"] == "d" and p["blocked_models"] == ["x"] and p["allowed_models"] is None
    assert p["credit_limit_cents"] == 100000 and p["model_budgets"] == body["model_budgets"]
    # soft delete frees the name
    assert admin_mgmt.delete(f"/api/v1/guardrails/{g['id']}").status_code == 204
    assert admin_mgmt.get(f"/api/v1/guardrails/{g['id']}").status_code == 404
    assert admin_mgmt.post("/api/v1/guardrails", json={"name": "TIER 1"}).status_code == 201


@pytest.mark.parametrize(
    "body,status",
    [
        ({}, 400),
        ({"name": "a", "credit_limit_cents": 5}, 422),
        ({"name": "b", "credit_limit_reset_interval": "daily"}, 422),
        ({"name": "c", "model_budgets": [{"match_mode": "maybe", "models": ["x"], "credit_limit_cents": 1}]}, 422),
        ({"name": "d", "model_budgets": [{"match_mode": "include", "models": [], "credit_limit_cents": 1}]}, 422),
        ({"name": "e", "allowed_providers": "sandbox"}, 422),
        ({"name": "f", "enabled": "no"}, 422),
    ],
)
def test_invalid_guardrails(admin_mgmt, body, status):
    assert admin_mgmt.post("/api/v1/guardrails", json=body).status_code == status


def test_assignments_block_beats_allow_and_budgets(admin_mgmt, server):
    key = admin_mgmt.post("/api/v1/keys", json={"name": "guarded"}).json()
    g = admin_mgmt.post(
        "/api/v1/guardrails",
        json={
            "name": f"g{time.time_ns()}",
            "allowed_models": ["nano-banana", "nano-banana-pro"],
            "blocked_models": ["nano-banana-pro"],
        },
    ).json()["guardrail"]
    a = admin_mgmt.post("/api/v1/guardrail_assignments", json={"guardrail_id": g["id"], "api_token_id": key["id"]})
    assert a.status_code == 201
    assignment = a.json()["guardrail_assignment"]
    assert assignment["api_token_id"] == key["id"] and assignment["account_user_id"] is None
    assert admin_mgmt.get(f"/api/v1/keys/{key['id']}").json()["guardrail_id"] == g["id"]
    # one assignment per target
    other = admin_mgmt.post("/api/v1/guardrails", json={"name": f"o{time.time_ns()}"}).json()["guardrail"]
    dup = admin_mgmt.post(
        "/api/v1/guardrail_assignments", json={"guardrail_id": other["id"], "api_token_id": key["id"]}
    )
    assert dup.status_code == 422
    with server.client(key["key"]) as c:
        assert c.post(T2I, json={"model": "nano-banana", "prompt": "x"}).status_code == 202
        blocked = c.post(T2I, json={"model": "nano-banana-pro", "prompt": "x"})
        assert blocked.status_code == 403 and "blocked" in blocked.json()["error"]
        not_allowed = c.post(T2I, json={"model": "nano-banana-2", "prompt": "x"})
        assert not_allowed.status_code == 403 and "not allowed" in not_allowed.json()["error"]
        # providers: the sandbox is the provider here
        admin_mgmt.patch(f"/api/v1/guardrails/{g['id']}", json={"blocked_providers": ["sandbox"]})
        assert c.post(T2I, json={"model": "nano-banana", "prompt": "x"}).status_code == 403
        admin_mgmt.patch(
            f"/api/v1/guardrails/{g['id']}", json={"blocked_providers": None, "allowed_providers": ["openai"]}
        )
        assert c.post(T2I, json={"model": "nano-banana", "prompt": "x"}).status_code == 403
        admin_mgmt.patch(f"/api/v1/guardrails/{g['id']}", json={"allowed_providers": ["sandbox"]})
        # total budget: 4 cents already spent; a limit of 8 allows one more, then refuses
        admin_mgmt.patch(
            f"/api/v1/guardrails/{g['id']}", json={"credit_limit_cents": 8, "credit_limit_reset_interval": "daily"}
        )
        assert c.post(T2I, json={"model": "nano-banana", "prompt": "y"}).status_code == 202
        over = c.post(T2I, json={"model": "nano-banana", "prompt": "z"})
        assert (over.status_code, over.json()["error"]) == (403, f"Guardrail {g['name']} credit limit exceeded")
        # a disabled guardrail does not apply
        admin_mgmt.patch(f"/api/v1/guardrails/{g['id']}", json={"enabled": False})
        assert c.post(T2I, json={"model": "nano-banana", "prompt": "z"}).status_code == 202
        # deleting the assignment frees the key
        admin_mgmt.patch(f"/api/v1/guardrails/{g['id']}", json={"enabled": True})
        assert admin_mgmt.delete(f"/api/v1/guardrail_assignments/{assignment['id']}").status_code == 204
        assert c.post(T2I, json={"model": "nano-banana-pro", "prompt": "x"}).status_code == 202


def test_model_budgets_only_count_and_refuse_in_scope(admin_mgmt, server):
    key = admin_mgmt.post("/api/v1/keys", json={"name": "budgeted"}).json()
    g = admin_mgmt.post(
        "/api/v1/guardrails",
        json={
            "name": f"mb{time.time_ns()}",
            "model_budgets": [
                {
                    "match_mode": "include",
                    "models": ["nano-banana"],
                    "credit_limit_cents": 4,
                    "credit_limit_reset_interval": "daily",
                }
            ],
        },
    ).json()["guardrail"]
    admin_mgmt.post("/api/v1/guardrail_assignments", json={"guardrail_id": g["id"], "api_token_id": key["id"]})
    with server.client(key["key"]) as c:
        assert c.post(T2I, json={"model": "nano-banana", "prompt": "a"}).status_code == 202
        assert c.post(T2I, json={"model": "nano-banana", "prompt": "b"}).status_code == 403
        # outside the scope: neither counted nor refused
        for _ in range(2):
            assert c.post(T2I, json={"model": "nano-banana-pro", "prompt": "c"}).status_code == 202
    # exclude mode: everything except the listed models counts
    key2 = admin_mgmt.post("/api/v1/keys", json={"name": "budgeted2"}).json()
    g2 = admin_mgmt.post(
        "/api/v1/guardrails",
        json={
            "name": f"ex{time.time_ns()}",
            "model_budgets": [
                {
                    "match_mode": "exclude",
                    "models": ["nano-banana"],
                    "credit_limit_cents": 12,
                    "credit_limit_reset_interval": None,
                }
            ],
        },
    ).json()["guardrail"]
    admin_mgmt.post("/api/v1/guardrail_assignments", json={"guardrail_id": g2["id"], "api_token_id": key2["id"]})
    with server.client(key2["key"]) as c:
        assert c.post(T2I, json={"model": "nano-banana-pro", "prompt": "a"}).status_code == 202  # 12 cents
        assert c.post(T2I, json={"model": "nano-banana-2", "prompt": "a"}).status_code == 403
        assert c.post(T2I, json={"model": "nano-banana", "prompt": "a"}).status_code == 202


def test_member_level_binding_and_permissions(admin_mgmt, server):
    member_id, member_token = make_member(server)
    with server.client(member_token) as m:
        own = m.post("/api/v1/keys", json={"name": "member key"}).json()
        mine = m.post("/api/v1/guardrails", json={"name": f"mine{time.time_ns()}"}).json()["guardrail"]
        # ordinary keys: only their own API keys, never member-level
        assert (
            m.post(
                "/api/v1/guardrail_assignments", json={"guardrail_id": mine["id"], "account_user_id": member_id}
            ).status_code
            == 403
        )
        admins_key = admin_mgmt.post("/api/v1/keys", json={"name": "admin's"}).json()
        assert m.post(
            "/api/v1/guardrail_assignments", json={"guardrail_id": mine["id"], "api_token_id": admins_key["id"]}
        ).status_code in (403, 404)
        a = m.post("/api/v1/guardrail_assignments", json={"guardrail_id": mine["id"], "api_token_id": own["id"]})
        assert a.status_code == 201
        assert [x["id"] for x in m.get("/api/v1/guardrail_assignments").json()["guardrail_assignments"]] == [
            a.json()["guardrail_assignment"]["id"]
        ]
        assert m.patch(f"/api/v1/guardrails/{mine['id']}", json={"description": "ok"}).status_code == 200
        # the same guardrail bound to another member's key by an admin: now admin-only
        admin_mgmt.post(
            "/api/v1/guardrail_assignments", json={"guardrail_id": mine["id"], "api_token_id": admins_key["id"]}
        )
        assert m.patch(f"/api/v1/guardrails/{mine['id']}", json={"description": "no"}).status_code == 403
        assert m.delete(f"/api/v1/guardrails/{mine['id']}").status_code == 403
        # exactly one target
        assert m.post("/api/v1/guardrail_assignments", json={"guardrail_id": mine["id"]}).status_code == 422
    # admins bind at member level; it applies to the member's keys that have no key-level guardrail
    block = admin_mgmt.post(
        "/api/v1/guardrails", json={"name": f"mem{time.time_ns()}", "blocked_models": ["nano-banana"]}
    ).json()["guardrail"]
    with server.client(member_token) as m:
        plain = m.post("/api/v1/keys", json={"name": "plain"}).json()
    assert (
        admin_mgmt.post(
            "/api/v1/guardrail_assignments", json={"guardrail_id": block["id"], "account_user_id": member_id}
        ).status_code
        == 201
    )
    assert (
        admin_mgmt.post(
            "/api/v1/guardrail_assignments", json={"guardrail_id": block["id"], "account_user_id": member_id}
        ).status_code
        == 422
    )
    with server.client(plain["key"]) as c:
        assert c.post(T2I, json={"model": "nano-banana", "prompt": "x"}).status_code == 403
    # deleting the guardrail drops its assignments
    assert admin_mgmt.delete(f"/api/v1/guardrails/{block['id']}").status_code == 204
    with server.client(plain["key"]) as c:
        assert c.post(T2I, json={"model": "nano-banana", "prompt": "x"}).status_code == 202
    assert all(
        x["guardrail_id"] != block["id"]
        for x in admin_mgmt.get("/api/v1/guardrail_assignments").json()["guardrail_assignments"]
    )
