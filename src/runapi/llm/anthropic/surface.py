"""The Messages surface: pure translation between Anthropic's Messages API and the gateway's canonical (OpenAI
Chat Completions) shapes: the request in, the result out, the stream's content-block events, the names of stop
reasons, stop-sequence handling (OpenAI-style upstreams do not say which sequence stopped them, and take at most
four) and Anthropic's error shape."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator
from typing import Any, TypeGuard

import orjson

from ...errors import BadRequest
from ..canonical import ChatRequest, ChatResult, ToolCall, Usage
from ..models import LlmModel
from ..surface import Answering, ChatCall, Deltas, Describe
from ..tokens import messages_tokens

log = logging.getLogger("runapi.api")

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "xhigh"}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message}}


def model_object(m: LlmModel) -> dict[str, Any]:
    return {
        "type": "model",
        "id": m.id,
        "display_name": m.id,
        "lifecycle": "active",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(m.created)),
    }


def bad(message: str) -> BadRequest:
    return BadRequest(message)


def message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def client_tool_id(call_id: str) -> str:
    """Anthropic's id style for a canonical call id (upstreams answer `call_…`); the id is echoed back by the
    client as tool_use_id and sent upstream as-is, so any stable string works."""
    if not call_id:
        return f"toolu_{uuid.uuid4().hex[:24]}"
    if call_id.startswith("toolu_"):
        return call_id
    return "toolu_" + (call_id.removeprefix("call_"))


def tool_input(arguments: str) -> Any:
    """A tool call's JSON text as the object Anthropic puts in `input` (always an object)."""
    if not arguments or not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"value": value}


# ---------------------------------------------------------------- request


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


CACHE_TTLS = ("5m", "1h")


def cache_control(block: dict[str, Any], where: str) -> dict[str, Any] | None:
    """A block's validated cache_control ({"type": "ephemeral", "ttl": "5m" | "1h"}), or None."""
    raw = block.get("cache_control")
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") != "ephemeral" or set(raw) - {"type", "ttl"}:
        raise bad(f'{where}.cache_control: must be {{"type": "ephemeral"}} with an optional ttl')
    if "ttl" in raw and raw["ttl"] not in CACHE_TTLS:
        raise bad(f"{where}.cache_control.ttl: must be one of 5m, 1h")
    return dict(raw)


def _cached(part: dict[str, Any], block: dict[str, Any], where: str) -> dict[str, Any]:
    """The canonical part, carrying the block's cache breakpoint (Anthropic upstreams get it back)."""
    cc = cache_control(block, where)
    return {**part, "cache_control": cc} if cc is not None else part


