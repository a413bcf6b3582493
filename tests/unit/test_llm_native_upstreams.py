"""Request translation to the native LLM upstreams, without a socket: the Anthropic and Gemini bodies (thought
signatures included), and an unknown protocol refused at configuration. Calls through a gateway to fake upstreams
are in tests/e2e/test_llm_native_upstreams.py."""

from __future__ import annotations

import pytest

from runapi.llm.anthropic.upstream import messages_body, upstream_tool_id
from runapi.llm.canonical import ChatRequest
from runapi.llm.gemini.upstream import call_id, generate_body, signature_of
from tests.support.fake_gemini import THOUGHT_SIGNATURE

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_anthropic_request_translation():
    req = ChatRequest(
        model="m",
        max_tokens=2000,
        temperature=1.7,
        reasoning_effort="high",
        stop=["x"],
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_a.b", "type": "function", "function": {"name": "f", "arguments": '{"k": 1}'}}
                ],
            },
            {"role": "tool", "tool_call_id": "call_a.b", "content": "r1"},
            {"role": "user", "content": "and?"},
        ],
        tools=[{"type": "function", "function": {"name": "f", "parameters": SCHEMA}}],
        tool_choice="auto",
        extra={"parallel_tool_calls": False, "top_p": 0.5},
    )
    body = messages_body(req, "claude-x", stream=False)
    assert body["system"] == "be brief" and body["stop_sequences"] == ["x"]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1999}  # clamped below max_tokens
    assert "temperature" not in body and "top_p" not in body  # not allowed with thinking
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert [t["role"] for t in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"][0]["id"] == body["messages"][2]["content"][0]["tool_use_id"] == "call_a_b"
    assert body["messages"][2]["content"][1] == {"type": "text", "text": "and?"}  # merged into one user turn
    forced = messages_body(
        ChatRequest(
            model="m",
            messages=[{"role": "user", "content": "q"}],
            temperature=1.5,
            tools=req.tools,
            tool_choice="required",
            reasoning_effort="high",
        ),
        "c",
        False,
    )
    assert "thinking" not in forced and forced["temperature"] == 1.0 and forced["max_tokens"] == 4096
    assert upstream_tool_id("toolu_ok-1") == "toolu_ok-1"


def test_gemini_request_translation_and_thought_signatures():
    packed = call_id("abc", THOUGHT_SIGNATURE)
    assert packed.startswith("abc") and signature_of(packed) == THOUGHT_SIGNATURE
    assert signature_of("toolu_" + packed.removeprefix("abc")) == THOUGHT_SIGNATURE  # survives id rewrites
    assert call_id(None, None).startswith("call_") and signature_of("call_plain") is None
    req = ChatRequest(
        model="m",
        max_tokens=50,
        reasoning_effort="none",
        stop=list("abcdef"),
        response_format={"type": "json_schema", "json_schema": {"name": "o", "schema": SCHEMA}},
        tools=[{"type": "function", "function": {"name": "f", "parameters": SCHEMA}}],
        tool_choice={"type": "function", "function": {"name": "f"}},
        messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]}],
    )
    body = generate_body(req)
    config = body["generationConfig"]
    assert config["maxOutputTokens"] == 50 and config["stopSequences"] == list("abcde")  # Gemini takes five
    assert config["thinkingConfig"] == {"thinkingBudget": 0}
    assert config["responseMimeType"] == "application/json" and config["responseJsonSchema"] == SCHEMA
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}
    assert body["contents"][0]["parts"] == [{"fileData": {"mimeType": "image/png", "fileUri": "https://x.test/a.png"}}]


def test_unknown_protocol_is_refused_at_configuration():
    from runapi.llm.upstream_common import LlmDeployment

    with pytest.raises(ValueError, match="protocol"):
        LlmDeployment.from_setting({"name": "x", "base_url": "http://h", "protocol": "cohere"})
    with pytest.raises(ValueError, match="unknown field"):
        LlmDeployment.from_setting({"name": "x", "base_url": "http://h", "protocl": "gemini"})
