"""A fake Alibaba Cloud Model Studio (DashScope) on 127.0.0.1, speaking its documented protocol (sources in
tests/support/contracts/dashscope_schemas.yaml): `Authorization: Bearer <key>` checked (401 InvalidApiKey
otherwise), async services need `X-DashScope-Async: enable` (403 AccessDenied otherwise), every body checked
against the model's transcribed schema (400 InvalidParameter), tasks polled at GET /api/v1/tasks/{id} and
cancelled at POST /api/v1/tasks/{id}/cancel, result files served by the fake itself.

Modes: ok | slow (PENDING, then RUNNING for `slow_polls` checks) | 500 (InternalError at submission) | 429
(Throttling.RateQuota at submission, Retry-After) | policy (DataInspectionFailed: the task fails, or the
synchronous call answers 400) | lost (the task fails with InternalError)."""

from __future__ import annotations

import uuid
from typing import Any

from jsonschema import Draft202012Validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support import upstream_contract
from tests.support.fake_media import MP4, PNG, FakeServer
from tests.support.first_party import params_of, table_requests

SERVICES = {
    "video-generation/video-synthesis": ("video", True),
    "image2video/video-synthesis": ("i2v", True),
    "text2image/image-synthesis": ("t2i", True),
    "image-generation/generation": ("image", True),
    "multimodal-generation/generation": ("mm", False),
}
POLICY_MESSAGE = "Input data may contain inappropriate content."


def schemas() -> dict[str, dict[str, Any]]:
    """ "<service>/<model>" → its compact field table."""
    return upstream_contract.schemas("dashscope")


def validator(endpoint: str) -> Draft202012Validator | None:
    return upstream_contract.validator("dashscope", endpoint)


def _pixels(size: str) -> tuple[int, int] | None:
    width, _, height = size.partition("*")
    return (int(width), int(height)) if width.isdigit() and height.isdigit() else None


def wan_image_size(model: str, body: dict[str, Any]) -> str | None:
    """Wan 2.7 image `size`: 1K | 2K | 4K (pro text-to-image only) or "W*H" with total pixels within
    [768*768, 2048*2048] (4096*4096 for pro text-to-image) and an aspect within 1:8..8:1."""
    size = (body.get("parameters") or {}).get("size")
    if size is None:
        return None
    content = body["input"]["messages"][0]["content"]
    text_only = not any("image" in part for part in content)
    big = model == "wan2.7-image-pro" and text_only and not body["parameters"].get("enable_sequential")
    if size in ("1K", "2K") or (size == "4K" and big):
        return None
    wh = _pixels(size)
    if wh is None:
        return f"size {size!r} is not 1K, 2K, 4K or width*height"
    top = 4096 * 4096 if big else 2048 * 2048
    if not 768 * 768 <= wh[0] * wh[1] <= top or max(wh) > 8 * min(wh):
        return f"size {size!r} is out of range"
    return None


def z_image_size(body: dict[str, Any]) -> str | None:
    size = (body.get("parameters") or {}).get("size")
    wh = _pixels(size) if isinstance(size, str) else None
    if size is not None and (wh is None or not 512 * 512 <= wh[0] * wh[1] <= 2048 * 2048):
        return f"size {size!r} is out of range"
    return None


def edit_size(body: dict[str, Any]) -> str | None:
    """qwen-image-edit-plus `size`: "W*H" with each side within [512, 2048]."""
    size = (body.get("parameters") or {}).get("size")
    wh = _pixels(size) if isinstance(size, str) else None
    if size is not None and (wh is None or not (512 <= wh[0] <= 2048 and 512 <= wh[1] <= 2048)):
        return f"size {size!r} is out of range"
    return None


def messages_shape(body: dict[str, Any]) -> str | None:
    """A messages-format body holds exactly one text (and, for qwen-image-edit-plus, one to three images)."""
    content = body["input"]["messages"][0]["content"]
    if sum(1 for part in content if "text" in part) != 1:
        return "content must hold exactly one text"
    if body["model"] == "qwen-image-edit-plus" and not 1 <= sum(1 for part in content if "image" in part) <= 3:
        return "content must hold one to three images"
    return None


