"""Anthropic-compatible surface: /v1/messages (JSON and SSE) and /v1/messages/count_tokens.

Requests are translated to the canonical (OpenAI-shaped) ChatRequest, served by the router, and translated
back (src/runapi/llm/anthropic_format.py). Stop sequences are also enforced here, since OpenAI-style upstreams
do not say which sequence stopped them (and take at most four)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from ..errors import ApiError, RunapiError
from ..llm import anthropic_format as fmt
from ..llm.canonical import Usage
from ..llm.tokens import messages_tokens
from .errors import as_api_error
from .llm_common import (
    MeteredStream,
    admit_chat,
    caller,
    count_upstream,
    resolve_model,
    run_complete,
)
from .responses import ANTHROPIC_TYPES, Json, json_body

log = logging.getLogger("runapi.api")

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


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
        out.append(event("content_block_start", {"type": "content_block_start", "index": self.count - 1,
                                                 "content_block": block}))
        return out

    def text(self, text: str) -> list[bytes]:
        if not text:
            return []
        out = [] if self.open == ("text", 0) else self._start(("text", 0), {"type": "text", "text": ""})
        out.append(event("content_block_delta", {"type": "content_block_delta", "index": self.count - 1,
                                                 "delta": {"type": "text_delta", "text": text}}))
        return out

    def thinking(self, text: str) -> list[bytes]:
        if not text:
            return []
        out = [] if self.open == ("thinking", 0) else self._start(
            ("thinking", 0), {"type": "thinking", "thinking": "", "signature": ""})
        out.append(event("content_block_delta", {"type": "content_block_delta", "index": self.count - 1,
                                                 "delta": {"type": "thinking_delta", "thinking": text}}))
        return out

    def signature(self, signature: str) -> list[bytes]:
        """Anthropic signs a thinking block last, just before it closes."""
        if not signature or self.open != ("thinking", 0):
            return []
        return [event("content_block_delta", {"type": "content_block_delta", "index": self.count - 1,
                                               "delta": {"type": "signature_delta", "signature": signature}})]

    def tool(self, index: int, call_id: str, name: str, arguments: str) -> list[bytes]:
        out: list[bytes] = []
        if self.open != ("tool", index):
            # upstreams stream one call after another; a call's first fragment carries its id and name
            self.tools += 1
            out = self._start(("tool", index), {"type": "tool_use", "id": fmt.tool_use_id(call_id), "name": name,
                                                 "input": {}})
        if arguments:
            out.append(event("content_block_delta", {"type": "content_block_delta", "index": self.count - 1,
                                                     "delta": {"type": "input_json_delta",
                                                               "partial_json": arguments}}))
        return out


async def messages(request: Request):
    who = await caller(request)
    body = await json_body(request)
    req, stops = fmt.chat_request(body, beta=request.headers.get("anthropic-beta"))
    admitted = await admit_chat(request, who, req)
    mid, model = fmt.message_id(), admitted.model.id
    headers = {"request-id": f"req_{uuid.uuid4().hex}", **admitted.headers}
    if not req.stream:
        result = await run_complete(request, admitted, req)  # settled, or refunded and re-raised
        return Json(fmt.message(mid, model, result, stops), headers=headers)
    # waits for the first delta: an upstream that fails at once gets a real HTTP error (and a refund)
    metered = await MeteredStream(request, admitted, req).start()
    # the upstream's input side (cache reads and writes) when it told it, else the estimate
    first = metered.first
    prompt = first.prompt_usage if first is not None and first.prompt_usage is not None else Usage(
        input_tokens=messages_tokens(req.messages, req.tools))

    async def events() -> AsyncIterator[bytes]:
        finish: str | None = None
        upstream_stop: str | None = None
        blocks = Blocks()
        scanner = fmt.StopScanner(stops)

        try:
            yield event("message_start", {"type": "message_start", "message": {
                "id": mid, "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": None, "stop_sequence": None,
                "usage": fmt.usage(prompt)}})
            yield event("ping", {"type": "ping"})
            async for d in metered:
                if d.finish_reason is not None:
                    finish, upstream_stop = d.finish_reason, d.stop_sequence
                if scanner.hit is not None:
                    continue  # after a stop sequence the rest is drained for its usage only
                if d.reasoning or d.reasoning_signature:
                    for chunk in [*blocks.text(scanner.flush()), *blocks.thinking(d.reasoning or ""),
                                  *blocks.signature(d.reasoning_signature or "")]:
                        yield chunk
                elif d.text:
                    for chunk in blocks.text(scanner.feed(d.text)):
                        yield chunk
                elif d.tool_call is not None:
                    for chunk in [*blocks.text(scanner.flush()),
                                  *blocks.tool(d.tool_index, d.tool_call.id, d.tool_call.name,
                                               d.tool_call.arguments)]:
                        yield chunk
            for chunk in [*blocks.text(scanner.flush()), *blocks.close()]:
                yield chunk
            hit = scanner.hit if scanner.hit is not None else upstream_stop if upstream_stop in stops else None
            reason = "stop_sequence" if hit is not None else fmt.stop_reason(finish, blocks.tools > 0)
            yield event("message_delta", {"type": "message_delta",
                                          "delta": {"stop_reason": reason, "stop_sequence": hit},
                                          "usage": fmt.usage(metered.billable_usage())})
            yield event("message_stop", {"type": "message_stop"})
        except Exception as exc:  # the stream has begun: report in-band, as Anthropic does
            if isinstance(exc, (ApiError, RunapiError)):
                refusal = as_api_error(exc)
                kind, text = ANTHROPIC_TYPES.get(refusal.status, "api_error"), refusal.message
            else:
                log.exception("anthropic stream failed for %s", model)
                kind, text = "api_error", "Internal server error"
            yield event("error", {"type": "error", "error": {"type": kind, "message": text}})
        finally:
            # without reported usage (a hang-up, or an upstream that sends none) close() bills what was
            # generated; it is shielded against the hang-up's cancellation
            await metered.close()

    # close() also runs as a background task: if the client leaves before the body starts, the generator's
    # finally never runs, and the reservation must still be settled or refunded
    return StreamingResponse(events(), media_type="text/event-stream", headers={**SSE_HEADERS, **headers},
                             background=BackgroundTask(metered.close))


async def count_tokens(request: Request) -> Json:
    """The input tokens of a Messages request: the configured upstream's count when it can give one, else the
    gateway's own estimate (no model call, nothing billed)."""
    who = await caller(request)
    body = await json_body(request)
    req, _ = fmt.chat_request(body, counting=True, beta=request.headers.get("anthropic-beta"))
    resolve_model(who, req.model, ("chat",))
    counted = await count_upstream(request, who, req)
    return Json({"input_tokens": messages_tokens(req.messages, req.tools) if counted is None else counted})


routes = [
    Route("/v1/messages", messages, methods=["POST"]),
    Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
]
