"""The official openai SDK against the Responses API surface (/v1/responses, sandbox LLM): string and
multimodal input, instructions, streaming event sequences, function calling, previous_response_id, truncation,
tool validation, allowed models, upstream failures and exact token billing."""

import json

import httpx
import openai
import pytest
from openai.types.responses import Response

from runapi.llm.models import llm_models
from runapi.llm.tokens import messages_tokens
from tests.support.fake_openai import gateway_over_fake
from tests.support.servers import new_account, start_server

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city", "unit"],
    },
}
TEXT_EVENTS = [
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
]


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(api_key=server.key, base_url=server.url + "/v1", max_retries=0)


def balance(server, key):
    return httpx.get(server.url + "/api/v1/me/balance", headers={"Authorization": f"Bearer {key}"}).json()


def squash(types):
    """Collapse runs of the same delta event, so sequences compare independent of the chunking."""
    out = []
    for t in types:
        if not (out and out[-1] == t and t.endswith(".delta")):
            out.append(t)
    return out


def test_plain_string_input(client, server):
    r = client.responses.create(model="gpt-5.4", input="Hello there")
    assert r.object == "response" and r.id.startswith("resp_") and r.model == "gpt-5.4"
    assert r.status == "completed" and r.error is None and r.incomplete_details is None
    assert "Hello there" in r.output_text
    [msg] = r.output
    assert msg.type == "message" and msg.id.startswith("msg_") and msg.role == "assistant"
    assert msg.status == "completed" and msg.content[0].type == "output_text" and msg.content[0].annotations == []
    assert r.usage.input_tokens == messages_tokens([{"role": "user", "content": "Hello there"}])
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens and r.usage.output_tokens > 0
    assert r.usage.input_tokens_details.cached_tokens == 0 and r.usage.output_tokens_details.reasoning_tokens == 0
    again = client.responses.create(model="gpt-5.4", input="Hello there")
    assert again.output_text == r.output_text and again.id != r.id  # deterministic text, fresh ids
    # the raw JSON passes the SDK's model with full validation (every required field present, right types)
    raw = httpx.post(
        server.url + "/v1/responses",
        headers={"x-api-key": server.key},
        json={
            "model": "gpt-5.2-codex",
            "input": "hi",
            "reasoning": {"effort": "medium"},
            "metadata": {"trace": "t1"},
            "temperature": 0.5,
        },
    ).json()
    parsed = Response.model_validate(raw)
    assert parsed.reasoning.effort == "medium" and parsed.metadata == {"trace": "t1"} and parsed.temperature == 0.5
    assert parsed.tools == [] and parsed.tool_choice == "auto" and parsed.parallel_tool_calls is True
    assert raw["output_text"] == parsed.output_text


def test_message_array_with_input_image_and_file(client):
    r = client.responses.create(
        model="gpt-5.4",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is in this picture?"},
                    {"type": "input_image", "image_url": "https://example.com/cat.png"},
                ],
            }
        ],
    )
    assert "What is in this picture?" in r.output_text and "I see 1 image." in r.output_text
    two = client.responses.create(
        model="gpt-5.4",
        input=[
            {"role": "user", "content": "earlier question"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "earlier answer"}]},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "compare"},
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
                    {"type": "input_image", "image_url": "https://example.com/b.png", "detail": "low"},
                    {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
                ],
            },
        ],
    )
    assert "I see 2 images." in two.output_text
    base = client.responses.create(model="gpt-5.4", input=[{"role": "user", "content": "compare"}])
    assert two.usage.input_tokens > base.usage.input_tokens + 3 * 85  # images and the file are counted


def test_instructions(client):
    plain = client.responses.create(model="gpt-5.4", input="Explain relativity.")
    r = client.responses.create(model="gpt-5.4", input="Explain relativity.", instructions="Answer in one line.")
    assert r.instructions == "Answer in one line." and plain.instructions is None
    assert r.usage.input_tokens == messages_tokens(
        [{"role": "system", "content": "Answer in one line."}, {"role": "user", "content": "Explain relativity."}]
    )
    assert r.usage.input_tokens > plain.usage.input_tokens
    # developer messages in input are system turns too
    dev = client.responses.create(
        model="gpt-5.4",
        input=[
            {"role": "developer", "content": "Answer in one line."},
            {"role": "user", "content": "Explain relativity."},
        ],
    )
    assert dev.usage.input_tokens == r.usage.input_tokens


