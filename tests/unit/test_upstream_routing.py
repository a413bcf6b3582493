"""The media router across deployments, with adapters as plain objects (no HTTP): a request one deployment's
table refuses moves to the next without a call; if none can take it the task fails at once (no retries);
a stage an upstream reports while running reaches the engine as Progress.stage / Progress.partial."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from runapi.catalog import get_catalog
from runapi.providers.base import Progress, TaskFailed, TaskInput
from runapi.providers.upstream.adapter import Finished, Running, Started, UpstreamFile
from runapi.providers.upstream.config import MediaDeployment
from runapi.providers.upstream.errors import UpstreamError
from runapi.providers.upstream.router import MediaRouter

PNG_DATA_URL = "data:image/png;base64,iVBORw0KGgo="


class Scripted:
    """An adapter whose start either refuses (its table) or accepts; check answers what it is told."""

    def __init__(self, name: str, refuses: bool, check_answer: Running | Finished | None = None):
        self.deployment = MediaDeployment(name=name, kind="scripted")
        self.refuses = refuses
        self.check_answer = check_answer
        self.started: list[str] = []

    def supports(self, action_key: str, model: str | None) -> bool:
        return True

    async def start(self, task: TaskInput, ctx: Any) -> Started:
        if self.refuses:
            raise UpstreamError(
                f"{self.deployment.name} makes 5-second videos only", retryable=False, out_of_reach=True
            )
        self.started.append(task.id)
        return Started({"job": task.id})

    async def check(self, task: TaskInput, handle: dict[str, Any]) -> Running | Finished:
        assert self.check_answer is not None
        return self.check_answer

    async def cancel(self, handle: dict[str, Any]) -> None:
        return None

    async def aclose(self) -> None:
        return None


def a_task() -> TaskInput:
    action = get_catalog().action("veo_3_1", "text_to_video")
    assert action is not None
    model = action.models["veo-3.1"]
    return TaskInput(id="t1", action=action, model=model, params={"model": "veo-3.1", "prompt": "a fox"})


def run(adapters: list[Any], job: dict[str, Any]) -> Any:
    async def go() -> Any:
        async with httpx.AsyncClient() as downloads:
            return await MediaRouter(adapters, downloads).poll(a_task(), job, adapters[0].deployment.name)

    return asyncio.run(go())


def test_a_refusing_table_hands_the_task_to_the_next_deployment_without_a_call() -> None:
    first, second = Scripted("narrow", refuses=True), Scripted("wide", refuses=False)
    progress = run([first, second], {"stage": "pending", "tried": []})
    assert isinstance(progress, Progress)
    assert progress.job is not None and progress.job["deployment"] == "wide"
    assert second.started == ["t1"]


def test_when_no_deployment_can_make_it_the_task_fails_at_once_with_the_refusal() -> None:
    with pytest.raises(TaskFailed, match="5-second videos only"):
        run([Scripted("a", refuses=True), Scripted("b", refuses=True)], {"stage": "pending", "tried": []})


def test_a_running_stage_and_its_partial_files_reach_the_engine() -> None:
    partial = Finished([UpstreamFile("images", url=PNG_DATA_URL)])
    staged = Scripted("staged", refuses=False, check_answer=Running(poll_in=1.0, stage="first_file", partial=partial))
    job = {"stage": "upstream", "deployment": "staged", "handle": {"job": "t1"}, "tried": ["staged"]}
    progress = run([staged], job)
    assert isinstance(progress, Progress) and progress.stage == "first_file"
    assert progress.partial is not None and progress.partial.outputs[0].kind == "images"
