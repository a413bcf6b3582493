"""Runs media tasks on the configured upstream deployments, in order, with fallback.

The task's job (persisted by the worker after every step) says where it stands:
  {"stage": "pending", "tried": [...]}                      not at any upstream yet (or moving on)
  {"stage": "upstream", "deployment": name, "handle": {...}, "tried": [...]}   held by that deployment
so whichever worker picks the task up next knows which deployment holds it, and a job is never submitted
twice to one deployment.

Submitting walks the deployments that serve the task's (action, model), starting with the one the task was
routed to: a deployment that is full (max_concurrency) or cooling down after a 429 is skipped; connection
errors, 5xx and 429 move on to the next one. If every deployment is merely busy the task waits (no failure
counted); if every one failed, the worker's backoff retries and, when it runs out, the task fails with the
upstream's message and is refunded. A request the upstream rejects (validation, content policy) fails at
once with the upstream's own message. A job the upstream accepted and then lost (5xx result) moves to the
next deployment."""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

import httpx

from ...domain.task import Task
from ...observability.metrics import record_upstream_error, upstream_error_kind
from ...storage import UrlSigner
from ..base import Done, Progress, Provider, TaskFailed, TaskInput, TransientFailure, WebhookCall
from .adapter import Adapter, Finished, Running, Started
from .errors import UpstreamError
from .health import UpstreamHealth
from .limits import Admission
from .mapping import Context
from .outputs import collect

log = logging.getLogger("runapi.upstream")
BUSY_RETRY_SECONDS = 1.0  # every deployment is at its concurrency limit: look again soon
FILE_LINK_TTL = 24 * 3600  # links to our own files handed to an upstream (e.g. the video to extend)


def webhook_signature(signer: UrlSigner, task_id: str) -> str:
    return signer.sign("upstream-webhook", task_id)


def webhook_url(signer: UrlSigner, base: str, task_id: str) -> str:
    """The link an upstream calls when the task's job ends: it only wakes the task (the result is then fetched
    over the authenticated API), so its signature just keeps strangers from poking tasks."""
    return f"{base.rstrip('/')}/webhooks/upstream/{task_id}?signature={webhook_signature(signer, task_id)}"


