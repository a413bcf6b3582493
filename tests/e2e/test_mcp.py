"""The MCP server end to end with the official `mcp` SDK's client: /mcp over Streamable HTTP with an API key,
and `runapi mcp` over stdio. Tools as the platform's server (@runapi.ai/mcp) names and shapes them."""

import asyncio
import os
import sys
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.support.mcp import PLATFORM_TOOLS, call, mcp_session, tool_shape
from tests.support.processes import Cluster
from tests.support.servers import TEST_KEY, new_account, start_server

IMAGE = {"service": "nano-banana", "action": "text_to_image", "model": "nano-banana"}


def run(coro):
    return asyncio.run(coro)


def test_tools_are_listed_as_the_platforms(server):
    async def go():
        async with mcp_session(server.url, server.key) as s:
            return (await s.list_tools()).tools

    tools = run(go())
    assert [t.name for t in tools] == list(PLATFORM_TOOLS)
    for tool in tools:
        expected = PLATFORM_TOOLS[tool.name]
        assert tool_shape(tool.name, tool.input_schema) == {
            "required": sorted(expected["required"]),
            "properties": expected["properties"],
        }


def test_discovery_and_balance(server):
    async def go():
        async with mcp_session(server.url, server.key) as s:
            return (
                await call(
                    s, "list_models", {"modality": "image", "service": "nano-banana", "action": "text_to_image"}
                ),
                await call(s, "get_model_info", {"model": "nano-banana-pro"}),
                await call(s, "check_balance"),
                await call(s, "get_model_info", {"model": "no-such-model"}),
            )

    (models, err1), (info, err2), (balance, err3), (unknown, err4) = run(go())
    assert not (err1 or err2 or err3 or err4)
    assert {m["model"] for m in models["models"]} == {
        "nano-banana",
        "nano-banana-pro",
        "nano-banana-2",
        "nano-banana-2-lite",
    }
    assert all(m["required_fields"] == ["model", "prompt"] for m in models["models"])
    assert info["service"] == "nano-banana" and info["action"] == "text_to_image"
    resolution = next(f for f in info["fields"] if f["name"] == "output_resolution")
    assert "4k" in resolution["enum"] and resolution["type"] == "string"
    with httpx.Client(base_url=server.url) as public:  # the schedule GET /api/v1/price_schedules lists for it
        listed = public.get("/api/v1/price_schedules", params={"model": "nano-banana-pro"}).json()
    assert info["price"] == {"as_of": listed["as_of"], "price_schedule": listed["price_schedules"][0]}
    with server.client() as c:
        assert balance == c.get("/api/v1/me/balance").json()
    assert unknown["error"] == "Unknown RunAPI model: no-such-model"


def test_create_task_waits_for_a_sandbox_image_and_charges_its_price(server):
    async def go():
        async with mcp_session(server.url, server.key) as s:
            price, _ = await call(s, "check_pricing", IMAGE)
            before, _ = await call(s, "check_balance")
            args = {**IMAGE, "params": {"prompt": "a cat in a space helmet"}, "idempotency_key": "mcp-wait-1"}
            done = await s.call_tool("create_task", {**args, "poll_interval_ms": 100})
            after, _ = await call(s, "check_balance")
            task_id = done.structured_content["task_id"]
            got, _ = await call(s, "get_task", {"service": "nano-banana", "task_id": task_id})
            by_action, _ = await call(
                s, "get_task", {"service": "nano_banana", "action": "text_to_image", "task_id": task_id}
            )
            wrong_action, _ = await call(
                s, "get_task", {"service": "nano-banana", "action": "edit_image", "task_id": task_id}
            )
            replay, _ = await call(s, "create_task", {**args, "wait": False})
            return price, before, done, after, got, by_action, wrong_action, replay

    price, before, done, after, got, by_action, wrong_action, replay = run(go())
    result = done.structured_content
    assert not done.is_error
    assert result["completed"] is True and result["status"] == "completed"
    image_url = result["result"]["images"][0]["url"]
    assert httpx.get(image_url).headers["content-type"] == "image/png"
    schedule = price["price"]["price_schedule"]
    assert schedule["billing_strategy"] == "flat"  # so the unit price is what one image costs
    assert before["balance_cents"] - after["balance_cents"] == schedule["unit_price_cents"] > 0
    assert got == {"task_id": result["task_id"], "status": "completed", "task": result["result"]}
    with server.client() as c:  # the body the HTTP API shows for it
        assert got["task"] == c.get(f"/api/v1/nano_banana/text_to_image/{result['task_id']}").json()
    assert by_action == got
    assert wrong_action == {"error": "Task not found"}
    # the same idempotency key again: the same task, nothing charged
    assert replay["task_id"] == result["task_id"] and replay["created"]["task_replayed"] is True


