"""A fake Gemini API on 127.0.0.1: POST /v1beta/models/{model}:generateContent and
:streamGenerateContent?alt=sse. It calls the first declared function (with a thoughtSignature, as Gemini 3 does)
when tools are offered and the last turn holds no functionResponse, adds a thought part when
thinkingConfig.includeThoughts is set, counts inlineData images, and reports fixed usage (10,000 prompt tokens of
which 6,000 cached, 2,000 output: 1,000 of them thoughts when thinking). Modes: ok, 500, 429, 400."""

from __future__ import annotations

import base64
import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from tests.support.fake_anthropic import serve

COUNT_TOKENS = 4343  # what :countTokens answers
THOUGHT_SIGNATURE = base64.b64encode(b"\x01\x02gemini-thought-signature\xfe\xff").decode()


def _error(code: int, status: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "status": status}}, status_code=code, headers=headers
    )


class FakeGemini:
    def __init__(self, name: str):
        self.name = name
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        app = Starlette(routes=[Route("/v1beta/models/{model_action:path}", self.generate, methods=["POST"])])
        self.server, self.thread, port = serve(app)
        self.base_url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def _answer(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, int]]:
        parts = body["contents"][-1]["parts"]
        said = " ".join(p["text"] for p in parts if "text" in p)
        thinking = bool(((body.get("generationConfig") or {}).get("thinkingConfig") or {}).get("includeThoughts"))
        out: list[dict[str, Any]] = []
        if thinking:
            out.append({"text": f"{self.name} thinks about: {said}", "thought": True})
        responses = [p["functionResponse"] for p in parts if "functionResponse" in p]
        if body.get("tools") and not responses:
            name = body["tools"][0]["functionDeclarations"][0]["name"]
            out.append(
                {"functionCall": {"name": name, "args": {"city": "Oslo"}}, "thoughtSignature": THOUGHT_SIGNATURE}
            )
        elif responses:
            out.append({"text": f"{self.name} got tool result: {json.dumps(responses[0]['response'])}"})
        else:
            images = sum(1 for p in parts if "inlineData" in p)
            out.append({"text": f"{self.name} says: {said}" + (f" ({images} image)" if images else "")})
        usage = {
            "promptTokenCount": 10000,
            "cachedContentTokenCount": 6000,
            "candidatesTokenCount": 1000 if thinking else 2000,
            "totalTokenCount": 12000,
        }
        if thinking:
            usage["thoughtsTokenCount"] = 1000
        return out, usage

    async def generate(self, request: Request):
        model, _, method = request.path_params["model_action"].partition(":")
        body = await request.json()
        self.requests.append(
            {
                "body": body,
                "headers": dict(request.headers),
                "model": model,
                "method": method,
                "query": dict(request.query_params),
            }
        )
        if self.mode == "500":
            return _error(500, "INTERNAL", "An internal error has occurred.")
        if self.mode == "429":
            return _error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted", {"retry-after": "30"})
        if self.mode == "400":
            return _error(400, "INVALID_ARGUMENT", "The request was blocked by the safety filter")
        if method == "countTokens":
            return JSONResponse({"totalTokens": COUNT_TOKENS})
        parts, usage = self._answer(body)
        if method == "generateContent":
            return JSONResponse(
                {
                    "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
                    "usageMetadata": usage,
                    "modelVersion": model,
                    "responseId": "fake-response",
                }
            )
        return StreamingResponse(self._chunks(model, parts, usage), media_type="text/event-stream")

    async def _chunks(self, model: str, parts: list[dict[str, Any]], usage: dict[str, int]):
        pieces: list[dict[str, Any]] = []
        for part in parts:
            if "text" in part:  # text streams in words, function calls come whole
                words = part["text"].split(" ")
                pieces += [{**part, "text": w + (" " if i < len(words) - 1 else "")} for i, w in enumerate(words)]
            else:
                pieces.append(part)
        for i, piece in enumerate(pieces):
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": [piece]}, "index": 0}
            chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "fake-response"}
            if i == len(pieces) - 1:
                candidate["finishReason"] = "STOP"
                chunk["usageMetadata"] = usage
            yield "data: " + json.dumps(chunk) + "\r\n\r\n"
