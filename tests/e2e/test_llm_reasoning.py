"""Reasoning through every surface with the sandbox LLM, which thinks (deterministically) when a request turns
thinking on: reasoning_content in chat completions (JSON and stream, as DeepSeek sends it), thinking blocks and
thinking_delta events (Anthropic), thought parts (Gemini), reasoning items and summary events (Responses).
Reasoning tokens are part of the output tokens every surface reports and bills."""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types

from runapi.llm.tokens import text_tokens

ASK = [{"role": "user", "content": "Why is the sky blue?"}]


@pytest.fixture(scope="module")
def oai(server):
    return openai.OpenAI(api_key=server.key, base_url=server.url + "/v1", max_retries=0)


@pytest.fixture(scope="module")
def claude(server):
    return anthropic.Anthropic(api_key=server.key, base_url=server.url, max_retries=0)


@pytest.fixture(scope="module")
def gem(server):
    return genai.Client(api_key=server.key, http_options=types.HttpOptions(base_url=server.url, api_version="v1beta"))


def test_chat_completions_reasoning_content(oai):
    r = oai.chat.completions.create(model="deepseek-v4-pro", messages=ASK, reasoning_effort="high")
    message = r.choices[0].message
    assert message.reasoning_content.startswith("Thinking (") and "Why is the sky blue?" in message.reasoning_content
    assert "Why is the sky blue?" in message.content
    details = r.usage.completion_tokens_details
    assert details.reasoning_tokens == text_tokens(message.reasoning_content)
    assert r.usage.completion_tokens == details.reasoning_tokens + text_tokens(message.content)
    again = oai.chat.completions.create(model="deepseek-v4-pro", messages=ASK, reasoning_effort="high")
    assert again.choices[0].message.reasoning_content == message.reasoning_content  # deterministic
    streamed = oai.chat.completions.create(model="deepseek-v4-pro", messages=ASK, reasoning_effort="high", stream=True)
    chunks = [c.choices[0].delta for c in streamed if c.choices]
    assert "".join(getattr(d, "reasoning_content", None) or "" for d in chunks) == message.reasoning_content
    assert "".join(d.content or "" for d in chunks) == message.content
    plain = oai.chat.completions.create(model="deepseek-v4-pro", messages=ASK)
    assert getattr(plain.choices[0].message, "reasoning_content", None) is None
    assert plain.usage.completion_tokens_details.reasoning_tokens == 0


def test_chat_completions_deepseek_thinking_switch(oai):
    r = oai.chat.completions.create(
        model="deepseek-v4-flash", messages=ASK, extra_body={"thinking": {"type": "enabled"}}
    )
    assert r.choices[0].message.reasoning_content


def test_anthropic_thinking_blocks(claude, server):
    kw = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 4096,
        "messages": ASK,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
    }
    msg = claude.messages.create(**kw)
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert msg.content[0].thinking.startswith("Thinking (") and msg.content[0].signature == ""
    with claude.messages.stream(**kw) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == msg.content[0].thinking and final.content[1].text == msg.content[1].text
    raw = httpx.post(
        server.url + "/v1/messages",
        json={**kw, "stream": True},
        timeout=30,
        headers={"x-api-key": server.key, "anthropic-version": "2023-06-01"},
    ).text
    events = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert starts[0] == {"type": "thinking", "thinking": "", "signature": ""} and starts[1]["type"] == "text"
    kinds = [e["delta"]["type"] for e in events if e["type"] == "content_block_delta"]
    assert kinds[0] == "thinking_delta" and "text_delta" in kinds
    assert kinds.index("text_delta") > max(i for i, k in enumerate(kinds) if k == "thinking_delta")
    plain = claude.messages.create(model="claude-sonnet-4-6", max_tokens=4096, messages=ASK)
    assert [b.type for b in plain.content] == ["text"]


def test_anthropic_unsigned_thinking_in_history_is_accepted(claude):
    msg = claude.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=4096,
        messages=[
            *ASK,
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": ""},
                    {"type": "text", "text": "Rayleigh."},
                ],
            },
            {"role": "user", "content": "More?"},
        ],
    )
    assert msg.content[0].type == "text"


def test_gemini_thought_parts(gem):
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))
    r = gem.models.generate_content(model="gemini-2.5-flash", contents="Why is the sky blue?", config=config)
    parts = r.candidates[0].content.parts
    assert [bool(p.thought) for p in parts] == [True, False] and parts[0].text.startswith("Thinking (")
    assert r.usage_metadata.thoughts_token_count == text_tokens(parts[0].text)
    assert r.usage_metadata.candidates_token_count == text_tokens(parts[1].text)
    streamed = [
        p
        for c in gem.models.generate_content_stream(
            model="gemini-2.5-flash", contents="Why is the sky blue?", config=config
        )
        for p in c.candidates[0].content.parts or []
    ]
    assert "".join(p.text for p in streamed if p.thought) == parts[0].text
    assert "".join(p.text for p in streamed if not p.thought and p.text) == parts[1].text
    hidden = gem.models.generate_content(  # thinking on, thoughts not asked for: billed, not shown
        model="gemini-2.5-flash",
        contents="Why is the sky blue?",
        config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=2048)),
    )
    assert not any(p.thought for p in hidden.candidates[0].content.parts)
    assert hidden.usage_metadata.thoughts_token_count > 0


