"""MiniMax's video API on 127.0.0.1 as its reference documents it (minimax.py's docstring has the protocol):
`Authorization: Bearer <key>` (else base_resp 1004), every body checked against
tests/support/contracts/minimax_schemas.yaml and MiniMax's per-model rules (base_resp 2013 with the reasons),
jobs polled at /v1/query/video_generation, files at /v1/files/retrieve. Modes (tests/support/upstream_fake.py):
policy answers base_resp 1026 (sensitive input); lost fails the job; 500 is HTTP 500; 429 is base_resp 1002."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.upstream_fake import JobFake

# MiniMax's per-model rules (video-generation-t2v / -i2v / -fl2v): the resolutions each model makes
RESOLUTIONS = {
    "MiniMax-Hailuo-2.3": {"768P", "1080P"},
    "MiniMax-Hailuo-2.3-Fast": {"768P", "1080P"},
    "MiniMax-Hailuo-02": {"512P", "768P", "1080P"},
}


def model_rules(body: dict[str, Any]) -> list[str]:
    """What MiniMax refuses beyond the field table (empty when none)."""
    found = []
    model, resolution, duration = body.get("model"), body.get("resolution"), body.get("duration")
    if duration is not None and duration not in (6, 10):
        found.append("duration: must be 6 or 10")
    if model in RESOLUTIONS and resolution is not None and resolution not in RESOLUTIONS[model]:
        found.append(f"resolution: {model} does not support {resolution}")
    if resolution == "1080P" and duration == 10:
        found.append("resolution: 1080P supports 6 seconds only")
    if resolution == "512P" and not body.get("first_frame_image"):
        found.append("resolution: 512P is for image to video only")
    if "last_frame_image" in body and model != "MiniMax-Hailuo-02":
        found.append(f"last_frame_image: not supported by {model}")
    return found


def minimax_answer(code: int = 0, message: str = "success", http_status: int = 200, **fields: Any) -> JSONResponse:
    return JSONResponse({**fields, "base_resp": {"status_code": code, "status_msg": message}}, status_code=http_status)


class FakeMiniMax(JobFake):
    def __init__(self, key: str):
        self.key = key
        super().__init__(
            "minimax",
            [
                Route("/v1/video_generation", self.submit, methods=["POST"]),
                Route("/v1/query/video_generation", self.query, methods=["GET"]),
                Route("/v1/files/retrieve", self.retrieve, methods=["GET"]),
            ],
        )
        self.files: dict[str, str] = {}

    def _unauthorised(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return minimax_answer(1004, "login fail: Please carry the API secret key in the 'Authorization' field")
        return None

    async def submit(self, request: Request) -> Response:
        body = await request.json()
        await self.record(request, body=body)
        refused = self._unauthorised(request)
        if refused is not None:
            return refused
        if self.mode == "500":
            return minimax_answer(1000, "unknown error", http_status=500)
        if self.mode == "429":
            return minimax_answer(1002, "rate limit exceeded(RPM)")
        found = (self.check_contract("/v1/video_generation", body) or []) + model_rules(body)
        if found:
            self.refused.append({"endpoint": "/v1/video_generation", "body": body, "problems": found})
            return minimax_answer(2013, "invalid params, " + "; ".join(found))
        if self.mode == "policy":
            return minimax_answer(1026, "input new_sensitive")
        return minimax_answer(task_id=self.submit_job(body=body))

    async def query(self, request: Request) -> Response:
        await self.record(request)
        refused = self._unauthorised(request)
        if refused is not None:
            return refused
        task_id = request.query_params.get("task_id", "")
        job = self.jobs.get(task_id)
        if job is None:
            return minimax_answer(2013, "invalid params, task_id not found")
        state = self.advance(job)
        if state == "running":
            return minimax_answer(task_id=task_id, status="Queueing" if job["polls"] == 1 else "Processing")
        if state == "policy":
            return minimax_answer(1027, "output new_sensitive", task_id=task_id, status="Fail")
        if state == "failed":
            return minimax_answer(task_id=task_id, status="Fail")
        file_id = str(400000 + len(self.files))
        self.files[file_id] = task_id
        return minimax_answer(task_id=task_id, status="Success", file_id=file_id, video_width=1366, video_height=768)

    async def retrieve(self, request: Request) -> Response:
        await self.record(request)
        refused = self._unauthorised(request)
        if refused is not None:
            return refused
        file_id = request.query_params.get("file_id", "")
        if file_id not in self.files:
            return minimax_answer(1000, "file not found")
        return minimax_answer(
            file={
                "file_id": int(file_id),
                "bytes": 1,
                "created_at": 1,
                "filename": "output.mp4",
                "purpose": "video_generation",
                "download_url": self.file_url(),
            }
        )
