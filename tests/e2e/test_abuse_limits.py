"""Limits and balances stay exact under attack (issue 11, items 6-8).

- 100 simultaneous requests against a key limit, a guardrail budget and a model budget: only the request that
  crosses a limit runs ("单次请求即使把用量推过上限也会正常完成;之后的请求会在下次重置前被阻止"), so the spend
  ends at most one request's price past the limit.
- An LLM call whose real usage exceeds its reservation never drives a balance below zero, and what the balance
  cannot cover (images, the output cap) is refused up front.
- A 400 after admission (embeddings `dimensions`) leaves no reservation open.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import func, select

from runapi.auth import admin
from runapi.billing.ledger import spent_since, utc_day_start
from runapi.store.schema import accounts, ledger, open_reservations, spend_counters
from tests.support.fake_openai import gateway_over_fake
from tests.support.servers import new_account, start_server

T2I = "/api/v1/nano_banana/text_to_image"  # nano-banana: 4 cents a task
CHAT = "/v1/chat/completions"
CONCURRENCY = 100
LONG_PROMPT = "word " * 8000  # ~10k tokens: a few cents on gpt-5.5, so a handful of calls cross a limit


@pytest.fixture(scope="module")
def mgmt(server):
    key = server.db_call(lambda db: admin.mint_key(db, 1, "management"))
    with server.client(key.token) as c:
        yield c


def race(server, token: str, path: str, body: dict, n: int = CONCURRENCY) -> list[httpx.Response]:
    """`n` identical requests at once, each on a connection of its own."""

    async def fire():
        async with httpx.AsyncClient(
            base_url=server.url,
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=n),
            timeout=120,
        ) as c:
            return await asyncio.gather(*(c.post(path, json=body) for _ in range(n)))

    return asyncio.run(fire())


def spend(server, **scope) -> tuple[int, int]:
    """(net spend, the largest single reservation) of the bootstrap account in `scope` (spent_since's filters)."""

    async def go(db):
        async with db.read() as conn:
            spent = await spent_since(conn, 1, None, **scope)
            q = select(func.max(-ledger.c.amount_cents)).where(ledger.c.kind == "reserve")
            if "api_key_id" in scope:
                q = q.where(ledger.c.api_key_id == scope["api_key_id"])
            if "guardrail_id" in scope:
                q = q.where(ledger.c.guardrail_id == scope["guardrail_id"])
            return spent, int((await conn.execute(q)).scalar() or 0)

    return server.db_call(go)


def guarded_key(mgmt, body: dict) -> tuple[str, str]:
    """A new key of the bootstrap account under a new guardrail with `body`: (token, guardrail id)."""
    key = mgmt.post("/api/v1/keys", json={"name": "raced"}).json()
    g = mgmt.post("/api/v1/guardrails", json={"name": f"race{time.time_ns()}", **body}).json()["guardrail"]
    assert (
        mgmt.post(
            "/api/v1/guardrail_assignments", json={"guardrail_id": g["id"], "api_token_id": key["id"]}
        ).status_code
        == 201
    )
    return key["key"], g["id"]


def check_race(
    label: str, responses: list[httpx.Response], ok: int, refusal: str, limit: int, spent: int, price: int
) -> None:
    codes = [r.status_code for r in responses]
    accepted = codes.count(ok)
    print(
        f"\n{label}: limit {limit} c, spent {spent} c ({accepted}/{len(codes)} accepted, one request "
        f"<= {price} c), overshoot {max(spent - limit, 0)} c"
    )
    assert set(codes) <= {ok, 403}, sorted(set(codes))
    assert all(refusal in r.text for r in responses if r.status_code == 403)
    assert 403 in codes
    assert spent <= limit + price  # only the crossing request runs past the limit


def test_key_daily_limit_holds_under_100_simultaneous_tasks(server, mgmt):
    key = mgmt.post("/api/v1/keys", json={"credit_limit_cents": 10, "credit_limit_reset_interval": "daily"}).json()
    responses = race(server, key["key"], T2I, {"model": "nano-banana", "prompt": "race"})
    spent, price = spend(server, api_key_id=key["id"])
    check_race("key limit (tasks)", responses, 202, "API key credit limit exceeded", 10, spent, price)
    assert spent == 12  # 4, 8, then 12 crosses the limit: exactly three tasks


def test_key_daily_limit_holds_under_100_simultaneous_llm_calls(server, mgmt):
    key = mgmt.post("/api/v1/keys", json={"credit_limit_cents": 10, "credit_limit_reset_interval": "daily"}).json()
    responses = race(
        server,
        key["key"],
        CHAT,
        {"model": "gpt-5.5", "max_tokens": 20, "messages": [{"role": "user", "content": LONG_PROMPT}]},
    )
    spent, price = spend(server, api_key_id=key["id"])
    check_race("key limit (LLM)", responses, 200, "API key credit limit exceeded", 10, spent, price)


def test_limits_hold_across_two_servers_on_one_database(server, mgmt, tmp_path):
    """Two API servers (own pools, own write locks, own guardrail caches) on one database: the check is in the
    database's transaction, not in a process, so 50 + 50 simultaneous requests still cross a limit once."""
    other = start_server(tmp_path, database_url=server.settings.resolved_database_url)
    try:
        token, gid = guarded_key(mgmt, {"credit_limit_cents": 10, "credit_limit_reset_interval": "daily"})
        body = {"model": "nano-banana", "prompt": "race"}

        async def fire():
            clients = [
                httpx.AsyncClient(
                    base_url=s.url,
                    headers={"Authorization": f"Bearer {token}"},
                    limits=httpx.Limits(max_connections=50),
                    timeout=120,
                )
                for s in (server, other)
            ]
            try:
                return await asyncio.gather(*(clients[i % 2].post(T2I, json=body) for i in range(CONCURRENCY)))
            finally:
                for c in clients:
                    await c.aclose()

        responses = asyncio.run(fire())
        spent, price = spend(server, guardrail_id=gid)
        check_race("guardrail budget, two servers", responses, 202, "credit limit exceeded", 10, spent, price)
        assert spent == 12
    finally:
        other.stop()


def counter(server, scope: str) -> int | None:
    async def go(db):
        async with db.read() as conn:
            return (
                await conn.execute(
                    select(spend_counters.c.spent_cents).where(
                        spend_counters.c.scope == scope, spend_counters.c.window_start == utc_day_start()
                    )
                )
            ).scalar()

    return server.db_call(go)


def test_settled_llm_calls_leave_the_counter_equal_to_the_ledger(server, mgmt):
    """Each call reserves for its output cap and settles to far less: the counter follows every give-back, so it
    always says what the ledger says, and the limit counts real spend, not the reservations."""
    key = mgmt.post("/api/v1/keys", json={"credit_limit_cents": 50, "credit_limit_reset_interval": "daily"}).json()
    responses = race(
        server,
        key["key"],
        CHAT,
        {
            "model": "gpt-5.5",
            "max_tokens": 20_000,  # reserves 40+ c each
            "messages": [{"role": "user", "content": "hi"}],
        },
        n=20,
    )
    assert [r.status_code for r in responses].count(200) >= 1
    spent, _ = spend(server, api_key_id=key["id"])
    assert counter(server, f"key:{key['id']}:daily") == spent < 50
    with server.client(key["key"]) as c:  # the limit is not spent: settled calls gave their reservations back
        assert (
            c.post(
                CHAT,
                json={"model": "gpt-5.5", "max_tokens": 20_000, "messages": [{"role": "user", "content": "again"}]},
            ).status_code
            == 200
        )


def test_failed_calls_give_their_reservations_back_to_the_limit(upstream_gateway):
    gw, fake = upstream_gateway
    mgmt_key = gw.db_call(lambda db: admin.mint_key(db, 1, "management"))
    with gw.client(mgmt_key.token) as m:
        key = m.post("/api/v1/keys", json={"credit_limit_cents": 5, "credit_limit_reset_interval": "daily"}).json()
    body = {"model": "gpt-5.2", "max_tokens": 3000, "messages": [{"role": "user", "content": "hi"}]}  # 4 c
    fake.mode = "500"
    try:
        with gw.client(key["key"]) as c:
            assert [c.post(CHAT, json=body).status_code for _ in range(4)] == [502] * 4
    finally:
        fake.mode = "ok"
    assert counter(gw, f"key:{key['id']}:daily") == 0  # every failure refunded, to the counter too
    with gw.client(key["key"]) as c:
        assert c.post(CHAT, json=body).status_code == 200


def test_guardrail_budget_holds_under_100_simultaneous_tasks(server, mgmt):
    token, gid = guarded_key(mgmt, {"credit_limit_cents": 10, "credit_limit_reset_interval": "daily"})
    responses = race(server, token, T2I, {"model": "nano-banana", "prompt": "race"})
    spent, price = spend(server, guardrail_id=gid)
    check_race("guardrail budget", responses, 202, "credit limit exceeded", 10, spent, price)
    assert spent == 12


def test_model_budget_holds_under_100_simultaneous_llm_calls(server, mgmt):
    token, gid = guarded_key(
        mgmt,
        {
            "model_budgets": [
                {
                    "match_mode": "include",
                    "models": ["gpt-5.5"],
                    "credit_limit_cents": 8,
                    "credit_limit_reset_interval": "daily",
                }
            ]
        },
    )
    responses = race(
        server,
        token,
        CHAT,
        {"model": "gpt-5.5", "max_tokens": 20, "messages": [{"role": "user", "content": LONG_PROMPT}]},
    )
    spent, price = spend(server, guardrail_id=gid, models=["gpt-5.5"])
    check_race("model budget", responses, 200, "model budget exceeded", 8, spent, price)


def test_model_budget_holds_under_100_simultaneous_tasks(server, mgmt):
    token, gid = guarded_key(
        mgmt,
        {
            "model_budgets": [
                {
                    "match_mode": "include",
                    "models": ["nano-banana"],
                    "credit_limit_cents": 8,
                    "credit_limit_reset_interval": "daily",
                }
            ]
        },
    )
    responses = race(server, token, T2I, {"model": "nano-banana", "prompt": "race"})
    spent, price = spend(server, guardrail_id=gid, models=["nano-banana"])
    check_race("model budget (tasks)", responses, 202, "model budget exceeded", 8, spent, price)
    assert spent == 8  # 4, then 8 reaches the budget: two tasks


# ---------------------------------------------------------------------------------- balances (item 7)


def balance_and_ledger(server, account_id: int) -> tuple[int, list[tuple[str, int, str | None]]]:
    async def go(db):
        async with db.read() as conn:
            bal = (await conn.execute(select(accounts.c.balance_cents).where(accounts.c.id == account_id))).scalar_one()
            rows = (
                await conn.execute(
                    select(ledger.c.kind, ledger.c.amount_cents, ledger.c.note)
                    .where(ledger.c.account_id == account_id)
                    .order_by(ledger.c.id)
                )
            ).all()
        return int(bal), [tuple(r) for r in rows]

    return server.db_call(go)


@pytest.fixture(scope="module")
def upstream_gateway(tmp_path_factory):
    with gateway_over_fake(tmp_path_factory.mktemp("abuse-llm"), ["gpt-5.2"]) as pair:
        yield pair


def test_images_the_balance_cannot_cover_are_refused_up_front(upstream_gateway):
    gw, fake = upstream_gateway
    account_id, key = new_account(gw, credits=3)
    images = [{"type": "image_url", "image_url": {"url": f"https://example.com/{i}.png"}} for i in range(60)]
    fake.usage = {"prompt_tokens": 60 * 1500, "completion_tokens": 1, "total_tokens": 60 * 1500 + 1}
    seen = len(fake.requests)
    try:
        with gw.client(key) as c:
            r = c.post(
                CHAT,
                json={
                    "model": "gpt-5.2",
                    "max_tokens": 1,
                    "messages": [{"role": "user", "content": [{"type": "text", "text": "describe"}, *images]}],
                },
            )
    finally:
        fake.usage = None
    balance, _ = balance_and_ledger(gw, account_id)
    print(f"\n60 images, max_tokens 1 on a 3 c account: HTTP {r.status_code}, balance {balance} c")
    assert r.status_code == 402 and r.json()["error"]["message"] == "Insufficient credits"
    assert len(fake.requests) == seen  # refused before the upstream was called
    assert balance == 3


def test_an_unbounded_output_the_balance_cannot_cover_is_refused_up_front(upstream_gateway):
    gw, _ = upstream_gateway
    account_id, key = new_account(gw, credits=10)
    with gw.client(key) as c:  # no max_tokens: the model may answer up to its own output cap (128k tokens)
        r = c.post(CHAT, json={"model": "gpt-5.2", "messages": [{"role": "user", "content": "write a book"}]})
    assert r.status_code == 402
    assert balance_and_ledger(gw, account_id)[0] == 10


def test_usage_beyond_the_reservation_never_drives_the_balance_negative(upstream_gateway):
    gw, fake = upstream_gateway
    account_id, key = new_account(gw, credits=5)
    fake.usage = {"prompt_tokens": 200_000, "completion_tokens": 1, "total_tokens": 200_001}  # ~30 cents
    try:
        with gw.client(key) as c:
            r = c.post(
                CHAT, json={"model": "gpt-5.2", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]}
            )
    finally:
        fake.usage = None
    assert r.status_code == 200  # the work was done: it is charged, up to what the balance holds
    balance, entries = balance_and_ledger(gw, account_id)
    print(f"\nusage of ~30 c against a 5 c account: balance {balance} c")
    assert balance == 0 == sum(amount for _, amount, _ in entries)
    settle_note = next(note for kind, _, note in entries if kind == "settle")
    assert settle_note and "shortfall" in settle_note


# ------------------------------------------------------------------------------- reservations (item 8)


def open_reservation_count(server, account_id: int) -> int:
    async def go(db):
        async with db.read() as conn:
            return len(
                (
                    await conn.execute(
                        select(open_reservations.c.request_id).where(open_reservations.c.account_id == account_id)
                    )
                ).all()
            )

    return server.db_call(go)


@pytest.mark.parametrize(
    "body",
    [
        {"model": "text-embedding-3-small", "input": "x", "dimensions": 999_999},
        {"model": "text-embedding-3-small", "input": "x", "dimensions": "many"},
        {"model": "text-embedding-ada-002", "input": "x", "dimensions": 8},
    ],
)
def test_embeddings_400_leaves_no_reservation_open(server, body):
    account_id, key = new_account(server, credits=100)
    with server.client(key) as c:
        r = c.post("/v1/embeddings", json=body)
    assert r.status_code == 400 and "dimensions" in r.json()["error"]["message"]
    assert open_reservation_count(server, account_id) == 0
    assert balance_and_ledger(server, account_id) == (100, [("credit", 100, "initial credits")])
