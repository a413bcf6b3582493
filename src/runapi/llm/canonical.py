"""The gateway's internal request and result: OpenAI Chat Completions shapes (messages, tools, tool_calls),
which every surface translates to and from.

Assistant messages in `messages` may also carry `reasoning_content` (the de-facto field DeepSeek uses) with a
`reasoning_signature`: Anthropic's signed thinking, which must go back to Anthropic verbatim in tool loops."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NO_REASONING_EFFORTS = (None, "none", "minimal")


@dataclass
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = False
    response_format: dict[str, Any] | None = None
    reasoning_effort: str | None = None  # none | minimal | low | medium | high | xhigh
    reasoning_budget: int | None = None  # a thinking token budget, when the client gave one
    include_reasoning: bool = False  # the client asked to see the reasoning (thinking blocks, thought parts, …)
    stop: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # passed through to OpenAI-compatible upstreams
    n: int = 1  # choices wanted (Chat Completions `n`)
    # Anthropic prompt caching: `cache_control` ({"type": "ephemeral", "ttl": "5m" | "1h"}) may sit on content
    # parts, on system parts, on tools and on tool_calls / tool messages; Anthropic upstreams get it back where
    # it was, others drop it. `anthropic_beta` is the client's anthropic-beta header, forwarded to them too.
    anthropic_beta: str | None = None

    def uses_cache(self) -> bool:
        """Whether any cache breakpoint was asked for (cache writes cost more than input: reserve for them)."""

        def marked(items: Any) -> bool:
            return isinstance(items, list) and any(isinstance(x, dict) and "cache_control" in x for x in items)

        return marked(self.tools) or any(
            "cache_control" in m or marked(m.get("content")) or marked(m.get("tool_calls")) for m in self.messages
        )

    def wants_reasoning(self) -> bool:
        """Whether the request turns thinking on (a model may still think without being asked)."""
        if self.reasoning_effort not in NO_REASONING_EFFORTS:
            return True
        return self.reasoning_effort is None and (self.include_reasoning or bool(self.reasoning_budget))


@dataclass
class Usage:
    input_tokens: int = 0  # including cached_tokens and cache_write_tokens
    output_tokens: int = 0  # including reasoning_tokens: reasoning is billed as output
    cached_tokens: int = 0  # input read from the prompt cache
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0  # input written to the prompt cache (Anthropic), 5-minute and 1-hour TTLs
    cache_write_1h_tokens: int = 0  # the part of cache_write_tokens written with the 1-hour TTL


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text


@dataclass
class ChatResult:
    text: str
    tool_calls: list[ToolCall]
    finish_reason: str  # stop | length | tool_calls | content_filter
    usage: Usage
    reasoning: str | None = None
    reasoning_signature: str | None = None  # Anthropic's signature over its thinking
    stop_sequence: str | None = None  # which stop sequence ended the text, when the upstream says
    # choices 1..n-1 when the request asked for n > 1 (Chat Completions); `usage` covers all of them
    alternatives: list[ChatResult] = field(default_factory=list)
    deployment: str | None = None  # the configured deployment that answered (the router sets it; the usage log)


@dataclass
class Delta:
    """One streamed piece: text, reasoning, a tool call fragment, or the end (finish_reason + usage)."""

    text: str | None = None
    reasoning: str | None = None
    reasoning_signature: str | None = None
    tool_call: ToolCall | None = None
    tool_index: int = 0
    finish_reason: str | None = None
    usage: Usage | None = None
    stop_sequence: str | None = None
    choice: int = 0  # which of n choices this piece belongs to
    prompt_usage: Usage | None = None  # the input side, when the upstream tells it at the start (Anthropic)
    deployment: str | None = None  # on a stream's first delta: the deployment answering (set by the router)