def _text_block(block: dict[str, Any], where: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise bad(f"{where}: text blocks need a string `text`")
    return text


def _image_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise bad(f"{where}: image blocks need a `source`")
    kind = source.get("type")
    if kind == "base64":
        media, data = source.get("media_type"), source.get("data")
        if not isinstance(media, str) or not isinstance(data, str) or not data:
            raise bad(f"{where}: base64 image sources need `media_type` and `data`")
        return {"type": "image_url", "image_url": {"url": f"data:{media};base64,{data}"}}
    if kind == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url:
            raise bad(f"{where}: url image sources need a `url`")
        return {"type": "image_url", "image_url": {"url": url}}
    raise bad(f"{where}: image source type `{kind}` is not supported (use base64 or url)")


def _document_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise bad(f"{where}: document blocks need a `source`")
    kind = source.get("type")
    if kind == "text":
        return {"type": "text", "text": str(source.get("data", ""))}
    if kind == "base64":
        media, data = source.get("media_type"), source.get("data")
        if not isinstance(media, str) or not isinstance(data, str) or not data:
            raise bad(f"{where}: base64 document sources need `media_type` and `data`")
        name = block.get("title") if isinstance(block.get("title"), str) else "document.pdf"
        return {"type": "file", "file": {"filename": name, "file_data": f"data:{media};base64,{data}"}}
    if kind == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url:
            raise bad(f"{where}: url document sources need a `url`")
        return {"type": "file", "file": {"file_url": url}}
    if kind == "content":
        inner = source.get("content")
        text = (
            inner
            if isinstance(inner, str)
            else "\n".join(
                str(b.get("text", "")) for b in inner or [] if isinstance(b, dict) and b.get("type") == "text"
            )
        )
        return {"type": "text", "text": text}
    raise bad(f"{where}: document source type `{kind}` is not supported")


def _collapse(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Text-only content as one string (what every OpenAI-compatible upstream accepts), else the parts (also
    when a part carries a cache breakpoint, which a string would lose)."""
    if all(p.get("type") == "text" and "cache_control" not in p for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _tool_result(block: dict[str, Any], where: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A tool_result block as a role "tool" message, plus any images it carried (sent after as a user turn)."""
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise bad(f"{where}: tool_result blocks need a `tool_use_id`")
    content = block.get("content")
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    if content is None:
        pass
    elif isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for j, inner in enumerate(content):
            spot = f"{where}.content.{j}"
            if not isinstance(inner, dict):
                raise bad(f"{spot}: content blocks must be objects")
            if inner.get("type") == "text":
                texts.append(_text_block(inner, spot))
            elif inner.get("type") == "image":
                images.append(_image_part(inner, spot))
            elif inner.get("type") == "document":
                part = _document_part(inner, spot)
                if part["type"] == "text":
                    texts.append(part["text"])
                else:
                    images.append(part)
            else:
                raise bad(f"{spot}: block type `{inner.get('type')}` is not supported in tool_result")
    else:
        raise bad(f"{where}: tool_result content must be a string or an array of blocks")
    text = "\n".join(texts)
    if block.get("is_error") is True:
        text = f"Error: {text}" if text else "Error"
    return _cached({"role": "tool", "tool_call_id": call_id, "content": text}, block, where), images


def _user_messages(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        spot = f"{where}.content.{j}"
        kind = block.get("type")
        if kind == "text":
            parts.append(_cached({"type": "text", "text": _text_block(block, spot)}, block, spot))
        elif kind == "image":
            parts.append(_cached(_image_part(block, spot), block, spot))
        elif kind == "document":
            parts.append(_cached(_document_part(block, spot), block, spot))
        elif kind == "tool_result":
            message, images = _tool_result(block, spot)
            tools.append(message)
            parts.extend(images)
        elif kind in ("thinking", "redacted_thinking"):
            continue
        else:
            raise bad(f"{spot}: block type `{kind}` is not supported in user messages")
    out = list(tools)
    if parts or not tools:
        out.append({"role": "user", "content": _collapse(parts) if parts else ""})
    return out


def _assistant_message(content: Any, where: str) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    thinking: dict[str, Any] | None = None
    for j, block in enumerate(content):
        spot = f"{where}.content.{j}"
        kind = block.get("type")
        if kind == "text":
            texts.append(_cached({"type": "text", "text": _text_block(block, spot)}, block, spot))
        elif kind == "tool_use":
            call_id, name = block.get("id"), block.get("name")
            if not isinstance(call_id, str) or not call_id or not isinstance(name, str) or not name:
                raise bad(f"{spot}: tool_use blocks need `id` and `name`")
            args = block.get("input", {})
            calls.append(
                _cached(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)},
                    },
                    block,
                    spot,
                )
            )
        elif kind == "thinking":
            # signed thinking came from Anthropic, which wants it back in tool loops; unsigned is only shown
            if isinstance(block.get("signature"), str) and block["signature"] and thinking is None:
                thinking = {
                    "reasoning_content": str(block.get("thinking", "")),
                    "reasoning_signature": block["signature"],
                }
        elif kind == "redacted_thinking":
            continue
        else:
            raise bad(f"{spot}: block type `{kind}` is not supported in assistant messages")
    text: Any = _collapse(texts) if texts else (None if calls else "")
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = calls
    if thinking is not None:
        message.update(thinking)
    return message


