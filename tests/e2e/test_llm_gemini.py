"""The official google-genai SDK against the Gemini-compatible surface (sandbox LLM): plain, system instruction,
streaming (SSE and JSON array), function calling, images, MAX_TOKENS, thinking config, models (filtered by
allowed_models, paged), countTokens, embeddings, auth headers, Google error shapes, and exact token billing."""

import json

import httpx
import pytest
from google import genai
from google.genai import errors, types

from runapi.llm.models import llm_models
from runapi.llm.tokens import PER_MESSAGE, text_tokens

FLASH = "gemini-2.5-flash"
PRO = "gemini-3-pro-preview"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))  # bytes that base64 to '+' and '/' (the SDK sends URL-safe '-' '_')

WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Weather for a city",
    parameters=types.Schema(
        type="OBJECT",
        required=["city", "unit"],
        properties={"city": types.Schema(type="STRING"), "unit": types.Schema(type="STRING", enum=["c", "f"])},
    ),
)


def gemini(server, key=None) -> genai.Client:
    # The SDK's default api_version is "v1"; the Gemini surface lives under /v1beta like Google's.
    return genai.Client(
        api_key=key or server.key, http_options=types.HttpOptions(base_url=server.url, api_version="v1beta")
    )


@pytest.fixture(scope="module")
def client(server):
    return gemini(server)


def management_key(server) -> str:
    from runapi.auth import admin

    return server.db_call(lambda db: admin.mint_key(db, 1, "management")).token


def balance(server, key) -> int:
    r = httpx.get(server.url + "/api/v1/me/balance", headers={"Authorization": f"Bearer {key}"})
    return r.json()["balance_cents"]


def test_generate_content_plain_text(client):
    r = client.models.generate_content(model=FLASH, contents="Hello there")
    assert "Hello there" in r.text
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    assert r.candidates[0].content.role == "model"
    assert r.model_version == FLASH and r.response_id
    u = r.usage_metadata
    assert u.prompt_token_count > 0 and u.candidates_token_count > 0
    assert u.total_token_count == u.prompt_token_count + u.candidates_token_count
    again = client.models.generate_content(model=FLASH, contents="Hello there")
    assert again.text == r.text and again.response_id != r.response_id  # deterministic sandbox, fresh ids


def test_system_instruction(client):
    plain = client.models.generate_content(model=FLASH, contents="Tell me a joke")
    system = "You are a pirate. Answer like one."
    r = client.models.generate_content(
        model=FLASH, contents="Tell me a joke", config=types.GenerateContentConfig(system_instruction=system)
    )
    assert "Tell me a joke" in r.text and r.text != plain.text  # the model saw a different conversation
    extra = r.usage_metadata.prompt_token_count - plain.usage_metadata.prompt_token_count
    assert extra == PER_MESSAGE + text_tokens(system)  # the system message is counted (and billed)


def test_streaming(client):
    prompt = "Count to three please"
    whole = client.models.generate_content(model=FLASH, contents=prompt)
    chunks = list(client.models.generate_content_stream(model=FLASH, contents=prompt))
    assert len(chunks) > 3
    assert "".join(c.text or "" for c in chunks) == whole.text
    assert [c.candidates[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    last = chunks[-1]
    assert last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata.candidates_token_count == whole.usage_metadata.candidates_token_count
    assert last.usage_metadata.prompt_token_count == whole.usage_metadata.prompt_token_count
    assert len({c.response_id for c in chunks}) == 1 and chunks[0].model_version == FLASH


def test_streaming_wire_formats(server):
    """?alt=sse gives `data: {...}` events; without it Google answers one JSON array of the same chunks."""
    url = f"{server.url}/v1beta/models/{FLASH}:streamGenerateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "Stream me some words"}]}]}
    headers = {"x-goog-api-key": server.key}
    with httpx.stream("POST", url + "?alt=sse", json=body, headers=headers) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[len("data: ") :]) for line in r.iter_lines() if line.startswith("data: ")]
    array = httpx.post(url, json=body, headers=headers)
    assert array.status_code == 200 and array.headers["content-type"].startswith("application/json")
    chunks = array.json()
    assert isinstance(chunks, list) and len(chunks) == len(events)

    def text(cs):
        return "".join(p.get("text", "") for c in cs for p in c["candidates"][0]["content"]["parts"])

    assert text(events) == text(chunks) and "Stream me some words" in text(events)
    assert events[-1]["candidates"][0]["finishReason"] == "STOP" and "usageMetadata" in events[-1]
    assert chunks[-1]["usageMetadata"] == events[-1]["usageMetadata"]
    assert all("finishReason" not in c["candidates"][0] for c in events[:-1])


