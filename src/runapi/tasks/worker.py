"""Runs tasks: claims due tasks with a lease, advances each one step through its provider, finishes it."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from typing import Any

from ..catalog import get_catalog
from ..providers import Done, Progress, TaskFailed, TaskInput, TransientFailure
from . import engine

log = logging.getLogger("runapi.worker")


def backoff(n: int, base: float = 2.0, cap: float = 30.0) -> float:
    return min(base * (1.5 ** n), cap)


class TaskWorker:
    def __init__(self, runtime: Any):
        self.rt = runtime
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.wake = asyncio.Event()
        self.inflight: dict[asyncio.Task, str] = {}  # step -> task id, for the lease heartbeat

    async def run(self, stop: asyncio.Event) -> None:
        s = self.rt.settings
        heartbeat = asyncio.create_task(self.renew_leases(stop), name="lease-heartbeat")
        while not stop.is_set():
            free = s.worker_concurrency - len(self.inflight)
            claimed: list[dict[str, Any]] = []
            if free > 0:
                try:
                    claimed = await engine.claim_due(self.rt.db, self.owner, free, s.lease_seconds)
                except Exception:  # database briefly unavailable: keep the worker alive
                    log.exception("claim failed")
            for task in claimed:
                t = asyncio.create_task(self.step(task))
                self.inflight[t] = task["id"]
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

    def _done(self, t: asyncio.Task) -> None:
        self.inflight.pop(t, None)
        self.wake.set()  # a slot is free

    async def step(self, task: dict[str, Any]) -> None:
        await TaskRunner(self.rt, self.owner).step(task)


class TaskRunner:
    """Advances one leased task by one step through its provider, and finishes it when it is done."""

    def __init__(self, runtime: Any, owner: str):
        self.rt = runtime
        self.owner = owner

    async def step(self, task: dict[str, Any]) -> None:
        rt, s = self.rt, self.rt.settings
        finish_kw = {"signer": rt.signer, "url_ttl": s.generated_url_ttl_seconds}
        try:
            action = get_catalog().action(task["family"], task["action"])
            if time.time() - task["created_at"] > s.task_timeout_seconds:
                await self.cancel_upstream(task, action)
                await engine.finish(rt.db, task, self.owner, error="Task timed out", **finish_kw)
                rt.task_finished(task["id"])
                return
            if action is None:
                raise TaskFailed(f"Unknown action {task['family']}/{task['action']}")
            refs = await engine.resolve_refs(rt.db, task["account_id"], action, task["params"], strict=False)
            inp = TaskInput(id=task["id"], action=action, model=action.models.get(task["model"] or ""),
                            params=task["params"], refs=refs, account_id=task["account_id"],
                            public_base_url=task.get("public_base_url"))
            provider = rt.providers.get(task["provider"])
            job = task["provider_job"]
            if job is None:
                job = await provider.submit(inp)
                if not await engine.update_leased(rt.db, task["id"], self.owner, provider_job=job):
                    return
            outcome = await provider.poll(inp, job)
            if isinstance(outcome, Progress):
                delay = outcome.poll_in if outcome.poll_in is not None else backoff(task["polls"])
                await engine.release(rt.db, task["id"], self.owner, time.time() + max(delay, 0.0),
                                     polls=task["polls"] + 1, failures=0, provider_job=outcome.job or job)
                return
            result = await self.store_outputs(task["id"], outcome)
            await engine.finish(rt.db, task, self.owner, result=result, **finish_kw)
            rt.task_finished(task["id"])
        except TaskFailed as exc:
            await engine.finish(rt.db, task, self.owner, error=str(exc), **finish_kw)
            rt.task_finished(task["id"])
        except Exception as exc:
            failures = task["failures"] + 1
            if isinstance(exc, TransientFailure):  # an expected upstream failure: its message says it all
                log.warning("task %s step failed (attempt %d of %d): %s", task["id"], failures,
                            s.max_task_attempts, exc, extra={"task_id": task["id"]})
            else:  # our bug: keep the traceback
                log.exception("task %s step failed", task["id"], extra={"task_id": task["id"]})
            try:
                if failures >= s.max_task_attempts:
                    # an upstream outage names itself; anything else is our bug and stays generic
                    error = str(exc) if isinstance(exc, TransientFailure) else "Generation failed"
                    await engine.finish(rt.db, task, self.owner, error=error, **finish_kw)
                    rt.task_finished(task["id"])
                else:
                    await engine.release(rt.db, task["id"], self.owner, time.time() + backoff(failures, 1.0),
                                         failures=failures)
            except Exception:
                log.exception("task %s: could not record failure; the lease will expire and it will be retried",
                              task["id"], extra={"task_id": task["id"]})

    async def cancel_upstream(self, task: dict[str, Any], action: Any) -> None:
        """A task given up on (timed out) stops its upstream job too, so it is not run and billed for nothing.
        Best effort: the task fails and is refunded either way."""
        cancel = getattr(self.rt.providers.get(task["provider"]), "cancel", None)
        if cancel is None or not task["provider_job"] or action is None:
            return
        inp = TaskInput(id=task["id"], action=action, model=action.models.get(task["model"] or ""),
                        params=task["params"], account_id=task["account_id"])
        try:
            await cancel(inp, task["provider_job"])
        except Exception:  # nothing more to do for a job we are abandoning
            log.warning("task %s: cancelling the upstream job failed", task["id"], exc_info=True)

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


def _resolve_file_refs(value: Any, keys: list[str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$file"}:
            return {"$key": keys[value["$file"]]}
        return {k: _resolve_file_refs(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_file_refs(v, keys) for v in value]
    return value
