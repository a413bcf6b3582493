"""An upstream speaking Google's Gemini API (`POST {base}/v1beta/models/{model}:generateContent` and
`:streamGenerateContent?alt=sse`, `x-goog-api-key`): the canonical request becomes contents/parts with
functionCall/functionResponse and inlineData, and the answers (JSON or SSE chunks) become a ChatResult or Deltas,
thought parts as reasoning and usageMetadata (cached and thought tokens) as usage.

Gemini's thought signatures (which Gemini 3 wants back with every function call it made) ride inside the
canonical tool call id, since every surface hands a call's id back verbatim with its result."""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import uuid
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from ...upstream_errors import UpstreamError
from ..canonical import ChatRequest, ChatResult, Delta, ToolCall, Usage
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

MAX_STOP = 5
EFFORT_BUDGETS = {"none": 0, "minimal": 0, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 32768}
FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}
SIGNATURE_MARK = "__sig__"


def _refuse(message: str) -> UpstreamError:
    return UpstreamError(message, 400, retryable=False)


# ------------------------------------------------------------------------------- call ids and signatures


def call_id(given: Any, signature: Any) -> str:
    """A canonical call id: Gemini's own id (or a fresh one), with the thought signature appended in URL-safe
    base64 so that it survives ids' usual character rules."""
    base = str(given) if given else f"call_{uuid.uuid4().hex[:24]}"
    if not isinstance(signature, str) or not signature:
        return base
    standard = signature.replace("-", "+").replace("_", "/")  # proto JSON bytes may come in either alphabet
    try:
        raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        return base
    return f"{base}{SIGNATURE_MARK}{base64.urlsafe_b64encode(raw).decode().rstrip('=')}"


def signature_of(canonical_id: str) -> str | None:
    """The thought signature carried by a canonical call id (standard base64, as Gemini sends it)."""
    if SIGNATURE_MARK not in canonical_id:
        return None
    packed = canonical_id.split(SIGNATURE_MARK, 1)[1]
    try:
        return base64.b64encode(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))).decode()
    except (binascii.Error, ValueError):
        return None


# ---------------------------------------------------------------------------------------------- request


def _media_part(url: str, mime: str | None = None) -> dict[str, Any]:
    inline = data_url(url)
    if inline is not None:
        return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
    guessed = mime or mimetypes.guess_type(url.split("?", 1)[0])[0] or "application/octet-stream"
    return {"fileData": {"mimeType": guessed, "fileUri": url}}


def user_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                parts.append({"text": str(part["text"])})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if isinstance(url, str) and url:
                parts.append(_media_part(url))
        elif kind == "file":
            file = part.get("file") or {}
            url = file.get("file_data") or file.get("file_url")
            if not isinstance(url, str) or not url:
                raise _refuse("file inputs must carry file_data or file_url for a Gemini upstream")
            parts.append(_media_part(url, file.get("mime_type")))
        elif kind == "input_audio":
            audio = part.get("input_audio") or {}
            fmt = str(audio.get("format") or "wav")
            parts.append({"inlineData": {"mimeType": f"audio/{fmt}", "data": str(audio.get("data", ""))}})
        else:
            raise _refuse(f"content type {kind!r} cannot be sent to a Gemini upstream")
    return parts


