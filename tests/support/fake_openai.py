"""A fake OpenAI-compatible upstream on 127.0.0.1 speaking /v1/chat/completions (JSON and SSE), whose
behaviour tests switch at run time: answer, fail with 500, rate-limit with 429 + Retry-After, refuse with 400,
break off a stream after its first word with an in-stream error (`break`), or stall after it (`stall`)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from tests.support.servers import Server, free_port, start_server


class FakeOpenAI:
    def __init__(self, name: str):
        self.name = name
        self.mode = "ok"
        self.usage: dict | None = None  # reported instead of the fixed usage below, when set
        self.requests: list[dict] = []
        app = Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"])])
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    async def chat(self, request: Request):
        body = await request.json()
        self.requests.append(
            {
                "body": body,
                "auth": request.headers.get("authorization"),
                "traceparent": request.headers.get("traceparent"),
            }
        )
        if self.mode == "500":
            return JSONResponse({"error": {"message": "upstream exploded", "type": "server_error"}}, status_code=500)
        if self.mode == "429":
            return JSONResponse({"error": {"message": "slow down"}}, status_code=429, headers={"Retry-After": "30"})
        if self.mode == "400":
            return JSONResponse(
                {"error": {"message": "Your request was rejected by the safety system"}}, status_code=400
            )
        last = body["messages"][-1].get("content")
        text = f"{self.name} says: {last}"
        usage = self.usage or {
            "prompt_tokens": 1000,
            "completion_tokens": 200,
            "total_tokens": 1200,
            "prompt_tokens_details": {"cached_tokens": 600},
        }
        tool_calls = None
        if body.get("tools"):
            tool_calls = [
                {
                    "id": "call_up1",
                    "type": "function",
                    "function": {"name": body["tools"][0]["function"]["name"], "arguments": '{"city": "Oslo"}'},
                }
            ]
        if not body.get("stream"):
            message = {"role": "assistant", "content": None if tool_calls else text}
            if tool_calls:
                message["tool_calls"] = tool_calls
            return JSONResponse(
                {
                    "id": "chatcmpl-up",
                    "object": "chat.completion",
                    "created": 1,
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}
                    ],
                    "usage": usage,
                }
            )

        mode = self.mode

        async def events():
            base = {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": body["model"]}
            if mode in ("break", "stall"):
                yield (
                    "data: "
                    + json.dumps(
                        {**base, "choices": [{"index": 0, "delta": {"content": "partial "}, "finish_reason": None}]}
                    )
                    + "\n\n"
                )
                if mode == "stall":
                    await asyncio.sleep(30)  # the client leaves before the rest (and the usage) arrives
                yield (
                    "data: " + json.dumps({"error": {"message": "upstream went away", "type": "server_error"}}) + "\n\n"
                )
                return
            for word in text.split(" "):
                yield (
                    "data: "
                    + json.dumps(
                        {**base, "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}
                    )
                    + "\n\n"
                )
            yield (
                "data: "
                + json.dumps({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                + "\n\n"
            )
            yield "data: " + json.dumps({**base, "choices": [], "usage": usage}) + "\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")


@contextmanager
def gateway_over_fake(tmp: Path, models: list[str], **deployment: Any) -> Iterator[tuple[Server, FakeOpenAI]]:
    """A gateway whose `models` are served by one fresh FakeOpenAI deployment named "up" (extra deployment
    fields such as model_map or api_key as keywords); both stop on exit."""
    fake = FakeOpenAI("upstream")
    server = start_server(
        tmp, llm_upstreams=[{"name": "up", "base_url": fake.base_url, "models": models, **deployment}]
    )
    try:
        yield server, fake
    finally:
        server.stop()
        fake.stop()
