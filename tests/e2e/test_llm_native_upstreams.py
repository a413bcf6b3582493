"""Native upstream protocols × client surfaces: the official openai (chat completions and Responses), anthropic
and google-genai SDKs talk to our server, whose deployments speak Anthropic Messages or the Gemini API to local
fakes (tests/fake_anthropic.py, tests/fake_gemini.py). Plain and streamed answers, tool calls and their results,
images, reasoning, stop sequences, billing from the upstream's usage, fallback from a failing native deployment
and refunds when nothing answers."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from runapi.llm.models import llm_models
from tests.support.fake_anthropic import SIGNATURE, FakeAnthropic
from tests.support.fake_gemini import THOUGHT_SIGNATURE, FakeGemini
from tests.support.fake_openai import FakeOpenAI
from tests.support.servers import new_account, start_server

PROTOCOLS = ["anthropic", "gemini"]
SURFACES = ["chat", "responses", "messages", "gemini"]
MODEL = {"anthropic": "claude-sonnet-4-6", "gemini": "gemini-2.5-pro"}  # each served by one native fake only
SHARED = "gpt-5.4"  # served by the anthropic fake, then the gemini fake, then an OpenAI-compatible backup
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256))  # base64 has '+' and '/' (google-genai sends '-' and '_')
PNG = base64.b64encode(PNG_BYTES).decode()
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
UPSTREAM_USAGE = (10_000, 6_000, 2_000)  # what both fakes report: input (incl. cached), cached, output


@pytest.fixture(scope="module")
def fakes():
    made = {"anthropic": FakeAnthropic("anthropic"), "gemini": FakeGemini("gemini"), "backup": FakeOpenAI("backup")}
    yield made
    for fake in made.values():
        fake.stop()


@pytest.fixture(scope="module")
def gw(fakes, tmp_path_factory):
    srv = start_server(
        tmp_path_factory.mktemp("native"),
        llm_upstreams=[
            {
                "name": "anthropic",
                "protocol": "anthropic",
                "base_url": fakes["anthropic"].base_url,
                "api_key": "sk-ant-test",
                "models": [MODEL["anthropic"], SHARED],
                "model_map": {MODEL["anthropic"]: "claude-sonnet-4-6-20260101"},
            },
            {
                "name": "gemini",
                "protocol": "gemini",
                "base_url": fakes["gemini"].base_url,
                "api_key": "gm-test",
                "models": [MODEL["gemini"], SHARED],
            },
            {"name": "backup", "base_url": fakes["backup"].base_url, "models": [SHARED]},
        ],
    )
    yield srv
    srv.stop()


@pytest.fixture
def ups(fakes):
    yield fakes
    for fake in fakes.values():
        fake.mode = "ok"


# ------------------------------------------------------------------------------------ one driver per SDK


@dataclass
class Answer:
    text: str
    reasoning: str = ""
    calls: list[tuple[str, str, Any]] = field(default_factory=list)  # (id, name, arguments)
    signature: str = ""


class Chat:
    """openai SDK, /v1/chat/completions."""

    tool: ClassVar[dict[str, Any]] = {
        "type": "function",
        "function": {"name": "get_weather", "description": "Weather", "parameters": SCHEMA},
    }

    def __init__(self, gw, key):
        self.c = openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)

    def ask(self, model, prompt, stream=False, image=False, think=False, tools=False, stop=None) -> Answer:
        content: Any = prompt
        if image:
            content = [
                {"type": "text", "text": prompt},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            ]
        kw: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}]}
        if think:
            kw["reasoning_effort"] = "high"
        if tools:
            kw["tools"] = [self.tool]
        if stop:
            kw["stop"] = stop
        if not stream:
            m = self.c.chat.completions.create(**kw).choices[0].message
            return Answer(
                m.content or "",
                getattr(m, "reasoning_content", None) or "",
                [(c.id, c.function.name, json.loads(c.function.arguments)) for c in m.tool_calls or []],
            )
        text, reasoning, calls = "", "", {}
        for chunk in self.c.chat.completions.create(**kw, stream=True):
            for choice in chunk.choices:
                d = choice.delta
                text += d.content or ""
                reasoning += getattr(d, "reasoning_content", None) or ""
                for tc in d.tool_calls or []:
                    entry = calls.setdefault(tc.index, [tc.id, tc.function.name, ""])
                    entry[2] += tc.function.arguments or ""
        return Answer(text, reasoning, [(i, n, json.loads(a)) for i, n, a in calls.values()])

    def tool_round_trip(self, model) -> str:
        messages: list[Any] = [{"role": "user", "content": "weather in Oslo?"}]
        m = self.c.chat.completions.create(model=model, messages=messages, tools=[self.tool]).choices[0].message
        messages += [
            m.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": m.tool_calls[0].id, "content": '{"sky": "sunny"}'},
        ]
        return (
            self.c.chat.completions.create(model=model, messages=messages, tools=[self.tool]).choices[0].message.content
        )


class Responses:
    """openai SDK, /v1/responses."""

    tool: ClassVar[dict[str, Any]] = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather",
        "parameters": SCHEMA,
    }

    def __init__(self, gw, key):
        self.c = openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)

    def ask(self, model, prompt, stream=False, image=False, think=False, tools=False) -> Answer:
        value: Any = prompt
        if image:
            value = [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": prompt},
                        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
                    ],
                }
            ]
        kw: dict[str, Any] = {"model": model, "input": value}
        if think:
            kw["reasoning"] = {"effort": "high", "summary": "auto"}
        if tools:
            kw["tools"] = [self.tool]
        if stream:
            events = list(self.c.responses.create(**kw, stream=True))
            response = events[-1].response
            streamed = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
            assert streamed == _summary(response)  # the deltas add up to the final item
            text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        else:
            response = self.c.responses.create(**kw)
            text = response.output_text
        calls = [(i.call_id, i.name, json.loads(i.arguments)) for i in response.output if i.type == "function_call"]
        return Answer(text, _summary(response), calls)

    def tool_round_trip(self, model) -> str:
        first = self.c.responses.create(model=model, input="weather in Oslo?", tools=[self.tool])
        call = next(i for i in first.output if i.type == "function_call")
        second = self.c.responses.create(
            model=model,
            previous_response_id=first.id,
            tools=[self.tool],
            input=[{"type": "function_call_output", "call_id": call.call_id, "output": '{"sky": "sunny"}'}],
        )
        return second.output_text


def _summary(response) -> str:
    return "".join(s.text for item in response.output if item.type == "reasoning" for s in item.summary)


class Messages:
    """anthropic SDK, /v1/messages."""

    tool: ClassVar[dict[str, Any]] = {"name": "get_weather", "description": "Weather", "input_schema": SCHEMA}

    def __init__(self, gw, key):
        self.c = anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0)

    def ask(self, model, prompt, stream=False, image=False, think=False, tools=False, stop=None) -> Answer:
        content: Any = prompt
        if image:
            content = [
                {"type": "text", "text": prompt},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            ]
        kw: dict[str, Any] = {"model": model, "max_tokens": 4096, "messages": [{"role": "user", "content": content}]}
        if think:
            kw["thinking"] = {"type": "enabled", "budget_tokens": 2048}
        if tools:
            kw["tools"] = [self.tool]
        if stop:
            kw["stop_sequences"] = stop
        if stream:
            with self.c.messages.stream(**kw) as s:
                msg = s.get_final_message()
        else:
            msg = self.c.messages.create(**kw)
        self.last = msg
        return Answer(
            "".join(b.text for b in msg.content if b.type == "text"),
            "".join(b.thinking for b in msg.content if b.type == "thinking"),
            [(b.id, b.name, b.input) for b in msg.content if b.type == "tool_use"],
            "".join(b.signature for b in msg.content if b.type == "thinking"),
        )

    def tool_round_trip(self, model, think=False) -> str:
        kw: dict[str, Any] = {"model": model, "max_tokens": 4096, "tools": [self.tool]}
        if think:
            kw["thinking"] = {"type": "enabled", "budget_tokens": 2048}
        history: list[Any] = [{"role": "user", "content": "weather in Oslo?"}]
        first = self.c.messages.create(**kw, messages=history)
        use = next(b for b in first.content if b.type == "tool_use")
        history += [
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": use.id, "content": '{"sky": "sunny"}'}],
            },
        ]
        second = self.c.messages.create(**kw, messages=history)
        return "".join(b.text for b in second.content if b.type == "text")


class Gemini:
    """google-genai SDK, /v1beta/models/...:generateContent and :streamGenerateContent."""

    tool = types.Tool(
        function_declarations=[
            types.FunctionDeclaration(name="get_weather", description="Weather", parameters_json_schema=SCHEMA)
        ]
    )

    def __init__(self, gw, key):
        self.c = genai.Client(api_key=key, http_options=types.HttpOptions(base_url=gw.url, api_version="v1beta"))

    def ask(self, model, prompt, stream=False, image=False, think=False, tools=False) -> Answer:
        contents: Any = prompt
        if image:
            contents = [types.Part.from_text(text=prompt), types.Part.from_bytes(data=PNG_BYTES, mime_type="image/png")]
        config = types.GenerateContentConfig(
            tools=[self.tool] if tools else None,
            thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=2048) if think else None,
        )
        if stream:
            chunks = list(self.c.models.generate_content_stream(model=model, contents=contents, config=config))
            parts = [p for c in chunks for p in (c.candidates[0].content.parts or [])]
        else:
            parts = (
                self.c.models.generate_content(model=model, contents=contents, config=config)
                .candidates[0]
                .content.parts
            )
        return Answer(
            "".join(p.text for p in parts if p.text and not p.thought),
            "".join(p.text for p in parts if p.text and p.thought),
            [(p.function_call.id, p.function_call.name, p.function_call.args) for p in parts if p.function_call],
        )

    def tool_round_trip(self, model) -> str:
        config = types.GenerateContentConfig(tools=[self.tool])
        question = types.Content(role="user", parts=[types.Part.from_text(text="weather in Oslo?")])
        first = self.c.models.generate_content(model=model, contents=[question], config=config)
        call = first.candidates[0].content.parts[0].function_call
        answer = types.Content(
            role="user", parts=[types.Part.from_function_response(name=call.name, response={"sky": "sunny"})]
        )
        return self.c.models.generate_content(
            model=model, contents=[question, first.candidates[0].content, answer], config=config
        ).text


DRIVERS = {"chat": Chat, "responses": Responses, "messages": Messages, "gemini": Gemini}


def drive(surface, gw, key=None):
    return DRIVERS[surface](gw, key or gw.key)


def balance(gw, key) -> int:
    return httpx.get(gw.url + "/api/v1/me/balance", headers={"Authorization": f"Bearer {key}"}).json()["balance_cents"]


def settled_balance(gw, key, expected) -> int:
    """The balance once it equals `expected`: a stream's settlement may land just after its last byte."""
    for _ in range(100):
        cents = balance(gw, key)
        if cents == expected:
            return cents
        time.sleep(0.05)
    return cents


