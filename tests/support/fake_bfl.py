"""A fake Black Forest Labs API on 127.0.0.1 speaking its documented protocol (see src/runapi/providers/upstream/
bfl.py): the `x-key` header checked (403 when missing, 401 when wrong); every submission checked against BFL's
schema for its endpoint (tests/support/contracts/bfl_schemas.yaml): 404 for an unknown endpoint, 422
{"detail": [{loc, msg, type}]} for an unknown field, a wrong type or value, a missing prompt, a FLUX.2 size not a
multiple of 16 or a Kontext aspect outside 21:9…9:21. A task is Pending, then Ready with result.sample, a link to a
file the fake serves itself.

Modes: ok | slow (Pending for `slow_polls` checks) | 500 | 429 (too many active tasks, Retry-After) | 402
(insufficient credits) | policy (the task ends Content Moderated) | lost (the task ends Error) | elsewhere (the
answer's polling_url names another host: the adapter must not send its key there)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fake_media import PNG, FakeServer
from tests.support.fal_contract import _detail as pydantic_detail
from tests.support.upstream_contract import rules, violations

ELSEWHERE = "http://localhost:9/v1/get_result"  # another host than the configured base (and nothing listens)


def extra_detail(endpoint: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """BFL's rules beyond the field table (bfl_schemas.yaml `_multiple_of`, `_aspect_range`)."""
    out = []
    for field, step in rules("bfl", "_multiple_of").get(endpoint, {}).items():
        value = body.get(field)
        if isinstance(value, int) and value % step:
            out.append({"loc": ["body", field], "msg": f"{field} must be a multiple of {step}", "type": "value_error"})
    for field, (low, high) in rules("bfl", "_aspect_range").get(endpoint, {}).items():
        value = body.get(field)
        if value is None:
            continue
        try:
            w, h = (float(v) for v in str(value).split(":"))
            ok = low <= w / h <= high
        except (ValueError, ZeroDivisionError):
            ok = False
        if not ok:
            out.append(
                {"loc": ["body", field], "msg": "Aspect ratio must be between 21:9 and 9:21", "type": "value_error"}
            )
    return out


class FakeBFL(FakeServer):
    def __init__(self, key: str):
        self.key = key
        self.slow_polls = 3
        self.tasks: dict[str, dict[str, Any]] = {}
        self.refused: list[dict[str, Any]] = []
        super().__init__(
            [
                Route("/files/{name}", self.file, methods=["GET"]),
                Route("/v1/get_result", self.get_result, methods=["GET"]),
                Route("/v1/{endpoint}", self.submit, methods=["POST"]),
            ]
        )

    def _auth(self, request: Request) -> Response | None:
        key = request.headers.get("x-key")
        if key is None:
            return JSONResponse({"detail": "Not authenticated"}, status_code=403)
        if key != self.key:
            return JSONResponse({"detail": "Invalid API key"}, status_code=401)
        return None

    async def submit(self, request: Request) -> Response:
        body = await request.json()
        endpoint = request.path_params["endpoint"]
        await self.record(request, body=body, endpoint=endpoint)
        refused = self._auth(request)
        if refused is not None:
            return refused
        if self.mode == "500":
            return JSONResponse({"detail": "Internal Server Error"}, status_code=500)
        if self.mode == "429":
            return JSONResponse(
                {"detail": "You have exceeded the number of active tasks. Please wait for some to finish."},
                status_code=429,
                headers={"Retry-After": "30"},
            )
        if self.mode == "402":
            return JSONResponse({"detail": "Insufficient credits"}, status_code=402)
        found = violations("bfl", endpoint, body)
        if found is None:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        detail = [d for e in found for d in pydantic_detail(e)] + extra_detail(endpoint, body)
        if detail:
            self.refused.append({"endpoint": endpoint, "body": body, "detail": detail})
            return JSONResponse({"detail": detail}, status_code=422)
        tid = str(uuid.uuid4())
        self.tasks[tid] = {"endpoint": endpoint, "body": body, "polls": 0, "mode": self.mode}
        base = ELSEWHERE if self.mode == "elsewhere" else f"{self.url}/v1/get_result"
        return JSONResponse({"id": tid, "polling_url": f"{base}?id={tid}", "cost": 3.0, "output_mp": 1.0})

    async def get_result(self, request: Request) -> Response:
        await self.record(request)
        refused = self._auth(request)
        if refused is not None:
            return refused
        tid = request.query_params.get("id", "")
        task = self.tasks.get(tid)
        if task is None:
            return JSONResponse({"id": tid, "status": "Task not found"})
        task["polls"] += 1
        if task["mode"] == "slow" and task["polls"] <= self.slow_polls:
            return JSONResponse({"id": tid, "status": "Pending", "progress": task["polls"] / 10})
        if task["mode"] == "policy":
            return JSONResponse({"id": tid, "status": "Content Moderated", "details": {"Moderation Reasons": ["x"]}})
        if task["mode"] == "lost":
            return JSONResponse({"id": tid, "status": "Error", "result": None})
        fmt = task["body"].get("output_format") or "jpeg"
        return JSONResponse(
            {
                "id": tid,
                "status": "Ready",
                "result": {
                    "sample": f"{self.url}/files/sample.{fmt}?se=2026-12-06&sig=abc",
                    "prompt": task["body"].get("prompt"),
                    "seed": 42,
                },
                "progress": 1.0,
            }
        )

    async def file(self, request: Request) -> Response:
        return Response(PNG, media_type="image/png")
