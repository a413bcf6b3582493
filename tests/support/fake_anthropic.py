"""A fake Anthropic Messages API on 127.0.0.1: POST /v1/messages, JSON and SSE (message_start,
content_block_start/delta/stop with text_delta, input_json_delta, thinking_delta and signature_delta,
message_delta, message_stop). It calls the first tool when tools are offered and the last turn is not a tool
result, thinks when `thinking` is enabled, counts images, honours stop_sequences, and reports fixed usage
(4,000 fresh + 6,000 cache-read input tokens, 2,000 output). Tests switch its mode at run time: ok, 500, 529
(overloaded), 429, 400 (refusal), stream_error (an `error` event before any content).

It enforces the Messages API contract for prompt caching as Anthropic does (400 invalid_request_error):
`system` is a string or a list of text blocks; `cache_control` is {"type": "ephemeral"} with an optional
`ttl` of "5m" or "1h", on at most four blocks/tools. When the request carries breakpoints it reports cache
writes too: CACHE_WRITE tokens, split by TTL in `cache_creation`. POST /v1/messages/count_tokens answers
COUNT_TOKENS. Each request's anthropic-beta header is recorded with it."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from tests.support.servers import free_port

USAGE = {"input_tokens": 4000, "cache_read_input_tokens": 6000, "cache_creation_input_tokens": 0, "output_tokens": 2000}
SIGNATURE = "EqQBCgIYAhIM-fake-signature"
CACHE_WRITE = 3000  # input tokens written to the cache when the request has breakpoints (1h ones first)
COUNT_TOKENS = 4242  # what count_tokens answers (unlike the gateway's byte estimate)
MAX_BREAKPOINTS = 4


def contract_error(body: dict[str, Any]) -> str | None:
    """What Anthropic would refuse in `body`'s system and cache_control fields, or None."""
    system = body.get("system")
    if (
        system is not None
        and not isinstance(system, str)
        and (
            not isinstance(system, list)
            or not all(
                isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str) for b in system
            )
        )
    ):
        return "system: Input should be a valid string or a list of text blocks"
    marked = []
    for where, block in _blocks(body):
        if "cache_control" not in block:
            continue
        cc = block["cache_control"]
        if not isinstance(cc, dict) or cc.get("type") != "ephemeral" or set(cc) - {"type", "ttl"}:
            return f"{where}.cache_control: Input tag does not match the expected tag 'ephemeral'"
        if cc.get("ttl", "5m") not in ("5m", "1h"):
            return f"{where}.cache_control.ttl: Input should be '5m' or '1h'"
        marked.append(cc.get("ttl", "5m"))
    if len(marked) > MAX_BREAKPOINTS:
        return f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {len(marked)}."
    return None


def _blocks(body: dict[str, Any]):
    """(where, block) for every block and tool that may carry cache_control."""
    if isinstance(body.get("system"), list):
        for j, b in enumerate(body["system"]):
            yield f"system.{j}", b
    for j, t in enumerate(body.get("tools") or []):
        yield f"tools.{j}", t
    for i, m in enumerate(body.get("messages") or []):
        if isinstance(m.get("content"), list):
            for j, b in enumerate(m["content"]):
                yield f"messages.{i}.content.{j}", b
                for k, inner in enumerate(b.get("content") if isinstance(b.get("content"), list) else []):
                    yield f"messages.{i}.content.{j}.content.{k}", inner


def cache_usage(body: dict[str, Any]) -> dict[str, Any]:
    """USAGE, plus cache writes split by TTL when the request asks for caching."""
    ttls = [b["cache_control"].get("ttl", "5m") for _, b in _blocks(body) if "cache_control" in b]
    if not ttls:
        return dict(USAGE)
    one_hour = CACHE_WRITE if "1h" in ttls else 0
    return {
        **USAGE,
        "cache_creation_input_tokens": CACHE_WRITE,
        "cache_creation": {"ephemeral_5m_input_tokens": CACHE_WRITE - one_hour, "ephemeral_1h_input_tokens": one_hour},
    }


