"""The provider interface: submit a task, poll it, get media back. Sandbox and upstream adapters implement it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..catalog import Action, ModelSpec


@dataclass(frozen=True)
class TaskInput:
    id: str
    action: Action
    model: ModelSpec | None
    params: dict[str, Any]
    # task_ref params resolved to the referenced (completed) task rows of the same account
    refs: dict[str, dict[str, Any]] = field(default_factory=dict)
    account_id: int | None = None
    public_base_url: str | None = None  # the address the task was created at (links for upstreams)


@dataclass
class Output:
    """One produced file. `kind` names the result list it belongs to (images, videos, audios, ...)."""

    kind: str | None  # None: not listed by kind; the result's `extra` names it as {"$file": index}
    data: bytes
    content_type: str
    extension: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Progress:
    """Still working; ask again in `poll_in` seconds (None: the engine's backoff decides)."""

    poll_in: float | None = None
    job: dict[str, Any] | None = None  # updated job state to persist, if any
    # a progress stage reached (one of the action's catalog `stages`): shown while processing and called back;
    # at the catalog's `first_file` stage, `partial` is what is made so far (its callback shows the first item)
    stage: str | None = None
    partial: Done | None = None


@dataclass
class Done:
    outputs: list[Output]
    extra: dict[str, Any] = field(default_factory=dict)  # result fields that are not files


class TaskFailed(Exception):
    """Permanent failure: the task fails with this message and its credits are refunded."""


class InputRejected(TaskFailed):
    """An input (or the output it implies) beyond what the provider takes: refused with 422 before billing when
    the input is known at create time, else the task fails with this message (refunded)."""


class TransientFailure(Exception):
    """A failure worth retrying (an upstream briefly down): the worker retries with its backoff, and if the
    retries run out the task fails with this message (not a generic one) and is refunded."""


class Provider(Protocol):
    name: str

    async def submit(self, task: TaskInput) -> dict[str, Any]:
        """Start work; return the job handle to persist. Must be safe to call again for the same task id."""

    async def poll(self, task: TaskInput, job: dict[str, Any]) -> Progress | Done:
        """Check on a job. Raise TaskFailed for a permanent failure; other exceptions are retried."""
