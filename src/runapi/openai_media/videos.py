"""OpenAI's video API over video tasks: a task of an action with an `openai: videos` block is a video object
(its id is the task id), listed a page at a time, deleted by removing its files and recording the deletion
(task_deletions: the task row stays for the ledger and the usage log)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, insert, or_, select
from sqlalchemy.exc import IntegrityError

from ..catalog import Catalog, OpenAiRoute
from ..catalog.openai_schema import SizeMap, VideosMap
from ..domain.task import Task, TaskState
from ..errors import BadRequest, NotFound
from ..services import Services
from ..store.pages import PageRequest, read_page
from ..store.schema import task_deletions, tasks
from ..tasks import engine
from .mapping import PATHS
from .service import file_bytes, files_of

VideoStatus = Literal["queued", "in_progress", "completed", "failed"]
STATUS: dict[TaskState, VideoStatus] = {
    TaskState.QUEUED: "queued",
    TaskState.RUNNING: "in_progress",
    TaskState.COMPLETED: "completed",
    TaskState.FAILED: "failed",
}
PROGRESS = {TaskState.QUEUED: 0, TaskState.RUNNING: 50, TaskState.COMPLETED: 100, TaskState.FAILED: 100}
VARIANTS = ("video", "thumbnail", "spritesheet")
MIN_POLL_MS, MAX_POLL_MS = 200, 30_000


def video_kinds(catalog: Catalog) -> list[tuple[str, str]]:
    """(family, action) of every action serving /v1/videos."""
    seen = {(r.action.family, r.action.name) for r in catalog.openai_routes_of("videos")}
    return sorted(seen)


def route_of(catalog: Catalog, task: Task) -> OpenAiRoute | None:
    for with_inputs in (False, True):
        route = catalog.openai_route("videos", task.model or "", with_inputs)
        if route is not None and (route.action.family, route.action.name) == (task.family, task.action):
            return route
    return None


def video_not_found(video_id: str) -> NotFound:
    return NotFound(f"No video found with id '{video_id}'", code="video_not_found")


async def get_video(rt: Services, catalog: Catalog, video_id: str, account_id: int) -> tuple[Task, OpenAiRoute]:
    """The account's video of that id: a task of a video action, not deleted. NotFound otherwise."""
    task = await engine.get_task(rt.db, video_id, account_id)
    route = route_of(catalog, task) if task else None
    if task is None or route is None or await _deleted(rt, task.id):
        raise video_not_found(video_id)
    return task, route


async def _deleted(rt: Services, task_id: str) -> bool:
    async with rt.db.read() as conn:
        found = await conn.execute(select(task_deletions.c.task_id).where(task_deletions.c.task_id == task_id))
        return found.first() is not None


def video_object(task: Task, route: OpenAiRoute, retention_days: int = 0) -> dict[str, Any]:
    """OpenAI's Video: status, progress, times in unix seconds, the size and seconds it has (or will have).
    `expires_at`: when retention deletes its files (RUNAPI_GENERATED_MEDIA_RETENTION_DAYS; 0: kept, None)."""
    block = route.block
    assert isinstance(block, VideosMap)
    video = next(iter(files_of(task, "videos")), {})
    error = None
    if task.state is TaskState.FAILED:
        error = {"code": "generation_failed", "message": task.error or "Generation failed"}
    return {
        "id": task.id,
        "object": "video",
        "model": task.model,
        "status": STATUS[task.state],
        "progress": PROGRESS[task.state],
        "created_at": int(task.created_at),
        "completed_at": int(task.completed_at) if task.completed_at and task.state.terminal else None,
        "expires_at": _expires_at(task, retention_days),
        "prompt": task.params.get(block.prompt),
        "remixed_from_video_id": None,
        "seconds": _seconds(task, block, video),
        "size": _size(task, block, video),
        "error": error,
    }


def _expires_at(task: Task, retention_days: int) -> int | None:
    if task.outputs_expired_at is not None:
        return int(task.outputs_expired_at)
    if not retention_days or task.completed_at is None or not task.state.terminal:
        return None
    return int(task.completed_at + retention_days * 86_400)


def _seconds(task: Task, block: VideosMap, video: dict[str, Any]) -> str | None:
    """The made video's length; before it exists, the length asked for (None where the model chooses)."""
    value = video.get("duration")
    if value is None and block.seconds:
        value = task.params.get(block.seconds)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    return str(int(round(value))) if math.isclose(value, round(value), abs_tol=0.05) else f"{value:g}"


