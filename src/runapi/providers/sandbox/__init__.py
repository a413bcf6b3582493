"""The sandbox provider: no keys, no network beyond fetching the task's own inputs; real, deterministic media.

Which generator runs, and how parameters map to sizes, durations and formats, is declared per action in the
catalog (`sandbox:`, see catalog/FORMAT.md), so a new family needs catalog data, not code, unless it needs a
new kind of media.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from ...catalog import Action, ModelSpec
from ...storage import Storage, UrlSigner
from ..base import Done, InputRejected, Progress, TaskFailed, TaskInput
from . import audio_gen, image_gen, limits, suno_gen, video_gen  # noqa: F401  (register generators)
from .base import GENERATORS, Inputs, as_list

MADE_KEPT = 64  # results kept between a stage and the task's end (more running at once are made again)
_IMAGE_INPUTS = {"image": ("references",), "image_edit": ("sources",), "image_upscale": ("sources",),
                 "remove_background": ("sources",), "video": ("images",)}


class SandboxProvider:
    name = "sandbox"

    def __init__(self, http: httpx.AsyncClient, delay_seconds: float = 0.0, fetch_max_bytes: int = 50 << 20,
                 storage: Storage | None = None, signer: UrlSigner | None = None, media_workers: int = 0):
        self.inputs = Inputs(http, storage, fetch_max_bytes, signer)
        self.delay_seconds = delay_seconds
        self.made: dict[str, Done] = {}  # results generated at a stage, until the task's last poll
        limits.configure(media_workers)

    async def preflight(self, action: Action, model: ModelSpec | None, params: dict[str, Any]) -> None:
        """Before anything is billed: input files already in our storage (uploads, earlier results) are
        checked — declared pixels, length, and the output they imply — against the budgets the task would fail
        on (limits.py). Raises InputRejected. Other URLs are checked when the task fetches them."""
        spec = model.sandbox if model else action.sandbox
        gen = spec.get("generator", "")
        urls = [u for key in _IMAGE_INPUTS.get(gen, ()) + (("sources",) if gen == "video_from_source" else ())
                for name in as_list(spec.get(key)) for u in as_list(params.get(name)) if isinstance(u, str)]
        for i, url in enumerate(urls):
            data = await self.inputs.own_file(url)
            if data is None:
                continue
            try:
                if gen == "video_from_source":
                    video_gen.source_plan(spec, params, await video_gen.probe_source(data))
                else:
                    img = await limits.run(limits.open_image, data, False)
                    if gen == "image_upscale" and i == 0:
                        limits.check_output_image(*image_gen.upscaled_size(spec, params, img.width, img.height))
            except InputRejected:
                raise
            except TaskFailed as exc:
                raise InputRejected(str(exc)) from exc

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
        gen = GENERATORS.get(spec.get("generator", ""))
        if gen is None:
            raise TaskFailed(f"The sandbox cannot run {task.action.key}")
        done = await gen(self.inputs, task, spec)
        done.extra = {**spec.get("result_extra", {}), **done.extra}  # fixed documented fields, e.g. progress
        return done
