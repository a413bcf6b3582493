"""The gateway's internal request and result: OpenAI Chat Completions shapes (messages, tools, tool_calls),
which every surface translates to and from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    reasoning_effort: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # passed through to OpenAI-compatible upstreams


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text


@dataclass
class ChatResult:
    text: str
    tool_calls: list[ToolCall]
    finish_reason: str  # stop | length | tool_calls
    usage: Usage
    reasoning: str | None = None


@dataclass
class Delta:
    """One streamed piece: text, a tool call fragment, or the end (finish_reason + usage)."""

    text: str | None = None
    tool_call: ToolCall | None = None
    tool_index: int = 0
    finish_reason: str | None = None
    usage: Usage | None = None