def test_streaming_event_sequence(client):
    with client.responses.stream(model="gpt-5.4", input="Count to three please") as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [e.type for e in events]
    assert squash(types) == ["response.created", "response.in_progress", *TEXT_EVENTS, "response.completed"]
    assert types.count("response.output_text.delta") > 3  # incremental, word by word
    assert [e.sequence_number for e in events] == list(range(len(events)))
    created = events[0].response
    assert created.status == "in_progress" and created.output == [] and created.usage is None
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    done = next(e for e in events if e.type == "response.output_text.done")
    assert "Count to three please" in text and done.text == text
    assert final.status == "completed" and final.output_text == text and final.id == created.id
    assert final.usage.output_tokens > 0
    assert final.usage.total_tokens == final.usage.input_tokens + final.usage.output_tokens
    item_ids = {getattr(e, "item_id", None) for e in events} - {None}
    assert item_ids == {final.output[0].id}
    # the same answer as without streaming
    assert client.responses.create(model="gpt-5.4", input="Count to three please").output_text == text


def test_streaming_raw_sse_frames(server):
    with httpx.stream(
        "POST",
        server.url + "/v1/responses",
        headers={"Authorization": f"Bearer {server.key}"},
        json={"model": "gpt-5.2-codex", "input": "raw frames", "stream": True},
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        body = r.read().decode()
    frames = [f for f in body.split("\n\n") if f.strip()]
    for i, f in enumerate(frames):
        event_line, data_line = f.split("\n")
        data = json.loads(data_line.removeprefix("data: "))
        assert event_line == "event: " + data["type"] and data["sequence_number"] == i
    last = json.loads(frames[-1].split("\n")[1][6:])
    assert last["type"] == "response.completed" and last["response"]["usage"]["output_tokens"] > 0
    Response.model_validate(last["response"])


def test_function_calling_round_trip(client):
    question = {"role": "user", "content": "What is the weather in Paris"}
    r = client.responses.create(model="gpt-5.4", input=[question], tools=[WEATHER], tool_choice="auto")
    [call] = r.output
    assert call.type == "function_call" and call.id.startswith("fc_") and call.status == "completed"
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris", "unit": "c"}
    assert r.output_text == "" and r.tools[0].name == "get_weather" and r.tools[0].type == "function"
    follow = [
        question,
        *[item.model_dump(exclude_none=True) for item in r.output],
        {"type": "function_call_output", "call_id": call.call_id, "output": "18 degrees and sunny"},
    ]
    final = client.responses.create(model="gpt-5.4", input=follow, tools=[WEATHER])
    assert final.output[0].type == "message" and "18 degrees and sunny" in final.output_text
    # the nested shape from the RunAPI docs, and a named tool_choice, behave the same
    nested = {"type": "function", "function": {k: v for k, v in WEATHER.items() if k != "type"}}
    r2 = client.responses.create(
        model="gpt-5.2-codex", input=[question], tools=[nested], tool_choice={"type": "function", "name": "get_weather"}
    )
    assert r2.output[0].type == "function_call" and r2.output[0].arguments == call.arguments
    assert r2.tools[0].name == "get_weather"  # echoed in Responses shape
    # tool_choice none answers in text
    assert (
        client.responses.create(model="gpt-5.4", input=[question], tools=[WEATHER], tool_choice="none").output[0].type
        == "message"
    )


def test_streaming_function_call(client):
    with client.responses.stream(model="gpt-5.4", input="What is the weather in Lyon", tools=[WEATHER]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert squash([e.type for e in events]) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added = events[2].item
    assert added.type == "function_call" and added.status == "in_progress" and added.arguments == ""
    args = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert json.loads(args) == {"city": "Lyon", "unit": "c"} and done.arguments == args
    [call] = final.output
    assert call.type == "function_call" and call.arguments == args and call.id == added.id
    assert call.call_id == added.call_id and call.call_id.startswith("call_")
    # answer the call by previous_response_id: only the output goes in
    answer = client.responses.create(
        model="gpt-5.4",
        previous_response_id=final.id,
        tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "22 degrees"}],
    )
    assert "The tool returned: 22 degrees" in answer.output_text


