"""The sandbox provider: no keys, no network beyond fetching the task's own inputs; real, deterministic media.

Which generator runs, and how parameters map to sizes and formats, is declared per action in the catalog
(`sandbox:`), so a new family needs catalog data, not code, unless it needs a new kind of media.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from typing import Any, Awaitable, Callable

import httpx
from PIL import Image, UnidentifiedImageError

from ...net.safe_http import BlockedDestination, TooLarge, fetch_bytes
from ..base import Done, Output, Progress, TaskFailed, TaskInput
from . import images

Image.MAX_IMAGE_PIXELS = 100_000_000  # refuse decompression bombs in fetched inputs

Generator = Callable[["SandboxProvider", TaskInput, dict[str, Any]], Awaitable[Done]]
GENERATORS: dict[str, Generator] = {}


def generator(name: str) -> Callable[[Generator], Generator]:
    def register(fn: Generator) -> Generator:
        GENERATORS[name] = fn
        return fn
    return register


def task_seed(task: TaskInput, index: int = 0) -> bytes:
    stable = {k: v for k, v in task.params.items() if k != "callback_url"}
    return images.seed_bytes(task.action.key, json.dumps(stable, sort_keys=True, ensure_ascii=False), index)


class SandboxProvider:
    name = "sandbox"

    def __init__(self, http: httpx.AsyncClient, delay_seconds: float = 0.0, fetch_max_bytes: int = 50 << 20):
        self.http = http
        self.delay_seconds = delay_seconds
        self.fetch_max_bytes = fetch_max_bytes

    async def submit(self, task: TaskInput) -> dict[str, Any]:
        return {"ready_at": time.time() + self.delay_seconds}

    async def poll(self, task: TaskInput, job: dict[str, Any]) -> Progress | Done:
        remaining = float(job.get("ready_at", 0)) - time.time()
        if remaining > 0:
            return Progress(poll_in=remaining)
        spec = task.model.sandbox if task.model else task.action.sandbox
        gen = GENERATORS.get(spec.get("generator", ""))
        if gen is None:
            raise TaskFailed(f"The sandbox cannot run {task.action.key}")
        return await gen(self, task, spec)

    async def fetch_image(self, url: str, max_bytes: int | None = None) -> Image.Image:
        try:
            data, _ = await fetch_bytes(self.http, url, max_bytes or self.fetch_max_bytes)
        except TooLarge as exc:
            raise TaskFailed(f"Failed to fetch the image: {exc}") from exc
        except (httpx.HTTPError, httpx.InvalidURL, BlockedDestination) as exc:
            raise TaskFailed("Failed to fetch the image") from exc
        try:
            img = Image.open(io.BytesIO(data))
            img.load()
            return img
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            raise TaskFailed("Failed to fetch the image: not a supported image") from exc


def _image_count(spec: dict[str, Any], params: dict[str, Any]) -> int:
    count_param = spec.get("count_param")
    if count_param and params.get(count_param) is not None:
        return int(params[count_param])
    return int(spec.get("count", 1))


async def _images(provider: SandboxProvider, task: TaskInput, spec: dict[str, Any], sources: list[str]) -> Done:
    p = task.params
    fetched = [await provider.fetch_image(u, spec.get("max_source_bytes")) for u in sources]
    ratio_text = p.get(spec.get("aspect_param", "aspect_ratio"))
    ratio = images.parse_ratio(ratio_text)
    if ratio is None:  # "auto" or not given: follow the first input image, else square
        ratio = fetched[0].width / fetched[0].height if fetched else 1.0
    base = images.RESOLUTION_BASE.get(str(p.get(spec.get("resolution_param", "output_resolution"))),
                                      int(spec.get("base", 1024)))
    width, height = images.dimensions(ratio, base, spec.get("max_side"))
    fmt = str(p.get(spec.get("format_param", "output_format")) or spec.get("default_format", "png"))

    def work() -> list[Output]:
        outs = []
        for i in range(_image_count(spec, p)):
            seed = task_seed(task, i)
            img = images.blend_source(fetched[0], seed, width, height) if fetched else images.render(seed, width, height)
            enc = images.encode(img, fmt)
            outs.append(Output("images", enc.data, enc.content_type, enc.extension))
        return outs

    return Done(outputs=await asyncio.to_thread(work))


@generator("image")
async def generate_image(provider: SandboxProvider, task: TaskInput, spec: dict[str, Any]) -> Done:
    refs = task.params.get(spec["references"], []) if spec.get("references") else []
    return await _images(provider, task, spec, list(refs))


@generator("image_edit")
async def edit_image(provider: SandboxProvider, task: TaskInput, spec: dict[str, Any]) -> Done:
    return await _images(provider, task, spec, list(task.params.get(spec["sources"], [])))
