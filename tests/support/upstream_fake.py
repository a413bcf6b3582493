"""What the fakes of the first-party job APIs (Kling, MiniMax, xAI) share: a provider's request contract
(tests/support/contracts/<kind>_schemas.yaml, the fal_schemas.yaml format) as validators, a job store whose jobs
run, stall, fail or get refused by mode, and result files served by the fake itself.

Modes (set `fake.mode` before a submission; a job keeps the mode it was submitted under):
ok | slow (running for `slow_polls` status checks) | 500 (submissions fail) | 429 (submissions refused with
Retry-After) | policy (a content-policy refusal) | lost (accepted, then failed on the provider's side)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.fake_media import MP4, PNG, FakeServer
from tests.support.upstream_contract import problems


class JobFake(FakeServer):
    """A FakeServer holding jobs: `submit_job` records one under the current mode; `advance` says how a job
    stands at this status check (running, done, failed, policy); `/files/out.mp4|png` serve the results."""

    def __init__(self, kind: str, routes: list[Route]):
        self.kind = kind
        self.slow_polls = 3
        self.jobs: dict[str, dict[str, Any]] = {}
        self.refused: list[dict[str, Any]] = []  # submissions the contract refused (endpoint, body, problems)
        super().__init__([Route("/files/{name}", self.file, methods=["GET"]), *routes])

    def check_contract(self, key: str, body: Any) -> list[str] | None:
        found = problems(self.kind, key, body)
        if found:
            self.refused.append({"endpoint": key, "body": body, "problems": found})
        return found

    def submit_job(self, **info: Any) -> str:
        job_id = str(uuid.uuid4().int)[:18]  # Kling's and MiniMax's ids are long digit strings
        self.jobs[job_id] = {"polls": 0, "mode": self.mode, **info}
        return job_id

    def advance(self, job: dict[str, Any]) -> str:
        job["polls"] += 1
        if job["mode"] == "slow" and job["polls"] <= self.slow_polls:
            return "running"
        if job["mode"] == "lost":
            return "failed"
        if job["mode"] == "policy":
            return "policy"
        return "done"

    def file_url(self, video: bool = True) -> str:
        return f"{self.url}/files/out.{'mp4' if video else 'png'}"

    async def file(self, request: Request) -> Response:
        await self.record(request)
        if request.path_params["name"].endswith(".mp4"):
            return Response(MP4, media_type="video/mp4")
        return Response(PNG, media_type="image/png")