def test_previous_response_id_continuation(client, server):
    first = client.responses.create(model="gpt-5.4", input="My name is Ada.", instructions="Be brief.")
    second = client.responses.create(model="gpt-5.4", input="What is my name?", previous_response_id=first.id)
    assert second.previous_response_id == first.id and second.instructions is None
    # exactly the earlier turn (without its instructions, which are not carried over) plus the new one
    assert second.usage.input_tokens == messages_tokens(
        [
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": first.output_text},
            {"role": "user", "content": "What is my name?"},
        ]
    )
    alone = client.responses.create(model="gpt-5.4", input="What is my name?")
    assert alone.output_text != second.output_text  # the sandbox's answer depends on the whole conversation
    third = client.responses.create(model="gpt-5.4", input="And again?", previous_response_id=second.id)
    assert third.usage.input_tokens == second.usage.input_tokens + messages_tokens(
        [{"role": "assistant", "content": second.output_text}, {"role": "user", "content": "And again?"}]
    )
    # streamed responses are stored too
    with client.responses.stream(model="gpt-5.4", input="streamed turn", previous_response_id=third.id) as s:
        streamed = s.get_final_response()
    after = client.responses.create(model="gpt-5.4", input="next", previous_response_id=streamed.id)
    assert after.status == "completed" and after.usage.input_tokens > streamed.usage.input_tokens
    # retrieve and delete
    assert client.responses.retrieve(first.id).output_text == first.output_text
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.create(model="gpt-5.4", input="x", previous_response_id="resp_doesnotexist")
    assert info.value.body["code"] == "previous_response_not_found"
    # another account cannot see it
    _, other_key = new_account(server, credits=100)
    other = openai.OpenAI(api_key=other_key, base_url=server.url + "/v1", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.responses.create(model="gpt-5.4", input="x", previous_response_id=first.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(first.id)
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)
    # store: false keeps nothing
    unstored = client.responses.create(model="gpt-5.4", input="forget me", store=False)
    assert unstored.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-5.4", input="x", previous_response_id=unstored.id)


def test_max_output_tokens_incomplete(client):
    r = client.responses.create(model="gpt-5.4", input="write a long story " * 20, max_output_tokens=5)
    assert r.status == "incomplete" and r.incomplete_details.reason == "max_output_tokens"
    assert r.max_output_tokens == 5 and r.usage.output_tokens <= 5 and r.output[0].status == "incomplete"
    # streamed: the stream ends with response.incomplete, as OpenAI's does
    events = list(
        client.responses.create(model="gpt-5.4", input="write a long story " * 20, max_output_tokens=5, stream=True)
    )
    assert events[-1].type == "response.incomplete" and events[-1].response.status == "incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"
    assert events[-1].response.output_text == r.output_text
    item_done = next(e for e in events if e.type == "response.output_item.done")
    assert item_done.item.status == "incomplete"


def test_tools_validation(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.4", input="x", tools=[{"type": "web_search"}, WEATHER])
    assert "web_search" in info.value.body["message"]
    web = client.responses.create(model="gpt-5.4", input="news today", tools=[{"type": "web_search"}])
    assert web.status == "completed" and web.output[0].type == "message" and web.tools[0].type == "web_search"
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-5.4", input="x", tools=[{"type": "code_interpreter", "container": {}}])
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-5.4", input="x", tools=[{"type": "function"}])  # no name


def test_request_validation(client):
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-5.4", input=[])
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-5.4", input=[{"role": "robot", "content": "x"}])
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-5.4", input="x", max_output_tokens=0)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-5.4", input="x", reasoning={"effort": "enormous"})
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-5.4", input="x", background=True)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-9", input="x")
    bad = openai.OpenAI(api_key="rk-not-a-key-000000", base_url=client.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.responses.create(model="gpt-5.4", input="x")


def test_allowed_models_422(server):
    from runapi.auth import admin

    mgmt = server.db_call(lambda db: admin.mint_key(db, 1, "management"))
    with server.client(mgmt.token) as m:
        limited = m.post("/api/v1/keys", json={"allowed_models": ["gpt-5.4"]}).json()["key"]
    narrow = openai.OpenAI(api_key=limited, base_url=server.url + "/v1", max_retries=0)
    assert narrow.responses.create(model="gpt-5.4", input="ok").status == "completed"
    with pytest.raises(openai.UnprocessableEntityError) as info:
        narrow.responses.create(model="gpt-5.2-codex", input="x")
    assert info.value.body["message"] == "Model gpt-5.2-codex is not allowed for this API key"
    with pytest.raises(openai.UnprocessableEntityError):
        with narrow.responses.stream(model="gpt-5.2-codex", input="x") as s:
            s.get_final_response()


def test_upstream_failures_are_refunded_or_billed_for_what_was_sent(upstream_gw):
    gw, upstream = upstream_gw
    try:
        _, key = new_account(gw, credits=500)
        c = openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)
        upstream.mode = "500"
        with pytest.raises(openai.APIStatusError) as info:
            c.responses.create(model="gpt-5.4", input="x")
        assert info.value.status_code == 502
        with pytest.raises(openai.APIStatusError) as info:  # before any output: a plain error response
            with c.responses.stream(model="gpt-5.4", input="x") as s:
                s.get_final_response()
        assert info.value.status_code == 502 and info.value.body["message"].startswith("Upstream error:")
        assert balance(gw, key)["balance_cents"] == 500  # reservations went back in full
        upstream.mode = "break"  # "partial ", then the upstream's stream fails
        events = list(c.responses.create(model="gpt-5.4", input="x", stream=True))
        assert [e.type for e in events] == [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.failed",
        ]
        failed = events[-1].response
        assert failed.status == "failed" and failed.error.code == "server_error"
        assert failed.error.message == "Upstream error: up: upstream went away"
        assert failed.output[0].type == "message"  # what had arrived is reported
    finally:
        upstream.mode = "ok"


