"""The sandbox LLM: deterministic answers without a model, so every surface, stream, tool call and bill can be
exercised offline. It calls a tool when tools are offered and the user spoke last, reports tool results back,
acknowledges images, honours max_tokens, and thinks out loud (reasoning, billed as output) when the request
turns thinking on."""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections.abc import AsyncGenerator
from typing import Any

from .canonical import ChatRequest, ChatResult, Delta, ToolCall, Usage
from .tokens import content_tokens, messages_tokens, text_tokens


def _said(content: Any) -> str:
    """What a message says, every part with text joined by spaces (the sandbox reads words, not wire text)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p)
    return ""


def _images_in(content: Any) -> int:
    if not isinstance(content, list):
        return 0
    return sum(1 for p in content if isinstance(p, dict) and p.get("type") in ("image_url", "input_image", "image"))


def _example(schema: dict[str, Any], hint: str) -> Any:
    if not isinstance(schema, dict):  # callers' tool schemas are not validated: make do with anything
        return hint or "sandbox"
    kind = schema.get("type")
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        props: dict[str, Any] = schema["properties"] if isinstance(schema.get("properties"), dict) else {}
        required = schema.get("required")
        wanted = [k for k in required if isinstance(k, str)] if isinstance(required, list) else list(props)
        return {k: _example(props.get(k) or {}, hint) for k in wanted}
    if kind == "array":
        return [_example(schema.get("items") or {}, hint)]
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    return hint or "sandbox"


def _pick_tool(req: ChatRequest) -> dict[str, Any] | None:
    tools = [t for t in req.tools or [] if isinstance(t, dict) and t.get("type", "function") == "function"]
    if not tools or req.tool_choice == "none":
        return None
    if isinstance(req.tool_choice, dict):
        name = (req.tool_choice.get("function") or {}).get("name") or req.tool_choice.get("name")
        for t in tools:
            if (t.get("function") or t).get("name") == name:
                return t
    return tools[0]


def _truncate(text: str, tokens: int) -> str:
    return text.encode()[: max(tokens, 1) * 4].decode("utf-8", "ignore")


def _reasoning(req: ChatRequest, last: dict[str, Any], digest: str) -> str | None:
    """Deterministic thoughts, kept within half of max_tokens so the answer still has room."""
    if not req.wants_reasoning():
        return None
    said = _said(last.get("content")).strip()
    thought = f"Thinking ({digest[:8]}) about: {said[:120]}. The sandbox answers deterministically."
    if req.max_tokens is not None and text_tokens(thought) > req.max_tokens // 2:
        thought = _truncate(thought, req.max_tokens // 2) if req.max_tokens >= 2 else ""
    return thought or None


def _json_reply(req: ChatRequest, text: str) -> str | None:
    """A JSON answer when response_format asks for one: an example of the schema, or an object with the reply."""
    fmt = req.response_format if isinstance(req.response_format, dict) else {}
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") if isinstance(fmt.get("json_schema"), dict) else None
        return json.dumps(
            _example(schema if isinstance(schema, dict) else {"type": "object"}, "sandbox"), ensure_ascii=False
        )
    if fmt.get("type") == "json_object":
        return json.dumps({"reply": text}, ensure_ascii=False)
    return None


def answer(req: ChatRequest) -> ChatResult:
    """The answer, with n - 1 alternatives when `req.n` asks for several choices (each a little different)."""
    results = [_one(req, i) for i in range(max(req.n, 1))]
    first = results[0]
    for other in results[1:]:  # the prompt is read once; every choice's output is billed
        first.usage.output_tokens += other.usage.output_tokens
        first.usage.reasoning_tokens += other.usage.reasoning_tokens
    first.alternatives = results[1:]
    return first


def _uncached(value: Any) -> Any:
    """`value` without cache breakpoints (they change what is cached, never the answer); text-only parts kept
    as parts only for a breakpoint read as the plain string."""
    if isinstance(value, dict):
        return {k: _uncached(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        items = [_uncached(v) for v in value]
        if items and all(isinstance(v, dict) and set(v) == {"type", "text"} and v["type"] == "text" for v in items):
            return "\n".join(str(v["text"]) for v in items)  # as the same text sent as a string
        return items
    return value


def _one(req: ChatRequest, index: int) -> ChatResult:
    last = req.messages[-1] if req.messages else {"role": "user", "content": ""}
    input_tokens = messages_tokens(req.messages, req.tools)
    seed = json.dumps(_uncached(req.messages), sort_keys=True, default=str) + (f"#{index}" if index else "")
    digest = hashlib.sha256(seed.encode()).hexdigest()
    reasoning = _reasoning(req, last, digest)
    thought_tokens = text_tokens(reasoning or "")
    tool = _pick_tool(req) if last.get("role") == "user" else None
    if tool is not None:
        fn = tool.get("function") or tool
        words = re.findall(r"\w+", _said(last.get("content")))
        args = _example(fn.get("parameters") or {"type": "object"}, words[-1] if words else "sandbox")
        call = ToolCall(id=f"call_{digest[:24]}", name=fn["name"], arguments=json.dumps(args, ensure_ascii=False))
        usage = Usage(
            input_tokens, text_tokens(call.name + call.arguments) + thought_tokens, reasoning_tokens=thought_tokens
        )
        return ChatResult(text="", tool_calls=[call], finish_reason="tool_calls", usage=usage, reasoning=reasoning)
    if last.get("role") == "tool":
        text = f"The tool returned: {_said(last.get('content'))[:400]}"
    else:
        said = _said(last.get("content")).strip()
        images = _images_in(last.get("content"))
        seen = f" I see {images} image{'s' if images != 1 else ''}." if images else ""
        text = f"Sandbox reply ({digest[:8]}) to: {said[:300]}{seen}"
    text = _json_reply(req, text) or text
    finish = "stop"
    room = None if req.max_tokens is None else max(req.max_tokens - thought_tokens, 1)
    if room is not None and text_tokens(text) > room:
        text = _truncate(text, room)
        finish = "length"
    usage = Usage(input_tokens, text_tokens(text) + thought_tokens, reasoning_tokens=thought_tokens)
    return ChatResult(text=text, tool_calls=[], finish_reason=finish, usage=usage, reasoning=reasoning)


async def stream(req: ChatRequest) -> AsyncGenerator[Delta, None]:
    first = answer(req)
    results = [first, *first.alternatives]
    for c, result in enumerate(results):
        for piece in re.findall(r"\S+\s*|\s+", result.reasoning or ""):
            yield Delta(reasoning=piece, choice=c)
        for i, call in enumerate(result.tool_calls):
            yield Delta(tool_call=ToolCall(call.id, call.name, ""), tool_index=i, choice=c)
            args = call.arguments
            step = max(1, math.ceil(len(args) / 3))
            for j in range(0, len(args), step):
                yield Delta(tool_call=ToolCall(call.id, call.name, args[j : j + step]), tool_index=i, choice=c)
        for piece in re.findall(r"\S+\s*|\s+", result.text):
            yield Delta(text=piece, choice=c)
        if c:  # the last delta (choice 0's end) carries the usage of all choices
            yield Delta(finish_reason=result.finish_reason, choice=c)
    yield Delta(finish_reason=first.finish_reason, usage=first.usage)


def embed(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector: equal texts get equal vectors, different texts nearly orthogonal ones."""
    # Pure Python, not numpy: LLM-only installs leave the media libraries out (README), and a 3072-float vector
    # costs well under a millisecond this way.
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    vec = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(math.fsum(v * v for v in vec)) or 1.0
    return [round(v / norm, 6) for v in vec]


__all__ = ["answer", "content_tokens", "embed", "stream"]
