"""The official anthropic SDK against the Anthropic-compatible surface (sandbox LLM): plain and system
prompts, streaming (helper and raw events), tool use, images, max_tokens and stop sequences, thinking,
models, errors in Anthropic's shape, and exact token billing (also when the upstream fails)."""

import base64
import json
import time

import anthropic
import httpx
import pytest

from runapi.llm.models import llm_models
from runapi.llm.tokens import messages_tokens
from tests.support.fake_openai import gateway_over_fake

TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city", "unit"],
        },
    },
    {
        "name": "get_time",
        "description": "Local time in a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
]
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
    )
).decode()


@pytest.fixture(scope="module")
def client(server):
    return anthropic.Anthropic(api_key=server.key, base_url=server.url, max_retries=0)


def balance(server, key):
    return httpx.get(server.url + "/api/v1/me/balance", headers={"Authorization": f"Bearer {key}"}).json()


def wait_balance(server, key, expected, timeout=5.0):
    """The balance once it equals `expected` (settlement after a hang-up finishes just after the client)."""
    deadline = time.time() + timeout
    while (cents := balance(server, key)["balance_cents"]) != expected and time.time() < deadline:
        time.sleep(0.05)
    return cents


def raw_events(server, body, key=None):
    """(event name, data) pairs exactly as sent, ping included."""
    r = httpx.post(
        server.url + "/v1/messages",
        json={**body, "stream": True},
        timeout=30,
        headers={"x-api-key": key or server.key, "anthropic-version": "2023-06-01"},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    out = []
    for chunk in r.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.split("\n"))
        data = json.loads(lines["data"])
        assert data["type"] == lines["event"]
        out.append((lines["event"], data))
    return out


def test_plain_message(client):
    msg = client.messages.create(
        model="deepseek-v4-flash", max_tokens=200, messages=[{"role": "user", "content": "Hello there"}]
    )
    assert msg.type == "message" and msg.role == "assistant" and msg.model == "deepseek-v4-flash"
    assert msg.id.startswith("msg_") and msg._request_id and msg._request_id.startswith("req_")
    assert msg.content[0].type == "text" and "Hello there" in msg.content[0].text
    assert msg.stop_reason == "end_turn" and msg.stop_sequence is None
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    assert msg.usage.cache_read_input_tokens == 0 and msg.usage.cache_creation_input_tokens == 0
    again = client.messages.create(
        model="deepseek-v4-flash",
        max_tokens=200,
        messages=[{"role": "user", "content": [{"type": "text", "text": "Hello there"}]}],
    )
    assert again.content[0].text == msg.content[0].text  # deterministic; a text block equals a plain string


def test_system_prompt(client):
    user = [{"role": "user", "content": "Who are you?"}]
    plain = client.messages.create(model="claude-sonnet-4-6", max_tokens=200, messages=user)
    as_text = client.messages.create(
        model="claude-sonnet-4-6", max_tokens=200, messages=user, system="You are a pirate."
    )
    as_blocks = client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=200,
        messages=user,
        system=[{"type": "text", "text": "You are a pirate.", "cache_control": {"type": "ephemeral"}}],
    )
    # the sandbox's answer digests the whole conversation, system message included
    assert as_text.content[0].text != plain.content[0].text
    assert as_blocks.content[0].text == as_text.content[0].text
    assert as_text.usage.input_tokens > plain.usage.input_tokens


def test_streaming_helper(client):
    kwargs = dict(
        model="deepseek-v4-flash", max_tokens=200, messages=[{"role": "user", "content": "Count to three please"}]
    )
    with client.messages.stream(**kwargs) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1 and "Count to three please" in "".join(pieces)
    assert final.content[0].text == "".join(pieces) and final.stop_reason == "end_turn"
    whole = client.messages.create(**kwargs)
    assert final.content[0].text == whole.content[0].text
    assert (final.usage.input_tokens, final.usage.output_tokens) == (
        whole.usage.input_tokens,
        whole.usage.output_tokens,
    )


