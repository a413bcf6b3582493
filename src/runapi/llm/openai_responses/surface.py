"""OpenAI Responses API <-> the gateway's canonical chat format: pure translation, no I/O.

Request side: `parse_request(body)` validates a /v1/responses body and turns its `input` items (messages with
input_text / input_image / input_file parts, prior function_call and function_call_output items, prior output
messages) into Chat Completions messages; `ResponsesRequest.chat_request(history)` builds the ChatRequest the
router gets (instructions first, then the stored conversation of `previous_response_id`, then the new input).

Response side: `response_object` builds the `response` object the official SDK's `Response` model parses, and
`EventStream` turns the router's Deltas into the Responses SSE event sequence (response.created,
response.in_progress, response.output_item.added, response.content_part.added, response.output_text.delta, ...,
response.completed or response.incomplete), numbering every event with `sequence_number`.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ...errors import BadRequest, MissingParameter
from ..canonical import ChatRequest, ChatResult, Delta, Usage
from ..surface import Answering, ChatCall, Deltas, Describe, Failure

log = logging.getLogger("runapi.llm.responses")

WEB_SEARCH_TYPES = {"web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11"}
MESSAGE_ROLES = {"user", "assistant", "system", "developer"}
REASONING_EFFORTS = {"none", "minimal", "low", "medium", "high", "xhigh"}
UNSUPPORTED_PARAMS = {
    "background": "background mode is",
    "conversation": "conversations are",
    "prompt": "prompt templates are",
}
PASS_THROUGH = ("top_p", "parallel_tool_calls", "user", "safety_identifier", "prompt_cache_key", "service_tier")


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _bad(message: str, param: str | None = None) -> BadRequest:
    return BadRequest(message, code="invalid_value" if param else None)


# ---------------------------------------------------------------- request


@dataclass
class ResponsesRequest:
    model: Any
    input_messages: list[dict[str, Any]]  # the new turn, canonical (Chat Completions) messages
    instructions: Any = None  # echoed as given
    instruction_messages: list[dict[str, Any]] = field(default_factory=list)
    chat_tools: list[dict[str, Any]] | None = None  # Chat Completions shape, for the router
    tools: list[dict[str, Any]] = field(default_factory=list)  # Responses shape, echoed
    web_search: dict[str, Any] | None = None
    chat_tool_choice: Any = None
    tool_choice: Any = "auto"  # echoed
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    reasoning: dict[str, Any] = field(default_factory=lambda: {"effort": None, "summary": None})
    text: dict[str, Any] = field(default_factory=lambda: {"format": {"type": "text"}, "verbosity": "medium"})
    response_format: dict[str, Any] | None = None
    parallel_tool_calls: bool = True
    metadata: dict[str, str] = field(default_factory=dict)
    store: bool = True
    stream: bool = False
    previous_response_id: str | None = None
    user: str | None = None
    truncation: str = "disabled"
    extra: dict[str, Any] = field(default_factory=dict)

    def chat_request(self, history: list[dict[str, Any]] | None = None) -> ChatRequest:
        """Instructions apply to this turn only (a previous response's instructions are not carried over)."""
        extra = dict(self.extra)
        if self.web_search is not None:
            extra["web_search_options"] = self.web_search
        return ChatRequest(
            model=self.model,
            messages=[*self.instruction_messages, *(history or []), *self.input_messages],
            tools=self.chat_tools,
            tool_choice=self.chat_tool_choice,
            max_tokens=self.max_output_tokens,
            temperature=self.temperature,
            stream=self.stream,
            response_format=self.response_format,
            reasoning_effort=self.reasoning.get("effort"),
            include_reasoning=self.summary_wanted,
            extra=extra,
        )

    @property
    def summary_wanted(self) -> bool:
        """A reasoning summary was asked for (OpenAI shows reasoning only as summaries)."""
        return bool(self.reasoning.get("summary"))


def _number(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise _bad(f"{name} must be a number from {low:g} to {high:g}", name)
    return value


def _content_part(part: Any, role: str) -> dict[str, Any]:
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if not isinstance(part, dict):
        raise _bad("Each content part must be an object with a type")
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        if not isinstance(part.get("text"), str):
            raise _bad(f"{kind} content requires a string text")
        return {"type": "text", "text": part["text"]}
    if kind == "refusal":
        return {"type": "text", "text": str(part.get("refusal", ""))}
    if kind == "input_image":
        url = part.get("image_url")
        if isinstance(url, dict):  # tolerate the Chat Completions shape {"url": ...}
            url = url.get("url")
        if not isinstance(url, str) or not url:
            if part.get("file_id"):
                raise _bad("input_image.file_id is not supported; send image_url (an https URL or a data URL)")
            raise _bad("input_image requires image_url")
        image: dict[str, Any] = {"url": url}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        file = {k: part[k] for k in ("file_data", "file_id", "file_url", "filename") if part.get(k) is not None}
        if not any(k in file for k in ("file_data", "file_id", "file_url")):
            raise _bad("input_file requires file_data, file_id or file_url")
        return {"type": "file", "file": file}
    if kind == "input_audio":
        return {"type": "input_audio", "input_audio": part.get("input_audio") or {}}
    raise _bad(f"Unsupported content type in a {role} message: {kind!r}")


def _message_content(content: Any, role: str) -> Any:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _bad(f"A {role} message's content must be a string or an array of content parts")
    parts = [_content_part(p, role) for p in content]
    if role != "user":  # system / assistant turns: plain text, as every upstream accepts
        if any(p["type"] != "text" for p in parts):
            raise _bad(f"Only text content is allowed in a {role} message")
        return "".join(p["text"] for p in parts)
    return parts


def _tool_output(output: Any) -> Any:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        parts = [_content_part(p, "user") for p in output]
        if all(p["type"] == "text" for p in parts):
            return "".join(p["text"] for p in parts)
        return parts
    if output is None:
        raise _bad("function_call_output requires output")
    return json.dumps(output, ensure_ascii=False)


def items_to_messages(items: list[Any]) -> list[dict[str, Any]]:
    """Responses input items (or output items fed back) -> Chat Completions messages. Consecutive function
    calls (and a function call right after assistant text) join one assistant message, as Chat expects."""
    messages: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _bad(f"input[{i}] must be an object")
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in MESSAGE_ROLES:
                raise _bad(f"input[{i}].role must be one of user, assistant, system, developer")
            if "content" not in item:
                raise _bad(f"input[{i}] is missing content")
            chat_role = "system" if role == "developer" else role
            messages.append({"role": chat_role, "content": _message_content(item["content"], role)})
        elif kind == "function_call":
            name, call_id, args = item.get("name"), item.get("call_id"), item.get("arguments", "")
            if not isinstance(name, str) or not isinstance(call_id, str) or not isinstance(args, str):
                raise _bad(f"input[{i}]: a function_call needs string call_id, name and arguments")
            call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and isinstance(last.get("content"), (str, type(None))):
                last.setdefault("tool_calls", []).append(call)
                if last.get("content") == "":
                    last["content"] = None
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            if not isinstance(call_id, str):
                raise _bad(f"input[{i}]: a function_call_output needs a string call_id")
            messages.append({"role": "tool", "tool_call_id": call_id, "content": _tool_output(item.get("output"))})
        elif kind == "reasoning":
            continue  # reasoning items are the model's own; nothing to replay to a chat upstream
        else:
            raise _bad(f"Unsupported input item type: {kind!r}")
    return messages


def _tools(raw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None, dict[str, Any] | None]:
    """-> (echo in Responses shape, Chat Completions function tools, web search options)."""
    if raw is None:
        return [], None, None
    if not isinstance(raw, list):
        raise _bad("tools must be an array", "tools")
    echo: list[dict[str, Any]] = []
    chat: list[dict[str, Any]] = []
    web: dict[str, Any] | None = None
    for i, tool in enumerate(raw):
        if not isinstance(tool, dict):
            raise _bad(f"tools[{i}] must be an object", "tools")
        kind = tool.get("type")
        if kind == "function":
            fn: dict[str, Any] = tool["function"] if isinstance(tool.get("function"), dict) else tool
            name = fn.get("name")
            if not isinstance(name, str) or not name:
                raise _bad(f"tools[{i}]: a function tool needs a name", "tools")
            params = fn.get("parameters")
            if params is not None and not isinstance(params, dict):
                raise _bad(f"tools[{i}].parameters must be a JSON schema object", "tools")
            strict = fn.get("strict", tool.get("strict"))
            desc = fn.get("description")
            echo.append({"type": "function", "name": name, "description": desc, "parameters": params, "strict": strict})
            spec: dict[str, Any] = {"name": name, "parameters": params or {"type": "object", "properties": {}}}
            if desc is not None:
                spec["description"] = desc
            if strict is not None:
                spec["strict"] = strict
            chat.append({"type": "function", "function": spec})
        elif kind in WEB_SEARCH_TYPES:
            echo.append(dict(tool))
            web = {k: tool[k] for k in ("search_context_size", "user_location") if tool.get(k) is not None}
        else:
            raise _bad(f"tools[{i}]: unsupported tool type {kind!r}; use function or web_search tools", "tools")
    if chat and web is not None:
        raise _bad("tools: use either web_search or function tools, not both in one request", "tools")
    return echo, chat or None, web


def _tool_choice(raw: Any, has_functions: bool) -> Any:
    """-> the Chat Completions tool_choice."""
    if raw is None:
        return None
    if raw in ("auto", "none", "required"):
        return raw if has_functions or raw == "none" else None
    if isinstance(raw, dict):
        kind = raw.get("type")
        if kind == "function":
            name = raw.get("name") or (raw.get("function") or {}).get("name")
            if not isinstance(name, str):
                raise _bad("tool_choice: a function choice needs a name", "tool_choice")
            return {"type": "function", "function": {"name": name}}
        if kind in WEB_SEARCH_TYPES:
            return None
        if kind == "allowed_tools":
            return raw.get("mode") if raw.get("mode") in ("auto", "required") else "auto"
    raise _bad("tool_choice must be auto, none, required or {type: function, name}", "tool_choice")


def _text_format(raw: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """-> (echoed text config, Chat Completions response_format)."""
    text = {"format": {"type": "text"}, "verbosity": "medium"}
    if raw is None:
        return text, None
    if not isinstance(raw, dict):
        raise _bad("text must be an object", "text")
    if raw.get("verbosity") is not None:
        text["verbosity"] = raw["verbosity"]
    fmt = raw.get("format")
    if fmt is None:
        return text, None
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
        raise _bad("text.format.type must be text, json_object or json_schema", "text")
    text["format"] = fmt
    if fmt["type"] == "text":
        return text, None
    if fmt["type"] == "json_object":
        return text, {"type": "json_object"}
    schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
    return text, {"type": "json_schema", "json_schema": schema}


def parse_request(body: Any) -> ResponsesRequest:
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    for name, what in UNSUPPORTED_PARAMS.items():
        if body.get(name):
            raise _bad(f"{name}: {what} not supported by this gateway", name)
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        input_messages = [{"role": "user", "content": raw_input}]
    elif isinstance(raw_input, list) and raw_input:
        input_messages = items_to_messages(raw_input)
    else:
        raise MissingParameter("input")

    instructions = body.get("instructions")
    if instructions is None:
        instruction_messages: list[dict[str, Any]] = []
    elif isinstance(instructions, str):
        instruction_messages = [{"role": "system", "content": instructions}] if instructions else []
    elif isinstance(instructions, list):
        instruction_messages = items_to_messages(instructions)
    else:
        raise _bad("instructions must be a string", "instructions")

    max_out = body.get("max_output_tokens")
    if max_out is not None and (isinstance(max_out, bool) or not isinstance(max_out, int) or max_out < 1):
        raise _bad("max_output_tokens must be a positive integer", "max_output_tokens")

    echo_tools, chat_tools, web = _tools(body.get("tools"))
    raw_choice = body.get("tool_choice")
    chat_choice = _tool_choice(raw_choice, chat_tools is not None)

    reasoning_raw = body.get("reasoning")
    if reasoning_raw is not None and not isinstance(reasoning_raw, dict):
        raise _bad("reasoning must be an object", "reasoning")
    reasoning = {"effort": None, "summary": None, **(reasoning_raw or {})}
    if reasoning["effort"] is not None and reasoning["effort"] not in REASONING_EFFORTS:
        raise _bad("reasoning.effort must be one of " + ", ".join(sorted(REASONING_EFFORTS)), "reasoning")
    if reasoning.get("summary") is None and reasoning.get("generate_summary") is not None:
        reasoning["summary"] = reasoning["generate_summary"]

    text, response_format = _text_format(body.get("text"))
    metadata = body.get("metadata")
    if metadata is not None and (
        not isinstance(metadata, dict)
        or len(metadata) > 16
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise _bad("metadata must be an object of at most 16 string values", "metadata")
    previous = body.get("previous_response_id")
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise _bad("previous_response_id must be a string", "previous_response_id")
    parallel = body.get("parallel_tool_calls")
    extra = {k: body[k] for k in PASS_THROUGH if body.get(k) is not None}
    return ResponsesRequest(
        model=body.get("model"),
        input_messages=input_messages,
        instructions=instructions,
        instruction_messages=instruction_messages,
        chat_tools=chat_tools,
        tools=echo_tools,
        web_search=web,
        chat_tool_choice=chat_choice,
        tool_choice=raw_choice if raw_choice is not None else "auto",
        max_output_tokens=max_out,
        temperature=_number(body, "temperature", 0, 2),
        top_p=_number(body, "top_p", 0, 1),
        reasoning=reasoning,
        text=text,
        response_format=response_format,
        parallel_tool_calls=True if parallel is None else bool(parallel),
        metadata=metadata or {},
        store=body.get("store") is not False,
        stream=bool(body.get("stream")),
        previous_response_id=previous,
        user=body.get("user") if isinstance(body.get("user"), str) else None,
        truncation=str(body["truncation"]) if body.get("truncation") in ("auto", "disabled") else "disabled",
        extra=extra,
    )


# ---------------------------------------------------------------- response


def usage_object(u: Usage) -> dict[str, Any]:
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_tokens, "cache_write_tokens": u.cache_write_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.input_tokens + u.output_tokens,
    }


def incomplete_reason(finish_reason: str | None) -> str | None:
    return {"length": "max_output_tokens", "content_filter": "content_filter"}.get(finish_reason or "")


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = (
        [] if status == "in_progress" else [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    )
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": content}


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str = "completed"
) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def reasoning_item(item_id: str, text: str, summary_wanted: bool, status: str = "completed") -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": text}] if summary_wanted and status != "in_progress" else []
    return {"type": "reasoning", "id": item_id, "summary": summary, "status": status}


def result_output(result: ChatResult, summary_wanted: bool = False) -> list[dict[str, Any]]:
    """A finished ChatResult -> Responses output items (reasoning, then the message, then function calls)."""
    items: list[dict[str, Any]] = []
    if result.reasoning:
        items.append(reasoning_item(new_id("rs"), result.reasoning, summary_wanted))
    truncated = incomplete_reason(result.finish_reason) is not None
    if result.text or not result.tool_calls:
        items.append(message_item(new_id("msg"), result.text, "incomplete" if truncated else "completed"))
    for call in result.tool_calls:
        items.append(function_call_item(new_id("fc"), call.id, call.name, call.arguments))
    return items


def output_text(output: list[dict[str, Any]]) -> str:
    return "".join(
        part.get("text", "")
        for item in output
        if item.get("type") == "message"
        for part in item.get("content", [])
        if part.get("type") == "output_text"
    )


def response_object(
    resp_id: str,
    created_at: int,
    model: str,
    req: ResponsesRequest,
    *,
    status: str,
    output: list[dict[str, Any]],
    usage: Usage | None,
    finish_reason: str | None = None,
    completed_at: int | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    reason = incomplete_reason(finish_reason) if status == "incomplete" else None
    return {
        "id": resp_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": {"reason": reason} if reason else None,
        "instructions": req.instructions,
        "max_output_tokens": req.max_output_tokens,
        "max_tool_calls": None,
        "model": model,
        "output": output,
        "output_text": output_text(output),
        "parallel_tool_calls": req.parallel_tool_calls,
        "previous_response_id": req.previous_response_id,
        "reasoning": {"effort": req.reasoning.get("effort"), "summary": req.reasoning.get("summary")},
        "service_tier": "default",
        "store": req.store,
        "temperature": req.temperature if req.temperature is not None else 1.0,
        "text": req.text,
        "tool_choice": req.tool_choice,
        "tools": req.tools,
        "top_logprobs": 0,
        "top_p": req.top_p if req.top_p is not None else 1.0,
        "truncation": req.truncation,
        "usage": usage_object(usage) if usage is not None else None,
        "user": req.user,
        "metadata": req.metadata,
        "completed_at": completed_at,
    }


def final_status(finish_reason: str | None) -> str:
    return "incomplete" if incomplete_reason(finish_reason) else "completed"


# ---------------------------------------------------------------- streaming


@dataclass
class _Call:
    index: int  # output_index
    item_id: str
    call_id: str
    name: str
    arguments: str = ""
    open: bool = True


class EventStream:
    """Deltas in, Responses stream events out (each a dict with `type` and `sequence_number`).

    Items are emitted one after another as the real API does: a message item is closed when a function call
    starts, a function call when the next one (or text) starts; whatever is still open closes at the end.
    """

    def __init__(self, skeleton: dict[str, Any], summary_wanted: bool = False):
        self.skeleton = skeleton  # the response object with status in_progress
        self.summary_wanted = summary_wanted  # reasoning is streamed as summary text only when asked for
        self.seq = 0
        self.output: list[dict[str, Any]] = []
        self._message: tuple[int, str] | None = None  # (output_index, item_id) of the open message
        self._reasoning: tuple[int, str] | None = None  # (output_index, item_id) of the open reasoning item
        self._thought = ""
        self._text: dict[int, str] = {}
        self._calls: dict[int, _Call] = {}  # by the upstream's tool_index

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1
        return event

    def start(self) -> list[dict[str, Any]]:
        return [
            self._event("response.created", response=self.skeleton),
            self._event("response.in_progress", response=self.skeleton),
        ]

    def _open_message(self) -> list[dict[str, Any]]:
        index, item_id = len(self.output), new_id("msg")
        self.output.append(message_item(item_id, "", "in_progress"))
        self._message, self._text[index] = (index, item_id), ""
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        return [
            self._event(
                "response.output_item.added", output_index=index, item=message_item(item_id, "", "in_progress")
            ),
            self._event("response.content_part.added", item_id=item_id, output_index=index, content_index=0, part=part),
        ]

    def _close_message(self, status: str = "completed") -> list[dict[str, Any]]:
        if self._message is None:
            return []
        index, item_id = self._message
        self._message = None
        text = self._text[index]
        item = message_item(item_id, text, status)
        self.output[index] = item
        part = item["content"][0]
        return [
            self._event(
                "response.output_text.done",
                item_id=item_id,
                output_index=index,
                content_index=0,
                text=text,
                logprobs=[],
            ),
            self._event("response.content_part.done", item_id=item_id, output_index=index, content_index=0, part=part),
            self._event("response.output_item.done", output_index=index, item=item),
        ]

    def _open_reasoning(self) -> list[dict[str, Any]]:
        index, item_id = len(self.output), new_id("rs")
        self._reasoning, self._thought = (index, item_id), ""
        self.output.append(reasoning_item(item_id, "", self.summary_wanted, "in_progress"))
        events = [self._event("response.output_item.added", output_index=index, item=self.output[index])]
        if self.summary_wanted:
            events.append(
                self._event(
                    "response.reasoning_summary_part.added",
                    item_id=item_id,
                    output_index=index,
                    summary_index=0,
                    part={"type": "summary_text", "text": ""},
                )
            )
        return events

    def _close_reasoning(self) -> list[dict[str, Any]]:
        if self._reasoning is None:
            return []
        index, item_id = self._reasoning
        self._reasoning = None
        item = reasoning_item(item_id, self._thought, self.summary_wanted)
        self.output[index] = item
        events = []
        if self.summary_wanted:
            events += [
                self._event(
                    "response.reasoning_summary_text.done",
                    item_id=item_id,
                    output_index=index,
                    summary_index=0,
                    text=self._thought,
                ),
                self._event(
                    "response.reasoning_summary_part.done",
                    item_id=item_id,
                    output_index=index,
                    summary_index=0,
                    part={"type": "summary_text", "text": self._thought},
                ),
            ]
        return [*events, self._event("response.output_item.done", output_index=index, item=item)]

    def _close_call(self, call: _Call) -> list[dict[str, Any]]:
        if not call.open:
            return []
        call.open = False
        item = function_call_item(call.item_id, call.call_id, call.name, call.arguments)
        self.output[call.index] = item
        return [
            self._event(
                "response.function_call_arguments.done",
                item_id=call.item_id,
                output_index=call.index,
                name=call.name,
                arguments=call.arguments,
            ),
            self._event("response.output_item.done", output_index=call.index, item=item),
        ]

    def _close_calls(self) -> list[dict[str, Any]]:
        return [e for call in self._calls.values() for e in self._close_call(call)]

    def feed(self, d: Delta) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if d.reasoning:
            if self._reasoning is None:
                events += self._close_message()
                events += self._close_calls()
                events += self._open_reasoning()
            index, item_id = self._reasoning  # type: ignore[misc]
            self._thought += d.reasoning
            if self.summary_wanted:
                events.append(
                    self._event(
                        "response.reasoning_summary_text.delta",
                        item_id=item_id,
                        output_index=index,
                        summary_index=0,
                        delta=d.reasoning,
                    )
                )
        if d.text:
            events += self._close_reasoning()
            if self._message is None:
                events += self._close_calls()
                events += self._open_message()
            index, item_id = self._message  # type: ignore[misc]
            self._text[index] += d.text
            events.append(
                self._event(
                    "response.output_text.delta",
                    item_id=item_id,
                    output_index=index,
                    content_index=0,
                    delta=d.text,
                    logprobs=[],
                )
            )
        elif d.tool_call is not None:
            tc = d.tool_call
            call = self._calls.get(d.tool_index)
            if call is None:
                events += self._close_reasoning()
                events += self._close_message()
                events += self._close_calls()
                call = _Call(len(self.output), new_id("fc"), tc.id or new_id("call"), tc.name or "")
                self._calls[d.tool_index] = call
                self.output.append(function_call_item(call.item_id, call.call_id, call.name, "", "in_progress"))
                events.append(
                    self._event("response.output_item.added", output_index=call.index, item=self.output[call.index])
                )
            elif not call.name and tc.name:
                call.name = tc.name
            if tc.arguments:
                call.arguments += tc.arguments
                if call.open:
                    events.append(
                        self._event(
                            "response.function_call_arguments.delta",
                            item_id=call.item_id,
                            output_index=call.index,
                            delta=tc.arguments,
                        )
                    )
                else:  # a late fragment of a call already closed: the final response still carries it
                    self.output[call.index]["arguments"] = call.arguments
        return events

    def finish(self, finish_reason: str | None) -> list[dict[str, Any]]:
        """Close what is open (an empty answer still gets its message item)."""
        truncated = incomplete_reason(finish_reason) is not None
        events: list[dict[str, Any]] = self._close_reasoning()
        if not any(item["type"] != "reasoning" for item in self.output):
            events += self._open_message()
        events += self._close_message("incomplete" if truncated else "completed")
        events += self._close_calls()
        return events

    def done(self, response: dict[str, Any]) -> dict[str, Any]:
        kind = {"completed": "response.completed", "incomplete": "response.incomplete"}.get(
            response["status"], "response.failed"
        )
        return self._event(kind, response=response)


def frame(event: dict[str, Any]) -> bytes:
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def failure_object(failure: Failure) -> dict[str, str]:
    """A response's `error` after the stream broke off, in the Responses API's codes."""
    if failure.internal:
        return {"code": "server_error", "message": "The model failed to produce a response."}
    return {"code": "rate_limit_exceeded" if failure.status == 429 else "server_error", "message": failure.message}


Remember = Callable[[dict[str, Any]], Awaitable[None]]  # keeps a finished response (stored responses)


class ResponsesCall(ChatCall):
    """One POST /v1/responses call, continuing `history` (the stored conversation it names, if any); each
    finished response is handed to `remember`."""

    def __init__(self, parsed: ResponsesRequest, history: list[dict[str, Any]], remember: Remember):
        super().__init__(parsed.chat_request(history))
        self.parsed = parsed
        self.remember = remember
        self.id, self.created = new_id("resp"), int(time.time())

    def _response(self, model: str, **fields: Any) -> dict[str, Any]:
        return response_object(self.id, self.created, model, self.parsed, **fields)

    async def answer(self, who: Answering, result: ChatResult) -> dict[str, Any]:
        output = result_output(result, summary_wanted=self.parsed.summary_wanted)
        response = self._response(
            who.model,
            status=final_status(result.finish_reason),
            output=output,
            usage=result.usage,
            finish_reason=result.finish_reason,
            completed_at=int(time.time()),
        )
        await self.remember(response)
        return response

    async def frames(self, who: Answering, deltas: Deltas, describe: Describe) -> AsyncGenerator[bytes, None]:
        finish: str | None = None
        stream = EventStream(
            self._response(who.model, status="in_progress", output=[], usage=None),
            summary_wanted=self.parsed.summary_wanted,
        )
        for event in stream.start():
            yield frame(event)
        try:
            async for d in deltas:
                if d.finish_reason is not None:
                    finish = d.finish_reason
                for event in stream.feed(d):
                    yield frame(event)
        except Exception as exc:  # noqa: BLE001 - the upstream broke off mid-answer: say so in the stream's terms
            log.warning("responses stream %s failed: %r", self.id, exc)
            failed = self._response(
                who.model,
                status="failed",
                output=stream.output,
                usage=deltas.usage,
                error=failure_object(describe(exc)),
            )
            yield frame(stream.done(failed))
            return
        for event in stream.finish(finish):
            yield frame(event)
        response = self._response(
            who.model,
            status=final_status(finish),
            output=stream.output,
            usage=deltas.usage,
            finish_reason=finish,
            completed_at=int(time.time()),
        )
        await self.remember(response)
        yield frame(stream.done(response))