def _system(system: Any) -> str | list[dict[str, Any]] | None:
    """The system prompt: a string, or its text parts when a block carries a cache breakpoint."""
    if system is None:
        return None
    if isinstance(system, str):
        return system or None
    if not isinstance(system, list):
        raise bad("system: must be a string or an array of text blocks")
    parts = []
    for j, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise bad(f"system.{j}: only text blocks are allowed in system")
        parts.append(_cached({"type": "text", "text": _text_block(block, f"system.{j}")}, block, f"system.{j}"))
    return _collapse(parts) or None


def _tools(tools: Any) -> list[dict[str, Any]] | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise bad("tools: must be an array")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise bad(f"tools.{i}: must be an object")
        if tool.get("type") not in (None, "custom"):
            raise bad(f"tools.{i}: tool type `{tool.get('type')}` is not supported (only custom tools)")
        name, schema = tool.get("name"), tool.get("input_schema")
        if not isinstance(name, str) or not name:
            raise bad(f"tools.{i}.name: Field required")
        if not isinstance(schema, dict):
            raise bad(f"tools.{i}.input_schema: Field required")
        fn: dict[str, Any] = {"name": name, "parameters": schema}
        if isinstance(tool.get("description"), str):
            fn["description"] = tool["description"]
        if isinstance(tool.get("strict"), bool):
            fn["strict"] = tool["strict"]
        out.append(_cached({"type": "function", "function": fn}, tool, f"tools.{i}"))
    return out or None


def _tool_choice(choice: Any, tools: list[dict[str, Any]] | None) -> tuple[Any, bool]:
    """The OpenAI tool_choice, and whether parallel tool use was disabled."""
    if choice is None:
        return None, False
    if not isinstance(choice, dict):
        raise bad("tool_choice: must be an object with a `type`")
    kind = choice.get("type")
    serial = choice.get("disable_parallel_tool_use") is True
    if kind == "auto":
        return "auto", serial
    if kind == "any":
        return "required", serial
    if kind == "none":
        return "none", False
    if kind == "tool":
        name = choice.get("name")
        if not isinstance(name, str) or not name:
            raise bad("tool_choice.name: Field required")
        if not any(t["function"]["name"] == name for t in tools or []):
            raise bad(f"tool_choice: tool `{name}` is not in tools")
        return {"type": "function", "function": {"name": name}}, serial
    raise bad("tool_choice.type: must be one of auto, any, tool, none")


def _reasoning(body: dict[str, Any], max_tokens: int | None) -> tuple[str | None, int | None, bool]:
    """thinking and output_config.effort as (reasoning_effort, budget_tokens, whether thinking is on)."""
    effort, budget, on = None, None, False
    thinking = body.get("thinking")
    if thinking is not None:
        if not isinstance(thinking, dict):
            raise bad("thinking: must be an object")
        kind = thinking.get("type")
        if kind == "enabled":
            budget = thinking.get("budget_tokens")
            if not _is_int(budget):
                raise bad("thinking.budget_tokens: Field required")
            if budget < 1024:
                raise bad("thinking.budget_tokens: must be at least 1024")
            if max_tokens is not None and budget >= max_tokens:
                raise bad("`max_tokens` must be greater than `thinking.budget_tokens`")
            effort = "low" if budget < 4096 else "medium" if budget < 16384 else "high"
            on = True
        elif kind == "adaptive":
            on = True  # the model decides how much to think
        elif kind not in ("disabled", "between_tools"):
            raise bad("thinking.type: must be one of enabled, disabled, adaptive")
    config = body.get("output_config")
    if isinstance(config, dict) and config.get("effort") is not None:
        if config["effort"] not in EFFORTS:
            raise bad("output_config.effort: must be one of low, medium, high, xhigh, max")
        effort = EFFORTS[config["effort"]]
    return effort, budget, on


