"""An upstream speaking the OpenAI Chat Completions protocol (OpenAI itself, DeepSeek, vLLM, Ollama,
OpenRouter, LiteLLM, …): our canonical request is already that shape, so this is mostly transport. Reasoning
comes back as `reasoning_content` (DeepSeek, and most servers that copied it) or `reasoning` (vLLM, OpenRouter)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from .canonical import ChatRequest, ChatResult, Delta, ToolCall, Usage
from .upstream_common import (
    Deployment,
    UpstreamError,
    open_stream,
    parse_json,
    post_json,
    sse_events,
)

__all__ = ["Deployment", "OpenAICompatible", "UpstreamError"]
MAX_STOP = 4  # the Chat Completions limit; surfaces that allow more enforce the rest themselves


def _usage(raw: dict[str, Any] | None) -> Usage:
    raw = raw or {}
    details = raw.get("prompt_tokens_details") or {}
    out_details = raw.get("completion_tokens_details") or {}
    return Usage(input_tokens=int(raw.get("prompt_tokens") or 0), output_tokens=int(raw.get("completion_tokens") or 0),
                 cached_tokens=int(details.get("cached_tokens") or raw.get("prompt_cache_hit_tokens") or 0),
                 reasoning_tokens=int(out_details.get("reasoning_tokens") or 0))


def _reasoning(message: dict[str, Any]) -> str | None:
    value = message.get("reasoning_content")
    if value is None and isinstance(message.get("reasoning"), str):
        value = message["reasoning"]
    return value or None


def _message(m: dict[str, Any]) -> dict[str, Any]:
    """A canonical message as sent: Anthropic's signed thinking means nothing to other models, so it is dropped
    (unsigned reasoning_content stays: DeepSeek needs it back in tool loops)."""
    if "reasoning_signature" not in m:
        return m
    return {k: v for k, v in m.items() if k not in ("reasoning_signature", "reasoning_content")}


class OpenAICompatible:
    def __init__(self, deployment: Deployment, http: aiohttp.ClientSession):
        self.d = deployment
        self.http = http

    def _body(self, req: ChatRequest, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {**req.extra, "model": self.d.upstream_model(req.model),
                                "messages": [_message(m) for m in req.messages], "stream": stream}
        for key, value in (("tools", req.tools), ("tool_choice", req.tool_choice), ("max_tokens", req.max_tokens),
                           ("temperature", req.temperature), ("response_format", req.response_format),
                           ("reasoning_effort", req.reasoning_effort)):
            if value is not None:
                body[key] = value
        if req.stop:
            body["stop"] = req.stop[:MAX_STOP]
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.d.api_key}"} if self.d.api_key else {}

    async def complete(self, req: ChatRequest) -> ChatResult:
        data = await post_json(self.http, self.d, self.d.url("chat/completions"), self._body(req, False),
                               self._headers())
        choice = (data.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        calls = [ToolCall(c.get("id", ""), (c.get("function") or {}).get("name", ""),
                          (c.get("function") or {}).get("arguments", "")) for c in message.get("tool_calls") or []]
        return ChatResult(text=message.get("content") or "", tool_calls=calls,
                          finish_reason=choice.get("finish_reason") or "stop", usage=_usage(data.get("usage")),
                          reasoning=_reasoning(message))

    async def stream(self, req: ChatRequest) -> AsyncIterator[Delta]:
        """Deltas as they arrive. Errors before the first delta are UpstreamError (so the router can fall
        back); later ones end the stream."""
        async with open_stream(self.http, self.d, self.d.url("chat/completions"), self._body(req, True),
                               self._headers()) as resp:
            finish, usage = None, Usage()
            async for _, payload in sse_events(resp):
                if payload.strip() == "[DONE]":
                    break
                chunk = parse_json(payload, self.d.name)
                if chunk.get("error"):  # OpenRouter and others report mid-stream failures in a chunk
                    error = chunk["error"]
                    raise UpstreamError(f"{self.d.name}: " + str(error.get("message") if isinstance(error, dict)
                                                                 else error))
                if chunk.get("usage"):
                    usage = _usage(chunk["usage"])
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    reasoning = _reasoning(delta)
                    if reasoning:
                        yield Delta(reasoning=reasoning)
                    if delta.get("content"):
                        yield Delta(text=delta["content"])
                    for tc in delta.get("tool_calls") or []:
                        fn = tc.get("function") or {}
                        yield Delta(tool_call=ToolCall(tc.get("id") or "", fn.get("name") or "",
                                                       fn.get("arguments") or ""), tool_index=tc.get("index", 0))
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            yield Delta(finish_reason=finish or "stop", usage=usage)