def upstream_cost_cents(model: str) -> int:
    """What one call costs at the fakes' reported usage (sub-cent remainders carry over, so floor)."""
    m = llm_models()[model]
    total, cached, output = UPSTREAM_USAGE
    return ((total - cached) * m.input + cached * m.cache_read + output * m.output) // 1_000_000


def last_request(fake) -> dict[str, Any]:
    return fake.requests[-1]


def sent_thinking(protocol: str, request: dict[str, Any]) -> Any:
    body = request["body"]
    if protocol == "anthropic":
        return body.get("thinking")
    return (body.get("generationConfig") or {}).get("thinkingConfig")


# ------------------------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("surface", SURFACES)
def test_plain_answer_is_billed_from_upstream_usage(gw, ups, surface, protocol, stream):
    _, key = new_account(gw, credits=1000)
    answer = drive(surface, gw, key).ask(MODEL[protocol], "Hello there", stream=stream)
    assert answer.text == f"{protocol} says: Hello there" and answer.reasoning == "" and not answer.calls
    sent = last_request(ups[protocol])
    if protocol == "anthropic":
        assert sent["body"]["model"] == "claude-sonnet-4-6-20260101"
        assert sent["headers"]["x-api-key"] == "sk-ant-test" and sent["headers"]["anthropic-version"] == "2023-06-01"
        assert sent["body"]["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hello there"}]}]
        assert sent["body"].get("stream", False) is stream
    else:
        assert sent["model"] == MODEL["gemini"] and sent["headers"]["x-goog-api-key"] == "gm-test"
        assert sent["method"] == ("streamGenerateContent" if stream else "generateContent")
        assert sent["query"] == ({"alt": "sse"} if stream else {})
        assert sent["body"]["contents"] == [{"role": "user", "parts": [{"text": "Hello there"}]}]
    assert settled_balance(gw, key, 1000 - upstream_cost_cents(MODEL[protocol])) == 1000 - upstream_cost_cents(
        MODEL[protocol]
    )


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("surface", SURFACES)
def test_tool_calls(gw, ups, surface, protocol, stream):
    answer = drive(surface, gw).ask(MODEL[protocol], "weather in Oslo?", stream=stream, tools=True)
    assert [(name, args) for _, name, args in answer.calls] == [("get_weather", {"city": "Oslo"})]
    assert answer.calls[0][0]  # every surface hands out an id to answer the call with
    body = last_request(ups[protocol])["body"]
    if protocol == "anthropic":
        assert body["tools"] == [{"name": "get_weather", "description": "Weather", "input_schema": SCHEMA}]
    else:
        assert body["tools"] == [
            {
                "functionDeclarations": [
                    {"name": "get_weather", "description": "Weather", "parametersJsonSchema": SCHEMA}
                ]
            }
        ]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("surface", SURFACES)