def test_function_calling_round_trip(client):
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    question = types.Content(role="user", parts=[types.Part(text="What is the weather in Paris")])
    r = client.models.generate_content(model=FLASH, contents=[question], config=config)
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    call = r.function_calls[0]
    assert call.name == "get_weather" and call.args == {"city": "Paris", "unit": "c"}
    assert r.text is None
    answer = types.Part.from_function_response(name="get_weather", response={"result": "18 degrees"})
    final = client.models.generate_content(
        model=FLASH,
        config=config,
        contents=[question, r.candidates[0].content, types.Content(role="user", parts=[answer])],
    )
    assert "18 degrees" in final.text and not final.function_calls
    # streamed: the call arrives whole in one part, with the finish on the last chunk
    chunks = list(client.models.generate_content_stream(model=FLASH, contents=[question], config=config))
    calls = [fc for c in chunks for fc in (c.function_calls or [])]
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris", "unit": "c"})]
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP


def test_function_calling_modes_and_google_search(client):
    tools = [types.Tool(function_declarations=[WEATHER]), types.Tool(google_search=types.GoogleSearch())]
    none = client.models.generate_content(
        model=FLASH,
        contents="What is the weather in Rome",
        config=types.GenerateContentConfig(
            tools=tools, tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="NONE"))
        ),
    )
    assert not none.function_calls and "weather in Rome" in none.text
    search_only = client.models.generate_content(
        model=FLASH,
        contents="Who won yesterday",
        config=types.GenerateContentConfig(tools=[types.Tool(google_search=types.GoogleSearch())]),
    )
    assert "Who won yesterday" in search_only.text  # accepted, not served by the sandbox


def test_automatic_function_calling_in_chat(client):
    calls = []

    def get_weather(city: str) -> dict:
        """Returns the current weather in a city."""
        calls.append(city)
        return {"weather": "sunny, 21 degrees"}

    chat = client.chats.create(model=FLASH, config=types.GenerateContentConfig(tools=[get_weather]))
    r = chat.send_message("What is the weather in Lisbon")
    assert calls == ["Lisbon"]  # the SDK ran the Python function on the server's functionCall
    assert "sunny, 21 degrees" in r.text
    assert [c.role for c in chat.get_history()] == ["user", "model", "user", "model"]


def test_inline_image_and_file_uri(client):
    r = client.models.generate_content(
        model=FLASH, contents=["What is in this picture?", types.Part.from_bytes(data=PNG, mime_type="image/png")]
    )
    assert "I see 1 image" in r.text
    two = client.models.generate_content(
        model=PRO,
        contents=[
            types.Part.from_bytes(data=PNG, mime_type="image/png"),
            types.Part.from_uri(file_uri="https://example.com/cat.jpg", mime_type="image/jpeg"),
            "Compare these",
        ],
    )
    assert "I see 2 images" in two.text
    assert two.usage_metadata.prompt_token_count > r.usage_metadata.prompt_token_count


def test_max_output_tokens(client):
    config = types.GenerateContentConfig(max_output_tokens=3)
    r = client.models.generate_content(model=FLASH, contents="write a long story " * 20, config=config)
    assert r.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert r.usage_metadata.candidates_token_count <= 3
    chunks = list(
        client.models.generate_content_stream(model=FLASH, contents="write a long story " * 20, config=config)
    )
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert "".join(c.text or "" for c in chunks) == r.text


