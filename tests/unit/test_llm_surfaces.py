"""Unit tests (no server) for the per-protocol pieces the generic chat handler drives: each ChatCall's stream
encoder over fake deltas, the error shapes, the per-model rules of llm_models.yaml and their loader, the typed
LlmRouter's choices, and the one UpstreamError."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from runapi.errors import BadRequest, Forbidden, Unavailable
from runapi.llm.anthropic import surface as anthropic
from runapi.llm.canonical import ChatResult, Delta, ToolCall, Usage
from runapi.llm.gemini import surface as gemini
from runapi.llm.models import llm_models, parse_model
from runapi.llm.openai_chat import surface as openai_chat
from runapi.llm.openai_responses import surface as responses
from runapi.llm.router import LlmRouter
from runapi.llm.surface import Answering, Failure
from runapi.llm.upstream_common import LlmDeployment
from runapi.upstream_errors import UpstreamError

WHO = Answering("deepseek-v4-flash", sandbox=False)


class FakeDeltas:
    """What MeteredStream gives an encoder, over a fixed list (and optionally a failure after it)."""

    def __init__(self, deltas: list[Delta], usage: Usage | None = None, fail: Exception | None = None):
        self.deltas = deltas
        self.first = deltas[0] if deltas else None
        self.usage = usage or Usage()
        self.fail = fail
        self.closed = 0

    async def __aiter__(self) -> AsyncIterator[Delta]:
        for d in self.deltas:
            yield d
        if self.fail is not None:
            raise self.fail

    def billable_usage(self) -> Usage:
        return self.usage

    async def close(self) -> None:
        self.closed += 1


def describe(exc: BaseException) -> Failure:
    if isinstance(exc, Forbidden):
        return Failure(403, str(exc))
    return Failure(500, "Internal server error", internal=True)


def frames(call: Any, deltas: FakeDeltas, who: Answering = WHO) -> list[bytes]:
    async def collect() -> list[bytes]:
        return [chunk async for chunk in call.frames(who, deltas, describe)]

    return asyncio.run(collect())


def sse_data(chunks: list[bytes]) -> list[Any]:
    out = []
    for chunk in chunks:
        for line in chunk.decode().splitlines():
            if line.startswith("data: "):
                out.append(line[6:] if line[6:] == "[DONE]" else json.loads(line[6:]))
    return out


# ------------------------------------------------------------------------------------------- openai chat


def test_chat_completion_stream_frames():
    call = openai_chat.ChatCompletionCall(
        {
            "model": "deepseek-v4-flash",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )
    usage = Usage(input_tokens=3, output_tokens=2)
    deltas = FakeDeltas(
        [
            Delta(text="Hel"),
            Delta(text="lo"),
            Delta(tool_call=ToolCall("call_1", "f", '{"a"'), tool_index=0),
            Delta(tool_call=ToolCall("call_1", "f", ":1}"), tool_index=0),
            Delta(finish_reason="tool_calls", usage=usage),
        ],
        usage=usage,
    )
    data = sse_data(frames(call, deltas, Answering("deepseek-v4-flash", sandbox=True)))
    assert data[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert data[0]["system_fingerprint"] == openai_chat.SANDBOX_FINGERPRINT and data[0]["id"] == call.id
    assert [d["choices"][0]["delta"].get("content") for d in data[1:3]] == ["Hel", "lo"]
    first, second = (d["choices"][0]["delta"]["tool_calls"][0] for d in data[3:5])
    assert first == {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a"'}}
    assert second == {"index": 0, "function": {"arguments": ":1}"}}  # named once, then only arguments
    assert data[5]["choices"][0]["finish_reason"] == "tool_calls"
    assert data[6]["choices"] == [] and data[6]["usage"]["total_tokens"] == 5
    assert data[7] == "[DONE]"


def test_chat_completion_answer_and_error_shape():
    call = openai_chat.ChatCompletionCall({"model": "gpt-5.4", "messages": [{"role": "user", "content": "hi"}]})
    result = ChatResult("ok", [], "stop", Usage(input_tokens=1, output_tokens=1))
    body = asyncio.run(call.answer(Answering("gpt-5.4", sandbox=False), result))
    assert body["object"] == "chat.completion" and body["system_fingerprint"] is None
    assert body["choices"][0]["message"]["content"] == "ok"
    assert openai_chat.error_body(429, "slow down", None) == {
        "error": {"message": "slow down", "type": "rate_limit_error", "param": None, "code": None}
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"model": "gemini-2.5-flash", "reasoning_effort": "high"},
            "gemini-2.5-flash does not support reasoning_effort",
        ),
        ({"model": "gpt-5.2", "reasoning_effort": "medium"}, 'reasoning_effort must be "low" or "high"'),
        (
            {"model": "gemini-2.5-pro", "response_format": {"type": "json_object"}},
            "response_format.type must be json_schema",
        ),
        (
            {
                "model": "gemini-2.5-pro",
                "response_format": {"type": "json_schema"},
                "tools": [{"type": "function", "function": {"name": "lookup"}}],
            },
            "response_format cannot be combined with custom function calling (only with the Google Search tool)",
        ),
    ],
)
def test_per_model_rules_come_from_the_catalog(body, message):
    with pytest.raises(BadRequest) as info:
        openai_chat.ChatCompletionCall({"messages": [{"role": "user", "content": "x"}], **body})
    assert info.value.message == message


def test_per_model_rules_let_other_models_through():
    for model in ("gpt-5.4", "deepseek-v4-pro"):  # no efforts rule: any value is passed on
        openai_chat.ChatCompletionCall(
            {
                "model": model,
                "messages": [{"role": "user", "content": "x"}],
                "reasoning_effort": "medium",
                "response_format": {"type": "json_object"},
            }
        )
    openai_chat.ChatCompletionCall(
        {
            "model": "gemini-2.5-pro",
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema"},
            "tools": [{"type": "function", "function": {"name": "googleSearch"}}],
        }
    )


# --------------------------------------------------------------------------------------------- anthropic


def _events(chunks: list[bytes]) -> list[tuple[str, Any]]:
    out = []
    for chunk in chunks:
        name, data = chunk.decode().strip().split("\n")
        out.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


def test_messages_stream_stops_at_a_stop_sequence():
    call = anthropic.MessagesCall(
        {
            "model": "deepseek-v4-flash",
            "max_tokens": 100,
            "stream": True,
            "stop_sequences": ["END"],
            "messages": [{"role": "user", "content": "x"}],
        }
    )
    usage = Usage(input_tokens=4, output_tokens=6)
    events = _events(
        frames(
            call,
            FakeDeltas(
                [Delta(text="one two E"), Delta(text="ND three"), Delta(finish_reason="stop", usage=usage)], usage=usage
            ),
        )
    )
    names = [n for n, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == ["message_delta", "message_stop"]
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert text == "one two "
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}
    assert delta["usage"]["output_tokens"] == 6
    assert "request-id" in call.headers and call.id.startswith("msg_")


def test_messages_stream_reports_a_failure_in_band():
    call = anthropic.MessagesCall(
        {
            "model": "deepseek-v4-flash",
            "max_tokens": 100,
            "stream": True,
            "messages": [{"role": "user", "content": "x"}],
        }
    )
    events = _events(frames(call, FakeDeltas([Delta(text="hi")], fail=Forbidden("no more"))))
    assert events[-1] == ("error", {"type": "error", "error": {"type": "permission_error", "message": "no more"}})
    events = _events(frames(call, FakeDeltas([Delta(text="hi")], fail=RuntimeError("bug"))))
    assert events[-1][1]["error"] == {"type": "api_error", "message": "Internal server error"}


def test_anthropic_tool_ids_and_error_shape():
    assert anthropic.client_tool_id("call_abc") == "toolu_abc"
    assert anthropic.client_tool_id("toolu_x") == "toolu_x"
    assert anthropic.error_body(529, "busy") == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "busy"},
    }


# ------------------------------------------------------------------------------------------------ gemini


def _generate(as_sse: bool) -> gemini.GenerateCall:
    return gemini.GenerateCall(
        "gemini-2.5-pro", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, stream=True, as_sse=as_sse
    )


def test_gemini_stream_as_a_json_array_settles_before_the_last_chunk():
    call = _generate(as_sse=False)
    assert call.media_type == "application/json" and call.req.stream
    deltas = FakeDeltas(
        [
            Delta(text="Hello"),
            Delta(text=" there"),
            Delta(finish_reason="stop", usage=Usage(input_tokens=2, output_tokens=2)),
        ]
    )
    body = b"".join(frames(call, deltas, Answering("gemini-2.5-pro", sandbox=False)))
    chunks = json.loads(body)
    assert "".join(p["text"] for c in chunks for p in c["candidates"][0]["content"]["parts"]) == "Hello there"
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP" and deltas.closed == 1


def test_gemini_stream_as_sse():
    call = _generate(as_sse=True)
    chunks = frames(call, FakeDeltas([Delta(text="Hi"), Delta(finish_reason="stop", usage=Usage())]))
    assert call.media_type == "text/event-stream"
    assert all(c.startswith(b"data: ") and c.endswith(b"\r\n\r\n") for c in chunks)


def test_gemini_model_resource_and_error_shape():
    flash = gemini.model_resource(llm_models()["gemini-2.5-flash"])
    assert (flash["inputTokenLimit"], flash["outputTokenLimit"], flash["thinking"]) == (1_048_576, 65_536, True)
    assert flash["displayName"] == "Gemini 2.5 Flash"
    claude = gemini.model_resource(llm_models()["claude-opus-4-6"])
    assert (claude["inputTokenLimit"], claude["outputTokenLimit"]) == (200_000, 64_000) and "thinking" not in claude
    assert gemini.model_resource(llm_models()["deepseek-v4-pro"])["displayName"] == "DeepSeek V4 Pro"
    assert gemini.error_body(404, "gone") == {"error": {"code": 404, "message": "gone", "status": "NOT_FOUND"}}


# --------------------------------------------------------------------------------------------- responses


def test_responses_stream_remembers_the_finished_response():
    kept: list[dict[str, Any]] = []

    async def remember(response: dict[str, Any]) -> None:
        kept.append(response)

    call = responses.ResponsesCall(
        responses.parse_request({"model": "gpt-5.4", "input": "hi", "stream": True}), [], remember
    )
    usage = Usage(input_tokens=2, output_tokens=1)
    chunks = frames(
        call,
        FakeDeltas([Delta(text="Hey"), Delta(finish_reason="stop", usage=usage)], usage=usage),
        Answering("gpt-5.4", sandbox=False),
    )
    kinds = [c.split(b"\n")[0].decode().removeprefix("event: ") for c in chunks]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert len(kept) == 1 and kept[0]["status"] == "completed" and kept[0]["id"] == call.id


def test_responses_stream_failure_is_a_failed_response():
    async def remember(response: dict[str, Any]) -> None:
        raise AssertionError("a failed response is not kept")

    call = responses.ResponsesCall(
        responses.parse_request({"model": "gpt-5.4", "input": "hi", "stream": True}), [], remember
    )
    chunks = frames(call, FakeDeltas([Delta(text="He")], fail=RuntimeError("cut")), Answering("gpt-5.4", False))
    last = json.loads(chunks[-1].split(b"\ndata: ")[1])
    assert last["type"] == "response.failed"
    assert last["response"]["error"] == {"code": "server_error", "message": "The model failed to produce a response."}
    assert responses.failure_object(Failure(429, "slow")) == {"code": "rate_limit_exceeded", "message": "slow"}


# ------------------------------------------------------------------------------------- catalog and router


BASE = {"id": "m", "display_name": "M", "owned_by": "x", "kind": "chat", "input": 1, "output": 1}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"reasoning_effort": ["low"]}, "unknown key"),
        ({"reasoning_efforts": ["lowest"]}, "reasoning_efforts must be among"),
        ({"reasoning_efforts": "low"}, "must be a list of strings"),
        ({"response_formats": ["yaml"]}, "response_formats must be among"),
        ({"dimensions_fixed": True}, "dimensions_fixed applies to embedding models only"),
        ({"kind": "embedding"}, "dimensions is required"),
        ({"kind": "vision"}, "kind must be one of"),
    ],
)
def test_catalog_rules_are_checked_at_load(extra, message):
    with pytest.raises(ValueError, match=message):
        parse_model({**BASE, **extra})


def test_catalog_rules_parse():
    m = parse_model({**BASE, "reasoning_efforts": ["low", "high"], "response_formats": []})
    assert m.reasoning_efforts == ("low", "high") and m.response_formats == () and m.response_format_tools is None
    assert llm_models()["text-embedding-ada-002"].dimensions_fixed
    assert llm_models()["gemini-2.5-flash"].reasoning_efforts == ()


def test_router_without_deployments_answers_from_the_sandbox():
    router = LlmRouter([])
    assert router.http is None and router.sandboxed("gpt-5.4") and router.candidates("gpt-5.4") == ["sandbox"]


def test_router_with_deployments():
    async def check() -> None:
        d = LlmDeployment(name="up", base_url="http://127.0.0.1:9/v1", models=["gpt-5.4"])
        router = LlmRouter([d])
        try:
            assert router.candidates("gpt-5.4") == ["up"] and not router.sandboxed("gpt-5.4")
            with pytest.raises(Unavailable):  # another model: no sandbox in place of the configured upstreams
                router.sandboxed("claude-opus-4-6")
            with pytest.raises(Forbidden):  # the only deployment is barred: never the sandbox instead
                await router.complete(
                    openai_chat.chat_request({"model": "gpt-5.4", "messages": [{"role": "user", "content": "x"}]}),
                    barred=("up",),
                )
            assert LlmRouter([d], sandbox_fallback=True, http=router.http).sandboxed("claude-opus-4-6")
        finally:
            await router.close()

    asyncio.run(check())


def test_one_upstream_error_for_media_and_llm():
    from runapi.llm import upstream_common
    from runapi.providers.upstream import errors as media_errors

    assert media_errors.UpstreamError is UpstreamError is upstream_common.UpstreamError
    exc = UpstreamError("busy", 429, retry_after=1.5)
    assert exc.retryable and exc.rate_limited and exc.retry_after == 1.5 and not exc.job_failed


def test_embedding_size_rules():
    small, ada = llm_models()["text-embedding-3-small"], llm_models()["text-embedding-ada-002"]
    assert small.embedding_size(None, "dimensions") == 1536 and small.embedding_size(256, "dimensions") == 256
    with pytest.raises(BadRequest, match="dimensions must be an integer from 1 to 1536"):
        small.embedding_size(4096, "dimensions")
    with pytest.raises(BadRequest, match="outputDimensionality is not supported by text-embedding-ada-002"):
        ada.embedding_size(8, "outputDimensionality")


def test_sandbox_embeddings_are_deterministic_unit_vectors_without_numpy():
    """Pure Python (an LLM-only install has no numpy): equal texts equal vectors, others nearly orthogonal."""
    from runapi.llm import sandbox

    a, b = sandbox.embed("hello", 1536), sandbox.embed("world", 1536)
    assert len(a) == 1536 and a == sandbox.embed("hello", 1536)
    assert abs(sum(x * x for x in a) - 1) < 1e-4
    assert abs(sum(x * y for x, y in zip(a, b, strict=True))) < 0.15
    assert sandbox.embed("x", 1) in ([1.0], [-1.0])
    assert "numpy" not in sandbox.__dict__
