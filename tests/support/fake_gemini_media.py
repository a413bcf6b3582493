"""A fake Gemini API for media on 127.0.0.1 (the LLM surface is tests/support/fake_gemini.py), speaking Google's
protocol: POST /v1beta/models/{model}:generateContent (images inline in the answer) and
:predictLongRunning (a Veo operation), GET /v1beta/{operation name}, and the key-protected result file
GET /v1beta/files/{id}:download?alt=media.

Auth as Google answers it: no `x-goog-api-key` → 403 PERMISSION_DENIED; a wrong key → 400 INVALID_ARGUMENT with
an ErrorInfo detail reason API_KEY_INVALID. Every body is checked against tests/support/contracts/
gemini_schemas.yaml (tests/support/gemini_contract.py): an unknown model → 404 NOT_FOUND, an invalid body →
400 INVALID_ARGUMENT, always `{"error": {"code", "message", "status"}}`. Modes: ok | slow (a Veo operation stays
running for `slow_polls` polls) | 500 (503 UNAVAILABLE) | 429 (RESOURCE_EXHAUSTED with a RetryInfo 30s detail) |
policy (images: promptFeedback.blockReason; Veo: a finished operation whose samples were all filtered) | lost
(images: 500 INTERNAL; Veo: the operation finishes with an error). `redirect_downloads` makes the file URI
answer 302 to a keyless storage link, as Google's download does."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.fake_media import MP4, FakeServer, tiny_png
from tests.support.gemini_contract import refusals

RESULT_PNG = tiny_png((30, 160, 60))  # what the fake makes (inputs are fake_media.PNG)
THOUGHT_PNG = tiny_png((90, 90, 90))  # an interim "thought" image Gemini 3 Pro Image sends first
BLOCK_REASON = "PROHIBITED_CONTENT"
FILTERED_REASON = "Video generation was blocked by our safety filters."


def google_error(code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=code)


class FakeGeminiMedia(FakeServer):
    def __init__(self, key: str):
        self.key = key
        self.slow_polls = 3
        self.redirect_downloads = False
        self.operations: dict[str, dict[str, Any]] = {}
        self.refused: list[dict[str, Any]] = []  # bodies the contract refused (method, model, problems)
        super().__init__(
            [
                Route("/v1beta/models/{model}/operations/{op}", self.operation, methods=["GET"]),
                Route("/v1beta/models/{target}", self.model_call, methods=["POST"]),
                Route("/v1beta/files/{target}", self.file, methods=["GET"]),
                Route("/storage/{name}", self.storage, methods=["GET"]),
            ]
        )

    def _auth(self, request: Request) -> Response | None:
        given = request.headers.get("x-goog-api-key")
        if not given:
            return google_error(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established identity). Please use "
                "API Key or other form of API consumer identity to call this API.",
            )
        if given != self.key:
            info = {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
            return google_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [info])
        return None

    def _busy(self) -> Response | None:
        if self.mode == "500":
            return google_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
        if self.mode == "429":
            retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}
            return google_error(
                429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan.", [retry]
            )
        return None

    async def model_call(self, request: Request) -> Response:
        model, _, method = request.path_params["target"].partition(":")
        try:
            body = await request.json()
        except ValueError:
            body = None
        await self.record(request, body=body, model=model, rpc=method)
        refused = self._auth(request) or self._busy()
        if refused:
            return refused
        problems = refusals(method, model, body)
        if problems is None:
            return google_error(
                404,
                "NOT_FOUND",
                f"models/{model} is not found for API version v1beta, or is not supported for {method}.",
            )
        if problems:
            self.refused.append({"method": method, "model": model, "body": body, "problems": problems})
            return google_error(400, "INVALID_ARGUMENT", "\n".join(problems))
        if method == "generateContent":
            return self._image_answer(model)
        name = f"models/{model}/operations/{uuid.uuid4().hex[:12]}"
        self.operations[name] = {"mode": self.mode, "polls": 0, "model": model}
        return JSONResponse({"name": name})

    def _image_answer(self, model: str) -> Response:
        usage = {"promptTokenCount": 12, "candidatesTokenCount": 1290, "totalTokenCount": 1302}
        if self.mode == "policy":
            return JSONResponse({"promptFeedback": {"blockReason": BLOCK_REASON}, "usageMetadata": usage})
        if self.mode == "lost":
            return google_error(500, "INTERNAL", "An internal error has occurred. Please retry or report it.")
        parts: list[dict[str, Any]] = [{"text": "Here is your image."}]
        if model == "gemini-3-pro-image":
            parts.insert(
                0,
                {
                    "inlineData": {"mimeType": "image/png", "data": base64.b64encode(THOUGHT_PNG).decode()},
                    "thought": True,
                },
            )
        parts.append({"inlineData": {"mimeType": "image/png", "data": base64.b64encode(RESULT_PNG).decode()}})
        candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        return JSONResponse({"candidates": [candidate], "usageMetadata": usage, "modelVersion": model})

    async def operation(self, request: Request) -> Response:
        await self.record(request)
        refused = self._auth(request)
        if refused:
            return refused
        name = f"models/{request.path_params['model']}/operations/{request.path_params['op']}"
        job = self.operations.get(name)
        if job is None:
            return google_error(404, "NOT_FOUND", f"Operation {name} not found.")
        if self.mode == "poll429":
            return google_error(429, "RESOURCE_EXHAUSTED", "Too many requests.")
        job["polls"] += 1
        if job["mode"] == "slow" and job["polls"] <= self.slow_polls:
            return JSONResponse({"name": name})
        if job["mode"] == "lost":
            return JSONResponse(
                {"name": name, "done": True, "error": {"code": 13, "message": "Video generation failed."}}
            )
        if job["mode"] == "policy":
            result: dict[str, Any] = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [FILTERED_REASON]}
        else:
            uri = f"{self.url}/v1beta/files/{uuid.uuid4().hex[:10]}:download?alt=media"
            result = {"generatedSamples": [{"video": {"uri": uri}}]}
        response = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
            "generateVideoResponse": result,
        }
        return JSONResponse({"name": name, "done": True, "response": response})

    async def file(self, request: Request) -> Response:
        await self.record(request)
        refused = self._auth(request)
        if refused:
            return refused
        if self.redirect_downloads:
            return RedirectResponse(f"{self.url}/storage/video.mp4", status_code=302)
        return Response(MP4, media_type="video/mp4")

    async def storage(self, request: Request) -> Response:
        await self.record(request)
        return Response(MP4, media_type="video/mp4")
