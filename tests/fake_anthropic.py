"""A fake Anthropic Messages API on 127.0.0.1: POST /v1/messages, JSON and SSE (message_start,
content_block_start/delta/stop with text_delta, input_json_delta, thinking_delta and signature_delta,
message_delta, message_stop). It calls the first tool when tools are offered and the last turn is not a tool
result, thinks when `thinking` is enabled, counts images, honours stop_sequences, and reports fixed usage
(4,000 fresh + 6,000 cache-read input tokens, 2,000 output). Tests switch its mode at run time: ok, 500, 529
(overloaded), 429, 400 (refusal), stream_error (an `error` event before any content)."""

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

from tests.conftest import free_port

USAGE = {"input_tokens": 4000, "cache_read_input_tokens": 6000, "cache_creation_input_tokens": 0,
         "output_tokens": 2000}
SIGNATURE = "EqQBCgIYAhIM-fake-signature"


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
    return JSONResponse({"type": "error", "error": {"type": kind, "message": message}}, status_code=status,
                        headers=headers)


def _sse(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


class FakeAnthropic:
    def __init__(self, name: str):
        self.name = name
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        self.server, self.thread, port = serve(Starlette(routes=[Route("/v1/messages", self.messages,
                                                                       methods=["POST"])]))
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
            content.append({"type": "thinking", "thinking": f"{self.name} thinks about: {said}",
                            "signature": SIGNATURE})
        results = [b for b in blocks if b.get("type") == "tool_result"]
        if body.get("tools") and not results:
            content.append({"type": "tool_use", "id": "toolu_fake01", "name": body["tools"][0]["name"],
                            "input": {"city": "Oslo"}})
            return content, "tool_use", None
        if results:
            text = f"{self.name} got tool result: {results[0].get('content')}"
        else:
            images = sum(1 for b in blocks if b.get("type") == "image")
            text = f"{self.name} says: {said}" + (f" ({images} image)" if images else "")
        for stop in body.get("stop_sequences") or []:
            if stop in text:
                content.append({"type": "text", "text": text[:text.index(stop)]})
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
        content, reason, stop = self._content(body)
        message = {"id": "msg_fake01", "type": "message", "role": "assistant", "model": body["model"],
                   "content": content, "stop_reason": reason, "stop_sequence": stop, "usage": USAGE}
        if not body.get("stream"):
            return JSONResponse(message)
        return StreamingResponse(self._events(message), media_type="text/event-stream")

    async def _events(self, message: dict[str, Any]):
        start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
                 "usage": {**USAGE, "output_tokens": 1}}
        yield _sse("message_start", {"type": "message_start", "message": start})
        yield _sse("ping", {"type": "ping"})
        if self.mode == "stream_error":
            yield _sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
            return
        for i, block in enumerate(message["content"]):
            kind = block["type"]
            opening = {"text": {"type": "text", "text": ""}, "thinking": {"type": "thinking", "thinking": ""},
                       "tool_use": {**block, "input": {}}}[kind]
            yield _sse("content_block_start", {"type": "content_block_start", "index": i, "content_block": opening})
            if kind == "text":
                deltas = [{"type": "text_delta", "text": w} for w in _pieces(block["text"])]
            elif kind == "thinking":
                deltas = [{"type": "thinking_delta", "thinking": w} for w in _pieces(block["thinking"])]
                deltas.append({"type": "signature_delta", "signature": block["signature"]})
            else:
                args = json.dumps(block["input"])
                deltas = [{"type": "input_json_delta", "partial_json": args[:5]},
                          {"type": "input_json_delta", "partial_json": args[5:]}]
            for delta in deltas:
                yield _sse("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta})
            yield _sse("content_block_stop", {"type": "content_block_stop", "index": i})
        yield _sse("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": message["stop_reason"],
                                               "stop_sequence": message["stop_sequence"]},
                                     "usage": {"output_tokens": USAGE["output_tokens"]}})
        yield _sse("message_stop", {"type": "message_stop"})


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + " " for w in words[:-1]] + [words[-1]]
