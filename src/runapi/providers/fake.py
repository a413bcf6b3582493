"""A scriptable Provider for tests: it answers `poll` with what the test scripted (Progress, Done, or an
exception to raise: TaskFailed, TransientFailure, anything) and records every call, so a test can drive the
task worker over it without sockets, generators or upstreams, and check what the worker asked.

    provider = FakeProvider(script=[Progress(poll_in=0), TransientFailure("busy"), FakeProvider.done()])
    registry.register(provider)
    ...
    assert [c.method for c in provider.calls] == ["submit", "poll", "poll", "poll"]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .base import Done, Output, Progress, Provider, TaskInput, WebhookCall

Step = Progress | Done | BaseException


@dataclass(frozen=True)
class Call:
    """One call the provider received: its method, the task it was about and the job it was given."""

    method: str  # "submit", "poll", "cancel" or "on_webhook"
    task_id: str
    job: dict[str, Any] | None = None


@dataclass
class FakeProvider(Provider):
    name: str = "fake"
    # what successive polls answer (an exception is raised); once it runs out, every poll is `then`
    script: Iterable[Step] = ()
    then: Step = field(default_factory=lambda: FakeProvider.done())
    submit_error: BaseException | None = None  # raised by every submit, when set
    accept_webhooks: bool = True  # what on_webhook answers
    local_jobs: bool = False  # Provider.local_jobs: True makes the worker write the job with the step's end
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._script: deque[Step] = deque(self.script)

    @staticmethod
    def done(
        data: bytes = b"fake",
        kind: str = "images",
        content_type: str = "image/png",
        extension: str = "png",
        **extra: Any,
    ) -> Done:
        """A Done with one output file (and `extra` result fields)."""
        return Done(outputs=[Output(kind, data, content_type, extension)], extra=dict(extra))

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    async def submit(self, task: TaskInput) -> dict[str, Any]:
        self.calls.append(Call("submit", task.id))
        if self.submit_error is not None:
            raise self.submit_error
        return {"fake_job": task.id}

    async def poll(self, task: TaskInput, job: dict[str, Any]) -> Progress | Done:
        self.calls.append(Call("poll", task.id, job))
        step = self._script.popleft() if self._script else self.then
        if isinstance(step, BaseException):
            raise step
        return step

    async def cancel(self, task: TaskInput, job: dict[str, Any]) -> bool:
        self.calls.append(Call("cancel", task.id, job))
        return True

    async def on_webhook(self, call: WebhookCall) -> bool:
        self.calls.append(Call("on_webhook", call.task_id))
        return self.accept_webhooks
