"""OpenAI-compatible surface: /v1/chat/completions (JSON and SSE), /v1/models, /v1/embeddings."""

from __future__ import annotations

import asyncio
import base64
import struct
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..errors import ApiError
from ..llm import router, sandbox
from ..llm.canonical import ChatRequest, ChatResult, Usage
from ..llm.models import llm_models
from ..llm.tokens import text_tokens
from .llm_common import (
    MeteredStream,
    admit,
    admit_chat,
    caller,
    refunded_on_error,
    resolve_model,
    run_complete,
    settle,
    visible_models,
)
from .responses import Json, json_body

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
MAX_CHOICES = 128  # OpenAI's limit on `n`


def _chat_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "Missing required parameter: messages")
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise ApiError(400, "Each message must be an object with a role")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise ApiError(400, "max_tokens must be a positive integer")
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise ApiError(400, "tools must be an array")
    for i, tool in enumerate(tools or ()):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise ApiError(400, f"Missing required parameter: 'tools[{i}].function.name'.")
    choice = body.get("tool_choice")
    if choice is not None and choice not in ("none", "auto", "required") and not (
            isinstance(choice, dict) and isinstance(choice.get("function"), dict)
            and isinstance(choice["function"].get("name"), str)):
        raise ApiError(400, "tool_choice must be none, auto, required or {type: function, function: {name}}")
    if body.get("stream_options") is not None and not isinstance(body["stream_options"], dict):
        raise ApiError(400, "stream_options must be an object")
    n = body.get("n", 1)
    if n is None:
        n = 1
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_CHOICES:
        raise ApiError(400, f"n must be an integer from 1 to {MAX_CHOICES}")
    known = {"model", "messages", "tools", "tool_choice", "max_tokens", "max_completion_tokens", "temperature",
             "stream", "stream_options", "response_format", "reasoning_effort", "stop", "include_thoughts", "n"}
    thinking = body.get("thinking")  # DeepSeek's switch, {"type": "enabled"}: also passed on as is
    return ChatRequest(model=body.get("model"), messages=messages, tools=tools, tool_choice=body.get("tool_choice"),
                       max_tokens=max_tokens, temperature=body.get("temperature"), stream=bool(body.get("stream")),
                       response_format=body.get("response_format"), reasoning_effort=body.get("reasoning_effort"),
                       # DeepSeek's thinking switch, or Gemini's include_thoughts (documented for chat completions)
                       include_reasoning=(isinstance(thinking, dict) and thinking.get("type") == "enabled")
                       or body.get("include_thoughts") is True,
                       stop=_stop(body.get("stop")), extra={k: v for k, v in body.items() if k not in known}, n=n)


def _stop(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    stops = [raw] if isinstance(raw, str) else raw
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops) or len(stops) > 4:
        raise ApiError(400, "stop must be a string or an array of at most 4 strings")
    return stops or None


def _usage(u: Usage) -> dict[str, Any]:
    return {"prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens,
            "total_tokens": u.input_tokens + u.output_tokens,
            "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens}}


def _choice(index: int, result: ChatResult) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.text or None, "refusal": None}
    if result.reasoning:
        message["reasoning_content"] = result.reasoning  # where DeepSeek (and most compatible servers) put it
    if result.tool_calls:
        message["tool_calls"] = [{"id": c.id, "type": "function",
                                  "function": {"name": c.name, "arguments": c.arguments}} for c in result.tool_calls]
    return {"index": index, "message": message, "finish_reason": result.finish_reason, "logprobs": None}


def _completion(cid: str, created: int, model: str, result: ChatResult, fingerprint: str | None) -> dict[str, Any]:
    choices = [_choice(i, r) for i, r in enumerate([result, *result.alternatives])]
    return {"id": cid, "object": "chat.completion", "created": created, "model": model, "choices": choices,
            "usage": _usage(result.usage), "system_fingerprint": fingerprint}


