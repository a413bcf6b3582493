"""Runway's own API (https://docs.dev.runwayml.com/api/): every call carries `Authorization: Bearer <key>` and
`X-Runway-Version: 2024-11-06`.
  POST /v1/text_to_video | /v1/image_to_video | /v1/video_to_video   {model, ...} → {"id"}
  GET  /v1/tasks/{id} → {status: PENDING | THROTTLED | RUNNING | SUCCEEDED | FAILED | CANCELLED, output: [url],
                          failure, failureCode}
  DELETE /v1/tasks/{id} cancels (or deletes) the task.
HTTP errors are `{"error": "..."}` (400: the request's fault, not retried). A failed task's failureCode says
whose fault it was (docs.dev.runwayml.com/errors/task-failures): SAFETY.* is content moderation (never retried,
the task fails with Runway's message), INTERNAL.* is Runway's side (the job goes to the next deployment).

Which Runway model and endpoint run each of our (action, model), and the body, is data (runway_models.yaml).
Input media go to Runway as HTTPS links as given; any other link (ours on a private address, plain http) is
read through the task's input reader and sent inline as a data URI, within Runway's size limits. A prompt
longer than Runway's 1000 UTF-16 units is refused before any call (another deployment may take it)."""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ...files_policy import sniff
from ..base import TaskFailed, TaskInput
from ..inputs import Inputs
from . import errors
from .adapter import Finished, Running, Started, TableAdapter, UpstreamFile
from .config import MediaDeployment
from .http_call import bearer, call, or_running
from .mapping import Context, Table

TABLE_PATH = Path(__file__).with_name("runway_models.yaml")
API_VERSION = "2024-11-06"
RUNNING = frozenset({"PENDING", "THROTTLED", "RUNNING"})
# Runway's inline (data URI) limits: images 5 MB, videos 16 MB (docs.dev.runwayml.com/assets/inputs)
INLINE_LIMITS = {"promptImage": ("image", 5 << 20), "videoUri": ("video", 16 << 20)}
PROMPT_LIMIT = 1000  # promptText, in UTF-16 code units (Runway's spec)
READ_LIMIT = 16 << 20  # reading a first frame Runway fetches itself, only to measure its shape
# The "W:H" ratios Runway's Gen-4 image-to-video models (gen4_turbo, gen4.5) make
IMAGE_TO_VIDEO_RATIOS = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")


def nearest_ratio(width: int, height: int, ratios: tuple[str, ...] = IMAGE_TO_VIDEO_RATIOS) -> str:
    """The ratio whose shape is closest to width:height (compared on a log scale, so 2:1 and 1:2 are as far
    from 1:1)."""
    shape = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = (int(v) for v in ratio.split(":"))
        return abs(math.log(w / h) - shape)

    return min(ratios, key=distance)


def task_failure(data: dict[str, Any], name: str) -> errors.UpstreamError:
    """A FAILED task as the router should see it: content moderation is final, Runway's own trouble moves the
    job on, anything else (e.g. an unreadable asset) is the request's fault."""
    code = str(data.get("failureCode") or "")
    message = str(data.get("failure") or "The generation failed")
    parts = code.split(".")
    if "SAFETY" in parts:
        return errors.UpstreamError(message, retryable=False)
    if not code or "INTERNAL" in parts:
        return errors.UpstreamError(f"{name} failed the task ({code or 'no code'}): {message}", job_failed=True)
    return errors.UpstreamError(message, retryable=False)


