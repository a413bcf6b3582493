"""An upstream speaking Anthropic's Messages API (`POST {base}/v1/messages`, `x-api-key`, `anthropic-version`):
the canonical (Chat Completions shaped) request becomes a Messages body, and the message or its SSE events
(message_start, content_block_start/delta/stop, message_delta, message_stop) become a ChatResult or Deltas:
text, tool_use, thinking with its signature, stop reasons, and usage with cache reads."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from ...upstream_errors import UpstreamError
from ..canonical import ChatRequest, ChatResult, Delta, ToolCall, Usage
from ..tokens import text_tokens
from ..upstream_common import (
    LlmDeployment,
    append_turn,
    call_arguments,
    data_url,
    open_stream,
    parse_json,
    post_json,
    sse_events,
    text_of,
)

if TYPE_CHECKING:  # aiohttp loads with the first deployment's client (upstream_common.new_http_client)
    import aiohttp

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # Messages requires max_tokens (billing reserves for the model's cap when none is given)
MIN_THINKING_BUDGET = 1024
COUNTED = ("model", "messages", "system", "tools", "tool_choice", "thinking")  # what count_tokens accepts
EFFORT_BUDGETS = {"low": 1024, "medium": 4096, "high": 16384, "xhigh": 32000}
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# in-stream `error` events: their HTTP status, and whether another deployment may succeed
ERROR_TYPES = {
    "overloaded_error": (529, True),
    "api_error": (500, True),
    "rate_limit_error": (429, True),
    "timeout_error": (504, True),
    "invalid_request_error": (400, False),
    "authentication_error": (401, False),
    "permission_error": (403, False),
    "not_found_error": (404, False),
    "request_too_large": (413, False),
}


def _refuse(message: str) -> UpstreamError:
    """Client input this protocol cannot carry: a 400 for the client, not a reason to try elsewhere."""
    return UpstreamError(message, 400, retryable=False)


# ---------------------------------------------------------------------------------------------- request


def upstream_tool_id(call_id: str) -> str:
    """Anthropic accepts tool ids of [A-Za-z0-9_-] only; ids minted elsewhere are mapped the same way in the
    tool_use block and in its tool_result, so they still pair up."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", call_id) or "toolu_0"