def _size(task: Task, block: VideosMap, video: dict[str, Any]) -> str | None:
    """The made video's WIDTHxHEIGHT; before it exists, what its ratio and resolution params ask for."""
    if isinstance(video.get("width"), int) and isinstance(video.get("height"), int):
        return f"{video['width']}x{video['height']}"
    size = block.size
    if not isinstance(size, SizeMap) or not size.aspect_ratio:
        return None
    ratio = str(task.params.get(size.aspect_ratio) or "")
    tier = task.params.get(size.resolution) if size.resolution else None
    short = (size.tiers or {}).get(str(tier)) if tier else None
    parts = ratio.split(":")
    if short is None or len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        return None
    w, h = int(parts[0]), int(parts[1])
    scale = short / min(w, h)
    return f"{round(w * scale / 2) * 2}x{round(h * scale / 2) * 2}"


def poll_after_ms(task: Task, now: float | None = None) -> int:
    """openai-poll-after-ms: until the task's next step (the SDK's poll helper waits that long)."""
    wait = (task.next_run_at - (time.time() if now is None else now)) * 1000
    return int(min(MAX_POLL_MS, max(MIN_POLL_MS, wait)))


# -------------------------------------------------------------------------------------------------- list


@dataclass(frozen=True)
class VideoPage:
    videos: tuple[tuple[Task, OpenAiRoute], ...]
    has_more: bool


async def list_videos(rt: Services, catalog: Catalog, account_id: int, page: PageRequest) -> VideoPage:
    kinds = video_kinds(catalog)
    if not kinds:
        return VideoPage((), False)
    c = tasks.c
    filters: list[ColumnElement[bool]] = [
        or_(*(and_(c.family == f, c.action == a) for f, a in kinds)),
        c.id.not_in(select(task_deletions.c.task_id).where(task_deletions.c.account_id == account_id)),
    ]
    async with rt.db.read() as conn:
        found = await read_page(conn, tasks, c.account_id == account_id, filters, page)
    out = []
    for row in found.rows:
        task = Task.from_row(row._mapping)
        route = route_of(catalog, task)
        if route is not None:  # (a model since removed from the endpoint is not a video here any more)
            out.append((task, route))
    return VideoPage(tuple(out), found.has_more)


# ------------------------------------------------------------------------------------------------ delete


async def delete_video(rt: Services, task: Task) -> None:
    """Remove the video's files and record the deletion. Only a finished video: one still being made would
    write its files after they were removed."""
    if not task.state.terminal:
        raise BadRequest(
            f"Video {task.id} is {STATUS[task.state]}: only a completed or failed video can be deleted",
            code="video_not_finished",
        )
    try:
        async with rt.db.write() as conn:
            await conn.execute(
                insert(task_deletions).values(task_id=task.id, account_id=task.account_id, deleted_at=time.time())
            )
    except IntegrityError:  # deleted at the same moment by another request
        raise video_not_found(task.id) from None
    for files in ((task.result or {}).get("files") or {}).values():
        for item in files if isinstance(files, list) else ():
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                await rt.storage.delete(item["key"])


# ----------------------------------------------------------------------------------------------- content


@dataclass(frozen=True)
class Content:
    content_type: str
    data: bytes = b""
    key: str | None = None  # a stored object, streamed from storage (then `data` is not read)


async def video_content(rt: Services, task: Task, variant: str) -> Content:
    """The video's bytes (variant video), or its first frame as a JPEG (thumbnail: the cover the task made, else
    cut from the video). No spritesheet is made."""
    if variant not in VARIANTS:
        raise BadRequest(
            f"Invalid value for variant: {variant!r}. Supported values: {', '.join(VARIANTS)}", code="invalid_value"
        )
    if task.state is not TaskState.COMPLETED:
        raise BadRequest(
            f"Video {task.id} is {STATUS[task.state]}: its content can be downloaded once it is completed",
            code="video_not_ready",
        )
    videos = files_of(task, "videos")
    if not videos:
        raise NotFound(f"Video {task.id} has no video file")
    if variant == "video":
        return Content(str(videos[0].get("content_type") or "video/mp4"), key=str(videos[0]["key"]))
    if variant == "thumbnail":
        covers = files_of(task, "images")
        if covers:
            return Content(str(covers[0].get("content_type") or "image/jpeg"), key=str(covers[0]["key"]))
        return Content("image/jpeg", await _first_frame(await file_bytes(rt, videos[0])))
    raise NotFound(f"No spritesheet is available for video {task.id} at {PATHS['videos']}")


async def _first_frame(video: bytes) -> bytes:
    """The opening frame as a JPEG, decoded in the bounded media pool (the sandbox's video tools)."""
    import io

    from PIL import Image

    from ..providers.sandbox import limits, media

    def cut() -> bytes:
        first = next(media.decode_frames(video, max_frames=1))
        out = io.BytesIO()
        Image.fromarray(first).convert("RGB").save(out, "JPEG", quality=85)
        return out.getvalue()

    return await limits.run(cut)
