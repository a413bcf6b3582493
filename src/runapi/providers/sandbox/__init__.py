"""The sandbox provider: no keys, no network beyond fetching the task's own inputs; real, deterministic media.

Which generator runs, and how parameters map to sizes, durations and formats, is declared per action in the
catalog (`sandbox:`, see catalog/FORMAT.md), so a new family needs catalog data, not code, unless it needs a
new kind of media.

The generators and the media checks (Pillow, PyAV, numpy) are imported when a media task first needs them,
not with this module: a server that only answers LLM calls neither loads them nor needs them installed
(README "Installing from a wheel").
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx

from ...catalog import Action, ModelSpec
from ...catalog.sandbox_schema import ImageUpscaleSpec, SandboxSpec, VideoFromSourceSpec, VideoSpec
from ...domain.task import Task
from ...errors import Unavailable
from ...storage import Storage, UrlSigner
from ..base import Done, InputRejected, Progress, Provider, TaskFailed, TaskInput
from ..inputs import Inputs
from . import pool

if TYPE_CHECKING:
    from .base import Generator

MEDIA_LIBRARIES = ("PIL", "av", "numpy")  # the import names of Pillow, PyAV and numpy
MEDIA_MISSING = (
    "The sandbox cannot generate media on this server: it was installed without Pillow, PyAV and numpy "
    "(the LLM-only install); install runapi-server with its dependencies to generate media"
)
MADE_KEPT = 64  # results kept between a stage and the task's end (more running at once are made again)
_GUIDES = ("mask", "character_references", "reference_masks", "style_references")  # image_gen.Guides
# per generator, the spec keys naming the params with input images (the first is the source)
_IMAGE_INPUTS = {
    "image": ("references",) + _GUIDES,
    "image_edit": ("sources",) + _GUIDES,
    "image_upscale": ("sources",),
    "remove_background": ("sources",),
    "video": ("images",),
}


class SandboxProvider(Provider):
    """Runs every task locally and deterministically; nothing to cancel (a step is cut by the worker's
    deadline), no webhooks."""

    name = "sandbox"
    local_jobs = True  # submit only notes when the result is due

    def __init__(
        self,
        http: httpx.AsyncClient,
        delay_seconds: float = 0.0,
        fetch_max_bytes: int = 50 << 20,
        storage: Storage | None = None,
        signer: UrlSigner | None = None,
        media_workers: int = 0,
    ):
        self.inputs = Inputs(http, storage, fetch_max_bytes, signer)
        self.delay_seconds = delay_seconds
        self.made: dict[str, Done] = {}  # results generated at a stage, until the task's last poll
        pool.configure(media_workers)

    async def preflight(
        self, action: Action, model: ModelSpec | None, params: dict[str, Any], refs: dict[str, Task] | None = None
    ) -> None:
        """Before anything is billed: input files already in our storage (uploads, earlier results, the videos
        of referenced tasks) are checked — declared pixels, length, and the output they imply — against the
        budgets and documented limits the task would fail on (limits.py, the catalog's sandbox keys). Raises
        InputRejected. Other URLs are checked when the task fetches them."""
        spec = model.sandbox if model else action.sandbox
        if spec is None:
            return
        if not await _media_installed():
            raise Unavailable(MEDIA_MISSING)
        try:
            await self._media_preflight(spec, params, refs or {})
        except InputRejected:
            raise
        except TaskFailed as exc:
            raise InputRejected(str(exc)) from exc

    async def _media_preflight(self, spec: SandboxSpec, params: dict[str, Any], refs: dict[str, Task]) -> None:
        from . import image_gen, limits, video_gen
        from .base import as_list

        gen = spec.generator
        keys = _IMAGE_INPUTS.get(gen, ()) + (("sources",) if isinstance(spec, VideoFromSourceSpec) else ())
        urls = [
            (key, u)
            for key in keys
            for name in getattr(spec, key)
            for u in as_list(params.get(name))
            if isinstance(u, str)
        ]
        sizes: dict[str, tuple[int, int]] = {}  # the first source's and the mask's, when ours
        for i, (key, url) in enumerate(urls):
            data = await self.inputs.own_file(url)
            if data is None:
                continue
            if isinstance(spec, VideoFromSourceSpec):
                video_gen.source_plan(spec, params, await video_gen.probe_source(data))
            else:
                what = "mask" if key == "mask" else "image"
                img = await limits.run(limits.open_image, data, False, what)
                if isinstance(spec, ImageUpscaleSpec) and i == 0:
                    limits.check_output_image(*image_gen.upscaled_size(spec, params, img.width, img.height))
                if i == 0 or key == "mask":
                    sizes.setdefault("source" if i == 0 and key != "mask" else "mask", img.size)
        if "source" in sizes and "mask" in sizes:
            image_gen.check_mask(sizes["mask"], sizes["source"])
        if isinstance(spec, VideoFromSourceSpec) and not urls and refs:  # a referenced task's video: ours
            ref = next(iter(refs.values()))
            data = await self.inputs.task_file(ref, "videos", int(params.get(spec.index_param) or 0))
            video_gen.source_plan(spec, params, await video_gen.probe_source(data))
        if isinstance(spec, VideoSpec) and spec.max_reference_seconds:  # the lengths known now bound the total
            lengths = []
            for url in video_gen.reference_video_urls(spec, params):
                data = await self.inputs.own_file(url)
                if data is not None:
                    lengths.append((await video_gen.probe_source(data)).duration)
            video_gen.check_reference_seconds(spec, lengths)

    async def submit(self, task: TaskInput) -> dict[str, Any]:
        return {"ready_at": time.time() + self.delay_seconds}

    async def poll(self, task: TaskInput, job: dict[str, Any]) -> Progress | Done:
        remaining = float(job.get("ready_at", 0)) - time.time()
        if remaining > 0:
            stages = task.action.stages
            if stages:  # a staged action passes its stages evenly over the delay (instant: the engine fills them in)
                return await self.staged(task, job, remaining)
            return Progress(poll_in=remaining)
        done = self.made.pop(task.id, None) or await self.generate(task)
        return done

    async def staged(self, task: TaskInput, job: dict[str, Any], remaining: float) -> Progress:
        """Report the next stage that is due: stage i at i/len(stages) of the delay. The stage that shows the
        first file generates the task's result (kept here for the last poll, or made again after a restart)."""
        stages = task.action.stages
        reached = stages.index(job["stage"]) + 1 if job.get("stage") in stages else 0
        elapsed_share = 1 - remaining / self.delay_seconds if self.delay_seconds > 0 else 1.0
        due = min(len(stages), int(elapsed_share * len(stages)) + 1)

        def next_at(i: int) -> float:  # seconds until stage i is due
            return remaining - (1 - i / len(stages)) * self.delay_seconds

        if reached >= due:
            return Progress(poll_in=max(0.0, next_at(reached)) if reached < len(stages) else remaining)
        stage = stages[reached]
        partial = None
        if stage == task.action.first_file_stage:
            done = self.made[task.id] = await self.generate(task)
            while len(self.made) > MADE_KEPT:
                self.made.pop(next(iter(self.made)))
            partial = done  # the worker shows its first item
        poll_in = max(0.0, next_at(reached + 1)) if reached + 1 < len(stages) else remaining
        return Progress(poll_in=poll_in, job={**job, "stage": stage}, stage=stage, partial=partial)

    async def generate(self, task: TaskInput) -> Done:
        spec = task.model.sandbox if task.model else task.action.sandbox
        if not await _media_installed():
            raise TaskFailed(MEDIA_MISSING)
        gen = generators().get(spec.generator) if spec else None
        if gen is None:
            raise TaskFailed(f"The sandbox cannot run {task.action.key}")
        done = await gen(self.inputs, task, spec)
        done.extra = {**task.action.result_extra, **done.extra}  # fixed documented fields, e.g. progress
        return done


def generators() -> dict[str, Generator]:
    """The generator registry; its modules register themselves when first imported (here, on first use)."""
    from . import audio_gen, image_gen, suno, video_gen  # noqa: F401  (register generators)
    from .base import GENERATORS

    return GENERATORS


_media_loaded = False
_media_loading = threading.Lock()  # one thread imports them; concurrent first tasks wait for it


def _load_media() -> None:
    with _media_loading:
        generators()


async def _media_installed() -> bool:
    """Whether the generators import: False when Pillow, PyAV or numpy is missing (an LLM-only install). The
    first import runs in a thread (about half a second), not on the event loop."""
    global _media_loaded
    if not _media_loaded:
        try:
            await asyncio.to_thread(_load_media)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in MEDIA_LIBRARIES:
                raise
            return False
        _media_loaded = True
    return True