def test_raw_stream_event_order(client, server):
    body = {"model": "claude-sonnet-4-6", "max_tokens": 200, "messages": [{"role": "user", "content": "Hi friend"}]}
    sdk = [e.type for e in client.messages.create(**body, stream=True)]
    assert sdk[0] == "message_start" and sdk[1] == "content_block_start"
    assert sdk[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(sdk[2:-3]) == {"content_block_delta"}
    events = raw_events(server, body)
    assert [name for name, _ in events] == ["message_start", "ping", *sdk[1:]]
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["usage"]["input_tokens"] > 0
    assert events[2][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert all(d["delta"]["type"] == "text_delta" for n, d in events if n == "content_block_delta")
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] > 0


def test_tool_use_round_trip(client, server):
    messages = [{"role": "user", "content": "What is the weather in Paris"}]
    msg = client.messages.create(
        model="claude-sonnet-4-6", max_tokens=500, tools=TOOLS, messages=messages, tool_choice={"type": "auto"}
    )
    assert msg.stop_reason == "tool_use"
    call = msg.content[-1]
    assert call.type == "tool_use" and call.id.startswith("toolu_") and call.name == "get_weather"
    assert call.input == {"city": "Paris", "unit": "c"}
    messages += [
        {"role": "assistant", "content": msg.content},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call.id, "content": [{"type": "text", "text": "18 degrees"}]}
            ],
        },
    ]
    final = client.messages.create(model="claude-sonnet-4-6", max_tokens=500, tools=TOOLS, messages=messages)
    assert final.stop_reason == "end_turn" and "18 degrees" in final.content[0].text
    # a string tool_result and an error flag
    messages[-1] = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "city unknown", "is_error": True}],
    }
    failed = client.messages.create(model="claude-sonnet-4-6", max_tokens=500, tools=TOOLS, messages=messages)
    assert "Error: city unknown" in failed.content[0].text
    # streamed: input_json_delta fragments reassemble to the same input
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=500, tools=TOOLS, messages=messages[:1]
    ) as stream:
        streamed = stream.get_final_message()
    assert streamed.stop_reason == "tool_use" and streamed.content[0].input == call.input
    assert streamed.content[0].id == call.id
    events = raw_events(
        server, {"model": "claude-sonnet-4-6", "max_tokens": 500, "tools": TOOLS, "messages": messages[:1]}
    )
    start = [d for n, d in events if n == "content_block_start"][0]["content_block"]
    assert start == {"type": "tool_use", "id": call.id, "name": "get_weather", "input": {}}
    parts = [d["delta"]["partial_json"] for n, d in events if n == "content_block_delta"]
    assert len(parts) > 1 and json.loads("".join(parts)) == call.input


def test_tool_choice(client):
    ask = [{"role": "user", "content": "Tell me about Rome"}]
    named = client.messages.create(
        model="deepseek-v4-flash",
        max_tokens=300,
        tools=TOOLS,
        messages=ask,
        tool_choice={"type": "tool", "name": "get_time"},
    )
    assert named.content[0].name == "get_time" and named.content[0].input == {"city": "Rome"}
    anyone = client.messages.create(
        model="deepseek-v4-flash",
        max_tokens=300,
        tools=TOOLS,
        messages=ask,
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
    )
    assert anyone.stop_reason == "tool_use"
    none = client.messages.create(
        model="deepseek-v4-flash", max_tokens=300, tools=TOOLS, messages=ask, tool_choice={"type": "none"}
    )
    assert none.stop_reason == "end_turn" and none.content[0].type == "text"
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(
            model="deepseek-v4-flash",
            max_tokens=300,
            tools=TOOLS,
            messages=ask,
            tool_choice={"type": "tool", "name": "no_such_tool"},
        )


def test_image_input(client):
    one = client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=300,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                    {"type": "text", "text": "What is in this picture?"},
                ],
            }
        ],
    )
    assert "I see 1 image." in one.content[0].text and "What is in this picture?" in one.content[0].text
    two = client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=300,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                    {"type": "text", "text": "Compare these"},
                ],
            }
        ],
    )
    assert "I see 2 images." in two.content[0].text
    assert two.usage.input_tokens > one.usage.input_tokens
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=300,
            messages=[
                {"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "file_123"}}]}
            ],
        )


def test_max_tokens_stops(client):
    kwargs = dict(
        model="deepseek-v4-flash", max_tokens=3, messages=[{"role": "user", "content": "write a long story " * 20}]
    )
    msg = client.messages.create(**kwargs)
    assert msg.stop_reason == "max_tokens" and 0 < msg.usage.output_tokens <= 3
    with client.messages.stream(**kwargs) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "max_tokens" and final.content[0].text == msg.content[0].text


def test_stop_sequences(client):
    kwargs = dict(
        model="deepseek-v4-flash",
        max_tokens=300,
        stop_sequences=["never", "to:"],
        messages=[{"role": "user", "content": "Say something"}],
    )
    msg = client.messages.create(**kwargs)
    assert msg.stop_reason == "stop_sequence" and msg.stop_sequence == "to:"
    assert msg.content[0].text.startswith("Sandbox reply (") and "to:" not in msg.content[0].text
    with client.messages.stream(**kwargs) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == msg.content[0].text and final.stop_reason == "stop_sequence" and final.stop_sequence == "to:"
    plain = client.messages.create(**{**kwargs, "stop_sequences": ["zzz"]})
    assert plain.stop_reason == "end_turn" and plain.stop_sequence is None


