"""The official openai SDK against the OpenAI-compatible surface (sandbox LLM): plain, streaming, tools,
multimodal, embeddings, models, errors, and exact token billing."""

import httpx
import openai
import pytest

from runapi.llm.models import llm_models
from tests.support.servers import new_account


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(api_key=server.key, base_url=server.url + "/v1", max_retries=0)


def balance(server):
    with server.client() as c:
        return c.get("/api/v1/me/balance").json()


def test_plain_chat(client):
    r = client.chat.completions.create(model="gpt-5.2", messages=[{"role": "user", "content": "Hello there"}])
    assert r.object == "chat.completion" and r.model == "gpt-5.2"
    assert r.choices[0].finish_reason == "stop" and "Hello there" in r.choices[0].message.content
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    again = client.chat.completions.create(model="gpt-5.2", messages=[{"role": "user", "content": "Hello there"}])
    assert again.choices[0].message.content == r.choices[0].message.content  # deterministic


def test_streaming_chat(client):
    stream = client.chat.completions.create(
        model="deepseek-v4-flash",
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Count to three please"}],
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Count to three please" in text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.completion_tokens > 0 and chunks[-1].choices == []


def test_tool_calling_round_trip(client):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
                    "required": ["city", "unit"],
                },
            },
        }
    ]
    messages = [{"role": "user", "content": "What is the weather in Paris"}]
    r = client.chat.completions.create(model="gpt-5.2", messages=messages, tools=tools, tool_choice="auto")
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    import json

    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "c"}
    messages += [
        r.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "18 degrees"},
    ]
    final = client.chat.completions.create(model="gpt-5.2", messages=messages, tools=tools)
    assert "18 degrees" in final.choices[0].message.content
    # streamed tool calls reassemble to the same call
    chunks = list(client.chat.completions.create(model="gpt-5.2", messages=messages[:1], tools=tools, stream=True))
    args = "".join(
        tc.function.arguments or "" for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])
    )
    assert json.loads(args) == {"city": "Paris", "unit": "c"}


def test_multimodal_content(client):
    r = client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                ],
            }
        ],
    )
    assert "I see 1 image" in r.choices[0].message.content


def test_max_tokens_truncates(client):
    r = client.chat.completions.create(
        model="gpt-5.2", max_tokens=3, messages=[{"role": "user", "content": "write a long story " * 20}]
    )
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens <= 3


def test_models_list_and_allowed_models(client, server):
    ids = {m.id for m in client.models.list()}
    assert {"gpt-5.2", "gemini-2.5-pro", "deepseek-v4-pro", "text-embedding-3-small"} <= ids
    from runapi.auth import admin

    mgmt = server.db_call(lambda db: admin.mint_key(db, 1, "management"))
    with server.client(mgmt.token) as m:
        limited = m.post("/api/v1/keys", json={"allowed_models": ["gpt-5.2"]}).json()["key"]
    narrow = openai.OpenAI(api_key=limited, base_url=server.url + "/v1", max_retries=0)
    assert [m.id for m in narrow.models.list()] == ["gpt-5.2"]
    with pytest.raises(openai.UnprocessableEntityError):
        narrow.chat.completions.create(model="gpt-5.4", messages=[{"role": "user", "content": "x"}])


def test_embeddings(client):
    r = client.embeddings.create(model="text-embedding-3-small", input=["hello", "world", "hello"])
    vecs = [d.embedding for d in r.data]
    assert len(vecs[0]) == 1536 and vecs[0] == vecs[2] and vecs[0] != vecs[1]
    assert abs(sum(x * x for x in vecs[0]) - 1) < 1e-3
    short = client.embeddings.create(model="text-embedding-3-large", input="hi", dimensions=256)
    assert len(short.data[0].embedding) == 256  # the SDK decodes its default base64 encoding
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="text-embedding-ada-002", input="hi", dimensions=256)


def test_errors_in_openai_shape(server):
    bad = openai.OpenAI(api_key="rk-not-a-key-000000", base_url=server.url + "/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="gpt-5.2", messages=[{"role": "user", "content": "x"}])
    good = openai.OpenAI(api_key=server.key, base_url=server.url + "/v1", max_retries=0)
    with pytest.raises(openai.NotFoundError) as info:
        good.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    assert info.value.body["message"].startswith("The model `gpt-9` does not exist")
    with pytest.raises(openai.BadRequestError):
        good.chat.completions.create(model="gpt-5.2", messages=[])


def test_token_billing_is_exact_over_many_requests(server):
    from tests.support.servers import new_account

    _, key = new_account(server, credits=1000)
    c = openai.OpenAI(api_key=key, base_url=server.url + "/v1", max_retries=0)
    model = llm_models()["gpt-5.5"]
    micro = 0
    for i in range(25):
        r = c.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": f"question {i}"}])
        micro += model.cost_micro_cents(r.usage.prompt_tokens, r.usage.completion_tokens)
    import httpx

    bal = httpx.get(server.url + "/api/v1/me/balance", headers={"Authorization": f"Bearer {key}"}).json()
    assert bal["balance_cents"] == 1000 - micro // 1_000_000  # sub-cent usage carries, nothing is rounded away


@pytest.mark.parametrize(
    "body, message",
    [
        (
            {"model": "gemini-2.5-flash", "reasoning_effort": "high"},
            "gemini-2.5-flash does not support reasoning_effort",
        ),
        ({"model": "gemini-3-flash-preview", "reasoning_effort": "medium"}, 'reasoning_effort must be "low" or "high"'),
        ({"model": "gpt-5.2", "reasoning_effort": "minimal"}, 'reasoning_effort must be "low" or "high"'),
        (
            {"model": "gemini-3-pro-preview", "response_format": {"type": "json_object"}},
            "response_format.type must be json_schema",
        ),
        (
            {
                "model": "gemini-3-pro-preview",
                "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
                "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
            },
            "response_format cannot be combined with custom function calling (only with the Google Search tool)",
        ),
        (
            {"model": "gemini-3-pro-preview", "extra_body": {"include_thoughts": "yes"}},
            "include_thoughts must be a boolean",
        ),
    ],
)
def test_documented_per_model_rules_are_400s_before_any_charge(server, body, message):
    _, key = new_account(server, credits=100)
    c = openai.OpenAI(api_key=key, base_url=server.url + "/v1", max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        c.chat.completions.create(messages=[{"role": "user", "content": "hi"}], **body)
    assert info.value.body["message"] == message
    assert (
        httpx.get(server.url + "/api/v1/me/balance", headers={"Authorization": f"Bearer {key}"}).json()["balance_cents"]
        == 100
    )


def test_gemini_thoughts_and_search_tool_with_structured_output_on_chat_completions(server):
    c = openai.OpenAI(api_key=server.key, base_url=server.url + "/v1", max_retries=0)
    r = c.chat.completions.create(
        model="gemini-3.1-pro-preview",
        messages=[{"role": "user", "content": "Summarise the news."}],
        extra_body={"include_thoughts": True},
        reasoning_effort="high",
    )
    assert r.choices[0].message.content and getattr(r.choices[0].message, "reasoning_content", None)
    ok = c.chat.completions.create(
        model="gemini-3-pro-preview",
        messages=[{"role": "user", "content": "x"}],
        tools=[{"type": "function", "function": {"name": "googleSearch"}}],
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
    )
    assert ok.choices[0].finish_reason in ("stop", "tool_calls")