def _response_format(body: dict[str, Any]) -> dict[str, Any] | None:
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
        raise bad("output_config.format: must be {type: json_schema, schema: {...}}")
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": fmt["schema"], "strict": True}}


def stop_sequences(body: dict[str, Any]) -> list[str]:
    stops = body.get("stop_sequences")
    if stops is None:
        return []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise bad("stop_sequences: must be an array of strings")
    if any(not s.strip() for s in stops):
        raise bad("stop_sequences: each stop sequence must contain non-whitespace")
    return list(dict.fromkeys(stops))


def chat_request(body: Any, counting: bool = False, beta: str | None = None) -> tuple[ChatRequest, list[str]]:
    """The canonical request for an Anthropic Messages body, and its stop sequences (enforced by the surface).
    `counting`: a count_tokens body, which has no max_tokens. `beta`: the anthropic-beta header."""
    if not isinstance(body, dict):
        raise bad("Request body must be a JSON object")
    if not body.get("model"):
        raise bad("Missing required parameter: model")
    max_tokens = body.get("max_tokens")
    if max_tokens is None and not counting:
        raise bad("Missing required parameter: max_tokens")
    if max_tokens is not None and (not _is_int(max_tokens) or max_tokens < 1):
        raise bad("max_tokens: must be a positive integer")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise bad("Missing required parameter: messages")
    messages: list[dict[str, Any]] = []
    system = _system(body.get("system"))
    if system is not None:
        messages.append({"role": "system", "content": system})
    for i, m in enumerate(raw):
        where = f"messages.{i}"
        if not isinstance(m, dict):
            raise bad(f"{where}: must be an object with `role` and `content`")
        role, content = m.get("role"), m.get("content")
        if role not in ("user", "assistant"):
            raise bad(f"{where}.role: must be `user` or `assistant`")
        if isinstance(content, list):
            if not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in content):
                raise bad(f"{where}.content: each block must be an object with a `type`")
        elif not isinstance(content, str):
            raise bad(f"{where}.content: must be a string or an array of content blocks")
        if role == "user":
            messages.extend(_user_messages(content, where))
        else:
            messages.append(_assistant_message(content, where))
    temperature = body.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 1
    ):
        raise bad("temperature: must be a number from 0 to 1")
    tools = _tools(body.get("tools"))
    tool_choice, serial = _tool_choice(body.get("tool_choice"), tools)
    stops = stop_sequences(body)
    extra: dict[str, Any] = {}
    if isinstance(body.get("top_p"), (int, float)) and not isinstance(body.get("top_p"), bool):
        extra["top_p"] = body["top_p"]
    if tools and serial:
        extra["parallel_tool_calls"] = False
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        extra["user"] = metadata["user_id"]
    effort, budget, thinking = _reasoning(body, max_tokens)
    req = ChatRequest(
        model=body["model"],
        messages=messages,
        tools=tools,
        tool_choice=tool_choice,
        max_tokens=max_tokens,
        temperature=temperature,
        stream=body.get("stream") is True,
        response_format=_response_format(body),
        reasoning_effort=effort,
        reasoning_budget=budget,
        include_reasoning=thinking,
        stop=stops or None,
        extra=extra,
        anthropic_beta=beta or None,
    )
    return req, stops


# ---------------------------------------------------------------- result


def stop_reason(finish_reason: str | None, has_tool_calls: bool = False) -> str:
    if has_tool_calls and finish_reason in (None, "stop", "tool_calls"):
        return "tool_use"
    return STOP_REASONS.get(finish_reason or "stop", "end_turn")