class Runway(TableAdapter):
    default_base_url = "https://api.dev.runwayml.com/v1"
    table_path = TABLE_PATH

    def __init__(
        self, deployment: MediaDeployment, http: httpx.AsyncClient, inputs: Inputs, table: Table | None = None
    ):
        super().__init__(deployment, http, inputs, table)
        self.inputs: Inputs = inputs  # inputs Runway cannot fetch itself are read here and sent inline

    # --- the adapter interface ----------------------------------------------------------------------------

    async def start(self, task: TaskInput, ctx: Context) -> Started:
        mapping, route = self.table.route_for(task, self.deployment.name)
        app = self.deployment.model_map.get(route.app, route.app)
        endpoint, _, model = app.partition("/")
        body = {"model": model, **mapping.body(route, ctx)}
        if _utf16_units(body.get("promptText", "")) > PROMPT_LIMIT:  # the table's conditions cannot measure text
            raise errors.UpstreamError(
                f"Runway takes a prompt of at most {PROMPT_LIMIT} characters", retryable=False, out_of_reach=True
            )
        await self._inline_media(body)
        resp = await self._call("POST", f"/{endpoint}", json=body)
        task_id = errors.json_object(resp, self.deployment.name).get("id")
        if not isinstance(task_id, str) or not task_id:
            raise errors.UpstreamError(f"{self.deployment.name} answered without a task id")
        handle = {"id": task_id, "app": app, "meta": mapping.item_meta(ctx)}
        return Started(handle, poll_in=self.deployment.poll_seconds or 5.0)

    async def check(self, task: TaskInput, handle: dict[str, Any]) -> Running | Finished:
        resp = await or_running(self._call("GET", f"/tasks/{handle['id']}", job_failed=True), 5.0)
        if isinstance(resp, Running):  # polling too fast is not a failure of the job
            return resp
        data = errors.json_object(resp, self.deployment.name)
        status = data.get("status")
        if status in RUNNING:
            return Running(poll_in=self.deployment.poll_seconds)
        if status == "FAILED":
            raise task_failure(data, self.deployment.name)
        if status == "CANCELLED":
            raise errors.UpstreamError(f"{self.deployment.name} cancelled the task", retryable=False)
        if status != "SUCCEEDED":
            raise errors.UpstreamError(f"{self.deployment.name} answered an unknown status {status!r}")
        meta = handle.get("meta") or {}
        files = [
            UpstreamFile("videos", url=url, meta=dict(meta))
            for url in data.get("output") or []
            if isinstance(url, str) and url
        ]
        if not files:
            raise errors.UpstreamError(f"{self.deployment.name} returned no output", job_failed=True)
        return Finished(files)

    async def cancel(self, handle: dict[str, Any]) -> None:
        try:
            await self._call("DELETE", f"/tasks/{handle['id']}")
        except errors.UpstreamError:
            pass  # already finished or gone: nothing left to stop

    async def aclose(self) -> None:
        return None  # the shared client is closed by the registry

    # --- input media --------------------------------------------------------------------------------------

    async def _inline_media(self, body: dict[str, Any]) -> None:
        """HTTPS links go as they are; other links are read here and sent as data URIs. An image-to-video body
        without a ratio gets the one nearest the first frame's shape (Runway requires one)."""
        for field, (what, limit) in INLINE_LIMITS.items():
            url = body.get(field)
            if not isinstance(url, str):
                continue
            needs_ratio = field == "promptImage" and "ratio" not in body
            inline = urlsplit(url).scheme != "https"
            if not inline and not needs_ratio:
                continue
            # inline: Runway's data URI limit; a link Runway reads itself is only measured here (bounded)
            data = await self.inputs.fetch(url, limit if inline else READ_LIMIT, what=what)
            if needs_ratio:
                body["ratio"] = nearest_ratio(*_image_size(data))
            if inline:
                body[field] = _data_uri(data, what)

    # --- transport ----------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"X-Runway-Version": API_VERSION, **bearer(self.deployment.api_key)}

    async def _call(self, method: str, path: str, job_failed: bool = False, **kw: Any) -> httpx.Response:
        url = f"{self.deployment.base_url}{path}"  # our key goes to the configured base only
        return await call(self.http, self.deployment, method, url, headers=self._headers(), job_failed=job_failed, **kw)


def _utf16_units(text: Any) -> int:
    return len(str(text).encode("utf-16-le")) // 2


def _image_size(data: bytes) -> tuple[int, int]:
    # Imported here: LLM-only installs have no Pillow (README). limits sets Pillow's bomb guard process-wide.
    from PIL import Image, UnidentifiedImageError

    from ..sandbox import limits  # noqa: F401

    try:
        with Image.open(io.BytesIO(data)) as img:  # reads the header only
            width, height = img.size
    except (UnidentifiedImageError, OSError) as exc:
        raise TaskFailed("Failed to fetch the image: not a supported image") from exc
    if width < 1 or height < 1:
        raise TaskFailed("Failed to fetch the image: not a supported image")
    return width, height


def _data_uri(data: bytes, what: str) -> str:
    mime = sniff(data)
    if mime is None or not mime.startswith(f"{what}/"):
        raise TaskFailed(f"Failed to fetch the {what}: not a supported {what}")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