def test_token_billing_is_exact_over_many_requests(server):
    _, key = new_account(server, credits=1000)
    c = openai.OpenAI(api_key=key, base_url=server.url + "/v1", max_retries=0)
    micro = 0
    for i in range(24):
        model = ["gpt-5.4", "gpt-5.2-codex"][i % 2]
        if i % 3 == 0:
            with c.responses.stream(model=model, input=f"question {i}") as s:
                r = s.get_final_response()
        else:
            r = c.responses.create(model=model, input=f"question {i}", tools=[WEATHER] if i % 4 == 1 else None)
        micro += llm_models()[model].cost_micro_cents(
            r.usage.input_tokens, r.usage.output_tokens, r.usage.input_tokens_details.cached_tokens
        )
    assert balance(server, key)["balance_cents"] == 1000 - micro // 1_000_000  # sub-cent usage carries


# ------------------------------------------------------------ pure translation and the store


def test_stored_responses_are_shared_by_processes_and_expire(tmp_path):
    """Two servers on one database (as two API processes are): a response made on one is continued, read and
    deleted on the other; an expired one is gone for both."""
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    one = start_server(tmp_path / "one", database_url=db_url)
    two = start_server(tmp_path / "two", database_url=db_url)
    try:
        first = openai.OpenAI(api_key=one.key, base_url=one.url + "/v1", max_retries=0)
        second = openai.OpenAI(api_key=two.key, base_url=two.url + "/v1", max_retries=0)
        r1 = first.responses.create(model="gpt-5.4", input="Remember the word kiwi.")
        r2 = second.responses.create(model="gpt-5.4", input="Which word?", previous_response_id=r1.id)
        assert r2.status == "completed" and second.responses.retrieve(r1.id).id == r1.id
        second.responses.delete(r1.id)
        with pytest.raises(openai.NotFoundError):
            first.responses.retrieve(r1.id)

        from runapi.llm.openai_responses import stored as stored_responses

        async def age_out(db):
            await stored_responses.put(db, "resp_old", 1, {"id": "resp_old"}, [], retention_seconds=-1)
            return await stored_responses.get(db, "resp_old", 1), await stored_responses.expire(db)

        found, expired = one.db_call(age_out)
        assert found is None and expired >= 1
    finally:
        two.stop()
        one.stop()