def test_generation_config_and_thinking(client):
    for level in ("LOW", "HIGH"):
        r = client.models.generate_content(
            model=PRO,
            contents="Think about it",
            config=types.GenerateContentConfig(
                temperature=0.2,
                top_p=0.9,
                stop_sequences=["END"],
                seed=7,
                thinking_config=types.ThinkingConfig(thinking_level=level, include_thoughts=True),
            ),
        )
        assert "Think about it" in r.text
    r = client.models.generate_content(
        model=FLASH,
        contents="Budget",
        config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=0)),
    )
    assert "Budget" in r.text
    r = client.models.generate_content(
        model=FLASH,
        contents="Structured",
        config=types.GenerateContentConfig(
            response_mime_type="application/json",
            response_schema={"type": "OBJECT", "properties": {"name": {"type": "STRING"}}},
        ),
    )
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(
            model=PRO,
            contents="x",
            config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_level="MEDIUM")),
        )
    assert info.value.code == 400 and info.value.status == "INVALID_ARGUMENT"
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(
            model=PRO,
            contents="x",
            config=types.GenerateContentConfig(
                thinking_config=types.ThinkingConfig(thinking_level="LOW", thinking_budget=100)
            ),
        )
    assert info.value.code == 400


def test_count_tokens_matches_usage(client):
    contents = ["How many tokens is this?", types.Part.from_bytes(data=PNG, mime_type="image/png")]
    counted = client.models.count_tokens(model=FLASH, contents=contents)
    r = client.models.generate_content(model=FLASH, contents=contents)
    assert counted.total_tokens == r.usage_metadata.prompt_token_count > 0


def test_count_tokens_of_a_full_request(server):
    """countTokens also takes {generateContentRequest: ...} (system instruction and tools count too)."""
    request = {
        "systemInstruction": {"parts": [{"text": "Answer in French"}]},
        "tools": [{"functionDeclarations": [{"name": "lookup", "parameters": {"type": "OBJECT"}}]}],
        "contents": [{"role": "user", "parts": [{"text": "Bonjour"}]}],
    }
    headers = {"x-goog-api-key": server.key}
    base = f"{server.url}/v1beta/models/{FLASH}"
    counted = httpx.post(
        base + ":countTokens", json={"generateContentRequest": {"model": f"models/{FLASH}", **request}}, headers=headers
    )
    used = httpx.post(base + ":generateContent", json=request, headers=headers)
    assert counted.status_code == 200 and used.status_code == 200
    assert counted.json()["totalTokens"] == used.json()["usageMetadata"]["promptTokenCount"]


def test_models_list_get_and_allowed_models(client, server):
    models = list(client.models.list())
    by_name = {m.name: m for m in models}
    assert {f"models/{FLASH}", f"models/{PRO}", "models/gpt-5.2", "models/text-embedding-3-small"} <= set(by_name)
    flash = by_name[f"models/{FLASH}"]
    assert "generateContent" in flash.supported_actions and "streamGenerateContent" in flash.supported_actions
    assert flash.input_token_limit > 0 and flash.output_token_limit > 0 and flash.display_name
    assert "embedContent" in by_name["models/text-embedding-3-small"].supported_actions
    assert "generateContent" not in by_name["models/text-embedding-3-small"].supported_actions
    paged = list(client.models.list(config={"page_size": 4}))  # the SDK's pager follows nextPageToken
    assert [m.name for m in paged] == [m.name for m in models]
    assert client.models.get(model=PRO).name == f"models/{PRO}"

    with server.client(management_key(server)) as m:
        limited = m.post("/api/v1/keys", json={"allowed_models": [FLASH]}).json()["key"]
    narrow = gemini(server, limited)
    assert [m.name for m in narrow.models.list()] == [f"models/{FLASH}"]
    assert "Hello" in narrow.models.generate_content(model=FLASH, contents="Hello").text
    with pytest.raises(errors.ClientError) as info:
        narrow.models.generate_content(model=PRO, contents="x")
    assert info.value.code == 422 and info.value.status == "INVALID_ARGUMENT"  # the docs: 422 on every surface
    with pytest.raises(errors.ClientError) as info:
        narrow.models.get(model=PRO)
    assert info.value.code == 404