def test_create_task_without_wait_returns_the_created_body(server):
    async def go():
        async with mcp_session(server.url, server.key) as s:
            args = {**IMAGE, "params": {"prompt": "x"}, "idempotency_key": "mcp-nowait", "wait": False}
            return await s.call_tool("create_task", args)

    created = run(go())
    body = created.structured_content
    assert not created.is_error
    assert body["status"] == "processing" and body["created"]["id"] == body["task_id"]
    with server.client() as c:  # the body a create over HTTP answers 202 with
        direct = c.post("/api/v1/nano_banana/text_to_image", json={"model": "nano-banana", "prompt": "x"}).json()
    # the same shape and facts; the reservation's time is each task's own (they may straddle a second)
    created_body, direct_body = dict(body["created"]), {**direct, "id": body["task_id"]}
    for answer in (created_body, direct_body):
        answer["billing"] = {
            **answer["billing"],
            "reservation": {**answer["billing"]["reservation"], "reserved_at": None},
        }
    assert created_body == direct_body


def test_refusals_are_tool_errors_with_the_documented_message(server):
    async def go():
        async with mcp_session(server.url, server.key) as s:
            missing = await call(s, "create_task", {**IMAGE, "params": {}, "idempotency_key": "mcp-bad-1"})
            bad_ratio = await call(
                s, "create_task", {**IMAGE, "params": {"prompt": "x", "aspect_ratio": "7:7"}, "idempotency_key": "b2"}
            )
            unsupported = await call(s, "create_task", {**IMAGE, "model": "suno-v5", "idempotency_key": "b3"})
            blank_key = await call(s, "create_task", {**IMAGE, "params": {"prompt": "x"}, "idempotency_key": " "})
            no_key = await call(s, "create_task", {**IMAGE, "params": {"prompt": "x"}})
            not_uuid = await call(s, "get_task", {"service": "nano-banana", "task_id": "abc"})
            still_fine = await call(s, "check_balance")  # the session survives all of it
            return missing, bad_ratio, unsupported, blank_key, no_key, not_uuid, still_fine

    missing, bad_ratio, unsupported, blank_key, no_key, not_uuid, still_fine = run(go())
    assert missing == ({"error": "Missing required parameter: prompt"}, True)
    assert bad_ratio[1] and bad_ratio[0]["error"].startswith("Invalid value for aspect_ratio: '7:7'")
    assert unsupported[1] and unsupported[0]["error"] == "Unsupported RunAPI service/action/model combination."
    assert blank_key[1] and blank_key[0]["error"] == "idempotency_key is required before RunAPI can create a task."
    assert no_key == ("Input validation error: Invalid arguments for tool create_task: idempotency_key: Required", True)
    assert not_uuid == ({"error": "taskId must be a canonical UUID"}, False)
    assert still_fine[1] is False and "balance_cents" in still_fine[0]


def test_insufficient_credits_is_the_platforms_message(server):
    _, poor_key = new_account(server, credits=0)

    async def go():
        async with mcp_session(server.url, poor_key) as s:
            return await call(s, "create_task", {**IMAGE, "params": {"prompt": "x"}, "idempotency_key": "poor"})

    assert run(go()) == (
        {"error": "The RunAPI account has insufficient credits. Add credits in the RunAPI dashboard, then retry."},
        True,
    )


def test_unauthenticated_requests_are_refused_in_the_apis_error_shape(server):
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"Accept": "application/json, text/event-stream"}
    for auth in ({}, {"Authorization": "Bearer rk-wrong-key-0000000000"}):
        resp = httpx.post(f"{server.url}/mcp", json=initialize, headers={**headers, **auth})
        assert resp.status_code == 401 and resp.json() == {"error": "Unauthorized"}

    async def go():
        async with mcp_session(server.url, None):
            pass

    with pytest.raises(BaseException):  # the SDK client cannot even initialize
        run(go())


def test_one_accounts_key_cannot_read_another_accounts_task(server):
    _, other_key = new_account(server)

    async def go():
        async with mcp_session(server.url, server.key) as s:
            made = await s.call_tool("create_task", {**IMAGE, "params": {"prompt": "mine"}, "idempotency_key": "own"})
        task_id = made.structured_content["task_id"]
        async with mcp_session(server.url, other_key) as s:
            return task_id, await call(s, "get_task", {"service": "nano-banana", "task_id": task_id})

    task_id, (answer, _) = run(go())
    assert answer == {"error": "Task not found"}
    with server.client() as c:
        assert c.get(f"/api/v1/nano_banana/{task_id}").status_code == 200  # it exists, for its own account


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    srv = start_server(Path(tmp_path_factory.mktemp("slow")), sandbox_delay_seconds=4.0)
    yield srv
    srv.stop()


