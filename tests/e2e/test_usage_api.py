"""The usage log over HTTP: an LLM call (the openai SDK, sandbox LLM) and media tasks show up in
GET /api/v1/usage with their exact tokens and costs, which add up to the balance's change; a failed task
costs 0; parallel calls log one row each; who sees which rows; the summaries; bad query values are 422s."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import openai
from sqlalchemy import select

from runapi.auth import admin
from runapi.store.schema import accounts
from tests.support.servers import new_account, wait_done

T2I = "/api/v1/nano_banana/text_to_image"
EDIT = "/api/v1/nano_banana/edit_image"
CHAT = "/v1/chat/completions"


def books(server, account_id):
    """(balance cents, carried micro-cents) of an account."""

    async def go(db):
        async with db.read() as conn:
            row = (
                await conn.execute(
                    select(accounts.c.balance_cents, accounts.c.carry_micro_cents).where(accounts.c.id == account_id)
                )
            ).one()
        return int(row[0]), int(row[1])

    return server.db_call(go)


def every_row(client, **params):
    """All rows, following the `after` cursor two at a time."""
    rows, after = [], None
    while True:
        page = client.get("/api/v1/usage", params={**params, "limit": 2, **({"after": after} if after else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["object"] == "list" and len(body["data"]) <= 2
        if body["data"]:
            assert (body["first_id"], body["last_id"]) == (body["data"][0]["id"], body["data"][-1]["id"])
        rows += body["data"]
        if not body["has_more"]:
            return rows
        after = body["last_id"]


def test_llm_calls_and_tasks_are_logged_with_what_they_cost(server, recorder):
    account_id, key = new_account(server, credits=10_000)
    before, carry_before = books(server, account_id)
    llm = openai.OpenAI(api_key=key, base_url=server.url + "/v1", max_retries=0)
    rid = f"req-{uuid.uuid4().hex}"
    plain = llm.chat.completions.create(
        model="gpt-5.2", messages=[{"role": "user", "content": "Hello there"}], extra_headers={"X-Request-Id": rid}
    )
    chunks = list(
        llm.chat.completions.create(
            model="gpt-5.2",
            stream=True,
            stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "Count to three please"}],
        )
    )
    streamed = chunks[-1].usage
    host = recorder(lambda m, p, h, b: (404, {}, b"missing"))
    with server.client(key) as c:
        done = wait_done(c, T2I, c.post(T2I, json={"model": "nano-banana", "prompt": "a cat"}).json()["id"])
        failed = wait_done(
            c,
            EDIT,
            c.post(
                EDIT, json={"model": "nano-banana-edit", "prompt": "x", "source_image_urls": [f"{host.url}/x.png"]}
            ).json()["id"],
        )
        assert (done["status"], failed["status"]) == ("completed", "failed")
        rows = every_row(c)
        newest_first = c.get("/api/v1/usage").json()["data"]
        oldest_first = c.get("/api/v1/usage", params={"order": "asc"}).json()["data"]
        tasks_only = c.get("/api/v1/usage", params={"kind": "task"}).json()["data"]
        by_model = c.get("/api/v1/usage/summary", params={"group_by": "model"}).json()
        by_day = c.get("/api/v1/usage/summary").json()
    after, carry_after = books(server, account_id)

    assert len(rows) == 4 and [r["id"] for r in rows] == [r["id"] for r in newest_first]
    assert [r["id"] for r in oldest_first] == [r["id"] for r in reversed(newest_first)]
    calls = {r["request_id"]: r for r in rows if r["kind"] == "llm"}
    tasks = {r["task_id"]: r for r in rows if r["kind"] == "task"}
    assert {r["id"] for r in tasks_only} == {r["id"] for r in tasks.values()}

    call = calls[rid]
    assert (call["model"], call["action"], call["provider"], call["status"]) == (
        "gpt-5.2",
        "chat",
        "sandbox",
        "completed",
    )
    assert (call["input_tokens"], call["output_tokens"]) == (plain.usage.prompt_tokens, plain.usage.completion_tokens)
    assert call["task_id"] is None and call["latency_ms"] >= 0 and call["api_key_id"].startswith("token_")
    [stream_call] = [r for r in calls.values() if r is not call]
    assert (stream_call["input_tokens"], stream_call["output_tokens"]) == (
        streamed.prompt_tokens,
        streamed.completion_tokens,
    )
    assert call["cost_cents"] == call["cost_micro_cents"] / 1_000_000 > 0

    image, bad = tasks[done["id"]], tasks[failed["id"]]
    assert (image["family"], image["action"], image["model"], image["status"]) == (
        "nano_banana",
        "text_to_image",
        "nano-banana",
        "completed",
    )
    assert image["charged_cents"] > 0 and image["cost_micro_cents"] == image["charged_cents"] * 1_000_000
    assert (image["unit"], image["units"], image["provider"]) == ("request", 1.0, "sandbox")
    assert (bad["status"], bad["cost_micro_cents"], bad["charged_cents"], bad["cost_cents"]) == ("failed", 0, 0, 0)

    # what the log says was charged is exactly what left the balance; the exact costs too, but for the carry
    assert sum(r["charged_cents"] for r in rows) == before - after
    assert sum(r["cost_micro_cents"] for r in rows) == (before - after) * 1_000_000 + carry_after - carry_before

    assert by_model["group_by"] == "model"
    models = {g["key"]: g for g in by_model["data"]}
    assert models["gpt-5.2"]["requests"] == 2
    assert models["gpt-5.2"]["input_tokens"] == plain.usage.prompt_tokens + streamed.prompt_tokens
    assert models["nano-banana-edit"]["failed"] == 1
    [today] = by_day["data"]
    assert today["requests"] == 4 and today["charged_cents"] == before - after


def test_parallel_calls_log_exactly_one_row_each(server):
    account_id, key = new_account(server, credits=10_000)
    before, carry_before = books(server, account_id)
    n = 40

    async def fire():
        async with httpx.AsyncClient(
            base_url=server.url,
            headers={"Authorization": f"Bearer {key}"},
            limits=httpx.Limits(max_connections=n),
            timeout=60,
        ) as c:
            return await asyncio.gather(
                *(
                    c.post(
                        CHAT,
                        json={"model": "gpt-5.2", "messages": [{"role": "user", "content": f"say {i} " * (i + 1)}]},
                    )
                    for i in range(n)
                )
            )

    responses = asyncio.run(fire())
    assert [r.status_code for r in responses] == [200] * n
    after, carry_after = books(server, account_id)
    with server.client(key) as c:
        rows = every_row(c, kind="llm")
    assert len(rows) == n and len({r["id"] for r in rows}) == n
    assert sorted(r["input_tokens"] for r in rows) == sorted(r.json()["usage"]["prompt_tokens"] for r in responses)
    assert {r["request_id"] for r in rows} == {r.headers["x-request-id"] for r in responses}
    assert sum(r["charged_cents"] for r in rows) == before - after
    assert sum(r["cost_micro_cents"] for r in rows) == (before - after) * 1_000_000 + carry_after - carry_before


def test_an_api_key_sees_its_own_rows_and_an_admin_the_accounts(server):
    account_id, key = new_account(server, credits=10_000)
    other = server.db_call(lambda db: admin.mint_key(db, account_id, "api"))
    management = server.db_call(lambda db: admin.mint_key(db, account_id, "management"))
    for token in (key, other.token):
        with server.client(token) as c:
            assert (
                c.post(CHAT, json={"model": "gpt-5.2", "messages": [{"role": "user", "content": "hi"}]}).status_code
                == 200
            )
    with server.client(other.token) as c:
        own = c.get("/api/v1/usage").json()["data"]
        narrowed = c.get("/api/v1/usage", params={"api_key_id": "token_someone_else"}).json()["data"]
    with server.client(management.token) as c:
        everyone = c.get("/api/v1/usage").json()["data"]
        per_key = c.get("/api/v1/usage/summary", params={"group_by": "api_key"}).json()["data"]
        one_key = c.get("/api/v1/usage", params={"api_key_id": other.id}).json()["data"]
    assert [r["api_key_id"] for r in own] == [other.id] and narrowed == []
    assert len(everyone) == 2 and {g["key"] for g in per_key} == {other.id, everyone[1]["api_key_id"]}
    assert [r["api_key_id"] for r in one_key] == [other.id]


def test_bad_query_values_are_422_with_the_parameter_named(server):
    with server.client() as c:
        for path, params, words in [
            ("/api/v1/usage", {"limit": "0"}, "limit must be an integer between 1 and 100"),
            ("/api/v1/usage", {"limit": "101"}, "limit must be an integer between 1 and 100"),
            ("/api/v1/usage", {"limit": "²"}, "limit must be an integer between 1 and 100"),
            ("/api/v1/usage", {"order": "sideways"}, "Invalid value for order"),
            ("/api/v1/usage", {"kind": "image"}, "Invalid value for kind"),
            ("/api/v1/usage", {"created_after": "yesterday"}, "created_after must be a unix time in seconds"),
            ("/api/v1/usage", {"created_before": "1e309"}, "created_before must be a unix time in seconds"),
            ("/api/v1/usage", {"after": "usage_nope"}, "Invalid value for after: no record with id"),
            ("/api/v1/usage", {"after": "a", "before": "b"}, "after and before cannot be used together"),
            ("/api/v1/usage", {"model": "\x00"}, "model must be at most 200 printable characters"),
            ("/api/v1/usage/summary", {"group_by": "week"}, "Invalid value for group_by"),
        ]:
            resp = c.get(path, params=params)
            assert resp.status_code == 422 and words in resp.json()["error"], (params, resp.text)
        assert c.get("/api/v1/usage", params={"limit": "", "kind": ""}).status_code == 200  # blank: not given
    assert httpx.get(f"{server.url}/api/v1/usage").status_code == 401