def serve(app: Starlette) -> tuple[uvicorn.Server, threading.Thread, int]:
    """Run `app` on a free local port in a daemon thread; returns once it accepts connections."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return server, thread, port


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"type": "error", "error": {"type": kind, "message": message}}, status_code=status, headers=headers
    )


def _sse(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


class FakeAnthropic:
    def __init__(self, name: str):
        self.name = name
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        self.server, self.thread, port = serve(
            Starlette(
                routes=[
                    Route("/v1/messages", self.messages, methods=["POST"]),
                    Route("/v1/messages/count_tokens", self.count_tokens, methods=["POST"]),
                ]
            )
        )
        self.base_url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def _content(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str, str | None]:
        """The content blocks, stop_reason and stop_sequence this fake answers with."""
        last = body["messages"][-1]
        blocks = last["content"] if isinstance(last["content"], list) else [{"type": "text", "text": last["content"]}]
        content: list[dict[str, Any]] = []
        said = " ".join(b.get("text", "") for b in blocks if b.get("type") == "text")
        if (body.get("thinking") or {}).get("type") == "enabled":
            content.append(
                {"type": "thinking", "thinking": f"{self.name} thinks about: {said}", "signature": SIGNATURE}
            )
        results = [b for b in blocks if b.get("type") == "tool_result"]
        if body.get("tools") and not results:
            content.append(
                {"type": "tool_use", "id": "toolu_fake01", "name": body["tools"][0]["name"], "input": {"city": "Oslo"}}
            )
            return content, "tool_use", None
        if results:
            text = f"{self.name} got tool result: {results[0].get('content')}"
        else:
            images = sum(1 for b in blocks if b.get("type") == "image")
            text = f"{self.name} says: {said}" + (f" ({images} image)" if images else "")
        for stop in body.get("stop_sequences") or []:
            if stop in text:
                content.append({"type": "text", "text": text[: text.index(stop)]})
                return content, "stop_sequence", stop
        content.append({"type": "text", "text": text})
        return content, "end_turn", None

    async def messages(self, request: Request):
        body = await request.json()
        self.requests.append({"body": body, "headers": dict(request.headers)})
        if self.mode == "500":
            return _error(500, "api_error", "Internal server error")
        if self.mode == "529":
            return _error(529, "overloaded_error", "Overloaded")
        if self.mode == "429":
            return _error(429, "rate_limit_error", "slow down", {"retry-after": "30"})
        if self.mode == "400":
            return _error(400, "invalid_request_error", "Output blocked by content filtering policy")
        refused = contract_error(body)
        if refused:
            return _error(400, "invalid_request_error", refused)
        content, reason, stop = self._content(body)
        message = {
            "id": "msg_fake01",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": reason,
            "stop_sequence": stop,
            "usage": cache_usage(body),
        }
        if not body.get("stream"):
            return JSONResponse(message)
        return StreamingResponse(self._events(message), media_type="text/event-stream")

    async def count_tokens(self, request: Request):
        body = await request.json()
        self.requests.append({"body": body, "headers": dict(request.headers), "count": True})
        refused = contract_error(body) or next(
            (f"{k}: Extra inputs are not permitted" for k in body if k in ("max_tokens", "stream", "stop_sequences")),
            None,
        )
        if refused:
            return _error(400, "invalid_request_error", refused)
        return JSONResponse({"input_tokens": COUNT_TOKENS})

    async def _events(self, message: dict[str, Any]):
        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**message["usage"], "output_tokens": 1},
        }
        yield _sse("message_start", {"type": "message_start", "message": start})
        yield _sse("ping", {"type": "ping"})
        if self.mode == "stream_error":
            yield _sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
            return
        for i, block in enumerate(message["content"]):
            kind = block["type"]
            opening = {
                "text": {"type": "text", "text": ""},
                "thinking": {"type": "thinking", "thinking": ""},
                "tool_use": {**block, "input": {}},
            }[kind]
            yield _sse("content_block_start", {"type": "content_block_start", "index": i, "content_block": opening})
            if kind == "text":
                deltas = [{"type": "text_delta", "text": w} for w in _pieces(block["text"])]
            elif kind == "thinking":
                deltas = [{"type": "thinking_delta", "thinking": w} for w in _pieces(block["thinking"])]
                deltas.append({"type": "signature_delta", "signature": block["signature"]})
            else:
                args = json.dumps(block["input"])
                deltas = [
                    {"type": "input_json_delta", "partial_json": args[:5]},
                    {"type": "input_json_delta", "partial_json": args[5:]},
                ]
            for delta in deltas:
                yield _sse("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta})
            yield _sse("content_block_stop", {"type": "content_block_stop", "index": i})
        yield _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]},
                "usage": {"output_tokens": USAGE["output_tokens"]},
            },
        )
        yield _sse("message_stop", {"type": "message_stop"})


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + " " for w in words[:-1]] + [words[-1]]
