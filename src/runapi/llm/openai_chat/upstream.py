"""An upstream speaking the OpenAI Chat Completions protocol (OpenAI itself, DeepSeek, vLLM, Ollama,
OpenRouter, LiteLLM, …): our canonical request is already that shape, so this is mostly transport. Reasoning
comes back as `reasoning_content` (DeepSeek, and most servers that copied it) or `reasoning` (vLLM, OpenRouter)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from ...upstream_errors import UpstreamError
from ..canonical import ChatRequest, ChatResult, Delta, ToolCall, Usage
from ..upstream_common import (
    LlmDeployment,
    open_stream,
    parse_json,
    post_json,
    sse_events,
)

if TYPE_CHECKING:  # aiohttp loads with the first deployment's client (upstream_common.new_http_client)
    import aiohttp

__all__ = ["OpenAICompatible"]
MAX_STOP = 4  # the Chat Completions limit; surfaces that allow more enforce the rest themselves


def _usage(raw: dict[str, Any] | None) -> Usage:
    raw = raw or {}
    details = raw.get("prompt_tokens_details") or {}
    out_details = raw.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=int(raw.get("prompt_tokens") or 0),
        output_tokens=int(raw.get("completion_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or raw.get("prompt_cache_hit_tokens") or 0),
        reasoning_tokens=int(out_details.get("reasoning_tokens") or 0),
    )


def _reasoning(message: dict[str, Any]) -> str | None:
    value = message.get("reasoning_content")
    if value is None and isinstance(message.get("reasoning"), str):
        value = message["reasoning"]
    return value or None


def _uncached(items: Any) -> Any:
    """Parts or tools without Anthropic's cache_control (Chat Completions has no such field)."""
    if not isinstance(items, list) or not any(isinstance(x, dict) and "cache_control" in x for x in items):
        return items
    return [{k: v for k, v in x.items() if k != "cache_control"} if isinstance(x, dict) else x for x in items]


def _message(m: dict[str, Any]) -> dict[str, Any]:
    """A canonical message as sent: Anthropic's signed thinking means nothing to other models, so it is dropped
    (unsigned reasoning_content stays: DeepSeek needs it back in tool loops); so is cache_control."""
    if "reasoning_signature" in m:
        m = {k: v for k, v in m.items() if k not in ("reasoning_signature", "reasoning_content")}
    if "cache_control" in m:
        m = {k: v for k, v in m.items() if k != "cache_control"}
    for key in ("content", "tool_calls"):
        if _uncached(m.get(key)) is not m.get(key):
            m = {**m, key: _uncached(m[key])}
    return m


def _result(choice: dict[str, Any], usage: Usage) -> ChatResult:
    message = choice.get("message") or {}
    calls = [
        ToolCall(
            c.get("id", ""), (c.get("function") or {}).get("name", ""), (c.get("function") or {}).get("arguments", "")
        )
        for c in message.get("tool_calls") or []
    ]
    return ChatResult(
        text=message.get("content") or "",
        tool_calls=calls,
        finish_reason=choice.get("finish_reason") or "stop",
        usage=usage,
        reasoning=_reasoning(message),
    )


class OpenAICompatible:
    def __init__(self, deployment: LlmDeployment, http: aiohttp.ClientSession):
        self.d = deployment
        self.http = http

    def _body(self, req: ChatRequest, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            **req.extra,
            "model": self.d.upstream_model(req.model),
            "messages": [_message(m) for m in req.messages],
            "stream": stream,
        }
        for key, value in (
            ("tools", _uncached(req.tools)),
            ("tool_choice", req.tool_choice),
            ("max_tokens", req.max_tokens),
            ("temperature", req.temperature),
            ("response_format", req.response_format),
            ("reasoning_effort", req.reasoning_effort),
        ):
            if value is not None:
                body[key] = value
        if req.stop:
            body["stop"] = req.stop[:MAX_STOP]
        if stream:
            body["stream_options"] = {"include_usage": True}
        if req.n > 1:
            body["n"] = req.n
        return body

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.d.api_key}"} if self.d.api_key else {}

    async def complete(self, req: ChatRequest) -> ChatResult:
        data = await post_json(
            self.http, self.d, self.d.url("chat/completions"), self._body(req, False), self._headers(), model=req.model
        )
        choices = data.get("choices") or [{}]
        result = _result(choices[0], _usage(data.get("usage")))
        result.alternatives = [_result(c, Usage()) for c in choices[1 : req.n]]
        return result

    async def stream(self, req: ChatRequest) -> AsyncGenerator[Delta, None]:
        """Deltas as they arrive. Errors before the first delta are UpstreamError (so the router can fall
        back); later ones end the stream."""
        async with open_stream(
            self.http, self.d, self.d.url("chat/completions"), self._body(req, True), self._headers(), model=req.model
        ) as resp:
            finish, usage = None, Usage()
            async for _, payload in sse_events(resp):
                if payload.strip() == "[DONE]":
                    break
                chunk = parse_json(payload, self.d.name)
                if chunk.get("error"):  # OpenRouter and others report mid-stream failures in a chunk
                    error = chunk["error"]
                    raise UpstreamError(
                        f"{self.d.name}: " + str(error.get("message") if isinstance(error, dict) else error)
                    )
                if chunk.get("usage"):
                    usage = _usage(chunk["usage"])
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    c = choice.get("index") or 0 if req.n > 1 else 0
                    reasoning = _reasoning(delta)
                    if reasoning:
                        yield Delta(reasoning=reasoning, choice=c)
                    if delta.get("content"):
                        yield Delta(text=delta["content"], choice=c)
                    for tc in delta.get("tool_calls") or []:
                        fn = tc.get("function") or {}
                        yield Delta(
                            tool_call=ToolCall(tc.get("id") or "", fn.get("name") or "", fn.get("arguments") or ""),
                            tool_index=tc.get("index", 0),
                            choice=c,
                        )
                    if choice.get("finish_reason"):
                        if c:
                            yield Delta(finish_reason=choice["finish_reason"], choice=c)
                        else:
                            finish = choice["finish_reason"]
            yield Delta(finish_reason=finish or "stop", usage=usage)