def sse(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


LOW_OR_HIGH_EFFORT = {"gpt-5.2"}  # the docs' chat-completions table: reasoning_effort "low" or "high"
NO_EFFORT = {"gemini-2.5-flash"}  # "gemini-2.5-flash 不支持 reasoning_effort"
SEARCH_TOOL = "googleSearch"  # Gemini's fixed Google Search tool, written as a function tool


def _model_rules(body: dict[str, Any], req: ChatRequest) -> None:
    """The documented per-model rules of chat completions (400s), before anything is reserved."""
    model = llm_models().get(req.model) if isinstance(req.model, str) else None
    if model is None:
        return  # unknown model: admit answers 404
    gemini = model.owned_by == "google"
    effort = body.get("reasoning_effort")
    if effort is not None:
        if model.id in NO_EFFORT:
            raise ApiError(400, f"{model.id} does not support reasoning_effort")
        if (gemini or model.id in LOW_OR_HIGH_EFFORT) and effort not in ("low", "high"):
            raise ApiError(400, 'reasoning_effort must be "low" or "high"')
    thoughts = body.get("include_thoughts")
    if thoughts is not None and not isinstance(thoughts, bool):
        raise ApiError(400, "include_thoughts must be a boolean")
    if gemini and body.get("response_format") is not None:
        fmt = body["response_format"]
        if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
            raise ApiError(400, "response_format.type must be json_schema")
        if any((t.get("function") or {}).get("name") != SEARCH_TOOL for t in req.tools or ()):
            raise ApiError(400, "response_format cannot be combined with custom function calling "
                                "(only with the Google Search tool)")


async def chat_completions(request: Request):
    who = await caller(request)
    body = await json_body(request)
    req = _chat_request(body)
    _model_rules(body, req)
    admitted = await admit_chat(request, who, req)
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    fingerprint = router.SANDBOX_FINGERPRINT if admitted.sandbox else None
    if not req.stream:
        result = await run_complete(request, admitted, req)
        return Json(_completion(cid, created, admitted.model.id, result, fingerprint), headers=admitted.headers)
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    metered = await MeteredStream(request, admitted, req).start()

    async def events() -> AsyncIterator[bytes]:
        base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": admitted.model.id,
                "system_fingerprint": fingerprint}
        try:
            for c in range(req.n):
                yield sse({**base, "choices": [{"index": c, "delta": {"role": "assistant", "content": ""},
                                                "finish_reason": None}]})
            announced: set[tuple[int, int]] = set()  # (choice, tool index) whose id and name were sent
            async for d in metered:
                c = d.choice
                if d.reasoning:
                    yield sse({**base, "choices": [{"index": c, "delta": {"reasoning_content": d.reasoning},
                                                    "finish_reason": None}]})
                if d.text is not None:
                    yield sse({**base, "choices": [{"index": c, "delta": {"content": d.text}, "finish_reason": None}]})
                elif d.tool_call is not None:
                    call: dict[str, Any] = {"index": d.tool_index, "function": {"arguments": d.tool_call.arguments}}
                    if (c, d.tool_index) not in announced:  # a call's first fragment names it
                        announced.add((c, d.tool_index))
                        call.update(id=d.tool_call.id, type="function",
                                    function={"name": d.tool_call.name, "arguments": d.tool_call.arguments})
                    yield sse({**base, "choices": [{"index": c, "delta": {"tool_calls": [call]}, "finish_reason": None}]})
                elif d.finish_reason is not None:
                    yield sse({**base, "choices": [{"index": c, "delta": {}, "finish_reason": d.finish_reason}]})
            if include_usage:
                yield sse({**base, "choices": [], "usage": _usage(metered.usage)})
            yield b"data: [DONE]\n\n"
        finally:
            await metered.close()

    # close() also runs as a background task: if the client leaves before the body starts, the generator's
    # finally never runs, and the reservation must still be settled or refunded
    return StreamingResponse(events(), media_type="text/event-stream", headers={**SSE_HEADERS, **admitted.headers},
                             background=BackgroundTask(metered.close))


