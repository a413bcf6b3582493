"""The provider interface: what runs a media task. The task worker (tasks/worker.py) drives every provider the
same way, one step at a time, persisting the job handle between steps so any worker process can take the next:

    job = await provider.submit(task)            # once: start the work, get the handle to persist
    outcome = await provider.poll(task, job)     # until Done: Progress says when to ask again
    await provider.cancel(task, job)             # the task was given up on (timed out): stop the job
    await provider.on_webhook(call)              # the provider's upstream called back about a job

Implementations: the sandbox (providers/sandbox), one RoutedProvider per configured upstream deployment
(providers/upstream), and FakeProvider (providers/fake.py), a scriptable one for tests.

Failures are signalled by exceptions: TaskFailed (permanent: the task fails, refunded; InputRejected is one),
TransientFailure (retried with the worker's backoff); anything else is a bug, retried and logged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..catalog import Action, ModelSpec
from ..domain.task import Task


@dataclass(frozen=True)
class TaskInput:
    id: str
    action: Action
    model: ModelSpec | None
    params: dict[str, Any]
    # task_ref (and record_ref) params resolved to the referenced (completed) tasks of the same account
    refs: dict[str, Task] = field(default_factory=dict)
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


class WebhookNotSupported(Exception):
    """This provider takes no webhooks (a call about its tasks is refused like a forged one)."""


@dataclass(frozen=True)
class WebhookCall:
    """An incoming webhook call about one task's job, as received (nothing in it is trusted yet)."""

    task_id: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


class Provider(ABC):
    """One way of running media tasks. `submit` and `poll` are required; `cancel` and `on_webhook` have
    defaults for providers with nothing to stop or no webhooks."""

    name: str  # what a task row records and what guardrails' provider lists match
    # True when `submit` starts nothing outside this process (the sandbox): a handle lost in a crash costs
    # nothing but submitting again, so the worker writes it with the step's end (its release, stage or finish)
    # instead of in a transaction of its own before the first poll.
    local_jobs: bool = False

    @abstractmethod
    async def submit(self, task: TaskInput) -> dict[str, Any]:
        """Start work; return the job handle to persist. Must be safe to call again for the same task id (a
        worker may crash between this call and persisting its answer)."""

    @abstractmethod
    async def poll(self, task: TaskInput, job: dict[str, Any]) -> Progress | Done:
        """Check on a job. Raise TaskFailed for a permanent failure, TransientFailure for one worth retrying;
        other exceptions are retried too (and logged as bugs)."""

    async def cancel(self, task: TaskInput, job: dict[str, Any]) -> bool:
        """Best effort: stop the job of a task given up on, so it is not run and billed for nothing. True if a
        job was asked to stop; the default has nothing to stop."""
        return False

    async def on_webhook(self, call: WebhookCall) -> bool:
        """The provider's upstream called back about the job of task `call.task_id`. True when the call is
        authentic and the task should be checked now (its next poll fetches the outcome over the provider's
        authenticated API, so nothing in the body needs to be trusted); False to refuse it. The default takes
        no webhooks."""
        raise WebhookNotSupported(self.name)
