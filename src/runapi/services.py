"""The composition root: everything a running server or worker shares — settings, database, storage, providers,
the coordinator, caches and background loops — built once by `build_services` and owned by whoever runs them:
the web app (`runapi.app`, in its lifespan) or `runapi worker` (which never imports the web layer).

Each component receives the collaborators it uses: the task worker and the callback dispatcher are handed this
object but type it as the slice they need (`tasks.worker.WorkerServices`, `callbacks.delivery.DispatcherServices`),
so nothing below this module imports it and there is no cycle through it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from .auth.principal import Authenticator
from .billing.batcher import LedgerBatcher, refund_abandoned
from .callbacks.delivery import CallbackDispatcher
from .coord import Coordinator, make_coordinator
from .llm.router import LlmRouter
from .net.safe_http import safe_client
from .observability import tracing
from .policy.guardrails import GuardrailCache
from .providers import ProviderRegistry
from .providers.sandbox import SandboxProvider
from .providers.upstream import build_router
from .ratelimit import RateLimiter, RateLimits
from .retention import Retention, run_expiry
from .settings import Settings
from .storage import Storage, UrlSigner, make_storage
from .store import Database
from .tasks import engine
from .tasks.worker import TaskWorker

log = logging.getLogger("runapi")

Job = Callable[[], Awaitable[object]]


@dataclass
class Services:
    settings: Settings
    db: Database
    storage: Storage
    signer: UrlSigner
    providers: ProviderRegistry
    http: httpx.AsyncClient  # SSRF-safe client for task inputs and upstream result downloads
    authenticate: Authenticator
    files_http: httpx.AsyncClient  # SSRF-safe client for file uploads by URL (https only on public installs)
    coord: Coordinator
    ledger: LedgerBatcher
    guardrails: GuardrailCache
    llm: LlmRouter  # the LLM deployments, built at start: a bad RUNAPI_LLM_UPSTREAMS stops the start
    rate_limits: RateLimiter
    callback_wake: asyncio.Event = field(default_factory=asyncio.Event)
    worker: TaskWorker | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _finish_waiters: dict[str, asyncio.Event] = field(default_factory=dict)
    _loops: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(cls, settings: Settings, run_workers: bool | None = None) -> Services:
        """Build every component, connect them, and start the background loops (and the task and callback
        workers when `run_workers`, default RUNAPI_RUN_WORKERS)."""
        tracing.configure(settings)  # first: TracingUnavailable names the missing extra before anything starts
        db = Database(
            settings.resolved_database_url, settings.sqlite_synchronous, settings.db_pool_size, settings.db_max_overflow
        )
        await db.create_schema()
        http = safe_client(
            allow_private=settings.allow_private_network,
            timeout=settings.fetch_timeout_seconds,
            deadline=settings.resolved_fetch_deadline,
            per_tenant=settings.fetch_account_concurrency,
        )
        storage = make_storage(settings)
        signer = UrlSigner(settings.resolved_secret_key, settings.files_url)
        coord = make_coordinator(settings.redis_url, settings.redis_channel_prefix)
        await coord.start()
        sandbox = SandboxProvider(
            http, settings.sandbox_delay_seconds, settings.fetch_max_bytes, storage, signer, settings.media_workers
        )
        upstreams = build_router(settings.media_upstreams, http, sandbox.inputs, signer, settings.public_url)
        svc = cls(
            settings=settings,
            db=db,
            storage=storage,
            signer=signer,
            providers=ProviderRegistry(sandbox, upstreams),
            http=http,
            authenticate=Authenticator(db, settings.auth_cache_seconds),
            coord=coord,
            ledger=LedgerBatcher(db),
            guardrails=GuardrailCache(db, settings.auth_cache_seconds),
            llm=LlmRouter.from_settings(settings),
            rate_limits=RateLimiter(
                RateLimits(
                    settings.account_rpm_limit, settings.account_tpm_limit, settings.account_max_parallel_requests
                ),
                settings.redis_url,
                settings.redis_channel_prefix,
                settings.rate_limit_lease_seconds,
            ),
            files_http=safe_client(
                allow_private=settings.allow_private_network,
                timeout=settings.fetch_timeout_seconds,
                https_only=not settings.allow_private_network,
                deadline=settings.resolved_fetch_deadline,
                per_tenant=settings.fetch_account_concurrency,
            ),
        )
        svc.authenticate.attach(coord)
        svc.guardrails.attach(coord)
        coord.on_task_created(svc._wake_local_worker)
        coord.on_task_finished(svc._finished_somewhere)
        if settings.run_workers if run_workers is None else run_workers:
            svc.start_workers()
        svc._loop(2.0, svc.authenticate.flush_last_used, "recording key usage times", "last-used-flush")
        retention = Retention.from_settings(settings)
        svc._loop(
            float(settings.retention_interval_seconds),
            lambda: run_expiry(db, storage, retention),
            "retention (expiring files, media, tasks, usage, stored responses)",
            "retention",
            run_now=True,
        )
        svc._loop(
            60.0,
            lambda: refund_abandoned(db, svc.ledger, settings.llm_abandoned_after_seconds),
            "refunding abandoned LLM reservations",
            "llm-janitor",
            run_now=True,
        )
        return svc

    def _loop(self, seconds: float, job: Job, what: str, name: str, run_now: bool = False) -> None:
        self._loops.append(asyncio.create_task(self._every(seconds, job, what, run_now), name=name))

    async def _every(self, seconds: float, job: Job, what: str, run_now: bool = False) -> None:
        """Run `job` every `seconds` until stopped, and once more on the way out (a last flush)."""
        if run_now:
            await self._run_logged(job, what)
        while True:
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=seconds)
                stopping = True
            except TimeoutError:
                stopping = False
            await self._run_logged(job, what)
            if stopping:
                return

    @staticmethod
    async def _run_logged(job: Job, what: str) -> None:
        try:
            await job()
        except Exception:
            log.exception("%s failed", what)

    def start_workers(self) -> None:
        self.worker = TaskWorker(self)
        callbacks_http = safe_client(
            allow_private=self.settings.allow_private_network, timeout=self.settings.callback_timeout_seconds
        )
        callbacks_http.follow_redirects = False  # a callback goes to the URL given, nowhere else
        dispatcher = CallbackDispatcher(self, callbacks_http)
        self._loops += [
            asyncio.create_task(self.worker.run(self._stop), name="task-worker"),
            asyncio.create_task(dispatcher.run(self._stop), name="callback-dispatcher"),
        ]

    def task_finished(self, task_id: str) -> None:
        """A worker here finished a task: deliver its callback now, and tell whoever waits on it, anywhere."""
        self.callback_wake.set()
        self.coord.task_finished(task_id)

    def _finished_somewhere(self, task_id: str) -> None:
        waiter = self._finish_waiters.get(task_id)
        if waiter:
            waiter.set()

    async def wait_finished(self, task_id: str, timeout: float) -> None:
        """Until the task finishes here or in another process (a coordinator signal), with a database check as
        the backstop for a missed signal: every 0.25 s with an in-process coordinator, every 2 s with a shared one."""
        event = self._finish_waiters.setdefault(task_id, asyncio.Event())
        poll = 2.0 if self.coord.shared else 0.25
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while not await engine.is_terminal(self.db, task_id):
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    return
                try:
                    await asyncio.wait_for(event.wait(), timeout=min(poll, remaining))
                except TimeoutError:
                    pass
        finally:
            self._finish_waiters.pop(task_id, None)

    def wake_worker(self) -> None:
        """A task was created: wake an idle worker, in this process or any other."""
        self.coord.task_created()

    def _wake_local_worker(self) -> None:
        if self.worker:
            self.worker.wake.set()

    async def stop(self) -> None:
        self._stop.set()
        if self._loops:
            await asyncio.wait(self._loops, timeout=15)
        await self.http.aclose()
        await self.files_http.aclose()
        await self.providers.aclose()
        await self.llm.close()
        await self.rate_limits.aclose()
        await self.ledger.close()
        await self.coord.close()
        await self.db.dispose()


async def build_services(settings: Settings, run_workers: bool | None = None) -> Services:
    """The services of one process, started (see `Services.start`); `await services.stop()` when done."""
    return await Services.start(settings, run_workers=run_workers)