def test_thinking_and_params_are_accepted(client):
    # SDK 2.x has no temperature/top_p/top_k arguments any more; older clients still send them
    msg = client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=4096,
        extra_body={"temperature": 1},
        thinking={"type": "enabled", "budget_tokens": 2048},
        metadata={"user_id": "u-1"},
        messages=[{"role": "user", "content": "Think"}],
    )
    assert msg.stop_reason == "end_turn"
    with pytest.raises(anthropic.BadRequestError, match="budget_tokens"):
        client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=4096,
            messages=[{"role": "user", "content": "x"}],
            thinking={"type": "enabled", "budget_tokens": 100},
        )
    with pytest.raises(anthropic.BadRequestError, match="max_tokens"):
        client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=2000,
            messages=[{"role": "user", "content": "x"}],
            thinking={"type": "enabled", "budget_tokens": 2048},
        )
    with pytest.raises(anthropic.BadRequestError, match="temperature"):
        client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=20,
            extra_body={"temperature": 1.5},
            messages=[{"role": "user", "content": "x"}],
        )


def test_count_tokens(client):
    messages = [{"role": "user", "content": "How many tokens is this?"}]
    counted = client.messages.count_tokens(model="claude-sonnet-4-6", messages=messages, system="Be brief")
    msg = client.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=messages, system="Be brief")
    assert counted.input_tokens == msg.usage.input_tokens
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="claude-9", messages=messages)


def test_models_list_and_allowed_models(client, server):
    models = list(client.models.list())
    ids = {m.id for m in models}
    assert {"claude-sonnet-4-6", "deepseek-v4-flash", "gpt-5.2", "gemini-2.5-pro"} <= ids
    assert ids == {m for m, spec in llm_models().items() if spec.kind == "chat"}  # the shared chat catalog
    assert all(m.lifecycle == "active" for m in models)
    assert all(m.type == "model" and m.display_name and m.created_at.year >= 2026 for m in models)
    assert client.models.retrieve("claude-sonnet-4-6").id == "claude-sonnet-4-6"
    from runapi.auth import admin

    mgmt = server.db_call(lambda db: admin.mint_key(db, 1, "management"))
    with server.client(mgmt.token) as m:
        limited = m.post("/api/v1/keys", json={"allowed_models": ["claude-sonnet-4-6"]}).json()["key"]
    narrow = anthropic.Anthropic(api_key=limited, base_url=server.url, max_retries=0)
    assert [m.id for m in narrow.models.list()] == ["claude-sonnet-4-6"]
    assert narrow.messages.create(
        model="claude-sonnet-4-6", max_tokens=50, messages=[{"role": "user", "content": "ok"}]
    ).content
    with pytest.raises(anthropic.UnprocessableEntityError) as info:
        narrow.messages.create(model="deepseek-v4-flash", max_tokens=50, messages=[{"role": "user", "content": "x"}])
    assert info.value.body == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "Model deepseek-v4-flash is not allowed for this API key",
        },
    }
    with pytest.raises(anthropic.UnprocessableEntityError):  # streaming requests are refused before streaming
        narrow.messages.create(
            model="deepseek-v4-flash", max_tokens=50, stream=True, messages=[{"role": "user", "content": "x"}]
        )


def test_bearer_auth(server):
    bearer = anthropic.Anthropic(auth_token=server.key, base_url=server.url, max_retries=0)
    assert (
        bearer.messages.create(model="deepseek-v4-flash", max_tokens=50, messages=[{"role": "user", "content": "hi"}])
        .content[0]
        .text
    )


def test_errors_in_anthropic_shape(client, server):
    bad = anthropic.Anthropic(api_key="rk-not-a-key-000000", base_url=server.url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as info:
        bad.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert info.value.body["type"] == "error" and info.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(model="claude-9", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert info.value.body["error"]["type"] == "not_found_error"
    assert info.value.body["error"]["message"].startswith("The model `claude-9` does not exist")
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(
            model="text-embedding-3-small", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=[])
    assert info.value.body["error"] == {
        "type": "invalid_request_error",
        "message": "Missing required parameter: messages",
    }
    with pytest.raises(anthropic.BadRequestError, match="role"):
        client.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "system", "content": "x"}])
    with pytest.raises(anthropic.BadRequestError, match="not supported"):
        client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=10,
            messages=[{"role": "user", "content": "x"}],
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
        )
    headers = {"x-api-key": server.key, "anthropic-version": "2023-06-01"}
    r = httpx.post(
        server.url + "/v1/messages",
        headers=headers,
        json={"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "x"}]},
    )
    assert r.status_code == 400 and r.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "Missing required parameter: max_tokens"},
    }
    r = httpx.post(server.url + "/v1/messages", headers=headers, content=b"{not json")
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