def _image_block(url: str) -> dict[str, Any]:
    inline = data_url(url)
    if inline is not None:
        return {"type": "image", "source": {"type": "base64", "media_type": inline[0], "data": inline[1]}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _document_block(file: dict[str, Any]) -> dict[str, Any]:
    if isinstance(file.get("file_data"), str):
        inline = data_url(file["file_data"])
        if inline is None:
            raise _refuse("file_data must be a base64 data URL")
        block: dict[str, Any] = {
            "type": "document",
            "source": {"type": "base64", "media_type": inline[0], "data": inline[1]},
        }
    elif isinstance(file.get("file_url"), str):
        block = {"type": "document", "source": {"type": "url", "url": file["file_url"]}}
    else:
        raise _refuse("file inputs must carry file_data or file_url for an Anthropic upstream")
    if isinstance(file.get("filename"), str) and file["filename"]:
        block["title"] = file["filename"]
    return block


def _mark(block: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """The block with the source's cache breakpoint, if it had one."""
    if isinstance(source.get("cache_control"), dict):
        block["cache_control"] = source["cache_control"]
    return block


def content_blocks(content: Any) -> list[dict[str, Any]]:
    """Canonical content (a string or OpenAI parts) as Anthropic blocks, cache breakpoints kept; empty text is
    left out, since Anthropic refuses empty text blocks."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        before = len(blocks)
        _append_part(blocks, part)
        if len(blocks) > before:
            _mark(blocks[-1], part)
    return blocks


def _append_part(blocks: list[dict[str, Any]], part: dict[str, Any]) -> None:
    kind = part.get("type")
    if kind == "text":
        if part.get("text"):
            blocks.append({"type": "text", "text": str(part["text"])})
    elif kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if isinstance(url, str) and url:
            blocks.append(_image_block(url))
    elif kind == "file":
        blocks.append(_document_block(part.get("file") or {}))
    else:
        raise _refuse(f"content type {kind!r} cannot be sent to an Anthropic upstream")


def _assistant_blocks(m: dict[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if m.get("reasoning_signature") and m.get("reasoning_content"):
        # signed thinking goes back verbatim: Anthropic requires it before tool_use when thinking is on
        blocks.append({"type": "thinking", "thinking": m["reasoning_content"], "signature": m["reasoning_signature"]})
    blocks += content_blocks(m.get("content"))
    for call in m.get("tool_calls") or []:
        name, args = call_arguments(call)
        blocks.append(
            _mark(
                {"type": "tool_use", "id": upstream_tool_id(str(call.get("id") or "")), "name": name, "input": args},
                call,
            )
        )
    return blocks


def _tool_result(m: dict[str, Any]) -> dict[str, Any]:
    content = m.get("content")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": upstream_tool_id(str(m.get("tool_call_id") or ""))}
    if isinstance(content, list):
        block["content"] = content_blocks(content)
    elif content:
        block["content"] = str(content)
    return _mark(block, m)


def _turns(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system text blocks, alternating user/assistant turns). Tool results are user blocks; consecutive turns
    of one role are merged, as Anthropic wants strict alternation."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for m in messages:
        role = m.get("role")
        if role in ("system", "developer"):
            content = m.get("content")
            if isinstance(content, list):
                system += [
                    b for b in content_blocks([p for p in content if isinstance(p, dict) and p.get("type") == "text"])
                ]
            elif text_of(content):
                system.append({"type": "text", "text": text_of(content)})
            continue
        if role == "assistant":
            turn_role, blocks = "assistant", _assistant_blocks(m)
        elif role == "tool":
            turn_role, blocks = "user", [_tool_result(m)]
        else:
            turn_role, blocks = "user", content_blocks(m.get("content"))
        append_turn(turns, turn_role, blocks, "content")
    return system, turns


def _tool_choice(choice: Any, serial: bool) -> dict[str, Any] | None:
    if choice == "none":
        return {"type": "none"}
    if choice == "required":
        out: dict[str, Any] = {"type": "any"}
    elif isinstance(choice, dict) and (choice.get("function") or {}).get("name"):
        out = {"type": "tool", "name": choice["function"]["name"]}
    elif choice in (None, "auto"):
        if not serial:
            return None
        out = {"type": "auto"}
    else:
        return None
    if serial:
        out["disable_parallel_tool_use"] = True
    return out


def _thinking_budget(req: ChatRequest, max_tokens: int) -> int | None:
    """The thinking budget to ask for, or None (not wanted, or no room: it must be >= 1024 and < max_tokens)."""
    if not req.wants_reasoning():
        return None
    budget = req.reasoning_budget or EFFORT_BUDGETS.get(req.reasoning_effort or "", MIN_THINKING_BUDGET)
    budget = min(budget, max_tokens - 1)
    return budget if budget >= MIN_THINKING_BUDGET else None


def messages_body(req: ChatRequest, model: str, stream: bool) -> dict[str, Any]:
    system, turns = _turns(req.messages)
    max_tokens = req.max_tokens or DEFAULT_MAX_TOKENS
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": turns}
    if any("cache_control" in b for b in system):  # blocks as given, each breakpoint where the client put it
        body["system"] = system
    elif system:
        body["system"] = "\n\n".join(b["text"] for b in system)
    if stream:
        body["stream"] = True
    if req.stop:
        body["stop_sequences"] = req.stop
    choice = None
    if req.tools:
        body["tools"] = []
        for tool in req.tools:
            fn = tool.get("function") or tool
            spec: dict[str, Any] = {
                "name": fn.get("name", ""),
                "input_schema": fn.get("parameters") or {"type": "object", "properties": {}},
            }
            if fn.get("description"):
                spec["description"] = fn["description"]
            body["tools"].append(_mark(spec, tool))
        choice = _tool_choice(req.tool_choice, req.extra.get("parallel_tool_calls") is False)
        if choice is not None:
            body["tool_choice"] = choice
    forced_tool = choice is not None and choice["type"] in ("any", "tool")
    budget = None if forced_tool else _thinking_budget(req, max_tokens)  # Anthropic refuses thinking + forced tools
    if budget is not None:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    else:  # with thinking on, Anthropic allows neither temperature nor top_p changes
        if req.temperature is not None:
            body["temperature"] = min(max(float(req.temperature), 0.0), 1.0)  # Anthropic's range is 0..1
        if isinstance(req.extra.get("top_p"), (int, float)):
            body["top_p"] = req.extra["top_p"]
    fmt = req.response_format or {}
    schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
    if isinstance(schema, dict):
        body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    if isinstance(req.extra.get("user"), str):
        body["metadata"] = {"user_id": req.extra["user"]}
    return body


# ----------------------------------------------------------------------------------------------- result


def usage(raw: dict[str, Any], reasoning_text: str = "") -> Usage:
    """Anthropic's input_tokens leave out cache reads and writes; canonical input includes them. Thinking is
    part of output_tokens; its share is reported, or else estimated from the thinking text."""
    read = int(raw.get("cache_read_input_tokens") or 0)
    written = int(raw.get("cache_creation_input_tokens") or 0)
    by_ttl: dict[str, Any] = raw["cache_creation"] if isinstance(raw.get("cache_creation"), dict) else {}
    written_1h = min(int(by_ttl.get("ephemeral_1h_input_tokens") or 0), written)
    output = int(raw.get("output_tokens") or 0)
    thinking = (raw.get("output_tokens_details") or {}).get("thinking_tokens")
    reasoning = int(thinking) if thinking is not None else min(text_tokens(reasoning_text), output)
    return Usage(
        input_tokens=int(raw.get("input_tokens") or 0) + read + written,
        output_tokens=output,
        cached_tokens=read,
        reasoning_tokens=reasoning,
        cache_write_tokens=written,
        cache_write_1h_tokens=written_1h,
    )


def chat_result(data: dict[str, Any]) -> ChatResult:
    texts: list[str] = []
    thinking: list[str] = []
    signature: str | None = None
    calls: list[ToolCall] = []
    for block in data.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking", "")))
            signature = block.get("signature") or signature
        elif kind == "tool_use":
            calls.append(
                ToolCall(
                    str(block.get("id", "")),
                    str(block.get("name", "")),
                    json.dumps(block.get("input") or {}, ensure_ascii=False),
                )
            )
    reasoning = "".join(thinking)
    return ChatResult(
        text="".join(texts),
        tool_calls=calls,
        finish_reason=FINISH_REASONS.get(data.get("stop_reason") or "end_turn", "stop"),
        usage=usage(data.get("usage") or {}, reasoning),
        reasoning=reasoning or None,
        reasoning_signature=signature,
        stop_sequence=data.get("stop_sequence"),
    )


def _stream_error(event: dict[str, Any], who: str) -> UpstreamError:
    error = event.get("error") or {}
    status, retryable = ERROR_TYPES.get(str(error.get("type")), (500, True))
    return UpstreamError(f"{who}: {error.get('message') or error.get('type') or 'stream error'}", status, retryable)


class StreamReader:
    """Messages SSE events in, canonical Deltas out (one event may give none)."""

    def __init__(self, who: str):
        self.who = who
        self.usage: dict[str, Any] = {}
        self.calls: dict[int, tuple[int, str, str]] = {}  # block index -> (tool index, id, name)
        self.thinking_pieces: list[str] = []
        self.stop_reason: str | None = None
        self.stop_sequence: str | None = None

    def feed(self, event: dict[str, Any]) -> list[Delta]:
        kind = event.get("type")
        if kind == "message_start":
            self.usage.update((event.get("message") or {}).get("usage") or {})
        elif kind == "content_block_start":
            return self._start(int(event.get("index") or 0), event.get("content_block") or {})
        elif kind == "content_block_delta":
            return self._delta(int(event.get("index") or 0), event.get("delta") or {})
        elif kind == "message_delta":
            delta = event.get("delta") or {}
            self.stop_reason = delta.get("stop_reason") or self.stop_reason
            self.stop_sequence = delta.get("stop_sequence") or self.stop_sequence
            self.usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
        elif kind == "error":
            raise _stream_error(event, self.who)
        return []  # ping, content_block_stop, message_stop, and event types added later

    def _start(self, index: int, block: dict[str, Any]) -> list[Delta]:
        kind = block.get("type")
        if kind == "tool_use":
            call = (len(self.calls), str(block.get("id", "")), str(block.get("name", "")))
            self.calls[index] = call
            return [Delta(tool_call=ToolCall(call[1], call[2], ""), tool_index=call[0])]
        if kind == "text" and block.get("text"):
            return [Delta(text=block["text"])]
        if kind == "thinking" and block.get("thinking"):
            self.thinking_pieces.append(block["thinking"])
            return [Delta(reasoning=block["thinking"])]
        return []  # redacted_thinking carries nothing readable

    def _delta(self, index: int, delta: dict[str, Any]) -> list[Delta]:
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [Delta(text=delta["text"])]
        if kind == "input_json_delta" and delta.get("partial_json") and index in self.calls:
            tool_index, call_id, name = self.calls[index]
            return [Delta(tool_call=ToolCall(call_id, name, delta["partial_json"]), tool_index=tool_index)]
        if kind == "thinking_delta" and delta.get("thinking"):
            self.thinking_pieces.append(delta["thinking"])
            return [Delta(reasoning=delta["thinking"])]
        if kind == "signature_delta" and delta.get("signature"):
            return [Delta(reasoning_signature=delta["signature"])]
        return []

    def end(self) -> Delta:
        return Delta(
            finish_reason=FINISH_REASONS.get(self.stop_reason or "end_turn", "stop"),
            usage=usage(self.usage, "".join(self.thinking_pieces)),
            stop_sequence=self.stop_sequence,
        )


class AnthropicMessages:
    def __init__(self, deployment: LlmDeployment, http: aiohttp.ClientSession):
        self.d = deployment
        self.http = http

    def _headers(self, req: ChatRequest) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if self.d.api_key:
            headers["x-api-key"] = self.d.api_key
        if req.anthropic_beta:  # the client's beta features (e.g. extended cache TTL) go on to Anthropic
            headers["anthropic-beta"] = req.anthropic_beta
        return headers

    async def count_tokens(self, req: ChatRequest) -> int:
        """The upstream's own count (`POST /v1/messages/count_tokens`) of what `req` would send."""
        body = {
            k: v for k, v in messages_body(req, self.d.upstream_model(req.model), stream=False).items() if k in COUNTED
        }
        url = self.d.url("v1/messages/count_tokens")
        data = await post_json(self.http, self.d, url, body, self._headers(req), model=req.model)
        if not isinstance(data.get("input_tokens"), int):
            raise UpstreamError(f"{self.d.name}: count_tokens answered without input_tokens")
        return int(data["input_tokens"])

    async def complete(self, req: ChatRequest) -> ChatResult:
        body = messages_body(req, self.d.upstream_model(req.model), stream=False)
        data = await post_json(self.http, self.d, self.d.url("v1/messages"), body, self._headers(req), model=req.model)
        if data.get("type") == "error":
            raise _stream_error(data, self.d.name)
        return chat_result(data)

    async def stream(self, req: ChatRequest) -> AsyncGenerator[Delta, None]:
        body = messages_body(req, self.d.upstream_model(req.model), stream=True)
        url = self.d.url("v1/messages")
        async with open_stream(self.http, self.d, url, body, self._headers(req), model=req.model) as resp:
            reader = StreamReader(self.d.name)
            first = True
            async for _, data in sse_events(resp):
                event = parse_json(data, self.d.name)
                if event.get("type") == "message_stop":
                    yield reader.end()
                    return
                for delta in reader.feed(event):
                    if first:  # message_start's usage (cache reads and writes) rides on the first delta
                        delta.prompt_usage, first = usage(reader.usage), False
                    yield delta
        raise UpstreamError(f"{self.d.name}: the stream ended before message_stop")
