"""An upstream speaking the OpenAI Chat Completions protocol (OpenAI itself, DeepSeek, vLLM, Ollama,
OpenRouter, LiteLLM, …): our canonical request is already that shape, so this is mostly transport."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import httpx

from .canonical import ChatRequest, ChatResult, Delta, ToolCall, Usage


class UpstreamError(Exception):
    """The upstream failed or refused; `retryable` failures move on to the next deployment."""

    def __init__(self, message: str, status: int | None = None, retryable: bool = True,
                 retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass
class Deployment:
    name: str  # what guardrails' allowed_providers / blocked_providers match
    base_url: str
    api_key: str | None = None
    models: list[str] = field(default_factory=lambda: ["*"])
    model_map: dict[str, str] = field(default_factory=dict)
    kind: str = "openai"
    timeout_seconds: float = 120.0

    def serves(self, model: str) -> bool:
        return "*" in self.models or model in self.models


def _usage(raw: dict[str, Any] | None) -> Usage:
    raw = raw or {}
    details = raw.get("prompt_tokens_details") or {}
    out_details = raw.get("completion_tokens_details") or {}
    return Usage(input_tokens=int(raw.get("prompt_tokens") or 0), output_tokens=int(raw.get("completion_tokens") or 0),
                 cached_tokens=int(details.get("cached_tokens") or raw.get("prompt_cache_hit_tokens") or 0),
                 reasoning_tokens=int(out_details.get("reasoning_tokens") or 0))


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None


async def _raise_for(resp: httpx.Response) -> None:
    if resp.status_code < 400:
        return
    body = (await resp.aread()).decode("utf-8", "replace")[:500]
    try:
        message = json.loads(body)["error"]["message"]
    except Exception:  # noqa: BLE001 - any non-JSON or differently shaped body
        message = body or f"HTTP {resp.status_code}"
    retryable = resp.status_code in (408, 409, 429) or resp.status_code >= 500
    raise UpstreamError(message, resp.status_code, retryable, _retry_after(resp))


class OpenAICompatible:
    def __init__(self, deployment: Deployment, http: httpx.AsyncClient):
        self.d = deployment
        self.http = http

    def _body(self, req: ChatRequest, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {**req.extra, "model": self.d.model_map.get(req.model, req.model),
                                "messages": req.messages, "stream": stream}
        for key, value in (("tools", req.tools), ("tool_choice", req.tool_choice), ("max_tokens", req.max_tokens),
                           ("temperature", req.temperature), ("response_format", req.response_format),
                           ("reasoning_effort", req.reasoning_effort)):
            if value is not None:
                body[key] = value
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.d.api_key}"} if self.d.api_key else {}

    async def complete(self, req: ChatRequest) -> ChatResult:
        try:
            resp = await self.http.post(f"{self.d.base_url.rstrip('/')}/chat/completions",
                                        json=self._body(req, False), headers=self._headers(),
                                        timeout=self.d.timeout_seconds)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{self.d.name}: {type(exc).__name__}") from exc
        await _raise_for(resp)
        data = resp.json()
        choice = (data.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        calls = [ToolCall(c.get("id", ""), (c.get("function") or {}).get("name", ""),
                          (c.get("function") or {}).get("arguments", "")) for c in message.get("tool_calls") or []]
        return ChatResult(text=message.get("content") or "", tool_calls=calls,
                          finish_reason=choice.get("finish_reason") or "stop", usage=_usage(data.get("usage")),
                          reasoning=message.get("reasoning_content"))

    async def stream(self, req: ChatRequest) -> AsyncIterator[Delta]:
        """Deltas as they arrive. Errors before the first delta are UpstreamError (so the router can fall
        back); later ones end the stream."""
        try:
            ctx = self.http.stream("POST", f"{self.d.base_url.rstrip('/')}/chat/completions",
                                   json=self._body(req, True), headers=self._headers(),
                                   timeout=self.d.timeout_seconds)
            resp = await ctx.__aenter__()
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{self.d.name}: {type(exc).__name__}") from exc
        try:
            await _raise_for(resp)
            finish, usage = None, Usage()
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                chunk = json.loads(payload)
                if chunk.get("usage"):
                    usage = _usage(chunk["usage"])
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    if delta.get("content"):
                        yield Delta(text=delta["content"])
                    for tc in delta.get("tool_calls") or []:
                        fn = tc.get("function") or {}
                        yield Delta(tool_call=ToolCall(tc.get("id") or "", fn.get("name") or "",
                                                       fn.get("arguments") or ""), tool_index=tc.get("index", 0))
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            yield Delta(finish_reason=finish or "stop", usage=usage)
        finally:
            await ctx.__aexit__(None, None, None)