def test_tool_results_go_back_paired_with_their_call(gw, ups, surface, protocol):
    text = drive(surface, gw).tool_round_trip(MODEL[protocol])
    assert text.startswith(f"{protocol} got tool result") and "sunny" in text
    turns = last_request(ups[protocol])["body"]
    if protocol == "anthropic":
        use = next(b for b in turns["messages"][1]["content"] if b["type"] == "tool_use")
        result = turns["messages"][2]["content"][0]
        assert turns["messages"][1]["role"] == "assistant" and use["input"] == {"city": "Oslo"}
        assert result["type"] == "tool_result" and result["tool_use_id"] == use["id"]
    else:
        model_turn, answer_turn = turns["contents"][1], turns["contents"][2]
        call_part = next(p for p in model_turn["parts"] if "functionCall" in p)
        assert model_turn["role"] == "model" and call_part["functionCall"]["name"] == "get_weather"
        assert call_part["thoughtSignature"] == THOUGHT_SIGNATURE  # Gemini 3 refuses calls without it
        response = answer_turn["parts"][0]["functionResponse"]
        assert response["name"] == "get_weather" and response["response"] == {"sky": "sunny"}


def test_signed_thinking_goes_back_to_anthropic_in_tool_loops(gw, ups):
    drive("messages", gw).tool_round_trip(MODEL["anthropic"], think=True)
    assistant = last_request(ups["anthropic"])["body"]["messages"][1]
    assert [b["type"] for b in assistant["content"]] == ["thinking", "tool_use"]
    assert assistant["content"][0]["signature"] == SIGNATURE


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("surface", SURFACES)
def test_images_reach_the_upstream_intact(gw, ups, surface, protocol):
    answer = drive(surface, gw).ask(MODEL[protocol], "Describe this", image=True)
    assert answer.text == f"{protocol} says: Describe this (1 image)"
    content = last_request(ups[protocol])["body"]
    if protocol == "anthropic":
        image = content["messages"][0]["content"][1]
        assert image == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    else:
        image = content["contents"][0]["parts"][1]
        assert image == {"inlineData": {"mimeType": "image/png", "data": PNG}}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("surface", SURFACES)
