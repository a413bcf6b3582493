"""A fake of Runway's API on 127.0.0.1 (https://docs.dev.runwayml.com/api/): `Authorization: Bearer <key>` and
`X-Runway-Version: 2024-11-06` on every call; POST /v1/{text_to_video,image_to_video,video_to_video} checked
against Runway's request schema per model (tests/support/contracts/runway_schemas.yaml) → {"id"}; GET
/v1/tasks/{id} → {id, createdAt, status, output | failure + failureCode}; DELETE /v1/tasks/{id} → 204. Errors
are Runway's `{"error": "..."}` (400 with `issues` for a body it refuses, 401 for a bad key).

Modes: ok | slow (PENDING, THROTTLED, RUNNING for `slow_polls` checks) | 500 (submission answers 503: load
shedding) | 429 (submission refused with Retry-After) | policy (the task FAILs with SAFETY.INPUT.TEXT) | lost
(the task FAILs with INTERNAL.BAD_OUTPUT.CODE01)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fake_media import MP4, FakeServer
from tests.support.upstream_contract import problems

API_VERSION = "2024-11-06"
POLICY_FAILURE = "Your prompt was flagged by our content moderation system."
# Runway reads media from HTTPS links, its own upload URIs or data URIs (images ≤ 5 MB, videos ≤ 16 MB)
MEDIA_FIELDS = {"promptImage": ("image", 5 << 20), "videoUri": ("video", 16 << 20)}


def media_problem(field: str, value: Any) -> str | None:
    """Runway's verdict on a media reference (a string, or for promptImage a list of {uri, position})."""
    what, limit = MEDIA_FIELDS[field]
    uris = [v.get("uri") for v in value] if isinstance(value, list) else [value]
    for uri in uris:
        if not isinstance(uri, str):
            return f"{field}: expected a URI"
        if uri.startswith("data:"):
            header, _, payload = uri.partition(",")
            if not header.startswith(f"data:{what}/") or ";base64" not in header:
                return f"{field}: a data URI must be a base64 {what}"
            if len(base64.b64decode(payload)) > limit:
                return f"{field}: the {what} is larger than {limit >> 20} MB"
        elif not uri.startswith(("https://", "runway://")):
            return f"{field}: must be an HTTPS URL, a Runway upload URI or a data URI"
    return None


class FakeRunway(FakeServer):
    def __init__(self, api_key: str):
        self.api_key = api_key
        self.slow_polls = 3
        self.tasks: dict[str, dict[str, Any]] = {}
        self.refused: list[dict[str, Any]] = []  # bodies Runway's schema refused (endpoint, body, issues)
        super().__init__(
            [
                Route("/files/{name}", self.file, methods=["GET"]),
                Route("/v1/tasks/{tid}", self.task, methods=["GET"]),
                Route("/v1/tasks/{tid}", self.delete, methods=["DELETE"]),
                Route("/v1/{endpoint}", self.submit, methods=["POST"]),
            ]
        )

    def _refuse_headers(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"error": "Invalid API key"}, status_code=401)
        if request.headers.get("x-runway-version") != API_VERSION:
            return JSONResponse(
                {"error": "The X-Runway-Version header is required and must be a supported version"},
                status_code=400,
            )
        return None

    async def submit(self, request: Request) -> Response:
        body = await request.json()
        endpoint = request.path_params["endpoint"]
        await self.record(request, body=body, endpoint=endpoint)
        refused = self._refuse_headers(request)
        if refused:
            return refused
        if self.mode == "500":
            return JSONResponse({"error": "Service unavailable"}, status_code=503)
        if self.mode == "429":
            return JSONResponse({"error": "Too many requests"}, status_code=429, headers={"Retry-After": "30"})
        issues = problems("runway", f"{endpoint}/{body.get('model')}", body)
        if issues is None:
            issues = [f"model: {body.get('model')!r} is not available on /v1/{endpoint}"]
        issues += [p for f in MEDIA_FIELDS if f in body and (p := media_problem(f, body[f]))]
        if issues:
            self.refused.append({"endpoint": endpoint, "body": body, "issues": issues})
            return JSONResponse({"error": "Validation of body failed", "issues": issues}, status_code=400)
        tid = str(uuid.uuid4())
        self.tasks[tid] = {"body": body, "endpoint": endpoint, "mode": self.mode, "polls": 0}
        return JSONResponse({"id": tid})

    async def task(self, request: Request) -> Response:
        await self.record(request)
        refused = self._refuse_headers(request)
        if refused:
            return refused
        tid = request.path_params["tid"]
        job = self.tasks.get(tid)
        if job is None:
            return JSONResponse({"error": "Task not found"}, status_code=404)
        job["polls"] += 1
        base = {"id": tid, "createdAt": datetime.now(UTC).isoformat()}
        if job.get("cancelled"):
            return JSONResponse({**base, "status": "CANCELLED"})
        if job["mode"] == "slow" and job["polls"] <= self.slow_polls:
            status = ("PENDING", "THROTTLED")[job["polls"] - 1] if job["polls"] <= 2 else "RUNNING"
            extra = {"progress": 0.5} if status == "RUNNING" else {}
            return JSONResponse({**base, "status": status, **extra})
        if job["mode"] == "policy":
            return JSONResponse(
                {**base, "status": "FAILED", "failure": POLICY_FAILURE, "failureCode": "SAFETY.INPUT.TEXT"}
            )
        if job["mode"] == "lost":
            return JSONResponse(
                {
                    **base,
                    "status": "FAILED",
                    "failure": "An unexpected error occurred.",
                    "failureCode": "INTERNAL.BAD_OUTPUT.CODE01",
                }
            )
        return JSONResponse({**base, "status": "SUCCEEDED", "output": [f"{self.url}/files/{tid}.mp4"]})

    async def delete(self, request: Request) -> Response:
        await self.record(request)
        refused = self._refuse_headers(request)
        if refused:
            return refused
        job = self.tasks.get(request.path_params["tid"])
        if job is None:
            return JSONResponse({"error": "Task not found"}, status_code=404)
        job["cancelled"] = True
        return Response(status_code=204)

    async def file(self, request: Request) -> Response:
        await self.record(request)
        return Response(MP4, media_type="video/mp4")
