"""Runs tasks: claims due tasks with a lease, advances each one step through its provider, finishes it.

No account can stall the others: the worker claims fairly across accounts (an account holds at most its
share of the slots while others' tasks are due, see engine.claim_due), every step runs in its account's
tenant scope (so its outbound fetches count against that account's share of the pool, see net.fair), and
every step is cut at a deadline: the task's remaining time (it then fails "Task timed out" at once, refunded)
or the step limit (task_step_timeout_seconds; retried with backoff), so a slot is never held for ever.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from ..catalog import Action, get_catalog
from ..domain.task import Task, TaskState
from ..net.fair import tenant_scope
from ..observability import tracing
from ..providers import (
    Done,
    Progress,
    ProviderRegistry,
    TaskFailed,
    TaskInput,
    TransientFailure,
)
from ..settings import Settings
from ..storage import Storage, UrlSigner
from ..store import Database
from . import engine
from .cancel import stop_upstream
from .views import status_body

log = logging.getLogger("runapi.worker")
T = TypeVar("T")


class WorkerServices(Protocol):
    """What the task worker uses of the services (runapi.services.Services is one): typed as this slice so
    the worker neither imports the composition root nor sees more than it needs."""

    settings: Settings
    db: Database
    storage: Storage
    signer: UrlSigner
    providers: ProviderRegistry
    callback_wake: asyncio.Event  # set to deliver a stage's callback now

    def task_finished(self, task_id: str) -> None:
        """A task finished here: deliver its callback, tell its waiters (in any process)."""


def backoff(n: int, base: float = 2.0, cap: float = 30.0) -> float:
    return min(base * (1.5**n), cap)


class TaskWorker:
    def __init__(self, services: WorkerServices) -> None:
        self.rt = services
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.wake = asyncio.Event()
        self.inflight: dict[asyncio.Task[None], str] = {}  # step -> task id, for the lease heartbeat
        self.accounts: dict[asyncio.Task[None], int] = {}  # step -> its task's account, for fair claiming

    async def run(self, stop: asyncio.Event) -> None:
        s = self.rt.settings
        heartbeat = asyncio.create_task(self.renew_leases(stop), name="lease-heartbeat")
        share = s.resolved_worker_account_share
        # borrowing idle slots never takes the last one: a newly due account starts at once
        ceiling = max(share, s.worker_concurrency - 1)
        while not stop.is_set():
            free = s.worker_concurrency - len(self.inflight)
            claimed: list[Task] = []
            if free > 0:
                try:
                    claimed = await engine.claim_due(
                        self.rt.db,
                        self.owner,
                        free,
                        s.lease_seconds,
                        held=Counter(self.accounts.values()),
                        share=share,
                        ceiling=ceiling,
                    )
                except Exception:  # database briefly unavailable: keep the worker alive
                    log.exception("claim failed")
            for task in claimed:
                t = asyncio.create_task(self.step(task))
                self.inflight[t] = task.id
                self.accounts[t] = task.account_id
                t.add_done_callback(self._done)
            if claimed and len(claimed) == free:
                await asyncio.sleep(0)  # more may be due; still yield to the event loop
                if len(self.inflight) < s.worker_concurrency:
                    continue
            self.wake.clear()
            waiters = [asyncio.create_task(self.wake.wait()), asyncio.create_task(stop.wait())]
            await asyncio.wait(waiters, timeout=s.worker_idle_poll_seconds, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
        if self.inflight:
            await asyncio.wait(list(self.inflight), timeout=10)
        heartbeat.cancel()

    async def renew_leases(self, stop: asyncio.Event) -> None:
        """Keep the leases of the tasks we are stepping, so a short lease only ever expires when we are gone
        (a crashed worker's tasks are then claimed again within one lease)."""
        s = self.rt.settings
        every = s.lease_seconds / 3
        while not stop.is_set():
            await asyncio.sleep(every)
            ids = list(self.inflight.values())
            if not ids:
                continue
            try:
                await engine.renew_leases(self.rt.db, self.owner, ids, s.lease_seconds)
            except Exception:  # database briefly unavailable: the next beat tries again
                log.warning("lease renewal for %d task(s) failed", len(ids), exc_info=True)

    def _done(self, t: asyncio.Task[None]) -> None:
        self.inflight.pop(t, None)
        self.accounts.pop(t, None)
        self.wake.set()  # a slot is free

    async def step(self, task: Task) -> None:
        with tenant_scope(task.account_id):
            await TaskRunner(self.rt, self.owner).step(task)


class _StepCut(Exception):
    """A provider call ran into the step's deadline."""


class TaskRunner:
    """Advances one leased task by one step through its provider, and finishes it when it is done."""

    def __init__(self, services: WorkerServices, owner: str) -> None:
        self.rt = services
        self.owner = owner

    async def step(self, task: Task) -> None:
        # each step is a trace of its own, linked to the span that created the task when this process has it
        with tracing.span(
            "task.step",
            carry=True,
            linked_task=task.id,
            task_id=task.id,
            family=task.family,
            action=task.action,
            model=task.model,
            provider=task.provider,
            provider_kind=self.rt.providers.kind(task.provider) if task.provider else None,
            polls=task.polls,
            failures=task.failures,
        ) as span:
            outcome = await self._step(task)
            span.set(outcome=outcome)
            if outcome in ("completed", "failed"):
                tracing.forget_task(task.id)

    async def _step(self, task: Task) -> str:
        """One step; returns what became of the task: completed, failed, running (polled again later), retry
        (the step failed and is retried with backoff) or lost (another worker or a cancel got there first)."""
        rt, s = self.rt, self.rt.settings
        action, job, task_bound = None, task.provider_job, False
        unsaved = None  # a job handle made this step and not written yet (a local job: see Provider.local_jobs)
        try:
            action = get_catalog().action(task.family, task.action)
            remaining = s.task_timeout_seconds - (time.time() - task.created_at)
            if remaining <= 0:
                return await self.time_out(task)
            if action is None:
                raise TaskFailed(f"Unknown action {task.kind}")
            # Provider calls (which fetch inputs, run generators, call upstreams) end by this deadline; our
            # own database writes are not cut mid-way.
            task_bound = remaining <= s.task_step_timeout_seconds  # which deadline a cut step ran into
            deadline = asyncio.get_running_loop().time() + min(remaining, s.task_step_timeout_seconds)
            refs = await engine.resolve_refs(rt.db, task.account_id, action, task.params, strict=False)
            inp = TaskInput(
                id=task.id,
                action=action,
                model=action.models.get(task.model or ""),
                params=task.params,
                refs=refs,
                account_id=task.account_id,
                public_base_url=task.public_base_url,
            )
            provider = rt.providers.get(task.provider)
            if job is None:
                with tracing.span("task.submit"):
                    job = await _within(deadline, provider.submit(inp))
                if provider.local_jobs:
                    unsaved = job  # written with whatever ends this step: one transaction fewer per task
                elif not await engine.update_leased(rt.db, task.id, self.owner, provider_job=job):
                    return "lost"
            with tracing.span("task.poll") as poll_span:
                outcome = await _within(deadline, provider.poll(inp, job))
                poll_span.set(done=not isinstance(outcome, Progress))
            if isinstance(outcome, Progress):
                delay = outcome.poll_in if outcome.poll_in is not None else backoff(task.polls)
                if outcome.stage and outcome.stage != task.stage and outcome.stage in action.stages:
                    await self.report_stage(task, action, outcome.stage, outcome, time.time() + max(delay, 0.0), job)
                    return "running"
                await engine.release(
                    rt.db,
                    task.id,
                    self.owner,
                    time.time() + max(delay, 0.0),
                    polls=task.polls + 1,
                    failures=0,
                    provider_job=outcome.job or job,
                )
                return "running"
            with tracing.span("task.finish"):
                result = await self.store_outputs(task.id, outcome)
                if not await engine.finish(
                    rt.db,
                    task,
                    self.owner,
                    result=result,
                    signer=rt.signer,
                    url_ttl=s.generated_url_ttl_seconds,
                    outputs=(len(outcome.outputs), sum(len(out.data) for out in outcome.outputs)),
                    provider_job=unsaved,
                ):
                    return "lost"
            rt.task_finished(task.id)
            return "completed"
        except TaskFailed as exc:
            with tracing.span("task.finish", error=str(exc)[:500]):
                if not await engine.finish(
                    rt.db, task, self.owner, error=str(exc), signer=rt.signer, url_ttl=s.generated_url_ttl_seconds
                ):
                    return "lost"
            rt.task_finished(task.id)
            return "failed"
        except _StepCut:
            if task_bound:
                return await self.time_out(replace(task, provider_job=job))
            # the step limit: a failed step like any other, retried with backoff
            return await self.step_failed(
                task, TransientFailure(f"Generation step did not finish within {s.task_step_timeout_seconds:g} s")
            )
        except Exception as exc:
            return await self.step_failed(task, exc)

    async def step_failed(self, task: Task, exc: Exception) -> str:
        """Retry the step with backoff, or fail the task once it has failed max_task_attempts times. Returns
        "failed", "retry" or "lost" (as `_step`)."""
        rt, s = self.rt, self.rt.settings
        failures = task.failures + 1
        if isinstance(exc, TransientFailure):  # an expected upstream failure: its message says it all
            log.warning(
                "task %s step failed (attempt %d of %d): %s",
                task.id,
                failures,
                s.max_task_attempts,
                exc,
                extra={"task_id": task.id},
            )
        else:  # our bug: keep the traceback
            log.exception("task %s step failed", task.id, extra={"task_id": task.id}, exc_info=exc)
        try:
            if failures >= s.max_task_attempts:
                # an upstream outage names itself; anything else is our bug and stays generic
                error = str(exc) if isinstance(exc, TransientFailure) else "Generation failed"
                with tracing.span("task.finish", error=error[:500]):
                    finished = await engine.finish(
                        rt.db, task, self.owner, error=error, signer=rt.signer, url_ttl=s.generated_url_ttl_seconds
                    )
                if not finished:
                    return "lost"
                rt.task_finished(task.id)
                return "failed"
            await engine.release(rt.db, task.id, self.owner, time.time() + backoff(failures, 1.0), failures=failures)
        except Exception:
            log.exception(
                "task %s: could not record failure; the lease will expire and it will be retried",
                task.id,
                extra={"task_id": task.id},
            )
        return "retry"

    async def time_out(self, task: Task) -> str:
        """Fail a task that outlived task_timeout_seconds (refunded), stopping its upstream job."""
        await stop_upstream(self.rt.providers, task)
        with tracing.span("task.finish", error="Task timed out"):
            finished = await engine.finish(
                self.rt.db,
                task,
                self.owner,
                error="Task timed out",
                signer=self.rt.signer,
                url_ttl=self.rt.settings.generated_url_ttl_seconds,
            )
        if not finished:
            return "lost"
        self.rt.task_finished(task.id)
        return "failed"

    async def report_stage(
        self, task: Task, action: Action, stage: str, outcome: Progress, next_run_at: float, job: dict[str, Any]
    ) -> None:
        """A provider reached a progress stage: store what it has made so far and call the stage back."""
        rt, s = self.rt, self.rt.settings
        body = None
        if task.callback_url:
            made = await self.store_outputs(task.id, outcome.partial) if outcome.partial else None
            partial = engine.partial_result(action, made)
            staged = replace(task, state=TaskState.RUNNING, stage=stage)
            body = status_body(
                staged, rt.signer, task.public_base_url or "", s.generated_url_ttl_seconds, partial=partial
            )
        await engine.report_stage(
            rt.db,
            task,
            self.owner,
            stage,
            next_run_at,
            callback_body=body,
            polls=task.polls + 1,
            failures=0,
            provider_job=outcome.job or job,
        )
        rt.callback_wake.set()  # deliver the stage's callback now

    async def store_outputs(self, task_id: str, done: Done) -> dict[str, Any]:
        """Store every output; list it under its kind (unless kind is None) and turn {"$file": i} references
        in the extra fields into {"$key": storage key}, which the status view signs."""
        files: dict[str, list[dict[str, Any]]] = {}
        keys = []
        for i, out in enumerate(done.outputs):
            key = f"generated/{task_id}/{i}.{out.extension}"
            await self.rt.storage.put(key, out.data, out.content_type)
            keys.append(key)
            if out.kind:
                files.setdefault(out.kind, []).append({"key": key, "content_type": out.content_type, **out.meta})
        return {"files": files, "extra": _resolve_file_refs(done.extra, keys)}


async def _within(deadline: float, call: Awaitable[T]) -> T:
    """Await a provider call, raising _StepCut if it is still running at `deadline` (event-loop time)."""
    try:
        async with asyncio.timeout_at(deadline) as cut:
            return await call
    except TimeoutError:
        if cut.expired():
            raise _StepCut from None
        raise


def _resolve_file_refs(value: Any, keys: list[str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$file"}:
            return {"$key": keys[value["$file"]]}
        return {k: _resolve_file_refs(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_file_refs(v, keys) for v in value]
    return value