def test_reasoning_shown_in_each_surface_format_and_billed_as_output(gw, ups, surface, protocol, stream):
    _, key = new_account(gw, credits=1000)
    driver = drive(surface, gw, key)
    answer = driver.ask(MODEL[protocol], "Why is the sky blue?", stream=stream, think=True)
    assert answer.reasoning == f"{protocol} thinks about: Why is the sky blue?"
    assert answer.text == f"{protocol} says: Why is the sky blue?"
    thinking = sent_thinking(protocol, last_request(ups[protocol]))
    if protocol == "anthropic":
        assert thinking["type"] == "enabled" and 1024 <= thinking["budget_tokens"] < 4096
    else:
        assert thinking["includeThoughts"] is True
    if surface == "messages" and protocol == "anthropic":
        assert answer.signature == SIGNATURE  # verifiable by Anthropic when sent back
    # thoughts are billed as output: the Gemini fake reports 1,000 of its 2,000 output tokens as thoughts
    assert settled_balance(gw, key, 1000 - upstream_cost_cents(MODEL[protocol])) == 1000 - upstream_cost_cents(
        MODEL[protocol]
    )


def test_reasoning_tokens_are_reported_per_surface(gw, ups):
    r = Chat(gw, gw.key).c.chat.completions.create(
        model=MODEL["gemini"], reasoning_effort="high", messages=[{"role": "user", "content": "hi"}]
    )
    assert r.usage.completion_tokens == 2000 and r.usage.completion_tokens_details.reasoning_tokens == 1000
    assert r.usage.prompt_tokens == 10_000 and r.usage.prompt_tokens_details.cached_tokens == 6000
    msg = Messages(gw, gw.key).c.messages.create(
        model=MODEL["anthropic"], max_tokens=4096, messages=[{"role": "user", "content": "hi"}]
    )
    assert msg.usage.input_tokens == 4000 and msg.usage.cache_read_input_tokens == 6000
    assert msg.usage.output_tokens == 2000
    client = Gemini(gw, gw.key).c  # held: a collected google-genai client closes its connection pool
    g = client.models.generate_content(
        model=MODEL["gemini"],
        contents="hi",
        config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True)),
    )
    u = g.usage_metadata
    assert (u.prompt_token_count, u.cached_content_token_count, u.candidates_token_count, u.thoughts_token_count) == (
        10_000,
        6000,
        1000,
        1000,
    )


