"""A fake kie.ai on 127.0.0.1 speaking its documented protocol (docs.kie.ai): the Market task API
(POST /api/v1/jobs/createTask, GET /api/v1/jobs/recordInfo) and the model-specific APIs (Runway, Aleph, Luma
modify, Veo) with their own record endpoints and answer shapes, all in kie's `{code, msg, data}` envelope.

Every submission is checked against kie's published request schema (tests/support/contracts/kie_schemas.yaml):
an unknown Market model answers code 404, a body with an unknown field, a wrong type or value or a missing
required field answers code 422 (HTTP 200, as kie does). `Authorization: Bearer <key>` is checked exactly
(code 401 otherwise). Modes: ok | slow (waiting, then generating, for `slow_polls` polls) | 500 (submission
answers code 500) | 402 (no credits) | 429 (HTTP 429, Retry-After: 30) | policy (accepted, then failed with a
moderation message) | lost (accepted, then failed with an internal error) | webhook (done after 0.3 s, then
kie POSTs its callback to the submission's callBackUrl)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fake_media import MP4, PNG, FakeServer
from tests.support.kie_contract import refusals

KIE_POLICY_MESSAGE = "Your prompt was caught by our AI moderator. Please adjust it and try again!"
LOST_MESSAGE = "Internal error, please try again later."
RECORDS = {  # model-API record path → the submission paths it reports on
    "/api/v1/runway/record-detail": ("/api/v1/runway/generate", "/api/v1/runway/extend"),
    "/api/v1/aleph/record-info": ("/api/v1/aleph/generate",),
    "/api/v1/modify/record-info": ("/api/v1/modify/generate",),
    "/api/v1/veo/record-info": ("/api/v1/veo/generate", "/api/v1/veo/extend"),
}


def envelope(code: int, msg: str, data: Any = None, status: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse({"code": code, "msg": msg, "data": data}, status_code=status, headers=headers)


def makes_video(api: str, model: str | None) -> bool:
    return api != "market" or any(w in (model or "") for w in ("video", "upscale", "veo", "kling", "seedance"))


class FakeKie(FakeServer):
    def __init__(self, key: str):
        self.key = key
        self.slow_polls = 3
        self.jobs: dict[str, dict[str, Any]] = {}
        self.refused: list[dict[str, Any]] = []  # submissions kie's schema refused
        self._later: set[asyncio.Task] = set()
        routes = [
            Route("/files/{name}", self.file, methods=["GET"]),
            Route("/api/v1/jobs/createTask", self.market_submit, methods=["POST"]),
            Route("/api/v1/jobs/recordInfo", self.market_record, methods=["GET"]),
            Route("/api/v1/veo/get-1080p-video", self.veo_1080p, methods=["GET"]),
            *[Route(path, self.api_record, methods=["GET"]) for path in RECORDS],
            Route("/api/v1/{api:path}", self.api_submit, methods=["POST"]),
        ]
        super().__init__(routes)

    # --- submission ------------------------------------------------------------------------------------

    def _refuse(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return envelope(401, "You do not have access permissions")
        if self.mode == "500":
            return envelope(500, "Server error, please try again later")
        if self.mode == "402":
            return envelope(402, "The current credits are insufficient. Please top up.")
        if self.mode == "429":
            return envelope(429, "Rate limited", status=429, **{"Retry-After": "30"})
        return None

    async def _accept(self, api: str, model: str | None, body: dict[str, Any], schema_body: Any) -> Response:
        refused = refusals(model or api, schema_body)
        if refused is None:
            return envelope(404, f"{model or api} is not supported")
        if refused:
            self.refused.append({"api": api, "model": model, "body": body, "detail": refused})
            return envelope(422, "; ".join(refused))
        task_id = uuid.uuid4().hex
        self.jobs[task_id] = {"api": api, "model": model, "body": body, "polls": 0, "mode": self.mode}
        if self.mode == "webhook":
            self._later.add(asyncio.create_task(self._finish_and_call_back(task_id)))
        return envelope(200, "success", {"taskId": task_id})

    async def market_submit(self, request: Request) -> Response:
        body = await request.json()
        await self.record(request, body=body, api="market", model=body.get("model"))
        refused = self._refuse(request)
        if refused is not None:
            return refused
        extra = set(body) - {"model", "input", "callBackUrl"}
        if extra or not isinstance(body.get("input"), dict) or not isinstance(body.get("model"), str):
            return envelope(422, f"invalid request: model and input are required; unknown {sorted(extra)}")
        return await self._accept("market", body["model"], body, body["input"])

    async def api_submit(self, request: Request) -> Response:
        body = await request.json()
        api = request.url.path
        await self.record(request, body=body, api=api, model=None)
        refused = self._refuse(request)
        if refused is not None:
            return refused
        return await self._accept(api, None, body, body)

    async def _finish_and_call_back(self, task_id: str) -> None:
        job = self.jobs[task_id]
        await asyncio.sleep(0.3)
        job["done"] = True
        url = job["body"].get("callBackUrl")
        if url:
            async with httpx.AsyncClient() as client:
                resp = await client.post(url, json={"code": 200, "msg": "success", "data": self._data(task_id)})
            job["webhook_status"] = resp.status_code

    # --- records ---------------------------------------------------------------------------------------

    def _state(self, job: dict[str, Any]) -> str:
        """running | success | policy | lost, advancing the job by one poll."""
        job["polls"] += 1
        if job["mode"] == "slow" and job["polls"] <= self.slow_polls:
            return "running"
        if job["mode"] == "webhook" and not job.get("done"):
            return "running"
        return job["mode"] if job["mode"] in ("policy", "lost") else "success"

    def _data(self, task_id: str) -> dict[str, Any]:
        job = self.jobs[task_id]
        state = self._state(job)
        video = makes_video(job["api"], job["model"])
        url = f"{self.url}/files/{task_id}.{'mp4' if video else 'png'}"
        message = {"policy": KIE_POLICY_MESSAGE, "lost": LOST_MESSAGE}.get(state, "")
        api = job["api"]
        if api == "market":
            return {
                "taskId": task_id,
                "model": job["model"],
                "state": {"running": "generating" if job["polls"] > 1 else "waiting"}.get(
                    state, "success" if state == "success" else "fail"
                ),
                "param": json.dumps(job["body"]),
                "resultJson": json.dumps({"resultUrls": [url]}) if state == "success" else "",
                "failCode": "" if state in ("running", "success") else "500",
                "failMsg": message,
            }
        if api.startswith("/api/v1/runway/"):
            return {
                "taskId": task_id,
                "state": {"running": "queueing", "success": "success"}.get(state, "fail"),
                "videoInfo": {"videoId": task_id, "videoUrl": url, "imageUrl": f"{self.url}/files/{task_id}.png"}
                if state == "success"
                else None,
                "failCode": 400 if message else None,
                "failMsg": message,
                "expireFlag": 0,
            }
        flag = {"running": 0, "success": 1}.get(state, 3)
        if api == "/api/v1/aleph/generate":
            flag = 0 if flag == 3 else flag  # Aleph reports a failure as 0 with an errorMessage
            response = {"taskId": task_id, "resultVideoUrl": url, "resultImageUrl": url[:-3] + "png"}
        else:
            response = {"taskId": task_id, "resultUrls": [url], "originUrls": []}
        return {
            "taskId": task_id,
            "paramJson": json.dumps(job["body"]),
            "response": response if state == "success" else None,
            "successFlag": flag,
            "errorCode": 400 if message else 0,
            "errorMessage": message,
        }

    def _job_or_error(self, request: Request) -> tuple[str, Response | None]:
        task_id = request.query_params.get("taskId", "")
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return task_id, envelope(401, "You do not have access permissions")
        if task_id not in self.jobs:
            return task_id, envelope(404, "Task not found")
        return task_id, None

    async def market_record(self, request: Request) -> Response:
        await self.record(request)
        task_id, error = self._job_or_error(request)
        if error is None and self.jobs[task_id]["api"] != "market":
            error = envelope(404, "Task not found")
        return error or envelope(200, "success", self._data(task_id))

    async def api_record(self, request: Request) -> Response:
        await self.record(request)
        task_id, error = self._job_or_error(request)
        if error is None and self.jobs[task_id]["api"] not in RECORDS[request.url.path]:
            error = envelope(404, "Task not found")
        return error or envelope(200, "success", self._data(task_id))

    async def veo_1080p(self, request: Request) -> Response:
        """The 1080p version of a finished Veo video: "processing" (code 400) at the first ask, then its link."""
        await self.record(request)
        task_id, error = self._job_or_error(request)
        if error is not None:
            return error
        job = self.jobs[task_id]
        if job["api"] not in RECORDS["/api/v1/veo/record-info"]:
            return envelope(404, "Task not found")
        query = dict(request.query_params)
        if "index" in query:
            query["index"] = int(query["index"]) if query["index"].isdigit() else query["index"]
        refused = refusals("/api/v1/veo/get-1080p-video", query)
        if refused:
            self.refused.append({"api": "/api/v1/veo/get-1080p-video", "model": None, "body": query, "detail": refused})
            return envelope(422, "; ".join(refused))
        job["hd_asks"] = job.get("hd_asks", 0) + 1
        if job["hd_asks"] == 1:
            return envelope(400, "1080P is processing. It should be ready in 1-2 minutes. Please check back shortly.")
        return envelope(200, "success", {"resultUrl": f"{self.url}/files/{task_id}-1080p.mp4"})

    async def file(self, request: Request) -> Response:
        await self.record(request)
        if request.path_params["name"].endswith(".mp4"):
            return Response(MP4, media_type="video/mp4")
        return Response(PNG, media_type="image/png")
