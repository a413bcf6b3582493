"""Where a chat request goes: the provider chain for its model (upstreams with fallback, configured in
settings), or the sandbox LLM when none is configured. Every surface calls these two functions."""

from __future__ import annotations

from typing import Any, AsyncIterator

from . import sandbox
from .canonical import ChatRequest, ChatResult, Delta


def provider_name(runtime: Any, model: str) -> str:
    """The provider that will serve `model` first (what guardrails' provider lists match)."""
    return "sandbox"


async def complete(runtime: Any, req: ChatRequest) -> ChatResult:
    return sandbox.answer(req)


async def stream(runtime: Any, req: ChatRequest) -> AsyncIterator[Delta]:
    async for delta in sandbox.stream(req):
        yield delta