def test_stop_sequences_reach_native_upstreams(gw, ups):
    messages = Messages(gw, gw.key)
    answer = messages.ask(MODEL["anthropic"], "Hello there", stop=["there", "END"])
    assert answer.text == "anthropic says: Hello "
    assert messages.last.stop_reason == "stop_sequence" and messages.last.stop_sequence == "there"
    assert last_request(ups["anthropic"])["body"]["stop_sequences"] == ["there", "END"]
    Chat(gw, gw.key).ask(MODEL["gemini"], "Hello there", stop=["END"])
    assert last_request(ups["gemini"])["body"]["generationConfig"]["stopSequences"] == ["END"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("surface", SURFACES)
def test_falls_back_from_a_failing_native_deployment(gw, ups, surface, stream):
    # an overloaded Anthropic: a 529, or (streaming) an `error` event before any content
    ups["anthropic"].mode = "stream_error" if stream else "529"
    answer = drive(surface, gw).ask(SHARED, "Hello there", stream=stream)
    assert answer.text == "gemini says: Hello there"
    ups["gemini"].mode = "429"
    answer = drive(surface, gw).ask(SHARED, "Hello there", stream=stream)
    assert answer.text.strip() == "backup says: Hello there"


def test_a_native_refusal_is_passed_through_not_retried(gw, ups):
    ups["anthropic"].mode = "400"
    before = len(ups["gemini"].requests)
    _, key = new_account(gw, credits=500)
    with pytest.raises(anthropic.BadRequestError) as info:
        Messages(gw, key).ask(SHARED, "x")
    assert "content filtering" in info.value.message
    assert len(ups["gemini"].requests) == before and balance(gw, key) == 500


def _failure_status(surface, gw, key, model, stream) -> int:
    driver = drive(surface, gw, key)
    error_types = (openai.APIStatusError, anthropic.APIStatusError, genai_errors.APIError)
    with pytest.raises(error_types) as info:
        driver.ask(model, "Hello there", stream=stream)
    exc = info.value
    return exc.code if isinstance(exc, genai_errors.APIError) else exc.status_code


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("surface", SURFACES)
def test_nothing_answers_502_and_a_full_refund(gw, ups, surface, protocol, stream):
    ups[protocol].mode = "500"
    _, key = new_account(gw, credits=500)
    assert _failure_status(surface, gw, key, MODEL[protocol], stream) == 502
    assert settled_balance(gw, key, 500) == 500