def test_auth_headers(server):
    body = {"contents": [{"parts": [{"text": "Hi"}]}]}
    url = f"{server.url}/v1beta/models/{FLASH}:generateContent"
    for headers, params in (
        ({"x-goog-api-key": server.key}, None),
        ({}, {"key": server.key}),
        ({"Authorization": f"Bearer {server.key}"}, None),
    ):
        r = httpx.post(url, json=body, headers=headers, params=params)
        assert r.status_code == 200, r.text
        assert r.json()["candidates"][0]["content"]["parts"][0]["text"].endswith("Hi")
    models = httpx.get(f"{server.url}/v1beta/models", params={"key": server.key})
    assert models.status_code == 200 and models.json()["models"][0]["name"].startswith("models/")


def test_errors_in_google_shape(server, client):
    bad = gemini(server, "rk-not-a-key-000000")
    with pytest.raises(errors.ClientError) as info:
        bad.models.generate_content(model=FLASH, contents="x")
    assert info.value.code == 401 and info.value.status == "UNAUTHENTICATED"
    raw = httpx.post(
        f"{server.url}/v1beta/models/{FLASH}:generateContent",
        params={"key": "rk-bad-0000000000"},
        json={"contents": [{"parts": [{"text": "x"}]}]},
    )
    assert raw.status_code == 401
    error = raw.json()["error"]
    assert set(error) == {"code", "message", "status"} and (error["code"], error["status"]) == (401, "UNAUTHENTICATED")

    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-9-ultra", contents="x")
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"
    assert info.value.message.startswith("models/gemini-9-ultra is not found")
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="text-embedding-3-small", contents="x")  # not a generateContent model
    assert info.value.code == 404
    with pytest.raises(errors.ClientError) as info:
        client.models.get(model="gemini-9-ultra")
    assert info.value.code == 404

    url = f"{server.url}/v1beta/models/{FLASH}:generateContent"
    headers = {"x-goog-api-key": server.key}
    for body in (
        {"contents": []},
        {"contents": [{"role": "system", "parts": [{"text": "x"}]}]},
        {"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "@@not base64"}}]}]},
        {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutputTokens": 0}},
    ):
        r = httpx.post(url, json=body, headers=headers)
        assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT", (body, r.text)
    r = httpx.post(f"{server.url}/v1beta/models/{FLASH}:fooBar", json={}, headers=headers)
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"


def test_embeddings(client):
    r = client.models.embed_content(model="text-embedding-3-small", contents=["hello", "world", "hello"])
    vecs = [e.values for e in r.embeddings]
    assert len(vecs) == 3 and len(vecs[0]) == 1536 and vecs[0] == vecs[2] and vecs[0] != vecs[1]
    assert abs(sum(x * x for x in vecs[0]) - 1) < 1e-3
    short = client.models.embed_content(
        model="text-embedding-3-large", contents="hi", config=types.EmbedContentConfig(output_dimensionality=256)
    )
    assert len(short.embeddings[0].values) == 256
    with pytest.raises(errors.ClientError) as info:
        client.models.embed_content(
            model="text-embedding-ada-002", contents="hi", config=types.EmbedContentConfig(output_dimensionality=256)
        )
    assert info.value.code == 400
    with pytest.raises(errors.ClientError) as info:
        client.models.embed_content(model=FLASH, contents="hi")
    assert info.value.code == 404


def test_embed_content_single_request(server):
    r = httpx.post(
        f"{server.url}/v1beta/models/text-embedding-3-small:embedContent",
        headers={"x-goog-api-key": server.key},
        json={"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 8},
    )
    assert r.status_code == 200 and len(r.json()["embedding"]["values"]) == 8


def test_token_billing_is_exact_over_many_requests(server):
    from tests.support.servers import new_account

    _, key = new_account(server, credits=1000)
    c = gemini(server, key)
    model = llm_models()[PRO]
    micro = 0
    for i in range(20):
        prompt = f"question {i} " + "context " * (40 * i)  # from a fraction of a cent to several cents
        if i % 3 == 0:
            usage = list(c.models.generate_content_stream(model=PRO, contents=prompt))[-1].usage_metadata
        else:
            usage = c.models.generate_content(model=PRO, contents=prompt).usage_metadata
        output = usage.candidates_token_count + (usage.thoughts_token_count or 0)
        micro += model.cost_micro_cents(usage.prompt_token_count, output, usage.cached_content_token_count or 0)
    assert micro > 3_000_000
    assert balance(server, key) == 1000 - micro // 1_000_000  # sub-cent usage carries, nothing is rounded away


def test_embedding_billing(server):
    from tests.support.servers import new_account

    _, key = new_account(server, credits=100)
    c = gemini(server, key)
    texts = ["word " * 60_000, "another " * 40_000]  # ~155k tokens at 13 cents per 1M: 2 cents and a carry
    r = c.models.embed_content(model="text-embedding-3-large", contents=texts)
    tokens = sum(text_tokens(t) for t in texts)
    assert r.usage_metadata.prompt_token_count == tokens
    micro = llm_models()["text-embedding-3-large"].cost_micro_cents(tokens, 0)
    assert micro > 1_000_000 and balance(server, key) == 100 - micro // 1_000_000


@pytest.fixture(scope="module")
def upstream_gw(tmp_path_factory):
    from tests.support.fake_openai import gateway_over_fake

    with gateway_over_fake(
        tmp_path_factory.mktemp("gemup"), [PRO], model_map={PRO: "gemini-3-pro-preview-001"}
    ) as pair:
        yield pair


def test_through_an_openai_compatible_upstream(upstream_gw):
    """What a Gemini request becomes on the wire to an upstream, and the upstream's usage (with cached input)
    coming back as usageMetadata and the bill."""
    from tests.support.servers import new_account

    srv, up = upstream_gw
    _, key = new_account(srv, credits=1000)
    c = gemini(srv, key)
    config = types.GenerateContentConfig(
        system_instruction="Be brief",
        max_output_tokens=300,
        temperature=0.5,
        stop_sequences=["END"],
        thinking_config=types.ThinkingConfig(thinking_budget=0),
    )
    r = c.models.generate_content(
        model=PRO, contents=["Hi there", types.Part.from_bytes(data=PNG, mime_type="image/png")], config=config
    )
    assert r.text.startswith("upstream says:")
    sent = up.requests[-1]["body"]
    assert sent["model"] == "gemini-3-pro-preview-001" and sent["max_tokens"] == 300 and sent["temperature"] == 0.5
    assert sent["stop"] == ["END"] and sent["reasoning_effort"] == "none"
    assert sent["messages"][0] == {"role": "system", "content": "Be brief"}
    image = sent["messages"][1]["content"][1]
    assert image["type"] == "image_url" and image["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")
    u = r.usage_metadata
    assert (u.prompt_token_count, u.candidates_token_count, u.cached_content_token_count) == (1000, 200, 600)

    # a function call and its response become tool_calls / a tool message with the same id
    tools = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    q = types.Content(role="user", parts=[types.Part(text="Weather in Oslo?")])
    first = c.models.generate_content(model=PRO, contents=[q], config=tools)
    call = first.function_calls[0]
    assert (call.name, call.args, call.id) == ("get_weather", {"city": "Oslo"}, "call_up1")
    assert up.requests[-1]["body"]["tools"][0]["function"]["parameters"]["properties"]["city"] == {"type": "string"}
    c.models.generate_content(
        model=PRO,
        config=tools,
        contents=[
            q,
            first.candidates[0].content,
            types.Content(
                role="user", parts=[types.Part.from_function_response(name="get_weather", response={"temp": 3})]
            ),
        ],
    )
    assert up.requests[-1]["body"]["messages"][-2:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_up1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_up1", "content": '{"temp": 3}'},
    ]

    streamed = list(c.models.generate_content_stream(model=PRO, contents="Stream it"))
    assert "".join(ch.text or "" for ch in streamed).strip() == "upstream says: Stream it"
    assert streamed[-1].usage_metadata.cached_content_token_count == 600
    model = llm_models()[PRO]
    micro = 4 * model.cost_micro_cents(1000, 200, 600)
    assert micro > 1_000_000
    assert balance(srv, key) == 1000 - micro // 1_000_000

    up.mode = "400"
    try:
        with pytest.raises(errors.ClientError) as info:
            c.models.generate_content(model=PRO, contents="bad")
        assert info.value.code == 400 and "safety system" in info.value.message
        with pytest.raises(errors.ClientError):
            list(c.models.generate_content_stream(model=PRO, contents="bad"))
    finally:
        up.mode = "ok"
    assert balance(srv, key) == 1000 - micro // 1_000_000  # refused requests are refunded in full
