"""A fake BytePlus ModelArk on 127.0.0.1 speaking its documented protocol (see src/runapi/providers/upstream/ark.py):
`Authorization: Bearer <key>` checked (401 AuthenticationError otherwise); every body checked against ModelArk's
request schema for its model (tests/support/contracts/ark_schemas.yaml): 404 ModelNotOpen for a model it does not
serve, 400 InvalidParameter naming the field for anything the schema refuses, including a Seedream size outside the
model's named sizes or pixel range. Seedance tasks go queued → running → succeeded with content.video_url;
Seedream answers data[].url at once; result files are served by the fake itself.

Modes: ok | slow (queued, then running for `slow_polls` checks) | 500 (InternalServiceError) | 429
(RateLimitExceeded, Retry-After) | policy (a video task fails with OutputVideoSensitiveContentDetected, an image
request is refused with InputTextSensitiveContentDetected) | lost (a video task fails with InternalServiceError)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fake_media import MP4, PNG, FakeServer
from tests.support.upstream_contract import rules, violations

POLICY_CODE = "OutputVideoSensitiveContentDetected"
POLICY_MESSAGE = "The request failed because the output video may contain sensitive information."


def ark_error(status: int, code: str, message: str, param: str = "", headers: dict[str, str] | None = None):
    kinds = {
        400: "BadRequest",
        401: "Unauthorized",
        404: "NotFound",
        429: "TooManyRequests",
        500: "InternalServerError",
    }
    body = {"error": {"code": code, "message": message, "param": param, "type": kinds.get(status, "Error")}}
    return JSONResponse(body, status_code=status, headers=headers)


def size_error(model: str, size: Any) -> str | None:
    """ModelArk's rule for Seedream's `size`: one of the model's named sizes, or WxH within its pixel range with an
    aspect within [1/16, 16] (ark_schemas.yaml `_image_sizes`)."""
    rule = rules("ark", "_image_sizes").get(model)
    if rule is None or size is None:
        return None
    if size in rule["named"]:
        return None
    try:
        w, h = (int(v) for v in str(size).lower().split("x"))
    except ValueError:
        return f"size must be one of {rule['named']} or WxH"
    if not rule["min_pixels"] <= w * h <= rule["max_pixels"]:
        return f"size {size} is outside the total pixel range [{rule['min_pixels']}, {rule['max_pixels']}]"
    if not 1 / 16 <= w / h <= 16:
        return f"size {size} has an aspect ratio outside [1/16, 16]"
    return None


class FakeArk(FakeServer):
    def __init__(self, key: str):
        self.key = key
        self.slow_polls = 3
        self.tasks: dict[str, dict[str, Any]] = {}
        self.refused: list[dict[str, Any]] = []  # bodies the schema refused (model, body, message)
        super().__init__(
            [
                Route("/files/{name}", self.file, methods=["GET"]),
                Route("/api/v3/contents/generations/tasks", self.create, methods=["POST"]),
                Route("/api/v3/contents/generations/tasks/{tid}", self.retrieve, methods=["GET"]),
                Route("/api/v3/contents/generations/tasks/{tid}", self.delete, methods=["DELETE"]),
                Route("/api/v3/images/generations", self.images, methods=["POST"]),
            ]
        )

    # --- shared checks ---------------------------------------------------------------------------------------

    def _refuse(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return ark_error(401, "AuthenticationError", "The API key in the request is missing or invalid.")
        if self.mode == "500":
            return ark_error(500, "InternalServiceError", "The service encountered an unexpected internal error.")
        if self.mode == "429":
            return ark_error(
                429,
                "RateLimitExceeded.EndpointRPMExceeded",
                "The request has exceeded the rate limit of the endpoint.",
                headers={"Retry-After": "30"},
            )
        return None

    def _invalid(self, body: Any) -> Response | None:
        model = body.get("model") if isinstance(body, dict) else None
        found = violations("ark", str(model), body)
        if found is None:
            return ark_error(404, "ModelNotOpen", f"Your account has not activated the model {model}.", "model")
        message, param = None, ""
        if found:
            error = found[0]
            param = ".".join(str(p) for p in error.absolute_path) or "body"
            message = error.message
        else:
            message = size_error(str(model), body.get("size"))
            param = "size" if message else ""
        if message is None:
            return None
        self.refused.append({"model": model, "body": body, "message": message})
        text = f"The parameter `{param}` specified in the request is not valid: {message}"
        return ark_error(400, "InvalidParameter", text, param)

    # --- Seedance ----------------------------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        body = await request.json()
        await self.record(request, body=body)
        refused = self._refuse(request) or self._invalid(body)
        if refused is not None:
            return refused
        tid = f"cgt-{uuid.uuid4().hex[:20]}"
        self.tasks[tid] = {"body": body, "polls": 0, "mode": self.mode, "status": "queued"}
        return JSONResponse({"id": tid})

    async def retrieve(self, request: Request) -> Response:
        await self.record(request)
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return ark_error(401, "AuthenticationError", "The API key in the request is missing or invalid.")
        task = self.tasks.get(request.path_params["tid"])
        if task is None:
            return ark_error(404, "ResourceNotFound", "The specified task is not found.")
        task["polls"] += 1
        if task["status"] in ("queued", "running") and task["mode"] == "slow" and task["polls"] <= self.slow_polls:
            task["status"] = "queued" if task["polls"] == 1 else "running"
        elif task["status"] in ("queued", "running"):
            task["status"] = {"policy": "failed", "lost": "failed"}.get(task["mode"], "succeeded")
        return JSONResponse(self._task_body(request.path_params["tid"], task))

    def _task_body(self, tid: str, task: dict[str, Any]) -> dict[str, Any]:
        body = task["body"]
        out: dict[str, Any] = {
            "id": tid,
            "model": body["model"],
            "status": task["status"],
            "created_at": 1765000000,
            "updated_at": 1765000060,
            "ratio": body.get("ratio", "16:9"),
            "resolution": body.get("resolution", "720p"),
            "duration": body.get("duration", 5),
            "framespersecond": 24,
        }
        if task["status"] == "succeeded":
            content = {"video_url": f"{self.url}/files/out.mp4"}
            if body.get("return_last_frame"):
                content["last_frame_url"] = f"{self.url}/files/last.png"
            out["content"] = content
            out["usage"] = {"completion_tokens": 108900, "total_tokens": 108900}
        elif task["status"] == "failed":
            if task["mode"] == "policy":
                out["error"] = {"code": POLICY_CODE, "message": POLICY_MESSAGE}
            else:
                out["error"] = {"code": "InternalServiceError", "message": "The service encountered an error."}
        return out

    async def delete(self, request: Request) -> Response:
        await self.record(request)
        task = self.tasks.get(request.path_params["tid"])
        if task is None:
            return ark_error(404, "ResourceNotFound", "The specified task is not found.")
        if task["status"] != "queued":
            return ark_error(400, "InvalidAction.TaskNotCancellable", "Only queued tasks can be cancelled.")
        task["status"] = "cancelled"
        return JSONResponse({})

    # --- Seedream ----------------------------------------------------------------------------------------------

    async def images(self, request: Request) -> Response:
        body = await request.json()
        await self.record(request, body=body)
        refused = self._refuse(request) or self._invalid(body)
        if refused is not None:
            return refused
        if self.mode == "policy":
            return ark_error(
                400,
                "InputTextSensitiveContentDetected",
                "The request failed because the input text may contain sensitive information.",
            )
        size = body.get("size") or "2048x2048"
        return JSONResponse(
            {
                "model": body["model"],
                "created": 1765000000,
                "data": [{"url": f"{self.url}/files/out.png", "size": size}],
                "usage": {"generated_images": 1, "output_tokens": 16384, "total_tokens": 16384},
            }
        )

    async def file(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name.endswith(".mp4"):
            return Response(MP4, media_type="video/mp4")
        return Response(PNG, media_type="image/png")