def usage(u: Usage) -> dict[str, Any]:
    """Anthropic counts cache reads and writes apart from input_tokens (canonical input includes them)."""
    written_1h = min(u.cache_write_1h_tokens, u.cache_write_tokens)
    return {
        "input_tokens": max(u.input_tokens - u.cached_tokens - u.cache_write_tokens, 0),
        "output_tokens": u.output_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cached_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": u.cache_write_tokens - written_1h,
            "ephemeral_1h_input_tokens": written_1h,
        },
    }


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, str | None]:
    """The text up to the earliest stop sequence in it, and that sequence (None when none occurs)."""
    best, hit = len(text), None
    for s in stops:
        at = text.find(s)
        if at != -1 and at < best:
            best, hit = at, s
    return text[:best], hit


class StopScanner:
    """Finds stop sequences across streamed text pieces: holds back only the tail that could still begin one."""

    def __init__(self, stops: list[str]):
        self.stops = stops
        self.keep = max((len(s) for s in stops), default=1) - 1
        self.pending = ""
        self.hit: str | None = None

    def feed(self, piece: str) -> str:
        """The text safe to emit now; after a hit, everything else is swallowed."""
        if self.hit is not None:
            return ""
        if not self.stops:
            return piece
        self.pending += piece
        before, hit = cut_at_stop(self.pending, self.stops)
        if hit is not None:
            self.hit, self.pending = hit, ""
            return before
        cut = max(len(self.pending) - self.keep, 0)
        out, self.pending = self.pending[:cut], self.pending[cut:]
        return out

    def flush(self) -> str:
        out, self.pending = self.pending, ""
        return out


def message(mid: str, model: str, result: ChatResult, stops: list[str]) -> dict[str, Any]:
    """The Anthropic message for a canonical result."""
    text, hit = cut_at_stop(result.text or "", stops)
    if hit is None and result.stop_sequence in stops:
        hit = result.stop_sequence  # the upstream stopped there itself (and left the sequence out)
    content: list[dict[str, Any]] = []
    if result.reasoning:
        content.append(
            {"type": "thinking", "thinking": result.reasoning, "signature": result.reasoning_signature or ""}
        )
    if text:
        content.append({"type": "text", "text": text})
    calls: list[ToolCall] = [] if hit is not None else result.tool_calls
    for call in calls:
        content.append(
            {"type": "tool_use", "id": client_tool_id(call.id), "name": call.name, "input": tool_input(call.arguments)}
        )
    reason = "stop_sequence" if hit is not None else stop_reason(result.finish_reason, bool(calls))
    return {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": hit,
        "usage": usage(result.usage),
    }


# ------------------------------------------------------------------------------------------------ stream


def event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


class Blocks:
    """Turns canonical deltas into Anthropic content-block events, one open block at a time."""

    def __init__(self) -> None:
        self.count = 0  # blocks opened so far; the open one is count - 1
        self.open: tuple[str, int] | None = None  # ("text", 0), ("thinking", 0) or ("tool", tool_index)
        self.tools = 0

    def close(self) -> list[bytes]:
        if self.open is None:
            return []
        self.open = None
        return [event("content_block_stop", {"type": "content_block_stop", "index": self.count - 1})]

    def _start(self, key: tuple[str, int], block: dict[str, Any]) -> list[bytes]:
        out = self.close()
        self.open = key
        self.count += 1
        out.append(
            event(
                "content_block_start", {"type": "content_block_start", "index": self.count - 1, "content_block": block}
            )
        )
        return out

    def text(self, text: str) -> list[bytes]:
        if not text:
            return []
        out = [] if self.open == ("text", 0) else self._start(("text", 0), {"type": "text", "text": ""})
        out.append(
            event(
                "content_block_delta",
                {"type": "content_block_delta", "index": self.count - 1, "delta": {"type": "text_delta", "text": text}},
            )
        )
        return out

    def thinking(self, text: str) -> list[bytes]:
        if not text:
            return []
        out = (
            []
            if self.open == ("thinking", 0)
            else self._start(("thinking", 0), {"type": "thinking", "thinking": "", "signature": ""})
        )
        out.append(
            event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": self.count - 1,
                    "delta": {"type": "thinking_delta", "thinking": text},
                },
            )
        )
        return out

    def signature(self, signature: str) -> list[bytes]:
        """Anthropic signs a thinking block last, just before it closes."""
        if not signature or self.open != ("thinking", 0):
            return []
        return [
            event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": self.count - 1,
                    "delta": {"type": "signature_delta", "signature": signature},
                },
            )
        ]

    def tool(self, index: int, call_id: str, name: str, arguments: str) -> list[bytes]:
        out: list[bytes] = []
        if self.open != ("tool", index):
            # upstreams stream one call after another; a call's first fragment carries its id and name
            self.tools += 1
            out = self._start(
                ("tool", index), {"type": "tool_use", "id": client_tool_id(call_id), "name": name, "input": {}}
            )
        if arguments:
            out.append(
                event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": self.count - 1,
                        "delta": {"type": "input_json_delta", "partial_json": arguments},
                    },
                )
            )
        return out