def test_a_wait_past_its_deadline_hands_over_to_get_task_with_progress_on_the_way(slow_server):
    # The wait (1.5 s) ends well before the task can (4 s) yet leaves room for the first status read and its
    # progress note on a loaded machine: the server runs in this test's process, sharing its GIL and collector.
    progress = []

    async def on_progress(done, total, message):
        progress.append((done, total, message))

    async def go():
        async with mcp_session(slow_server.url, slow_server.key) as s:
            args = {**IMAGE, "params": {"prompt": "slow"}, "idempotency_key": "slow-1"}
            waited = await s.call_tool(
                "create_task", {**args, "timeout_ms": 1500, "poll_interval_ms": 250}, progress_callback=on_progress
            )
            finished = await s.call_tool("create_task", {**args, "timeout_ms": 20_000, "poll_interval_ms": 250})
            return waited, finished

    waited, finished = run(go())
    body = waited.structured_content
    assert not waited.is_error
    assert body["completed"] is False and body["wait_deadline_reached"] is True and body["next_action"] == "get_task"
    assert body["status"] == "processing" and body["task"]["id"] == body["task_id"]
    assert progress and all(
        total == 1500 and f"RunAPI task {body['task_id']}: processing" == m for _, total, m in progress
    )
    # the same key, waiting longer: the same task, now finished
    assert finished.structured_content["task_id"] == body["task_id"]
    assert finished.structured_content["status"] == "completed"


def test_runapi_mcp_bridges_stdio_to_the_servers_tools(server, tmp_path):
    env = {
        **os.environ,
        "RUNAPI_BASE_URL": server.url,
        "RUNAPI_API_KEY": server.key,
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "runapi.cli", "mcp"], env=env)

    async def go():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
            init = await s.initialize()
            tools = (await s.list_tools()).tools
            balance = await call(s, "check_balance")
            made = await s.call_tool(
                "create_task", {**IMAGE, "params": {"prompt": "over stdio"}, "idempotency_key": "stdio-1"}
            )
            return init, tools, balance, made

    with server.client() as c:
        before = c.get("/api/v1/me/balance").json()
    init, tools, balance, made = run(go())
    assert init.server_info.name == "runapi"

    async def over_http():
        async with mcp_session(server.url, server.key) as s:
            return (await s.list_tools()).tools

    assert [t.model_dump() for t in tools] == [t.model_dump() for t in run(over_http())]
    assert balance == (before, False)
    assert made.structured_content["status"] == "completed" and made.structured_content["result"]["images"]


def test_runapi_mcp_refuses_to_start_with_a_bad_key(server, tmp_path):
    from tests.support.cli import cli

    env = {"RUNAPI_BASE_URL": server.url, "RUNAPI_API_KEY": "rk-wrong-key-0000000000", "XDG_CONFIG_HOME": str(tmp_path)}
    out = cli("mcp", env=env)
    assert out.returncode != 0 and "key rejected by server: HTTP 401" in out.stderr
    out = cli("mcp", env={**env, "RUNAPI_API_KEY": ""})
    assert out.returncode != 0 and "no API key" in out.stderr


class RoundRobin(httpx2.AsyncHTTPTransport):
    """Sends each request to the next of several servers: one MCP client spread over several processes, as a
    load balancer without sticky sessions would spread it."""

    def __init__(self, ports):
        super().__init__()
        self.ports, self.sent = ports, 0

    async def handle_async_request(self, request):
        request.url = request.url.copy_with(port=self.ports[self.sent % len(self.ports)])
        self.sent += 1
        return await super().handle_async_request(request)


def test_one_mcp_client_can_be_served_by_any_process(services, tmp_path):
    """Stateless HTTP: no session lives in a process, so consecutive requests of one client may reach different
    API processes (here two, with the task run by a third, a worker) and still make one conversation."""
    cluster = Cluster(services, tmp_path)
    a, b, worker = cluster.api(), cluster.api(), cluster.worker()
    try:
        for proc in (a, b, worker):
            cluster.start(proc)
        transport = RoundRobin([a.port, b.port])

        async def go():
            http = httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {TEST_KEY}"}, transport=transport, timeout=httpx2.Timeout(30)
            )
            async with (
                http,
                streamable_http_client(f"{a.url}/mcp", http_client=http) as (read, write),
                ClientSession(read, write) as s,
            ):
                await s.initialize()
                names = [t.name for t in (await s.list_tools()).tools]
                made = await s.call_tool(
                    "create_task", {**IMAGE, "params": {"prompt": "spread"}, "idempotency_key": "spread-1"}
                )
                got = await call(
                    s, "get_task", {"service": "nano-banana", "task_id": made.structured_content["task_id"]}
                )
                return names, made, got

        names, made, got = run(go())
        assert names == list(PLATFORM_TOOLS) and transport.sent >= 4
        assert made.structured_content["status"] == "completed"
        assert got[0]["task"] == made.structured_content["result"]
    finally:
        cluster.stop_all()


def test_a_synchronous_endpoint_answers_with_its_result(server):
    async def go():
        async with mcp_session(server.url, server.key) as s:
            args = {"service": "suno", "action": "boost_style", "params": {"description": "lo-fi jazz"}}
            return await s.call_tool("create_task", {**args, "idempotency_key": "sync-1"})

    answer = run(go())
    assert not answer.is_error
    with server.client() as c:  # the body the HTTP endpoint answers with
        direct = c.post("/api/v1/suno/boost_style", json={"description": "lo-fi jazz"}).json()
    assert answer.structured_content == {"result": direct}