def test_responses_reasoning_items_and_summary_events(oai):
    kw = {"model": "gpt-5.4", "input": "Why is the sky blue?", "reasoning": {"effort": "high", "summary": "auto"}}
    r = oai.responses.create(**kw)
    assert [i.type for i in r.output] == ["reasoning", "message"]
    summary = r.output[0].summary[0].text
    assert summary.startswith("Thinking (") and r.usage.output_tokens_details.reasoning_tokens == text_tokens(summary)
    events = list(oai.responses.create(**kw, stream=True))
    kinds = [e.type for e in events]
    first = kinds.index("response.output_item.added")
    assert kinds[first : first + 3] == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
    ]
    done = kinds.index("response.reasoning_summary_text.done")
    assert kinds[done : done + 3] == [
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
    ]
    assert events[done].text == summary
    assert "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta") == summary
    final = events[-1].response
    assert [i.type for i in final.output] == ["reasoning", "message"] and final.output[0].summary[0].text == summary
    assert final.output_text == r.output_text
    quiet = oai.responses.create(model="gpt-5.4", input="Why is the sky blue?", reasoning={"effort": "high"})
    assert quiet.output[0].type == "reasoning" and quiet.output[0].summary == []  # thought, not summarised
    quiet_events = [
        e.type
        for e in oai.responses.create(
            model="gpt-5.4", input="Why is the sky blue?", reasoning={"effort": "high"}, stream=True
        )
    ]
    assert not any(t.startswith("response.reasoning_summary") for t in quiet_events)


def _deepseek_like(method, path, headers, body):
    """An OpenAI-compatible upstream that thinks the DeepSeek way: reasoning_content beside content."""
    req = json.loads(body)
    usage = {"prompt_tokens": 10, "completion_tokens": 30, "completion_tokens_details": {"reasoning_tokens": 20}}
    if not req.get("stream"):
        message = {"role": "assistant", "content": "Rayleigh scattering.", "reasoning_content": "Light scatters."}
        return (
            200,
            {"Content-Type": "application/json"},
            json.dumps(
                {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 1,
                    "model": req["model"],
                    "usage": usage,
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                }
            ).encode(),
        )
    deltas = [
        {"reasoning_content": "Light "},
        {"reasoning_content": "scatters."},
        {"content": "Rayleigh "},
        {"content": "scattering."},
    ]
    chunks = [{"choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    chunks += [{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, {"choices": [], "usage": usage}]
    sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return 200, {"Content-Type": "text/event-stream"}, sse.encode()


def test_openai_compatible_upstream_reasoning_reaches_every_surface(recorder, tmp_path):
    from tests.support.servers import start_server

    upstream = recorder(_deepseek_like)
    srv = start_server(
        tmp_path, llm_upstreams=[{"name": "deepseek", "base_url": upstream.url + "/v1", "models": ["deepseek-v4-pro"]}]
    )
    try:
        claude = anthropic.Anthropic(api_key=srv.key, base_url=srv.url, max_retries=0)
        kw = {"model": "deepseek-v4-pro", "max_tokens": 4096, "messages": ASK}
        msg = claude.messages.create(**kw)
        assert [b.type for b in msg.content] == ["thinking", "text"] and msg.content[0].thinking == "Light scatters."
        with claude.messages.stream(**kw) as stream:
            assert stream.get_final_message().content[0].thinking == "Light scatters."
        gem = genai.Client(api_key=srv.key, http_options=types.HttpOptions(base_url=srv.url, api_version="v1beta"))
        config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))
        r = gem.models.generate_content(model="deepseek-v4-pro", contents="Why?", config=config)
        assert [(p.text, bool(p.thought)) for p in r.candidates[0].content.parts] == [
            ("Light scatters.", True),
            ("Rayleigh scattering.", False),
        ]
        assert r.usage_metadata.thoughts_token_count == 20 and r.usage_metadata.candidates_token_count == 10
        oai = openai.OpenAI(api_key=srv.key, base_url=srv.url + "/v1", max_retries=0)
        chunks = [
            c.choices[0].delta
            for c in oai.chat.completions.create(model="deepseek-v4-pro", messages=ASK, stream=True)
            if c.choices
        ]
        assert "".join(getattr(d, "reasoning_content", None) or "" for d in chunks) == "Light scatters."
    finally:
        srv.stop()