class MessagesCall(ChatCall):
    """One /v1/messages call."""

    def __init__(self, body: Any, beta: str | None = None):
        req, self.stops = chat_request(body, beta=beta)
        super().__init__(req)
        self.id = message_id()
        self.headers = {"request-id": f"req_{uuid.uuid4().hex}"}

    async def answer(self, who: Answering, result: ChatResult) -> dict[str, Any]:
        return message(self.id, who.model, result, self.stops)

    async def frames(self, who: Answering, deltas: Deltas, describe: Describe) -> AsyncGenerator[bytes, None]:
        req, stops = self.req, self.stops
        # the upstream's input side (cache reads and writes) when it told it, else the estimate
        first = deltas.first
        prompt = (
            first.prompt_usage
            if first is not None and first.prompt_usage is not None
            else Usage(input_tokens=messages_tokens(req.messages, req.tools))
        )
        finish: str | None = None
        upstream_stop: str | None = None
        blocks = Blocks()
        scanner = StopScanner(stops)
        try:
            yield event(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": self.id,
                        "type": "message",
                        "role": "assistant",
                        "model": who.model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": usage(prompt),
                    },
                },
            )
            yield event("ping", {"type": "ping"})
            async for d in deltas:
                if d.finish_reason is not None:
                    finish, upstream_stop = d.finish_reason, d.stop_sequence
                if scanner.hit is not None:
                    continue  # after a stop sequence the rest is drained for its usage only
                if d.reasoning or d.reasoning_signature:
                    for chunk in [
                        *blocks.text(scanner.flush()),
                        *blocks.thinking(d.reasoning or ""),
                        *blocks.signature(d.reasoning_signature or ""),
                    ]:
                        yield chunk
                elif d.text:
                    for chunk in blocks.text(scanner.feed(d.text)):
                        yield chunk
                elif d.tool_call is not None:
                    for chunk in [
                        *blocks.text(scanner.flush()),
                        *blocks.tool(d.tool_index, d.tool_call.id, d.tool_call.name, d.tool_call.arguments),
                    ]:
                        yield chunk
            for chunk in [*blocks.text(scanner.flush()), *blocks.close()]:
                yield chunk
            hit = scanner.hit if scanner.hit is not None else upstream_stop if upstream_stop in stops else None
            reason = "stop_sequence" if hit is not None else stop_reason(finish, blocks.tools > 0)
            # without reported usage (a hang-up, or an upstream that sends none) what was generated is billed
            yield event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": reason, "stop_sequence": hit},
                    "usage": usage(deltas.billable_usage()),
                },
            )
            yield event("message_stop", {"type": "message_stop"})
        except Exception as exc:  # the stream has begun: report in-band, as Anthropic does
            failure = describe(exc)
            if failure.internal:
                log.exception("anthropic stream failed for %s", who.model)
            yield event("error", error_body(failure.status, failure.message))
