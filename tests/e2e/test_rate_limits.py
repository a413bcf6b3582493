"""Rate limits end to end (issue 17 item 1): per-key rpm / tpm / max_parallel_requests set through the Keys
API and guardrails, per-account defaults from settings, 429 with Retry-After in each surface's error shape,
exact counts under concurrency in one process and across two processes sharing Redis, and the refusals in
/metrics. The servers here keep their counters in-process unless a test gives them Redis."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import httpx
import pytest

from runapi.auth import admin
from runapi.ratelimit import RateLimiter, RateLimits
from runapi.ratelimit.policy import Bound
from runapi.ratelimit.slots import RedisSlots
from tests.e2e.test_abuse_roles import assign, guardrail, new_member
from tests.support.fake_openai import FakeOpenAI
from tests.support.metrics import scrape
from tests.support.processes import Cluster
from tests.support.servers import Server, free_port, start_server, wait_for

T2I = "/api/v1/nano_banana/text_to_image"
CHAT = "/v1/chat/completions"
MESSAGE = "Too many requests. Please retry later."
HELLO = {"model": "gpt-5.2", "messages": [{"role": "user", "content": "Hello there, how are you today?"}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("srv"), redis_url=None)  # in-process counters
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def mgmt(server):
    key = server.db_call(lambda db: admin.mint_key(db, 1, "management", name="ops"))
    with server.client(key.token) as c:
        yield c


def new_key(mgmt, **limits) -> dict:
    resp = mgmt.post("/api/v1/keys", json={"name": f"k{time.time_ns()}", **limits})
    assert resp.status_code == 201, resp.text
    return resp.json()


def retry_after(resp: httpx.Response) -> int:
    value = int(resp.headers["Retry-After"])
    assert 1 <= value <= 60
    return value


# ------------------------------------------------------------------------------------------ the Keys API


def test_keys_api_sets_shows_and_clears_the_limits(mgmt):
    created = new_key(mgmt, rpm_limit=600, tpm_limit=100_000, max_parallel_requests=4)
    assert (created["rpm_limit"], created["tpm_limit"], created["max_parallel_requests"]) == (600, 100_000, 4)
    listed = next(k for k in mgmt.get("/api/v1/keys").json() if k["id"] == created["id"])
    assert (listed["rpm_limit"], listed["tpm_limit"], listed["max_parallel_requests"]) == (600, 100_000, 4)
    patched = mgmt.patch(f"/api/v1/keys/{created['id']}", json={"rpm_limit": None, "tpm_limit": 50}).json()
    assert (patched["rpm_limit"], patched["tpm_limit"], patched["max_parallel_requests"]) == (None, 50, 4)
    fetched = mgmt.get(f"/api/v1/keys/{created['id']}").json()
    assert (fetched["rpm_limit"], fetched["tpm_limit"]) == (None, 50)
    plain = new_key(mgmt)
    assert (plain["rpm_limit"], plain["tpm_limit"], plain["max_parallel_requests"]) == (None, None, None)


@pytest.mark.parametrize("value", [0, -5, 2.5, "ten", True, 2**31, {"n": 1}])
def test_keys_api_refuses_bad_limits(mgmt, value):
    for field in ("rpm_limit", "tpm_limit", "max_parallel_requests"):
        resp = mgmt.post("/api/v1/keys", json={"name": "bad", field: value})
        assert resp.status_code == 422, resp.text
        assert field in resp.json()["error"]
    key = new_key(mgmt)
    resp = mgmt.patch(f"/api/v1/keys/{key['id']}", json={"rpm_limit": value})
    assert resp.status_code == 422 and "rpm_limit" in resp.json()["error"]


def test_guardrails_api_refuses_bad_limits(mgmt):
    resp = mgmt.post("/api/v1/guardrails", json={"name": "bad-rate", "max_parallel_requests": 0})
    assert resp.status_code == 422 and "max_parallel_requests" in resp.json()["error"]


# ------------------------------------------------------------------------------------------- refusals


def test_media_create_past_the_rpm_is_429_with_retry_after(server, mgmt):
    key = new_key(mgmt, rpm_limit=2)
    with server.client(key["key"]) as c:
        for _ in range(2):
            assert c.post(T2I, json={"model": "nano-banana", "prompt": "x"}).status_code == 202
        refused = c.post(T2I, json={"model": "nano-banana", "prompt": "x"})
        assert refused.status_code == 429
        retry_after(refused)
        assert refused.json()["error"].startswith(MESSAGE) and "2 requests per minute" in refused.json()["error"]
        assert c.get("/api/v1/me/balance").status_code == 429  # polls and reads count too
    with server.client() as other:  # other keys are not affected
        assert other.post(T2I, json={"model": "nano-banana", "prompt": "x"}).status_code == 202


def test_llm_surfaces_answer_429_in_their_own_shape(server, mgmt):
    key = new_key(mgmt, rpm_limit=1)
    before = scrape(server)
    auth = {"Authorization": f"Bearer {key['key']}"}
    with httpx.Client(base_url=server.url, headers=auth, timeout=30) as c:
        assert c.post(CHAT, json=HELLO).status_code == 200
        openai = c.post(CHAT, json=HELLO)
        assert openai.status_code == 429
        retry_after(openai)
        error = openai.json()["error"]
        assert error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded"
        assert error["message"].startswith(MESSAGE)
        anthropic = c.post(
            "/v1/messages",
            json={"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
            headers={"anthropic-version": "2023-06-01"},
        )
        assert anthropic.status_code == 429 and anthropic.json()["error"]["type"] == "rate_limit_error"
        retry_after(anthropic)
        gemini = c.post(
            "/v1beta/models/gemini-2.5-flash:generateContent", json={"contents": [{"parts": [{"text": "hi"}]}]}
        )
        assert gemini.status_code == 429 and gemini.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        retry_after(gemini)
    after = scrape(server)
    refused = after.value("runapi_rate_limited_total", kind="rpm", scope="key") - before.value(
        "runapi_rate_limited_total", kind="rpm", scope="key"
    )
    assert refused == 3
    assert not any(s.name.startswith("runapi_rate_limited") and "key_id" in s.labels for s in after.samples)


def test_tpm_refuses_after_a_call_that_used_the_tokens(server, mgmt):
    key = new_key(mgmt, tpm_limit=20)
    with server.client(key["key"]) as c:
        first = c.post(CHAT, json=HELLO)
        assert first.status_code == 200
        used = first.json()["usage"]
        assert used["prompt_tokens"] + used["completion_tokens"] >= 20  # the sandbox's exact, billed usage
        refused = c.post(CHAT, json=HELLO)
        assert refused.status_code == 429 and "20 tokens per minute" in refused.json()["error"]["message"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 120
        assert c.get("/api/v1/me/balance").status_code == 200  # tokens only refuse LLM calls
        assert c.post(T2I, json={"model": "nano-banana", "prompt": "x"}).status_code == 202


def test_tpm_under_the_limit_is_served(server, mgmt):
    key = new_key(mgmt, tpm_limit=100_000)
    with server.client(key["key"]) as c:
        for _ in range(3):
            assert c.post(CHAT, json=HELLO).status_code == 200


def test_exactly_the_rpm_under_100_concurrent_requests(server, mgmt):
    key = new_key(mgmt, rpm_limit=37)
    statuses = asyncio.run(burst(server.url, key["key"], 100))
    assert statuses.count(200) == 37 and statuses.count(429) == 63, statuses


async def burst(url: str | list[str], token: str, n: int) -> list[int]:
    """The statuses of `n` concurrent requests of `token`, spread over the servers at `url`; every 429 has to
    carry a Retry-After within the minute."""
    urls = [url] if isinstance(url, str) else url
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60, limits=limits) as c:
        answers = await asyncio.gather(*(c.get(f"{urls[i % len(urls)]}/api/v1/me/balance") for i in range(n)))
    assert all(1 <= int(r.headers["Retry-After"]) <= 60 for r in answers if r.status_code == 429)
    return [r.status_code for r in answers]


def test_failed_requests_give_their_slot_back(server, mgmt):
    key = new_key(mgmt, max_parallel_requests=1)
    with server.client(key["key"]) as c:
        for _ in range(5):  # each refusal (404, 422) ends its request and frees the one slot
            assert c.post(CHAT, json={**HELLO, "model": "no-such-model"}).status_code == 404
            assert c.post(T2I, json={"model": "nano-banana"}).status_code in (400, 422)
        assert c.post(CHAT, json=HELLO).status_code == 200


# ----------------------------------------------------------------------------------- guardrails and roles


def test_a_guardrail_limit_binds_when_stricter_and_members_cannot_lift_it(server, mgmt):
    member_id, member_mgmt_token = new_member(server)
    with server.client(member_mgmt_token) as member:
        own = member.post("/api/v1/keys", json={"name": "mine", "rpm_limit": 100})
        assert own.status_code == 201
        own_key = own.json()
        strict = guardrail(mgmt, rpm_limit=1)
        assert (strict["rpm_limit"], strict["tpm_limit"], strict["max_parallel_requests"]) == (1, None, None)
        assign(mgmt, strict["id"], account_user_id=member_id)  # the admin's, on the member
        with server.client(own_key["key"]) as c:
            assert c.get("/api/v1/me/balance").status_code == 200
            refused = c.get("/api/v1/me/balance")
            assert refused.status_code == 429 and "guardrail" in refused.json()["error"]
        # the member cannot loosen the admin's guardrail, nor escape it with a lax one on the key
        assert member.patch(f"/api/v1/guardrails/{strict['id']}", json={"rpm_limit": None}).status_code in (403, 404)
        lax = member.post("/api/v1/guardrails", json={"name": f"lax{time.time_ns()}", "rpm_limit": 1000})
        assert lax.status_code == 201
        bound = member.post(
            "/api/v1/guardrail_assignments",
            json={"guardrail_id": lax.json()["guardrail"]["id"], "api_token_id": own_key["id"]},
        )
        assert bound.status_code == 201
        with server.client(own_key["key"]) as c:
            assert c.get("/api/v1/me/balance").status_code == 429
        # an admin's limit on the member's key is the admin's to lift
        limited = new_key_for(member, mgmt)
        assert member.patch(f"/api/v1/keys/{limited}", json={"max_parallel_requests": None}).status_code == 403
        assert mgmt.patch(f"/api/v1/keys/{limited}", json={"max_parallel_requests": None}).status_code == 200


def new_key_for(member, mgmt) -> str:
    """A key of the member on which the admin then sets a limit."""
    key_id = member.post("/api/v1/keys", json={"name": "m2"}).json()["id"]
    assert mgmt.patch(f"/api/v1/keys/{key_id}", json={"max_parallel_requests": 3}).status_code == 200
    return key_id


def test_account_defaults_apply_across_all_keys(tmp_path):
    srv = start_server(tmp_path, redis_url=None, account_rpm_limit=3)
    try:
        other = srv.db_call(lambda db: admin.mint_key(db, 1, "api")).token
        with srv.client() as a, srv.client(other) as b:
            assert [a.get("/api/v1/me/balance").status_code for _ in range(2)] == [200, 200]
            assert b.get("/api/v1/me/balance").status_code == 200
            refused = b.get("/api/v1/me/balance")
            assert refused.status_code == 429 and "account" in refused.json()["error"]
            assert a.get("/api/v1/me/balance").status_code == 429
    finally:
        srv.stop()


# ---------------------------------------------------------------------------------- requests in flight


@pytest.mark.parametrize("shared", [False, True], ids=["in-process", "redis"])
def test_max_parallel_counts_open_streams(tmp_path, request, shared):
    redis_url = request.getfixturevalue("services").redis_url if shared else None
    with stalling_gateway(tmp_path, redis_url) as (srv, fake):
        fake.mode = "stall"  # each stream sends its first word, then hangs until the client leaves
        mgmt_token = srv.db_call(lambda db: admin.mint_key(db, 1, "management")).token
        with srv.client(mgmt_token) as mgmt:
            key = new_key(mgmt, max_parallel_requests=2)
        body = {**HELLO, "stream": True}
        with srv.client(key["key"]) as c:
            with c.stream("POST", CHAT, json=body) as one, c.stream("POST", CHAT, json=body) as two:
                assert one.status_code == two.status_code == 200
                # both streams are open (an iterator dropped half read would close its connection)
                reading = one.iter_lines(), two.iter_lines()
                assert all(next(lines).startswith("data: ") for lines in reading)
                third = c.post(CHAT, json=body)
                assert third.status_code == 429 and third.headers["Retry-After"] == "1"
                assert "2 requests in flight" in third.json()["error"]["message"]
                del reading
            fake.mode = "ok"
            # the streams ended when the client left: their slots come back
            wait_for(lambda: c.post(CHAT, json=HELLO).status_code == 200)
            with c.stream("POST", CHAT, json=body) as a, c.stream("POST", CHAT, json=body) as b:
                assert a.status_code == b.status_code == 200
                a.read(), b.read()


@contextlib.contextmanager
def stalling_gateway(tmp_path, redis_url: str | None) -> Iterator[tuple[Server, FakeOpenAI]]:
    fake = FakeOpenAI("upstream")
    srv = start_server(
        tmp_path,
        llm_upstreams=[{"name": "up", "base_url": fake.base_url, "models": ["gpt-5.2"]}],
        redis_url=redis_url,
        redis_channel_prefix=f"t{time.time_ns()}",
    )
    try:
        yield srv, fake
    finally:
        srv.stop()
        fake.stop()


# -------------------------------------------------------------------------------- across processes


def test_exact_across_two_processes_sharing_redis(services, tmp_path):
    cluster = Cluster(services, tmp_path)
    try:
        a, b = cluster.api(), cluster.api()
        for proc in (a, b):
            cluster.start(proc)
        mgmt_token = asyncio.run(mint_management(cluster.database_url))
        with httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {mgmt_token}"}, timeout=30) as mgmt:
            key = new_key(mgmt, rpm_limit=37)
        statuses = asyncio.run(burst([a.url, b.url], key["key"], 100))
        assert statuses.count(200) == 37 and statuses.count(429) == 63, statuses
    finally:
        cluster.stop_all()


async def mint_management(database_url: str) -> str:
    from runapi.store import Database

    db = Database(database_url)
    try:
        return (await admin.mint_key(db, 1, "management")).token
    finally:
        await db.dispose()


def test_redis_slots_are_shared_and_a_dead_holder_frees_them_when_its_lease_runs_out(services):
    async def go() -> None:
        prefix = f"t{time.time_ns()}"
        one, two = RedisSlots(services.redis_url, prefix, 600), RedisSlots(services.redis_url, prefix, 600)
        dying = RedisSlots(services.redis_url, prefix, 0.3)  # a process that will die holding its slot
        try:
            lease = await one.acquire("key:k", 2)
            assert lease is not None and await two.acquire("key:k", 2) is not None
            assert await dying.acquire("key:k", 2) is None  # both slots taken, whichever process asks
            await one.release("key:k", lease)
            assert await dying.acquire("key:k", 2) is not None  # the freed slot, taken and never released
            await dying.aclose()  # dead: nobody renews its lease any more
            assert await one.acquire("key:k", 2) is None
            deadline = time.monotonic() + 30
            while await one.acquire("key:k", 2) is None:  # the dead holder's lease runs out
                assert time.monotonic() < deadline, "the expired lease was never dropped"
                await asyncio.sleep(0.05)
        finally:
            for s in (one, two):
                await s.aclose()

    asyncio.run(go())


def test_a_live_holder_keeps_its_slot_past_the_lease(services):
    async def go() -> None:
        prefix = f"t{time.time_ns()}"
        holder, other = RedisSlots(services.redis_url, prefix, 0.6), RedisSlots(services.redis_url, prefix, 0.6)
        try:
            lease = await holder.acquire("key:k", 1)
            assert lease is not None
            for _ in range(6):  # three leases long: renewed every 0.2 s, the slot stays taken
                await asyncio.sleep(0.3)
                assert await other.acquire("key:k", 1) is None
            await holder.release("key:k", lease)
            assert await other.acquire("key:k", 1) is not None
        finally:
            for s in (holder, other):
                await s.aclose()

    asyncio.run(go())


def test_an_unreachable_redis_lets_requests_through_unlimited(captured_logs):
    logs = captured_logs("text")

    async def go() -> None:
        limiter = RateLimiter(RateLimits(), f"redis://127.0.0.1:{free_port()}/0", f"t{time.time_ns()}", 600)
        found = (
            Bound("rpm", 1, "key:k", "key"),
            Bound("tpm", 1, "key:k", "key"),
            Bound("parallel", 1, "key:k", "key"),
        )
        try:
            for _ in range(3):  # past every limit, yet nothing to count with: admitted
                held = await limiter.admit(found, check_tokens=True)
                await limiter.record_tokens(held, 100)
                await limiter.release(held)
        finally:
            await limiter.aclose()

    asyncio.run(go())
    assert "rate limit counters unavailable" in logs.getvalue()
