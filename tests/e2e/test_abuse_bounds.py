"""Out-of-range integers get a clear 4xx, never a 500 (issue 11, item 11): signed-link expiries past Python's
int-parsing limit, cents past the BIGINT columns (with no key left behind by a failed create), catalog integers
without a documented range, and `runapi admin add-credits` with negative or overflowing amounts."""

import asyncio

import pytest

from runapi.auth import admin
from runapi.settings import Settings
from runapi.store import Database
from tests.support.cli import cli

BIGINT_MAX = 2**63 - 1  # what BIGINT columns hold
HUGE = "9" * 5000  # past the 4,300 digits int() parses


@pytest.fixture(scope="module")
def mgmt(server):
    key = server.db_call(lambda db: admin.mint_key(db, 1, "management"))
    with server.client(key.token) as c:
        yield c


def test_signed_links_refuse_huge_expiries_and_odd_signatures(server):
    with server.client() as c:
        for params in ({"expires": HUGE, "signature": "x"}, {"expires": "9999999999", "signature": "é"}):
            got = c.get("/files/generated/x.png", params=params)
            assert (got.status_code, got.json()) == (403, {"error": "Link expired or invalid signature"})
            put = c.put("/uploads/file_x", params=params, content=b"x")
            assert put.status_code == 403 and put.json()["error"]["code"] == "invalid_signature"
        hook = c.post("/webhooks/upstream/some-task", params={"signature": "é"})
        assert (hook.status_code, hook.json()) == (401, {"error": "Invalid webhook signature"})


def test_key_limits_beyond_bigint_are_refused_and_leave_no_key(server, mgmt):
    before = mgmt.get("/api/v1/keys").json()
    for cents in (2**63, 2**64 - 1):
        resp = mgmt.post(
            "/api/v1/keys",
            json={"name": "orphan?", "credit_limit_cents": cents, "credit_limit_reset_interval": "daily"},
        )
        assert resp.status_code == 422 and f"at most {BIGINT_MAX}" in resp.json()["error"]
    assert mgmt.get("/api/v1/keys").json() == before  # no enabled, unlimited key left behind
    ok = mgmt.post("/api/v1/keys", json={"credit_limit_cents": BIGINT_MAX, "credit_limit_reset_interval": "daily"})
    assert ok.status_code == 201 and ok.json()["credit_limit_cents"] == BIGINT_MAX
    key = ok.json()
    assert mgmt.get(f"/api/v1/keys/{key['id']}").json()["credit_limit_cents"] == BIGINT_MAX
    resp = mgmt.patch(f"/api/v1/keys/{key['id']}", json={"credit_limit_cents": 2**63})
    assert resp.status_code == 422 and f"at most {BIGINT_MAX}" in resp.json()["error"]
    assert mgmt.patch(f"/api/v1/keys/{key['id']}", json={"credit_limit_cents": -1}).status_code == 422


def test_guardrail_cents_beyond_bigint_are_refused(mgmt):
    total = mgmt.post(
        "/api/v1/guardrails", json={"name": "huge", "credit_limit_cents": 2**63, "credit_limit_reset_interval": "daily"}
    )
    assert total.status_code == 422 and f"at most {BIGINT_MAX}" in total.json()["error"]
    budget = mgmt.post(
        "/api/v1/guardrails",
        json={
            "name": "huge budget",
            "model_budgets": [{"match_mode": "include", "models": ["nano-banana"], "credit_limit_cents": 2**63}],
        },
    )
    assert budget.status_code == 422
    assert budget.json()["error"] == f"model_budgets[0].credit_limit_cents must be at most {BIGINT_MAX} cents"
    ok = mgmt.post(
        "/api/v1/guardrails",
        json={"name": "max", "credit_limit_cents": BIGINT_MAX, "credit_limit_reset_interval": "daily"},
    )
    assert ok.status_code == 201
    patched = mgmt.patch(f"/api/v1/guardrails/{ok.json()['guardrail']['id']}", json={"credit_limit_cents": 2**63})
    assert patched.status_code == 422


def test_catalog_integers_without_a_range_fit_64_bits(server):
    with server.client() as c:
        for seed in (2**63, 10**30):
            resp = c.post(
                "/api/v1/qwen_2/text_to_image", json={"model": "qwen-2-text-to-image", "prompt": "x", "seed": seed}
            )
            assert resp.status_code == 422 and f"seed must be at most {BIGINT_MAX}" in resp.json()["error"]
        ok = c.post(
            "/api/v1/qwen_2/text_to_image", json={"model": "qwen-2-text-to-image", "prompt": "x", "seed": BIGINT_MAX}
        )
        assert ok.status_code == 202


def test_add_credits_refuses_negative_zero_and_overflowing_amounts(tmp_path):
    db_url = Settings(data_dir=tmp_path).resolved_database_url

    async def with_db(fn):
        db = Database(db_url, "NORMAL")
        try:
            await db.create_schema()
            return await fn(db)
        finally:
            await db.dispose()

    asyncio.run(with_db(lambda db: admin.create_account(db, "A", "a@a.test", credits_cents=500)))
    for account, cents, bad in (("1", "-5", "--cents"), ("1", str(2**63), "--cents"), ("9" * 20, "1", "--account")):
        out = cli(
            "admin", "add-credits", "--account", account, "--cents", cents, env={"RUNAPI_DATA_DIR": str(tmp_path)}
        )
        assert out.returncode != 0 and bad in out.stderr and "Traceback" not in out.stderr, out.stderr

    async def go(db):
        for bad in (0, -1, 2**63):
            with pytest.raises(ValueError, match="cents"):
                await admin.add_credits(db, 1, bad)
        # the sum must fit too (SQLite would otherwise turn the balance into a float)
        with pytest.raises(ValueError, match="would exceed"):
            await admin.add_credits(db, 1, BIGINT_MAX)
        with pytest.raises(ValueError):
            await admin.create_account(db, "B", "b@a.test", credits_cents=-1)
        assert await admin.add_credits(db, 1, BIGINT_MAX - 500) == BIGINT_MAX
        return await admin.list_accounts(db)

    accounts = asyncio.run(with_db(go))
    assert accounts == [{"id": 1, "name": "A", "balance_cents": BIGINT_MAX}]
    assert isinstance(accounts[0]["balance_cents"], int)
