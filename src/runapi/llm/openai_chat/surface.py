"""The Chat Completions surface: a request body to the canonical ChatRequest (with the documented per-model
rules of llm_models.yaml), a result to a `chat.completion`, deltas to `chat.completion.chunk` events, and
OpenAI's error and model shapes."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator
from typing import Any

import orjson

from ...errors import BadRequest, MissingParameter
from ..canonical import ChatRequest, ChatResult, Usage
from ..models import LlmModel, llm_models
from ..surface import Answering, ChatCall, Deltas, Describe

MAX_CHOICES = 128  # OpenAI's limit on `n`
SANDBOX_FINGERPRINT = "runapi-sandbox"  # system_fingerprint of the sandbox's answers
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}
TOOL_NAMES = {"googleSearch": "Google Search"}  # how fixed tools are named in refusals
KNOWN = {
    "model",
    "messages",
    "tools",
    "tool_choice",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "stream",
    "stream_options",
    "response_format",
    "reasoning_effort",
    "stop",
    "include_thoughts",
    "n",
}


def error_body(status: int, message: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "api_error"), "param": None, "code": code}}


def model_object(m: LlmModel) -> dict[str, Any]:
    return {"id": m.id, "object": "model", "created": m.created, "owned_by": m.owned_by}


# ----------------------------------------------------------------------------------------------- request


def chat_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise MissingParameter("messages")
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise BadRequest("Each message must be an object with a role")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise BadRequest("max_tokens must be a positive integer")
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise BadRequest("tools must be an array")
    for i, tool in enumerate(tools or ()):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise BadRequest(f"Missing required parameter: 'tools[{i}].function.name'.")
    choice = body.get("tool_choice")
    if (
        choice is not None
        and choice not in ("none", "auto", "required")
        and not (
            isinstance(choice, dict)
            and isinstance(choice.get("function"), dict)
            and isinstance(choice["function"].get("name"), str)
        )
    ):
        raise BadRequest("tool_choice must be none, auto, required or {type: function, function: {name}}")
    if body.get("stream_options") is not None and not isinstance(body["stream_options"], dict):
        raise BadRequest("stream_options must be an object")
    n = body.get("n", 1)
    if n is None:
        n = 1
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_CHOICES:
        raise BadRequest(f"n must be an integer from 1 to {MAX_CHOICES}")
    thinking = body.get("thinking")  # DeepSeek's switch, {"type": "enabled"}: also passed on as is
    return ChatRequest(
        model=body.get("model"),  # type: ignore[arg-type]  # checked at admission
        messages=messages,
        tools=tools,
        tool_choice=body.get("tool_choice"),
        max_tokens=max_tokens,
        temperature=body.get("temperature"),
        stream=bool(body.get("stream")),
        response_format=body.get("response_format"),
        reasoning_effort=body.get("reasoning_effort"),
        # DeepSeek's thinking switch, or Gemini's include_thoughts (documented for chat completions)
        include_reasoning=(isinstance(thinking, dict) and thinking.get("type") == "enabled")
        or body.get("include_thoughts") is True,
        stop=_stop(body.get("stop")),
        extra={k: v for k, v in body.items() if k not in KNOWN},
        n=n,
    )


def _stop(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    stops = [raw] if isinstance(raw, str) else raw
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops) or len(stops) > 4:
        raise BadRequest("stop must be a string or an array of at most 4 strings")
    return stops or None


def check_model_rules(body: dict[str, Any], req: ChatRequest) -> None:
    """The documented per-model rules of chat completions (llm_models.yaml), before anything is reserved."""
    model = llm_models().get(req.model) if isinstance(req.model, str) else None
    if model is None:
        return  # unknown model: admission answers 404
    effort = body.get("reasoning_effort")
    if effort is not None and model.reasoning_efforts is not None:
        if not model.reasoning_efforts:
            raise BadRequest(f"{model.id} does not support reasoning_effort")
        if effort not in model.reasoning_efforts:
            raise BadRequest("reasoning_effort must be " + " or ".join(f'"{e}"' for e in model.reasoning_efforts))
    thoughts = body.get("include_thoughts")
    if thoughts is not None and not isinstance(thoughts, bool):
        raise BadRequest("include_thoughts must be a boolean")
    fmt = body.get("response_format")
    if (
        fmt is not None
        and model.response_formats is not None
        and (not isinstance(fmt, dict) or fmt.get("type") not in model.response_formats)
    ):
        raise BadRequest("response_format.type must be " + " or ".join(model.response_formats))
    allowed = model.response_format_tools
    if (
        fmt is not None
        and allowed is not None
        and any((t.get("function") or {}).get("name") not in allowed for t in req.tools or ())
    ):
        named = " or ".join(f"the {TOOL_NAMES.get(t, t)} tool" for t in allowed)
        raise BadRequest(f"response_format cannot be combined with custom function calling (only with {named})")


# ---------------------------------------------------------------------------------------------- response


def usage_object(u: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    }


def _choice(index: int, result: ChatResult) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.text or None, "refusal": None}
    if result.reasoning:
        message["reasoning_content"] = result.reasoning  # where DeepSeek (and most compatible servers) put it
    if result.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in result.tool_calls
        ]
    return {"index": index, "message": message, "finish_reason": result.finish_reason, "logprobs": None}


def completion(cid: str, created: int, model: str, result: ChatResult, fingerprint: str | None) -> dict[str, Any]:
    choices = [_choice(i, r) for i, r in enumerate([result, *result.alternatives])]
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": usage_object(result.usage),
        "system_fingerprint": fingerprint,
    }


def sse(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


class ChatCompletionCall(ChatCall):
    """One /v1/chat/completions call."""

    def __init__(self, body: Any):
        super().__init__(chat_request(body))
        check_model_rules(body, self.req)
        self.include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self.id, self.created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    async def answer(self, who: Answering, result: ChatResult) -> dict[str, Any]:
        return completion(self.id, self.created, who.model, result, SANDBOX_FINGERPRINT if who.sandbox else None)

    async def frames(self, who: Answering, deltas: Deltas, describe: Describe) -> AsyncGenerator[bytes, None]:
        base = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": who.model,
            "system_fingerprint": SANDBOX_FINGERPRINT if who.sandbox else None,
        }
        # Every chunk is `base` plus its choices (plus usage, last): `base` is serialised once, not per token.
        head = b"data: " + orjson.dumps(base)[:-1] + b',"choices":'

        def chunk(choices: list[dict[str, Any]]) -> bytes:
            return head + orjson.dumps(choices) + b"}\n\n"

        for c in range(self.req.n):
            yield chunk([{"index": c, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        announced: set[tuple[int, int]] = set()  # (choice, tool index) whose id and name were sent
        async for d in deltas:
            c = d.choice
            if d.reasoning:
                yield chunk([{"index": c, "delta": {"reasoning_content": d.reasoning}, "finish_reason": None}])
            if d.text is not None:
                yield chunk([{"index": c, "delta": {"content": d.text}, "finish_reason": None}])
            elif d.tool_call is not None:
                call: dict[str, Any] = {"index": d.tool_index, "function": {"arguments": d.tool_call.arguments}}
                if (c, d.tool_index) not in announced:  # a call's first fragment names it
                    announced.add((c, d.tool_index))
                    call.update(
                        id=d.tool_call.id,
                        type="function",
                        function={"name": d.tool_call.name, "arguments": d.tool_call.arguments},
                    )
                yield chunk([{"index": c, "delta": {"tool_calls": [call]}, "finish_reason": None}])
            elif d.finish_reason is not None:
                yield chunk([{"index": c, "delta": {}, "finish_reason": d.finish_reason}])
        if self.include_usage:
            yield sse({**base, "choices": [], "usage": usage_object(deltas.usage)})
        yield b"data: [DONE]\n\n"
