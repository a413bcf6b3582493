"""Cancelling a task at its client's request: the engine fails it (refund, usage row, final callback in one
commit), then its upstream job is asked to stop where the provider can, so it is not run for nothing. The
worker stops a timed-out task's job the same way (stop_upstream)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..catalog import get_catalog
from ..domain.task import Task
from ..providers import ProviderRegistry, TaskInput
from . import engine

if TYPE_CHECKING:  # the worker imports stop_upstream from here
    from .worker import WorkerServices

log = logging.getLogger("runapi.tasks")


async def cancel_task(rt: WorkerServices, task_id: str, account_id: int) -> Task:
    """The failed task; TaskNotFound (not this account's) or Conflict (already finished) otherwise."""
    task = await engine.cancel(
        rt.db, task_id, account_id, signer=rt.signer, url_ttl=rt.settings.generated_url_ttl_seconds
    )
    rt.task_finished(task.id)  # deliver the callback now; wake whoever waits on the task
    await stop_upstream(rt.providers, task)  # after the commit: the refund never waits on an upstream
    return task


async def stop_upstream(providers: ProviderRegistry, task: Task) -> None:
    """Best effort: ask the task's provider to stop its job (the persisted `provider_job`). The task has failed
    and been refunded either way; a provider that cannot stop jobs does nothing."""
    action = get_catalog().action(task.family, task.action)
    if not task.provider_job or action is None:
        return
    inp = TaskInput(
        id=task.id,
        action=action,
        model=action.models.get(task.model or ""),
        params=task.params,
        account_id=task.account_id,
    )
    try:
        await providers.get(task.provider).cancel(inp, task.provider_job)
    except Exception:  # nothing more to do for a job we are abandoning
        log.warning("task %s: cancelling the upstream job failed", task.id, exc_info=True)