def refusal(endpoint: str, body: Any) -> str | None:
    """Model Studio's InvalidParameter message for this body, or None when it is valid."""
    check = validator(endpoint)
    if check is None:
        return "Model not exist."
    problems = sorted(check.iter_errors(body), key=lambda e: [str(k) for k in e.absolute_path])
    if problems:
        where = ".".join(str(k) for k in problems[0].absolute_path) or "body"
        return f"{where}: {problems[0].message}"
    service, _, model = endpoint.partition("/")
    if service == "image":
        return wan_image_size(model, body) or messages_shape(body)
    if service == "mm":
        sized = z_image_size(body) if model == "z-image-turbo" else edit_size(body)
        return sized or messages_shape(body)
    return None


def _error(code: str, message: str, status: int, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "request_id": str(uuid.uuid4())}, status_code=status, headers=headers
    )


class FakeDashScope(FakeServer):
    def __init__(self, key: str):
        self.key = key
        self.slow_polls = 3
        self.tasks: dict[str, dict[str, Any]] = {}
        self.refused: list[dict[str, Any]] = []  # bodies the schema refused (endpoint, body, message)
        super().__init__(
            [
                Route("/files/{name}", self.file, methods=["GET"]),
                Route("/api/v1/services/aigc/{service:path}", self.submit, methods=["POST"]),
                Route("/api/v1/tasks/{tid}/cancel", self.cancel, methods=["POST"]),
                Route("/api/v1/tasks/{tid}", self.task, methods=["GET"]),
            ]
        )

    def _unauthorized(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return _error("InvalidApiKey", "Invalid API-key provided.", 401)
        return None

    def _output(self, endpoint: str) -> dict[str, Any]:
        """The result fields each kind of model answers with."""
        service = endpoint.partition("/")[0]
        if service == "video":
            return {"video_url": f"{self.url}/files/out.mp4"}
        if service == "i2v":
            return {"results": {"video_url": f"{self.url}/files/out.mp4"}}
        if service == "t2i":
            return {"results": [{"url": f"{self.url}/files/out.png", "orig_prompt": "..."}]}
        image = {"type": "image", "image": f"{self.url}/files/out.png"}
        return {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": [image]}}]}

    async def submit(self, request: Request) -> Response:
        body = await request.json()
        entry = await self.record(request, body=body)
        if refused := self._unauthorized(request):
            return refused
        service, asynchronous = SERVICES.get(request.path_params["service"], (None, False))
        if service is None:
            return _error("InvalidURL", "Requested URL is invalid.", 404)
        if asynchronous and request.headers.get("x-dashscope-async") != "enable":
            return _error("AccessDenied", "current user api does not support synchronous calls", 403)
        if self.mode == "500":
            return _error("InternalError", "An internal error has occured, please try again later.", 500)
        if self.mode == "429":
            return _error("Throttling.RateQuota", "Requests rate limit exceeded.", 429, **{"Retry-After": "30"})
        endpoint = f"{service}/{body.get('model')}"
        entry["endpoint"] = endpoint
        message = refusal(endpoint, body)
        if message:
            self.refused.append({"endpoint": endpoint, "body": body, "message": message})
            return _error("InvalidParameter", message, 400)
        if not asynchronous:
            if self.mode == "policy":
                return _error("DataInspectionFailed", POLICY_MESSAGE, 400)
            return JSONResponse(
                {"output": self._output(endpoint), "usage": {"image_count": 1}, "request_id": str(uuid.uuid4())}
            )
        tid = str(uuid.uuid4())
        self.tasks[tid] = {"endpoint": endpoint, "body": body, "polls": 0, "mode": self.mode}
        return JSONResponse({"output": {"task_id": tid, "task_status": "PENDING"}, "request_id": str(uuid.uuid4())})

    async def task(self, request: Request) -> Response:
        await self.record(request)
        if refused := self._unauthorized(request):
            return refused
        tid = request.path_params["tid"]
        job = self.tasks.get(tid)
        if job is None:
            return JSONResponse({"output": {"task_id": tid, "task_status": "UNKNOWN"}, "request_id": "r"})
        job["polls"] += 1
        status = "SUCCEEDED"
        extra: dict[str, Any] = {}
        if job.get("cancelled"):
            status = "CANCELED"
        elif job["mode"] == "slow" and job["polls"] <= self.slow_polls:
            status = "PENDING" if job["polls"] == 1 else "RUNNING"
        elif job["mode"] == "policy":
            status, extra = "FAILED", {"code": "DataInspectionFailed", "message": POLICY_MESSAGE}
        elif job["mode"] == "lost":
            status, extra = "FAILED", {"code": "InternalError", "message": "An internal error has occured."}
        else:
            extra = self._output(job["endpoint"])
        output = {"task_id": tid, "task_status": status, "submit_time": "2026-12-06 12:00:00.000", **extra}
        usage = {"video_count": 1} if status == "SUCCEEDED" and extra.keys() & {"video_url", "results"} else {}
        return JSONResponse({"request_id": str(uuid.uuid4()), "output": output, **({"usage": usage} if usage else {})})

    async def cancel(self, request: Request) -> Response:
        await self.record(request)
        if refused := self._unauthorized(request):
            return refused
        job = self.tasks.get(request.path_params["tid"])
        if job is None:
            return _error("InvalidParameter", "task not found", 400)
        job["cancelled"] = True
        return JSONResponse({"request_id": str(uuid.uuid4())})

    async def file(self, request: Request) -> Response:
        await self.record(request)
        if request.path_params["name"].endswith(".mp4"):
            return Response(MP4, media_type="video/mp4")
        return Response(PNG, media_type="image/png")


# --- requests reaching every route of dashscope_models.yaml (unit and e2e tests) ---------------------------

IMG, VID, AUD = "https://example.com/a.png", "https://example.com/a.mp4", "https://example.com/a.mp3"
ROUTE_EXAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    # served routes no catalog example reaches
    ("wan", "text_to_video", {"model": "wan-2.5-text-to-video", "prompt": "a fox", "duration_seconds": 10}),
    ("wan", "text_to_video", {"model": "wan-2.6-text-to-video", "prompt": "a fox", "output_resolution": "1080p"}),
    (
        "wan",
        "text_to_video",
        {
            "model": "wan-2.7-r2v",
            "prompt": "Video 1 dances",
            "reference_video_urls": [VID],
            "first_frame_image_url": IMG,
            "duration_seconds": 10,
            "seed": 7,
        },
    ),
    (
        "wan",
        "image_to_video",
        {
            "model": "wan-2.5-image-to-video",
            "first_frame_image_url": IMG,
            "duration_seconds": 5,
            "output_resolution": "480p",
            "negative_prompt": "blur",
        },
    ),
    (
        "wan",
        "image_to_video",
        {
            "model": "wan-2.6-flash-image-to-video",
            "prompt": "a fox",
            "first_frame_image_url": IMG,
            "multi_shots": True,
            "output_resolution": "1080p",
        },
    ),
    (
        "wan",
        "edit_video",
        {
            "model": "wan-2.7-edit-video",
            "source_video_url": VID,
            "prompt": "snow",
            "reference_image_url": IMG,
            "output_resolution": "1080p",
            "audio_setting": "origin",
        },
    ),
    (
        "wan",
        "text_to_image",
        {
            "model": "wan-2.7-image-pro",
            "prompt": "a fox",
            "aspect_ratio": "21:9",
            "output_resolution": "4k",
            "thinking_mode": True,
        },
    ),
    (
        "wan",
        "text_to_image",
        {
            "model": "wan-2.7-image",
            "prompt": "a story",
            "enable_sequential": True,
            "output_count": 6,
            "output_resolution": "1k",
        },
    ),
    ("wan", "text_to_image", {"model": "wan-2.7-image-pro", "prompt": "edit", "source_image_urls": [IMG, IMG]}),
    ("qwen_2", "text_to_image", {"model": "qwen-2-text-to-image", "prompt": "a fox"}),
    ("qwen_2", "edit_image", {"model": "qwen-2-edit-image", "prompt": "a hat", "source_image_url": IMG, "seed": 3}),
    (
        "qwen_2",
        "edit_image",
        {"model": "qwen-2-edit-image", "prompt": "wide", "source_image_url": IMG, "aspect_ratio": "21:9"},
    ),
    ("z_image", "text_to_image", {"model": "z-image", "prompt": "a fox", "aspect_ratio": "9:16"}),
    # refused: values Model Studio cannot make
    (
        "wan",
        "text_to_video",
        {"model": "wan-2.5-text-to-video", "prompt": "x", "duration_seconds": 5, "enable_safety_checker": False},
    ),
    ("wan", "text_to_video", {"model": "wan-2.5-text-to-video", "prompt": "x", "duration_seconds": 8}),
    (
        "wan",
        "text_to_video",
        {"model": "wan-2.5-text-to-video", "prompt": "x", "duration_seconds": 5, "output_resolution": "4k"},
    ),
    (
        "wan",
        "text_to_video",
        {
            "model": "wan-2.5-text-to-video",
            "prompt": "x",
            "duration_seconds": 5,
            "output_resolution": "480p",
            "aspect_ratio": "4:3",
        },
    ),
    ("wan", "text_to_video", {"model": "wan-2.6-text-to-video", "prompt": "x", "duration_seconds": 2.5}),
    ("wan", "text_to_video", {"model": "wan-2.6-text-to-video", "prompt": "x", "output_resolution": "480p"}),
    ("wan", "text_to_video", {"model": "wan-2.7-text-to-video", "prompt": "x", "duration_seconds": 1}),
    ("wan", "text_to_video", {"model": "wan-2.7-text-to-video", "prompt": "x", "output_resolution": "4k"}),
    ("wan", "text_to_video", {"model": "wan-2.7-text-to-video", "prompt": "x", "ratio": "21:9"}),
    (
        "wan",
        "text_to_video",
        {
            "model": "wan-2.7-r2v",
            "prompt": "x",
            "reference_image_urls": [IMG],
            "ratio": "1:1",
            "first_frame_image_url": IMG,
        },
    ),
    ("wan", "text_to_video", {"model": "wan-2.7-r2v", "prompt": "x", "reference_image_urls": [IMG], "ratio": "2:1"}),
    (
        "wan",
        "text_to_video",
        {"model": "wan-2.7-r2v", "prompt": "x", "reference_image_urls": [IMG], "output_resolution": "480p"},
    ),
    (
        "wan",
        "text_to_video",
        {"model": "wan-2.7-r2v", "prompt": "x", "reference_video_urls": [VID], "duration_seconds": 12},
    ),
    (
        "wan",
        "text_to_video",
        {"model": "wan-2.7-r2v", "prompt": "x", "reference_image_urls": [IMG], "duration_seconds": 1},
    ),
    (
        "wan",
        "image_to_video",
        {
            "model": "wan-2.5-image-to-video",
            "first_frame_image_url": IMG,
            "duration_seconds": 5,
            "enable_safety_checker": False,
        },
    ),
    (
        "wan",
        "image_to_video",
        {"model": "wan-2.5-image-to-video", "first_frame_image_url": IMG, "duration_seconds": 15},
    ),
    (
        "wan",
        "image_to_video",
        {
            "model": "wan-2.5-image-to-video",
            "first_frame_image_url": IMG,
            "duration_seconds": 5,
            "output_resolution": "2k",
        },
    ),
    (
        "wan",
        "image_to_video",
        {"model": "wan-2.6-image-to-video", "prompt": "x", "first_frame_image_url": IMG, "duration_seconds": 7},
    ),
    (
        "wan",
        "image_to_video",
        {"model": "wan-2.6-image-to-video", "prompt": "x", "first_frame_image_url": IMG, "output_resolution": "480p"},
    ),
    (
        "wan",
        "image_to_video",
        {"model": "wan-2.6-flash-image-to-video", "prompt": "x", "first_frame_image_url": IMG, "duration_seconds": 20},
    ),
    (
        "wan",
        "image_to_video",
        {
            "model": "wan-2.6-flash-image-to-video",
            "prompt": "x",
            "first_frame_image_url": IMG,
            "output_resolution": "4k",
        },
    ),
    (
        "wan",
        "image_to_video",
        {"model": "wan-2.7-image-to-video", "prompt": "x", "first_frame_image_url": IMG, "duration_seconds": 1},
    ),
    (
        "wan",
        "image_to_video",
        {"model": "wan-2.7-image-to-video", "prompt": "x", "first_frame_image_url": IMG, "output_resolution": "480p"},
    ),
    ("wan", "edit_video", {"model": "wan-2.7-edit-video", "source_video_url": VID, "duration_seconds": 12}),
    ("wan", "edit_video", {"model": "wan-2.7-edit-video", "source_video_url": VID, "output_resolution": "4k"}),
    ("wan", "edit_video", {"model": "wan-2.7-edit-video", "source_video_url": VID, "aspect_ratio": "21:9"}),
    ("wan", "edit_video", {"model": "wan-2.7-edit-video", "source_video_url": VID, "audio_setting": "mute"}),
    ("wan", "text_to_image", {"model": "wan-2.7-image", "prompt": "x", "output_resolution": "8k"}),
    ("wan", "text_to_image", {"model": "wan-2.7-image", "prompt": "x", "output_resolution": "4k"}),
    ("wan", "text_to_image", {"model": "wan-2.7-image", "prompt": "x", "output_count": 5}),
    ("wan", "text_to_image", {"model": "wan-2.7-image", "prompt": "x", "source_image_urls": [IMG] * 10}),
    ("wan", "text_to_image", {"model": "wan-2.7-image", "prompt": "x", "bbox_list": [[0, 0, 10, 10]]}),
    (
        "wan",
        "text_to_image",
        {"model": "wan-2.7-image-pro", "prompt": "x", "thinking_mode": True, "source_image_urls": [IMG]},
    ),
    ("wan", "text_to_image", {"model": "wan-2.7-image-pro", "prompt": "x", "output_resolution": "2K"}),
    (
        "wan",
        "text_to_image",
        {"model": "wan-2.7-image-pro", "prompt": "x", "output_resolution": "4k", "source_image_urls": [IMG]},
    ),
    ("wan", "text_to_image", {"model": "wan-2.7-image-pro", "prompt": "x", "output_count": 8}),
    ("wan", "text_to_image", {"model": "wan-2.7-image-pro", "prompt": "x", "source_image_urls": [IMG] * 10}),
    (
        "wan",
        "animate",
        {
            "model": "wan-2.2-animate-move",
            "reference_video_url": VID,
            "source_image_url": IMG,
            "enable_safety_checker": False,
        },
    ),
    (
        "wan",
        "animate",
        {
            "model": "wan-2.2-animate-replace",
            "reference_video_url": VID,
            "source_image_url": IMG,
            "enable_safety_checker": False,
        },
    ),
    (
        "wan",
        "animate",
        {
            "model": "wan-2.2-animate-replace",
            "reference_video_url": VID,
            "source_image_url": IMG,
            "output_resolution": "720p",
        },
    ),
    ("wan", "animate", {"model": "wan-2.2-animate-move", "reference_video_url": VID, "source_image_url": IMG}),
    ("qwen_2", "text_to_image", {"model": "qwen-2-text-to-image", "prompt": "x", "enable_safety_checker": False}),
    (
        "qwen_2",
        "edit_image",
        {"model": "qwen-2-edit-image", "prompt": "x", "source_image_url": IMG, "enable_safety_checker": False},
    ),
    (
        "qwen_2",
        "edit_image",
        {"model": "qwen-2-edit-image", "prompt": "x", "source_image_url": IMG, "aspect_ratio": "16:9"},
    ),
    (
        "z_image",
        "text_to_image",
        {"model": "z-image", "prompt": "x", "aspect_ratio": "1:1", "enable_safety_checker": False},
    ),
]


def dashscope_requests() -> list[tuple[Any, str, dict[str, Any]]]:
    """(action, model, request) for every catalog example of a DashScope-mapped pair, and ROUTE_EXAMPLES."""
    from runapi.providers.upstream.dashscope import dashscope_table

    return table_requests(dashscope_table(), ROUTE_EXAMPLES)


with_defaults = params_of  # the request's parameters with the model's catalog defaults, as a task holds them
