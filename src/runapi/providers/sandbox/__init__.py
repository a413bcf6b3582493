"""The sandbox provider: no keys, no network beyond fetching the task's own inputs; real, deterministic media.

Which generator runs, and how parameters map to sizes, durations and formats, is declared per action in the
catalog (`sandbox:`, see catalog/FORMAT.md), so a new family needs catalog data, not code, unless it needs a
new kind of media.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from ...storage import Storage, UrlSigner
from ..base import Done, Progress, TaskFailed, TaskInput
from . import audio_gen, image_gen, suno_gen, video_gen  # noqa: F401  (register generators)
from .base import GENERATORS, Inputs


class SandboxProvider:
    name = "sandbox"

    def __init__(self, http: httpx.AsyncClient, delay_seconds: float = 0.0, fetch_max_bytes: int = 50 << 20,
                 storage: Storage | None = None, signer: UrlSigner | None = None):
        self.inputs = Inputs(http, storage, fetch_max_bytes, signer)
        self.delay_seconds = delay_seconds

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
        done = await gen(self.inputs, task, spec)
        done.extra = {**spec.get("result_extra", {}), **done.extra}  # fixed documented fields, e.g. progress
        return done