# ------------------------------------------------------------ through an OpenAI-compatible upstream


@pytest.fixture(scope="module")
def upstream_gw(tmp_path_factory):
    with gateway_over_fake(tmp_path_factory.mktemp("respup"), ["gpt-5.4"], api_key="sk-up") as pair:
        yield pair


def test_upstream_gets_the_translated_request_and_its_usage_is_billed(upstream_gw):
    srv, fake = upstream_gw
    _, key = new_account(srv, credits=1000)
    c = openai.OpenAI(api_key=key, base_url=srv.url + "/v1", max_retries=0)
    r = c.responses.create(
        model="gpt-5.4",
        input="hi",
        instructions="sys",
        max_output_tokens=50,
        reasoning={"effort": "low"},
        temperature=0.2,
    )
    sent = fake.requests[-1]["body"]
    assert sent["messages"] == [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]
    assert sent["max_tokens"] == 50 and sent["reasoning_effort"] == "low" and sent["temperature"] == 0.2
    assert r.output_text == "upstream says: hi" and r.usage.input_tokens == 1000
    assert r.usage.input_tokens_details.cached_tokens == 600 and r.usage.output_tokens == 200
    call = c.responses.create(model="gpt-5.4", input="weather?", tools=[WEATHER])
    assert fake.requests[-1]["body"]["tools"][0]["function"]["name"] == "get_weather"
    assert call.output[0].type == "function_call" and call.output[0].call_id == "call_up1"
    with c.responses.stream(model="gpt-5.4", input="streamed", previous_response_id=r.id) as s:
        streamed = s.get_final_response()
    assert fake.requests[-1]["body"]["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "upstream says: hi"},
        {"role": "user", "content": "streamed"},
    ]
    assert streamed.output_text.strip() == "upstream says: streamed" and streamed.usage.input_tokens == 1000
    c.responses.create(model="gpt-5.4", input="search", tools=[{"type": "web_search", "search_context_size": "low"}])
    assert fake.requests[-1]["body"]["web_search_options"] == {"search_context_size": "low"}
    assert "tools" not in fake.requests[-1]["body"]
    m = llm_models()["gpt-5.4"]
    per_call = 400 * m.input + 600 * m.cache_read + 200 * m.output
    assert balance(srv, key)["balance_cents"] == 1000 - (4 * per_call) // 1_000_000


def test_upstream_down_is_an_error_and_a_refund(upstream_gw):
    srv, fake = upstream_gw
    _, key = new_account(srv, credits=1000)
    c = openai.OpenAI(api_key=key, base_url=srv.url + "/v1", max_retries=0)
    fake.mode = "500"
    try:
        with pytest.raises(openai.APIStatusError) as info:
            c.responses.create(model="gpt-5.4", input="x")
        assert info.value.status_code == 502
        with pytest.raises(openai.APIStatusError):
            with c.responses.stream(model="gpt-5.4", input="x") as s:
                s.get_final_response()
        fake.mode = "400"
        with pytest.raises(openai.BadRequestError) as info:
            c.responses.create(model="gpt-5.4", input="x")
        assert info.value.body["message"] == "Your request was rejected by the safety system"
    finally:
        fake.mode = "ok"
    assert balance(srv, key)["balance_cents"] == 1000