def _model_parts(m: dict[str, Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if text_of(m.get("content")):
        parts.append({"text": text_of(m.get("content"))})
    for call in m.get("tool_calls") or []:
        name, args = call_arguments(call)
        part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
        signature = signature_of(str(call.get("id") or ""))
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _function_response(m: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    """A tool message as a functionResponse (its `response` must be an object), plus any images it held."""
    content = m.get("content")
    text = text_of(content) if isinstance(content, list) else str(content or "")
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    response = value if isinstance(value, dict) else {"result": value}
    name = names.get(str(m.get("tool_call_id") or ""), "")
    media = [p for p in user_parts(content) if "text" not in p] if isinstance(content, list) else []
    return [{"functionResponse": {"name": name, "response": response}}, *media]


def contents(messages: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """(system texts, contents); consecutive contents of one role are merged (a model turn's function calls
    are answered in one user turn)."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # call id -> function name, for functionResponse
    for m in messages:
        role = m.get("role")
        if role in ("system", "developer"):
            if text_of(m.get("content")):
                system.append(text_of(m.get("content")))
            continue
        if role == "assistant":
            for call in m.get("tool_calls") or []:
                names[str(call.get("id") or "")] = (call.get("function") or {}).get("name", "")
            turn_role, parts = "model", _model_parts(m)
        elif role == "tool":
            turn_role, parts = "user", _function_response(m, names)
        else:
            turn_role, parts = "user", user_parts(m.get("content"))
        append_turn(out, turn_role, parts, "parts")
    return system, out


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if choice == "none":
        return {"functionCallingConfig": {"mode": "NONE"}}
    if choice == "required":
        return {"functionCallingConfig": {"mode": "ANY"}}
    if isinstance(choice, dict) and (choice.get("function") or {}).get("name"):
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [choice["function"]["name"]]}}
    return None


def _thinking_config(req: ChatRequest) -> dict[str, Any] | None:
    if req.reasoning_budget is not None:
        budget: int | None = req.reasoning_budget
    else:
        budget = EFFORT_BUDGETS.get(req.reasoning_effort or "")  # None: the model decides (dynamic thinking)
    include = req.include_reasoning or req.wants_reasoning()
    config: dict[str, Any] = {}
    if budget is not None:
        config["thinkingBudget"] = budget
    if include and budget != 0:
        config["includeThoughts"] = True
    return config or None


def generation_config(req: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if req.max_tokens is not None:
        config["maxOutputTokens"] = req.max_tokens
    if req.temperature is not None:
        config["temperature"] = req.temperature
    for name, key in (
        ("top_p", "topP"),
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        value = req.extra.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            config[key] = value
    if req.stop:
        config["stopSequences"] = req.stop[:MAX_STOP]
    fmt = req.response_format or {}
    if fmt.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if isinstance(schema, dict):
            config["responseJsonSchema"] = schema
    thinking = _thinking_config(req)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def generate_body(req: ChatRequest) -> dict[str, Any]:
    system, turns = contents(req.messages)
    body: dict[str, Any] = {"contents": turns}
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    if req.tools:
        declarations = []
        for tool in req.tools:
            fn = tool.get("function") or tool
            decl: dict[str, Any] = {
                "name": fn.get("name", ""),
                "parametersJsonSchema": fn.get("parameters") or {"type": "object", "properties": {}},
            }
            if fn.get("description"):
                decl["description"] = fn["description"]
            declarations.append(decl)
        body["tools"] = [{"functionDeclarations": declarations}]
        tool_config = _tool_config(req.tool_choice)
        if tool_config:
            body["toolConfig"] = tool_config
    config = generation_config(req)
    if config:
        body["generationConfig"] = config
    return body


# ----------------------------------------------------------------------------------------------- result


def usage(meta: dict[str, Any] | None) -> Usage:
    """Gemini counts thoughts apart from candidates; canonical output includes them (both are billed)."""
    meta = meta or {}
    thoughts = int(meta.get("thoughtsTokenCount") or 0)
    return Usage(
        input_tokens=int(meta.get("promptTokenCount") or 0) + int(meta.get("toolUsePromptTokenCount") or 0),
        output_tokens=int(meta.get("candidatesTokenCount") or 0) + thoughts,
        cached_tokens=int(meta.get("cachedContentTokenCount") or 0),
        reasoning_tokens=thoughts,
    )


def _finish(reason: str | None, has_calls: bool, blocked: bool) -> str:
    if blocked:
        return "content_filter"
    if has_calls and reason in (None, "STOP"):
        return "tool_calls"
    return FINISH_REASONS.get(reason or "STOP", "stop")


def _candidate(data: dict[str, Any]) -> dict[str, Any]:
    return (data.get("candidates") or [{}])[0] or {}


def _call(part: dict[str, Any]) -> ToolCall:
    fc = part["functionCall"]
    return ToolCall(
        call_id(fc.get("id"), part.get("thoughtSignature")),
        str(fc.get("name", "")),
        json.dumps(fc.get("args") or {}, ensure_ascii=False),
    )


def chat_result(data: dict[str, Any]) -> ChatResult:
    candidate = _candidate(data)
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCall] = []
    for part in (candidate.get("content") or {}).get("parts") or []:
        if part.get("functionCall"):
            calls.append(_call(part))
        elif isinstance(part.get("text"), str):
            (thoughts if part.get("thought") else texts).append(part["text"])
    blocked = not data.get("candidates") and bool((data.get("promptFeedback") or {}).get("blockReason"))
    return ChatResult(
        text="".join(texts),
        tool_calls=calls,
        finish_reason=_finish(candidate.get("finishReason"), bool(calls), blocked),
        usage=usage(data.get("usageMetadata")),
        reasoning="".join(thoughts) or None,
    )


class StreamReader:
    """streamGenerateContent chunks in, canonical Deltas out. Text arrives in pieces, function calls whole."""

    def __init__(self, who: str):
        self.who = who
        self.calls = 0
        self.meta: dict[str, Any] | None = None
        self.reason: str | None = None
        self.blocked = False

    def feed(self, chunk: dict[str, Any]) -> list[Delta]:
        if chunk.get("error"):
            error = chunk["error"]
            status = int(error.get("code") or 500) if isinstance(error, dict) else 500
            message = error.get("message") if isinstance(error, dict) else error
            raise UpstreamError(f"{self.who}: {message}", status, status >= 500 or status == 429)
        if chunk.get("usageMetadata"):
            self.meta = chunk["usageMetadata"]
        if not chunk.get("candidates") and (chunk.get("promptFeedback") or {}).get("blockReason"):
            self.blocked = True
        candidate = _candidate(chunk)
        self.reason = candidate.get("finishReason") or self.reason
        out: list[Delta] = []
        for part in (candidate.get("content") or {}).get("parts") or []:
            if part.get("functionCall"):
                call = _call(part)
                # surfaces expect a call's id and name first, then its argument fragments
                out += [
                    Delta(tool_call=ToolCall(call.id, call.name, ""), tool_index=self.calls),
                    Delta(tool_call=call, tool_index=self.calls),
                ]
                self.calls += 1
            elif isinstance(part.get("text"), str) and part["text"]:
                out.append(Delta(reasoning=part["text"]) if part.get("thought") else Delta(text=part["text"]))
        return out

    @property
    def finished(self) -> bool:
        return self.reason is not None or self.blocked

    def end(self) -> Delta:
        return Delta(finish_reason=_finish(self.reason, self.calls > 0, self.blocked), usage=usage(self.meta))


class GeminiApi:
    def __init__(self, deployment: LlmDeployment, http: aiohttp.ClientSession):
        self.d = deployment
        self.http = http

    def _url(self, req: ChatRequest, method: str) -> str:
        return self.d.url(f"v1beta/models/{self.d.upstream_model(req.model)}:{method}")

    def _headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.d.api_key} if self.d.api_key else {}

    async def count_tokens(self, req: ChatRequest) -> int:
        """The upstream's own count (`:countTokens`) of the generateContent request `req` would send."""
        body = {"generateContentRequest": {"model": f"models/{self.d.upstream_model(req.model)}", **generate_body(req)}}
        data = await post_json(self.http, self.d, self._url(req, "countTokens"), body, self._headers(), model=req.model)
        if not isinstance(data.get("totalTokens"), int):
            raise UpstreamError(f"{self.d.name}: countTokens answered without totalTokens")
        return int(data["totalTokens"])

    async def complete(self, req: ChatRequest) -> ChatResult:
        data = await post_json(
            self.http, self.d, self._url(req, "generateContent"), generate_body(req), self._headers(), model=req.model
        )
        return chat_result(data)

    async def stream(self, req: ChatRequest) -> AsyncGenerator[Delta, None]:
        url = self._url(req, "streamGenerateContent") + "?alt=sse"
        async with open_stream(self.http, self.d, url, generate_body(req), self._headers(), model=req.model) as resp:
            reader = StreamReader(self.d.name)
            async for _, data in sse_events(resp):
                for delta in reader.feed(parse_json(data, self.d.name)):
                    yield delta
            if not reader.finished:
                raise UpstreamError(f"{self.d.name}: the stream ended without a finishReason")
            yield reader.end()
