"""xAI's Grok Imagine API on 127.0.0.1 as docs.x.ai documents it (xai.py's docstring has the protocol):
`Authorization: Bearer <key>` (else HTTP 401 {code, error}); every body checked against
tests/support/contracts/xai_schemas.yaml and xAI's per-model rules (HTTP 400 {code, error}); images answered at
once (b64_json), videos polled at /v1/videos/{request_id}. Modes (tests/support/upstream_fake.py): policy answers
HTTP 400 with xAI's content-policy error; lost expires the video request; 500 and 429 (Retry-After) refuse."""

from __future__ import annotations

import base64
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fake_media import PNG
from tests.support.upstream_fake import JobFake

POLICY = "Generated image rejected by content moderation."


def model_rules(endpoint: str, body: dict[str, Any]) -> list[str]:
    """What xAI refuses beyond the field table (empty when none)."""
    found = []
    if endpoint == "/v1/videos/generations":
        if body.get("resolution") == "1080p" and not str(body.get("model", "")).startswith("grok-imagine-video-1.5"):
            found.append(f"resolution: 1080p is not supported by {body.get('model', 'grok-imagine-video')}")
        if "image" in body and "reference_images" in body:
            found.append("image and reference_images cannot be used together")
    return found


def xai_error(status: int, code: str, error: str, **headers: str) -> JSONResponse:
    return JSONResponse({"code": code, "error": error}, status_code=status, headers=headers)


class FakeXAI(JobFake):
    def __init__(self, key: str):
        self.key = key
        super().__init__(
            "xai",
            [
                Route("/v1/images/generations", self.images, methods=["POST"]),
                Route("/v1/images/edits", self.images, methods=["POST"]),
                Route("/v1/videos/generations", self.video, methods=["POST"]),
                Route("/v1/videos/{request_id}", self.query, methods=["GET"]),
            ],
        )

    def _refuse(self, request: Request, endpoint: str, body: Any) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return xai_error(401, "Unauthenticated", "Incorrect API key provided")
        if self.mode == "500":
            return xai_error(500, "Internal error", "The service is temporarily unavailable")
        if self.mode == "429":
            return xai_error(429, "Too many requests", "Rate limit exceeded", **{"Retry-After": "30"})
        found = (self.check_contract(endpoint, body) or []) + model_rules(endpoint, body)
        if found:
            self.refused.append({"endpoint": endpoint, "body": body, "problems": found})
            return xai_error(400, "Client specified an invalid argument", "; ".join(found))
        if self.mode == "policy":
            return xai_error(400, "Client specified an invalid argument", POLICY)
        return None

    async def images(self, request: Request) -> Response:
        body = await request.json()
        endpoint = request.url.path
        await self.record(request, body=body, endpoint=endpoint)
        refused = self._refuse(request, endpoint, body)
        if refused is not None:
            return refused
        encoded = base64.b64encode(PNG).decode()
        return JSONResponse({"data": [{"b64_json": encoded, "revised_prompt": ""} for _ in range(body.get("n", 1))]})

    async def video(self, request: Request) -> Response:
        body = await request.json()
        await self.record(request, body=body, endpoint="/v1/videos/generations")
        refused = self._refuse(request, "/v1/videos/generations", body)
        if refused is not None:
            return refused
        return JSONResponse({"request_id": self.submit_job(body=body)})

    async def query(self, request: Request) -> Response:
        await self.record(request)
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return xai_error(401, "Unauthenticated", "Incorrect API key provided")
        job = self.jobs.get(request.path_params["request_id"])
        if job is None:
            return xai_error(404, "Not found", "No such request")
        state = self.advance(job)
        model = job["body"].get("model", "grok-imagine-video")
        if state == "running":
            return JSONResponse({"status": "pending"})
        if state == "failed":
            return JSONResponse({"status": "expired"})
        video = {"url": self.file_url(), "duration": job["body"].get("duration", 8), "respect_moderation": True}
        return JSONResponse({"status": "done", "video": video, "model": model})
