"""Pure translations between Google's Gemini API shapes (generateContent, models, embedContent) and the
gateway's canonical OpenAI Chat Completions shapes. No I/O: the HTTP surface is api/llm_gemini.py.

Google's proto-JSON accepts both lowerCamelCase and snake_case field names, and the official google-genai SDK
really sends a mix (nested objects it passes through, such as inlineData or functionResponse, arrive with
snake_case keys), so every field is read under both spellings. User-defined names (schema property names,
function arguments, function responses) are never rewritten."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import AsyncGenerator
from typing import Any

import orjson

from ...errors import BadRequest
from ..canonical import ChatRequest, ChatResult, Delta, Usage
from ..models import LlmModel
from ..surface import Answering, ChatCall, Deltas, Describe

FINISH_REASONS = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",
    "function_call": "STOP",
    "content_filter": "SAFETY",
}
THINKING_LEVELS = ("low", "high")
IGNORED_TOOLS = (
    "googleSearch",
    "googleSearchRetrieval",
    "codeExecution",
    "urlContext",
    "fileSearch",
    "googleMaps",
    "enterpriseWebSearch",
    "computerUse",
    "retrieval",
    "mcpServers",
)
CHAT_METHODS = ["generateContent", "streamGenerateContent", "countTokens"]
EMBED_METHODS = ["embedContent", "batchEmbedContents", "countTokens"]
ERROR_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    402: "RESOURCE_EXHAUSTED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
}


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": ERROR_STATUSES.get(status, "INTERNAL")}}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def pick(obj: Any, name: str, default: Any = None) -> Any:
    """obj[name] under its lowerCamelCase or snake_case spelling."""
    if not isinstance(obj, dict):
        return default
    if name in obj:
        return obj[name]
    return obj.get(_snake(name), default)


def _bad(message: str) -> BadRequest:
    return BadRequest(message)


# ---------------------------------------------------------------------------------------------- request


def _b64(data: Any, where: str) -> str:
    """Google accepts standard and URL-safe base64 (the SDK sends URL-safe); canonical data URLs use standard."""
    if not isinstance(data, str):
        raise _bad(f"Invalid value at '{where}' (TYPE_BYTES), Base64 decoding failed")
    text = re.sub(r"\s+", "", data).replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(f"Invalid value at '{where}' (TYPE_BYTES), Base64 decoding failed") from None
    return text


def _user_part(part: dict[str, Any], where: str) -> dict[str, Any] | None:
    """A Gemini user part as an OpenAI content part (None: nothing the model reads)."""
    text = pick(part, "text")
    if text is not None and not pick(part, "thought"):
        if not isinstance(text, str):
            raise _bad(f"Invalid value at '{where}.text' (TYPE_STRING)")
        return {"type": "text", "text": text}
    blob = pick(part, "inlineData")
    if blob is not None:
        mime = str(pick(blob, "mimeType") or "")
        data = _b64(pick(blob, "data"), f"{where}.inline_data.data")
        if not mime:
            raise _bad(f"{where}.inline_data.mime_type: mime_type is not specified")
        if mime.startswith("image/"):
            return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}
        if mime.startswith("text/"):
            return {"type": "text", "text": base64.b64decode(data).decode("utf-8", "replace")}
        return {
            "type": "file",
            "file": {"file_data": f"data:{mime};base64,{data}", "filename": str(pick(blob, "displayName") or "file")},
        }
    ref = pick(part, "fileData")
    if ref is not None:
        uri = pick(ref, "fileUri")
        if not isinstance(uri, str) or not uri:
            raise _bad(f"{where}.file_data.file_uri: file_uri is not specified")
        mime = str(pick(ref, "mimeType") or "")
        if mime.startswith("image/") or (
            not mime and re.search(r"\.(png|jpe?g|gif|webp|heic|heif)$", uri, re.IGNORECASE)
        ):
            return {"type": "image_url", "image_url": {"url": uri}}
        return {"type": "file", "file": {"file_url": uri, "mime_type": mime or None}}
    return None  # thoughts, executableCode, codeExecutionResult, videoMetadata: nothing for the model to read


def _args(raw: Any) -> Any:
    return {} if raw is None else raw


def _response_text(response: Any) -> str:
    return json.dumps(response if response is not None else {}, ensure_ascii=False)


def chat_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """systemInstruction + contents as OpenAI chat messages. functionCall parts become assistant tool_calls with
    their id (or a synthesized one); functionResponse parts become tool messages answering the call with the same
    id, or else the oldest unanswered call of that name."""
    messages: list[dict[str, Any]] = []
    system = pick(body, "systemInstruction")
    if system is not None:
        if isinstance(system, str):
            text = system
        elif isinstance(system, dict) and isinstance(pick(system, "parts"), list):
            text = "\n".join(
                str(pick(p, "text"))
                for p in pick(system, "parts")
                if isinstance(p, dict) and pick(p, "text") is not None
            )
        else:
            raise _bad("Invalid value at 'system_instruction': expected a Content object")
        if text:
            messages.append({"role": "system", "content": text})
    contents = pick(body, "contents")
    if isinstance(contents, dict):
        contents = [contents]
    if not isinstance(contents, list) or not contents:
        raise _bad("* GenerateContentRequest.contents: contents is not specified")
    open_calls: list[dict[str, Any]] = []  # {"id", "name"} not yet answered
    seq = 0
    for i, content in enumerate(contents):
        where = f"contents[{i}]"
        if not isinstance(content, dict):
            raise _bad(f"Invalid value at '{where}': expected a Content object")
        role = pick(content, "role") or "user"
        parts = pick(content, "parts")
        if not isinstance(parts, list) or not parts:
            raise _bad(f"* GenerateContentRequest.{where}.parts: contents.parts must not be empty.")
        if not all(isinstance(p, dict) for p in parts):
            raise _bad(f"Invalid value at '{where}.parts': expected Part objects")
        if role == "model":
            text = "".join(
                str(pick(p, "text")) for p in parts if pick(p, "text") is not None and not pick(p, "thought")
            )
            calls = []
            for p in parts:
                fc = pick(p, "functionCall")
                if fc is None:
                    continue
                name = pick(fc, "name")
                if not isinstance(name, str) or not name:
                    raise _bad(f"* GenerateContentRequest.{where}.parts.function_call.name: name is not specified")
                call_id = pick(fc, "id") or f"call_{seq}_{name}"
                seq += 1
                calls.append(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": name,
                            "arguments": json.dumps(_args(pick(fc, "args")), ensure_ascii=False),
                        },
                    }
                )
                open_calls.append({"id": call_id, "name": name})
            message: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
            if calls:
                message["tool_calls"] = calls
            messages.append(message)
        elif role in ("user", "function", "tool"):
            user_parts = []
            for j, p in enumerate(parts):
                fr = pick(p, "functionResponse")
                if fr is None:
                    converted = _user_part(p, f"{where}.parts[{j}]")
                    if converted is not None:
                        user_parts.append(converted)
                    continue
                name = pick(fr, "name")
                wanted = pick(fr, "id")
                match = next((c for c in open_calls if wanted and c["id"] == wanted), None) or next(
                    (c for c in open_calls if c["name"] == name), None
                )
                if match is not None:
                    open_calls.remove(match)
                call_id = match["id"] if match else wanted or f"call_{name}"
                messages.append(
                    {"role": "tool", "tool_call_id": call_id, "content": _response_text(pick(fr, "response"))}
                )
            if user_parts:
                only_text = len(user_parts) == 1 and user_parts[0]["type"] == "text"
                messages.append({"role": "user", "content": user_parts[0]["text"] if only_text else user_parts})
        else:
            raise _bad(f"Please use a valid role: user, model. (got {role!r} at {where})")
    return messages


def json_schema(schema: Any) -> Any:
    """Google's Schema (an OpenAPI 3.0 subset: upper-case types, nullable, propertyOrdering) as JSON Schema."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    nullable = False
    for raw_key, value in schema.items():
        key = _camel(raw_key)
        if key == "type":
            if isinstance(value, str) and value.upper() != "TYPE_UNSPECIFIED":
                out["type"] = value.lower()
            elif isinstance(value, list):
                out["type"] = [v.lower() if isinstance(v, str) else v for v in value]
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {name: json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = json_schema(value)
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems") and isinstance(value, list):
            out[key] = [json_schema(s) for s in value]
        elif key in ("$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: json_schema(sub) for name, sub in value.items()}
        elif key == "nullable":
            nullable = bool(value)
        elif key == "propertyOrdering":
            continue
        elif (
            key in ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")
            and isinstance(value, str)
            and value.isascii()
            and value.isdigit()
        ):
            out[key] = int(value)  # proto int64 arrives as a string
        else:
            out[raw_key if raw_key.startswith("$") else key] = value
    if nullable and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def chat_tools(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    tools = pick(body, "tools")
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise _bad("Invalid value at 'tools': expected a list of Tool objects")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise _bad(f"Invalid value at 'tools[{i}]': expected a Tool object")
        decls = pick(tool, "functionDeclarations")
        if decls is None:
            continue  # googleSearch, codeExecution, urlContext...: server-side tools, not served by the gateway
        if not isinstance(decls, list):
            raise _bad(f"Invalid value at 'tools[{i}].function_declarations': expected a list")
        for j, d in enumerate(decls):
            name = pick(d, "name")
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.:-]{0,127}", name):
                raise _bad(
                    f"* GenerateContentRequest.tools[{i}].function_declarations[{j}].name: Invalid function "
                    "name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), "
                    "underscores (_), dots (.), colons (:) or dashes (-), with a maximum length of 128."
                )
            params = pick(d, "parametersJsonSchema")
            if params is None:
                params = json_schema(pick(d, "parameters")) if pick(d, "parameters") is not None else None
            fn: dict[str, Any] = {"name": name, "parameters": params or {"type": "object", "properties": {}}}
            if pick(d, "description"):
                fn["description"] = pick(d, "description")
            out.append({"type": "function", "function": fn})
    return out or None


def chat_tool_choice(
    body: dict[str, Any], tools: list[dict[str, Any]] | None
) -> tuple[Any, list[dict[str, Any]] | None]:
    """toolConfig.functionCallingConfig as tool_choice (ANY with allowed names narrows the tools offered)."""
    config = pick(pick(body, "toolConfig"), "functionCallingConfig")
    if not isinstance(config, dict):
        return None, tools
    mode = str(pick(config, "mode") or "AUTO").upper()
    allowed = pick(config, "allowedFunctionNames")
    if mode in ("AUTO", "MODE_UNSPECIFIED", "VALIDATED"):
        return "auto", tools
    if mode == "NONE":
        return "none", tools
    if mode != "ANY":
        raise _bad(
            f"Invalid value at 'tool_config.function_calling_config.mode' ({mode}): "
            "expected AUTO, ANY, NONE or VALIDATED"
        )
    if isinstance(allowed, list) and allowed:
        tools = [t for t in tools or [] if t["function"]["name"] in allowed]
        if len(tools) == 1:
            return {"type": "function", "function": {"name": tools[0]["function"]["name"]}}, tools
    return "required", tools


def _positive_int(value: Any, field: str, minimum: int = 1) -> int:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        value = int(value)  # proto int32 may come quoted
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _bad(f"Invalid value at 'generation_config.{field}': must be an integer >= {minimum}")
    return value


def _number(value: Any, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise _bad(f"Invalid value at 'generation_config.{field}': must be a number from {low:g} to {high:g}")
    return value


def _thinking(config: Any) -> tuple[str | None, int | None, bool]:
    """thinkingConfig as (reasoning_effort, thinking budget, includeThoughts)."""
    if config is None:
        return None, None, False
    if not isinstance(config, dict):
        raise _bad("Invalid value at 'generation_config.thinking_config': expected an object")
    include = bool(pick(config, "includeThoughts"))
    level = pick(config, "thinkingLevel")
    budget = pick(config, "thinkingBudget")
    if isinstance(level, str) and level.upper() == "THINKING_LEVEL_UNSPECIFIED":
        level = None
    if level is not None and budget is not None:
        raise _bad("thinking_budget and thinking_level cannot be set at the same time")
    if level is not None:
        if not isinstance(level, str) or level.lower() not in THINKING_LEVELS:
            raise _bad(
                f"Invalid value at 'generation_config.thinking_config.thinking_level' ({level}): "
                "supported levels are low and high"
            )
        return level.lower(), None, include
    if budget is not None:
        budget = _positive_int(budget, "thinking_config.thinking_budget", minimum=-1)
        if budget == -1:
            return None, None, include  # dynamic thinking: the model decides
        if budget == 0:
            return "none", None, include
        return ("low" if budget <= 1024 else "medium" if budget <= 8192 else "high"), budget, include
    return None, None, include


def chat_request(model_id: str, body: Any) -> tuple[ChatRequest, bool]:
    """A GenerateContentRequest as the canonical ChatRequest, and whether thoughts were asked for."""
    if not isinstance(body, dict):
        raise _bad("Request body must be a JSON object")
    messages = chat_messages(body)
    tools = chat_tools(body)
    tool_choice, tools = chat_tool_choice(body, tools)
    config = pick(body, "generationConfig")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise _bad("Invalid value at 'generation_config': expected an object")
    extra: dict[str, Any] = {}
    max_tokens = pick(config, "maxOutputTokens")
    if max_tokens is not None:
        max_tokens = _positive_int(max_tokens, "max_output_tokens")
    temperature = pick(config, "temperature")
    if temperature is not None:
        temperature = _number(temperature, "temperature", 0, 2)
    if pick(config, "topP") is not None:
        extra["top_p"] = _number(pick(config, "topP"), "top_p", 0, 1)
    for field, name in (("presencePenalty", "presence_penalty"), ("frequencyPenalty", "frequency_penalty")):
        if pick(config, field) is not None:
            extra[name] = _number(pick(config, field), name, -2, 2)
    if pick(config, "seed") is not None:
        extra["seed"] = _positive_int(pick(config, "seed"), "seed", minimum=-(2**31))
    stops = pick(config, "stopSequences")
    if stops is not None and (
        not isinstance(stops, list) or not all(isinstance(s, str) for s in stops) or len(stops) > 5
    ):
        raise _bad("Invalid value at 'generation_config.stop_sequences': at most 5 strings")
    count = pick(config, "candidateCount")
    if count is not None and _positive_int(count, "candidate_count") != 1:
        raise _bad("Only one candidate can be specified in the current model (candidate_count must be 1)")
    modalities = pick(config, "responseModalities")
    if modalities is not None and (
        not isinstance(modalities, list)
        or any(str(m).upper() not in ("TEXT", "MODALITY_UNSPECIFIED") for m in modalities)
    ):
        raise _bad("Only the TEXT response modality is supported by this model")
    response_format = None
    mime = pick(config, "responseMimeType")
    schema = pick(config, "responseJsonSchema")
    if schema is None and pick(config, "responseSchema") is not None:
        schema = json_schema(pick(config, "responseSchema"))
    if mime not in (None, "", "text/plain", "application/json", "text/x.enum"):
        raise _bad(
            f"* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are "
            f"`text/plain`, `application/json`, `text/x.enum`. Got {mime!r}"
        )
    if schema is not None and mime not in ("application/json", "text/x.enum"):
        raise _bad(
            "* GenerateContentRequest.generation_config.response_schema: response_mime_type must be "
            "application/json or text/x.enum when a response schema is set"
        )
    if mime == "application/json":
        response_format = (
            {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
            if schema is not None
            else {"type": "json_object"}
        )
    effort, budget, include_thoughts = _thinking(pick(config, "thinkingConfig"))
    req = ChatRequest(
        model=model_id,
        messages=messages,
        tools=tools,
        tool_choice=tool_choice if tools else None,
        max_tokens=max_tokens,
        temperature=temperature,
        response_format=response_format,
        reasoning_effort=effort,
        reasoning_budget=budget,
        include_reasoning=include_thoughts,
        stop=stops or None,
        extra=extra,
    )
    return req, include_thoughts


# --------------------------------------------------------------------------------------------- response


def usage_metadata(u: Usage) -> dict[str, Any]:
    """Google counts thoughts apart from candidates; canonical output_tokens include reasoning tokens."""
    meta: dict[str, Any] = {
        "promptTokenCount": u.input_tokens,
        "candidatesTokenCount": max(u.output_tokens - u.reasoning_tokens, 0),
        "totalTokenCount": u.input_tokens + u.output_tokens,
    }
    if u.cached_tokens:
        meta["cachedContentTokenCount"] = u.cached_tokens
    if u.reasoning_tokens:
        meta["thoughtsTokenCount"] = u.reasoning_tokens
    meta["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": u.input_tokens}]
    return meta


def function_call_part(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    try:
        args = json.loads(arguments) if arguments else {}
    except ValueError:
        args = {"_raw": arguments}  # an upstream's malformed JSON still reaches the client
    return {"functionCall": {"id": call_id, "name": name, "args": args}}


def _candidate(parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = FINISH_REASONS.get(finish, "OTHER")
    return candidate


def generate_response(result: ChatResult, model_id: str, response_id: str, include_thoughts: bool) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if include_thoughts and result.reasoning:
        parts.append({"text": result.reasoning, "thought": True})
    if result.text:
        parts.append({"text": result.text})
    parts += [function_call_part(c.id, c.name, c.arguments) for c in result.tool_calls]
    return {
        "candidates": [_candidate(parts or [{"text": ""}], result.finish_reason)],
        "usageMetadata": usage_metadata(result.usage),
        "modelVersion": model_id,
        "responseId": response_id,
    }


class StreamTranslator:
    """Deltas in, GenerateContentResponse chunks out: each text or thought piece as a chunk (thoughts only when
    includeThoughts asked for them), each function call whole (its argument fragments gathered), the last piece
    held back so it can carry finishReason and usageMetadata."""

    def __init__(self, model_id: str, response_id: str, include_thoughts: bool = False):
        self.model_id = model_id
        self.response_id = response_id
        self.include_thoughts = include_thoughts
        self.pending: dict[str, Any] | None = None  # a text part, or a call being assembled
        self.call: dict[str, Any] | None = None
        self.finish: str | None = None
        self.usage = Usage()

    def _chunk(self, parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
        chunk: dict[str, Any] = {"candidates": [_candidate(parts, finish)]}
        if finish is not None:
            chunk["usageMetadata"] = usage_metadata(self.usage)
        chunk.update(modelVersion=self.model_id, responseId=self.response_id)
        return chunk

    def _take(self) -> list[dict[str, Any]]:
        parts = []
        if self.pending is not None:
            parts.append(self.pending)
            self.pending = None
        if self.call is not None:
            parts.append(function_call_part(self.call["id"], self.call["name"], self.call["args"]))
            self.call = None
        return parts

    def feed(self, d: Delta) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if d.usage is not None:
            self.usage = d.usage
        if d.finish_reason is not None:
            self.finish = d.finish_reason
        if d.reasoning and self.include_thoughts:
            parts = self._take()
            if parts:
                out.append(self._chunk(parts))
            self.pending = {"text": d.reasoning, "thought": True}
        if d.text:
            parts = self._take()
            if parts:
                out.append(self._chunk(parts))
            self.pending = {"text": d.text}
        elif d.tool_call is not None:
            tc = d.tool_call
            if self.call is not None and self.call["index"] == d.tool_index:
                self.call["args"] += tc.arguments or ""
            else:
                parts = self._take()
                if parts:
                    out.append(self._chunk(parts))
                self.call = {"index": d.tool_index, "id": tc.id, "name": tc.name, "args": tc.arguments or ""}
        return out

    def close(self) -> dict[str, Any]:
        """The last chunk: what was held back, finishReason and usageMetadata."""
        return self._chunk(self._take() or [{"text": ""}], self.finish or "stop")


# --------------------------------------------------------------------------------------- models, embeds


def model_resource(m: LlmModel) -> dict[str, Any]:
    embedding = m.kind == "embedding"
    out: dict[str, Any] = {
        "name": f"models/{m.id}",
        "baseModelId": m.id,
        "version": "001",
        "displayName": m.display_name,
        "description": (
            f"{m.display_name} embeddings ({m.dimensions} dimensions), served by runapi"
            if embedding
            else f"{m.display_name} ({m.owned_by}), served by runapi"
        ),
        "inputTokenLimit": m.input_token_limit,
        "outputTokenLimit": m.output_token_limit,
        "supportedGenerationMethods": list(EMBED_METHODS if embedding else CHAT_METHODS),
    }
    if not embedding:
        out.update(temperature=1.0, topP=0.95, maxTemperature=2.0)
        if m.thinking:
            out["thinking"] = True
    return out


def embed_text(content: Any, where: str) -> str:
    """The text of an embedContent Content (text parts only)."""
    if isinstance(content, str):
        return content
    parts = pick(content, "parts")
    if not isinstance(parts, list) or not parts:
        raise _bad(f"* {where}.content.parts: contents.parts must not be empty.")
    texts = []
    for p in parts:
        text = pick(p, "text")
        if not isinstance(text, str):
            raise _bad(f"* {where}.content.parts: only text parts can be embedded by this model")
        texts.append(text)
    return " ".join(texts)


def response_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class GenerateCall(ChatCall):
    """One :generateContent or :streamGenerateContent call; streamed as SSE (`alt=sse`) or as one JSON array
    written piece by piece (the default)."""

    def __init__(self, model_id: str, body: Any, stream: bool, as_sse: bool):
        req, self.include_thoughts = chat_request(model_id, body)
        req.stream = stream
        super().__init__(req)
        self.as_sse = as_sse
        self.media_type = "text/event-stream" if as_sse else "application/json"
        self.id = response_id()

    async def answer(self, who: Answering, result: ChatResult) -> dict[str, Any]:
        return generate_response(result, who.model, self.id, self.include_thoughts)

    async def frames(self, who: Answering, deltas: Deltas, describe: Describe) -> AsyncGenerator[bytes, None]:
        out = StreamTranslator(who.model, self.id, self.include_thoughts)
        first = True

        def frame(chunk: dict[str, Any]) -> bytes:
            nonlocal first
            data = orjson.dumps(chunk)
            if self.as_sse:
                return b"data: " + data + b"\r\n\r\n"
            lead = b"[" if first else b",\r\n"
            first = False
            return lead + data

        async for d in deltas:
            for chunk in out.feed(d):
                yield frame(chunk)
        await deltas.close()  # settled before the last chunk, so a client that has it all owes nothing more
        yield frame(out.close())
        if not self.as_sse:
            yield b"]"
