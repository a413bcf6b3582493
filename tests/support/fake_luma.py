"""A fake of Luma's Dream Machine API on 127.0.0.1 (https://docs.lumalabs.ai/docs/api, paths under
/dream-machine/v1): `Authorization: Bearer <key>`; POST /generations/video/modify checked against Luma's schema
(tests/support/contracts/luma_schemas.yaml) → the Generation {id, state: queued, ...} (201); GET
/generations/{id} → {state, assets: {video}, failure_reason}; DELETE /generations/{id} → 204. Errors are
Luma's `{"detail": "..."}` (400 for a body it refuses, 401 for a bad key). When the body has a callback_url, the
finished Generation is POSTed there, as Luma does (mode ok: after 0.3 s of dreaming).

Modes: ok | slow (queued, then dreaming, for `slow_polls` checks) | 500 | 429 (Retry-After) | policy (failed:
moderation) | lost (failed: a job error)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fake_media import MP4, FakeServer
from tests.support.upstream_contract import problems

PREFIX = "/dream-machine/v1"
POLICY_REASON = "Prompt not allowed because advanced moderation failed"


class FakeLuma(FakeServer):
    def __init__(self, api_key: str):
        self.api_key = api_key
        self.slow_polls = 3
        self.jobs: dict[str, dict[str, Any]] = {}
        self.refused: list[dict[str, Any]] = []
        self.callbacks: list[int] = []  # status codes our server answered Luma's callback POSTs with
        self._later: set[asyncio.Task[None]] = set()
        super().__init__(
            [
                Route("/files/{name}", self.file, methods=["GET"]),
                Route(f"{PREFIX}/generations/{{gid}}", self.get, methods=["GET"]),
                Route(f"{PREFIX}/generations/{{gid}}", self.delete, methods=["DELETE"]),
                Route(f"{PREFIX}/{{endpoint:path}}", self.submit, methods=["POST"]),
            ]
        )

    def _auth(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"detail": "Invalid API key"}, status_code=401)
        return None

    def _generation(self, gid: str) -> dict[str, Any]:
        job = self.jobs[gid]
        out: dict[str, Any] = {
            "id": gid,
            "generation_type": "video",
            "state": job["state"],
            "failure_reason": job.get("failure_reason"),
            "created_at": job["created_at"],
            "assets": {"video": f"{self.url}/files/{gid}.mp4"} if job["state"] == "completed" else None,
            "model": job["body"]["model"],
            "request": job["body"],
        }
        return out

    async def submit(self, request: Request) -> Response:
        body = await request.json()
        endpoint = request.path_params["endpoint"]
        await self.record(request, body=body, endpoint=endpoint)
        refused = self._auth(request)
        if refused:
            return refused
        if self.mode == "500":
            return JSONResponse({"detail": "Internal server error"}, status_code=500)
        if self.mode == "429":
            return JSONResponse({"detail": "Rate limit exceeded"}, status_code=429, headers={"Retry-After": "30"})
        issues = problems("luma", endpoint, body)
        if issues is None:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        if issues:
            self.refused.append({"endpoint": endpoint, "body": body, "issues": issues})
            return JSONResponse({"detail": "; ".join(issues)}, status_code=400)
        gid = str(uuid.uuid4())
        self.jobs[gid] = {
            "body": body,
            "mode": self.mode,
            "polls": 0,
            "state": "queued",
            "created_at": datetime.now(UTC).isoformat(),
        }
        if body.get("callback_url") and self.mode == "ok":  # dreams 0.3 s, then completes and calls back
            self.jobs[gid]["mode"] = "callback"
            self._later.add(asyncio.create_task(self._finish_and_call_back(gid)))
        return JSONResponse(self._generation(gid), status_code=201)

    def _advance(self, job: dict[str, Any]) -> None:
        job["polls"] += 1
        if job["state"] not in ("queued", "dreaming"):
            return
        if job["mode"] == "slow" and job["polls"] <= self.slow_polls:
            job["state"] = "queued" if job["polls"] == 1 else "dreaming"
        elif job["mode"] == "policy":
            job["state"], job["failure_reason"] = "failed", POLICY_REASON
        elif job["mode"] == "lost":
            job["state"], job["failure_reason"] = "failed", "Job failed: an internal error occurred"
        elif job["mode"] != "callback" or job.get("done"):
            job["state"] = "completed"

    async def _finish_and_call_back(self, gid: str) -> None:
        job = self.jobs[gid]
        await asyncio.sleep(0.3)
        job["done"] = True
        job["state"] = "completed"
        async with httpx.AsyncClient() as client:
            resp = await client.post(job["body"]["callback_url"], json=self._generation(gid))
        self.callbacks.append(resp.status_code)

    async def get(self, request: Request) -> Response:
        await self.record(request)
        refused = self._auth(request)
        if refused:
            return refused
        job = self.jobs.get(request.path_params["gid"])
        if job is None:
            return JSONResponse({"detail": "Generation not found"}, status_code=404)
        self._advance(job)
        return JSONResponse(self._generation(request.path_params["gid"]))

    async def delete(self, request: Request) -> Response:
        await self.record(request)
        refused = self._auth(request)
        if refused:
            return refused
        if self.jobs.pop(request.path_params["gid"], None) is None:
            return JSONResponse({"detail": "Generation not found"}, status_code=404)
        return Response(status_code=204)

    async def file(self, request: Request) -> Response:
        await self.record(request)
        return Response(MP4, media_type="video/mp4")