def openai_model(m) -> dict[str, Any]:
    return {"id": m.id, "object": "model", "created": m.created, "owned_by": m.owned_by}


def anthropic_model(m) -> dict[str, Any]:
    return {"type": "model", "id": m.id, "display_name": m.id, "lifecycle": "active",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(m.created))}


async def list_models(request: Request) -> Json:
    """OpenAI list format, or Anthropic's when the Anthropic SDK asks (it sends anthropic-version)."""
    who = await caller(request)
    anthropic = bool(request.headers.get("anthropic-version"))
    models = visible_models(who, "chat" if anthropic else None)  # Anthropic's list has no embedding models
    if anthropic:
        data = [anthropic_model(m) for m in models]
        return Json({"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                     "last_id": data[-1]["id"] if data else None})
    return Json({"object": "list", "data": [openai_model(m) for m in models]})


async def get_model(request: Request) -> Json:
    who = await caller(request)
    wanted = request.path_params["model"]
    for m in visible_models(who):
        if m.id == wanted:
            return Json(anthropic_model(m) if request.headers.get("anthropic-version") else openai_model(m))
    raise ApiError(404, f"The model `{wanted}` does not exist or you do not have access to it",
                   code="model_not_found")


# OpenAI's limits per embeddings request: 2,048 inputs, 300,000 tokens in all.
MAX_EMBEDDING_INPUTS = 2048
MAX_EMBEDDING_TOKENS = 300_000


def _embeddings_body(texts: list[str], size: int, as_base64: bool, model: str, tokens: int) -> bytes:
    """The rendered answer (up to 2,048 vectors, tens of MB of JSON): built in a thread, off the event loop."""
    data = []
    for i, text in enumerate(texts):
        vec = sandbox.embed(text, size)
        value = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode() if as_base64 else vec
        data.append({"object": "embedding", "index": i, "embedding": value})
    return orjson.dumps({"object": "list", "data": data, "model": model,
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


async def embeddings(request: Request) -> Response:
    who = await caller(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts:
        raise ApiError(400, "Missing required parameter: input")
    if len(texts) > MAX_EMBEDDING_INPUTS:  # before any work on them, and before anything is reserved
        raise ApiError(400, f"'$.input' is invalid: an array must have at most {MAX_EMBEDDING_INPUTS} items "
                            f"(got {len(texts)})")
    texts = [t if isinstance(t, str) else " ".join(map(str, t)) if isinstance(t, list) else None for t in texts]
    if any(t is None for t in texts):
        raise ApiError(400, "input must be a string, an array of strings or an array of token arrays")
    tokens = sum(text_tokens(t) for t in texts)
    if tokens > MAX_EMBEDDING_TOKENS:
        raise ApiError(400, f"Requested {tokens} tokens, max {MAX_EMBEDDING_TOKENS} tokens per request",
                       code="max_tokens_per_request")
    model = resolve_model(who, body.get("model"), ("embedding",))
    dims = body.get("dimensions")  # validated before anything is reserved
    if dims is not None:
        if model.id == "text-embedding-ada-002":
            raise ApiError(400, "dimensions is not supported by text-embedding-ada-002")
        if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= (model.dimensions or 0):
            raise ApiError(400, f"dimensions must be an integer from 1 to {model.dimensions}")
    size = dims or model.dimensions
    as_base64 = body.get("encoding_format") == "base64"
    admitted = await admit(request, who, model.id, "embedding", tokens, 0)
    async with refunded_on_error(request, admitted):
        body = await asyncio.to_thread(_embeddings_body, texts, size, as_base64, admitted.model.id, tokens)
        await settle(request, admitted, Usage(input_tokens=tokens))
    return Response(body, media_type="application/json", headers=admitted.headers)


routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/models/{model:path}", get_model, methods=["GET"]),
    Route("/v1/embeddings", embeddings, methods=["POST"]),
]