class MediaRouter:
    def __init__(
        self,
        adapters: list[Adapter],
        downloads: httpx.AsyncClient,
        signer: UrlSigner | None = None,
        public_url: str | None = None,
        admission: Admission | None = None,
        health: UpstreamHealth | None = None,
    ):
        self.adapters = adapters
        self.by_name = {a.deployment.name: a for a in adapters}
        self.downloads = downloads
        self.signer = signer
        self.public_url = public_url
        self.admission = admission or Admission()
        self.health = health or UpstreamHealth()  # recent calls per deployment (operator view, /metrics)
        self.owned_clients: list[httpx.AsyncClient] = []

    # --- routing -------------------------------------------------------------------------------------

    def serving(self, action_key: str, model: str | None) -> list[Adapter]:
        """Deployments that list the model and can map the action, in configured order."""
        return [a for a in self.adapters if a.deployment.lists(model) and a.supports(action_key, model)]

    def chain(self, task: TaskInput, first: str | None) -> list[Adapter]:
        found = self.serving(task.action.key, task.model.id if task.model else None)
        return sorted(found, key=lambda a: a.deployment.name != first)  # stable: the routed one leads

    # --- the provider interface ----------------------------------------------------------------------

    async def poll(self, task: TaskInput, job: dict[str, Any], first: str | None) -> Progress | Done:
        if job.get("stage") != "upstream":
            return await self._start(task, job, first)
        adapter = self.by_name.get(job.get("deployment", ""))
        if adapter is None:
            raise TaskFailed(f"Upstream {job.get('deployment')} is no longer configured")
        name = adapter.deployment.name
        self.admission.touch(name, task.id)
        began = time.monotonic()
        try:
            outcome = await adapter.check(task, job["handle"])
        except UpstreamError as exc:
            self.health.record(name, time.monotonic() - began, exc)
            log.warning("upstream %s failed task %s: %s", name, task.id, exc)
            record_upstream_error(name, upstream_error_kind(exc.status))
            if not exc.retryable:
                self.admission.release(name, task.id)
                raise TaskFailed(str(exc)) from exc
            if exc.job_failed:  # the upstream lost the job: submit it to the next deployment
                self.admission.release(name, task.id)
                return Progress(
                    poll_in=0.0, job={"stage": "pending", "tried": job.get("tried", []), "last_error": str(exc)}
                )
            raise TransientFailure(f"Upstream error: {exc}") from exc
        self.health.record(name, time.monotonic() - began)
        if isinstance(outcome, Running):
            handle = outcome.handle or job["handle"]
            partial = await self._partial(adapter, outcome.partial) if outcome.partial else None
            return Progress(
                poll_in=outcome.poll_in, job={**job, "handle": handle}, stage=outcome.stage, partial=partial
            )
        return await self._finish(task, adapter, outcome)

    async def cancel(self, task: TaskInput, job: dict[str, Any]) -> bool:
        """Stop the job at the deployment holding it, if one does; True if one was asked to."""
        adapter = self.by_name.get(job.get("deployment", ""))
        if job.get("stage") == "upstream" and adapter is not None:
            await adapter.cancel(job["handle"])
            self.admission.release(adapter.deployment.name, task.id)
            return True
        return False

    # --- internals -----------------------------------------------------------------------------------

    async def _start(self, task: TaskInput, job: dict[str, Any], first: str | None) -> Progress | Done:
        tried = list(job.get("tried", []))
        candidates = [a for a in self.chain(task, first) if a.deployment.name not in tried]
        if not candidates:
            raise TaskFailed(job.get("last_error") or f"No upstream serves {task.action.key}")
        waits: list[float] = []
        last: UpstreamError | None = None
        refused: UpstreamError | None = None
        ctx = self._context(task)
        for adapter in candidates:
            name, limit = adapter.deployment.name, adapter.deployment.max_concurrency
            cooling = self.admission.cooling(name)
            if cooling > 0:
                waits.append(cooling)
                continue
            if not self.admission.acquire(name, task.id, limit):
                waits.append(BUSY_RETRY_SECONDS)
                continue
            began = time.monotonic()
            try:
                outcome = await adapter.start(task, ctx)
            except UpstreamError as exc:
                self.health.record(name, time.monotonic() - began, exc)  # (not out_of_reach: no call made)
                self.admission.release(name, task.id)
                if exc.out_of_reach:  # its own table refused before any call: the next one may serve it
                    refused = refused or exc
                    continue
                log.warning("upstream %s refused task %s: %s", name, task.id, exc)
                record_upstream_error(name, upstream_error_kind(exc.status))
                if not exc.retryable:
                    raise TaskFailed(str(exc)) from exc
                if exc.rate_limited:
                    self.admission.cool_down(name, exc.retry_after)
                    self.health.cooling_down(name, self.admission.cooling(name))
                    waits.append(self.admission.cooling(name))
                last = exc
                continue
            self.health.record(name, time.monotonic() - began)
            if isinstance(outcome, Finished):  # a synchronous upstream answered with the result
                return await self._finish(task, adapter, outcome)
            assert isinstance(outcome, Started)
            return Progress(
                poll_in=outcome.poll_in,
                job={
                    "stage": "upstream",
                    "deployment": name,
                    "handle": outcome.handle,
                    "tried": [*tried, name],
                    "started_at": time.time(),
                },
            )
        if waits:  # someone will take it soon: waiting is not a failure
            return Progress(poll_in=min(waits), job=job)
        if refused is not None and last is None:  # no deployment can make this request: no use retrying
            raise TaskFailed(str(refused))
        raise TransientFailure(f"Upstream error: {last}")

    async def _finish(self, task: TaskInput, adapter: Adapter, outcome: Finished) -> Done:
        try:
            outputs = await collect(self.downloads, outcome.files, adapter.deployment.max_output_bytes)
        except TaskFailed:
            self.admission.release(adapter.deployment.name, task.id)
            raise
        self.admission.release(adapter.deployment.name, task.id)
        # fixed documented fields (e.g. progress: "1.00") belong to the wire format, whoever made the media
        return Done(outputs=outputs, extra={**task.action.result_extra, **outcome.extra})

    async def _partial(self, adapter: Adapter, made: Finished) -> Done:
        """The files made so far (a staged upstream's first audio), downloaded like a result's."""
        outputs = await collect(self.downloads, made.files, adapter.deployment.max_output_bytes)
        return Done(outputs=outputs, extra=made.extra)

    def _context(self, task: TaskInput) -> Context:
        base = self.public_url or task.public_base_url
        webhook = webhook_url(self.signer, base, task.id) if self.signer and base else None
        return Context(params=task.params, refs=task.refs, file_link=self._file_link, webhook_url=webhook)

    def _file_link(self, row: Task, kind: str, index: int) -> str:
        """A signed link to a file a referenced task produced, for the upstream to fetch. It must be able to
        reach our public address (RUNAPI_PUBLIC_URL, or the address the task was created at)."""
        files = ((row.result or {}).get("files") or {}).get(kind) or []
        if not 0 <= index < len(files):
            raise TaskFailed(f"Source task {row.id} has no {kind[:-1]} at index {index}")
        if self.signer is None:
            raise TaskFailed("Referenced files cannot be passed to this upstream")
        base = self.public_url or row.public_base_url or ""
        return self.signer.url(base, files[index]["key"], int(time.time() + FILE_LINK_TTL))

    async def aclose(self) -> None:
        for adapter in self.adapters:
            await adapter.aclose()
        for client in self.owned_clients:
            await client.aclose()


class RoutedProvider(Provider):
    """The Provider the worker sees for one deployment name: submit only records that the task waits for an
    upstream; every upstream call happens in poll, so it is retried, limited and persisted like the rest."""

    def __init__(self, name: str, router: MediaRouter):
        self.name = name
        self.router = router

    async def submit(self, task: TaskInput) -> dict[str, Any]:
        return {"stage": "pending", "tried": []}

    async def poll(self, task: TaskInput, job: dict[str, Any]) -> Progress | Done:
        return await self.router.poll(task, job, self.name)

    async def cancel(self, task: TaskInput, job: dict[str, Any]) -> bool:
        return await self.router.cancel(task, job)

    async def on_webhook(self, call: WebhookCall) -> bool:
        """Authentic when it carries the signature of the link we gave the upstream for this task (compared in
        constant time, as bytes so any input compares); the body is not read: the next poll asks the upstream."""
        if self.router.signer is None:
            return False
        given = call.query.get("signature", "")
        return hmac.compare_digest(webhook_signature(self.router.signer, call.task_id).encode(), given.encode())