def test_token_billing_is_exact_over_many_requests(server):
    from tests.support.servers import new_account

    _, key = new_account(server, credits=1000)
    c = anthropic.Anthropic(api_key=key, base_url=server.url, max_retries=0)
    micro = 0
    for i in range(24):
        model_id = "claude-sonnet-4-6" if i % 2 else "deepseek-v4-flash"
        kwargs = dict(model=model_id, max_tokens=1000, messages=[{"role": "user", "content": f"question {i}"}])
        if i % 3 == 0:
            with c.messages.stream(**kwargs) as stream:
                usage = stream.get_final_message().usage
        else:
            usage = c.messages.create(**kwargs).usage
        cached = usage.cache_read_input_tokens or 0
        micro += llm_models()[model_id].cost_micro_cents(usage.input_tokens + cached, usage.output_tokens, cached)
    assert micro > 0
    assert balance(server, key)["balance_cents"] == 1000 - micro // 1_000_000  # sub-cent usage carries


@pytest.fixture(scope="module")
def flaky(tmp_path_factory):
    """A gateway whose Anthropic models are served by a fake OpenAI-compatible upstream the tests can break."""
    with gateway_over_fake(
        tmp_path_factory.mktemp("anthropic-flaky"), ["claude-sonnet-4-6", "claude-opus-4-6"]
    ) as pair:
        yield pair


def test_upstream_failures_refund(flaky):
    from tests.support.servers import new_account

    gw, upstream = flaky
    _, key = new_account(gw, credits=500)
    c = anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0)
    ask = dict(model="claude-sonnet-4-6", max_tokens=1000, messages=[{"role": "user", "content": "hello"}])
    try:
        upstream.mode = "500"
        with pytest.raises(anthropic.APIStatusError) as info:  # a real HTTP error, not a 200 stream
            with c.messages.stream(**ask) as stream:
                stream.get_final_message()
        assert info.value.status_code == 502 and info.value.body["error"]["type"] == "api_error"
        with pytest.raises(anthropic.APIStatusError):
            c.messages.create(**ask)
        upstream.mode = "break"  # a first word, then the upstream's stream fails: the in-band error event
        with pytest.raises(anthropic.APIStatusError) as info:
            with c.messages.stream(**ask) as stream:
                list(stream.text_stream)
        assert info.value.body["error"]["type"] == "api_error"
        assert "upstream went away" in info.value.body["error"]["message"]
    finally:
        upstream.mode = "ok"
    # Failures before any output are refunded; the broken stream is billed for the word it delivered.
    sonnet_left = (
        500 - llm_models()["claude-sonnet-4-6"].cost_micro_cents(messages_tokens(ask["messages"]), 2) // 1_000_000
    )
    assert wait_balance(gw, key, sonnet_left) == sonnet_left


def test_client_hang_up_bills_what_was_generated(flaky):
    from tests.support.servers import new_account

    gw, upstream = flaky
    _, key = new_account(gw, credits=500)
    upstream.mode = "stall"  # "partial ", then nothing: the client leaves before the usage arrives
    messages = [{"role": "user", "content": "word " * 4000}]
    body = {"model": "claude-opus-4-6", "max_tokens": 1000, "stream": True, "messages": messages}
    try:
        with httpx.stream(
            "POST",
            gw.url + "/v1/messages",
            json=body,
            timeout=30,
            headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        ) as r:
            for line in r.iter_lines():
                if line.startswith("event: content_block_delta"):
                    break  # hang up mid-answer
    finally:
        upstream.mode = "ok"
    opus = llm_models()["claude-opus-4-6"]
    reserved = opus.cost_cents(messages_tokens(messages), 1000)
    charged = opus.cost_micro_cents(messages_tokens(messages), 2) // 1_000_000  # "partial " is two tokens
    assert 0 < charged < reserved
    assert wait_balance(gw, key, 500 - charged) == 500 - charged


def test_billing_is_exact_when_clients_hang_up_after_message_stop(server):
    """Clients may close the connection as soon as they have message_stop; that cancels the response task
    while it settles, and the settlement must still complete (each lost one would keep the reservation)."""
    from tests.support.servers import new_account

    _, key = new_account(server, credits=1000)
    model = llm_models()["claude-opus-4-6"]
    micro = 0
    with httpx.Client(timeout=30) as hc:
        for i in range(30):
            body = {
                "model": "claude-opus-4-6",
                "max_tokens": 500,
                "stream": True,
                "messages": [{"role": "user", "content": f"question {i}"}],
            }
            with hc.stream("POST", server.url + "/v1/messages", json=body, headers={"x-api-key": key}) as r:
                for line in r.iter_lines():
                    if line.startswith("data:") and '"message_delta"' in line:
                        usage = json.loads(line[5:])["usage"]
                        micro += model.cost_micro_cents(usage["input_tokens"], usage["output_tokens"])
                    if line.startswith("data:") and '"message_stop"' in line:
                        break
    assert wait_balance(server, key, 1000 - micro // 1_000_000) == 1000 - micro // 1_000_000
