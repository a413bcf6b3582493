"""The two generic handlers every media endpoint uses: create a task, read a task. Routes come from the catalog."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from ..auth.principal import require_api_key
from ..billing.limits import key_limits
from ..catalog import Action, Catalog
from ..catalog.validation import validate
from ..errors import ApiError, task_not_found
from ..net.safe_http import refused_destination
from ..policy.guardrails import check_guardrail
from ..providers import InputRejected
from ..tasks import engine
from ..tasks.model import NewTask, Task, TaskState
from ..tasks.views import retry_after_seconds, status_body
from .context import authenticated, base_url, runtime
from .responses import Json, json_body

MAX_IDEMPOTENCY_KEY = 255
MAX_CLIENT_REQUEST_ID = 512
TASK_ID_HEADER = "X-RunAPI-Task-Id"
CLIENT_REQUEST_ID_HEADER = "X-Client-Request-Id"


async def preflight(provider, action: Action, model, params, refs=None) -> None:
    """A provider that can tell from the request alone (e.g. an uploaded input too large) that the task would
    fail refuses it here, before any credit is reserved."""
    check = getattr(provider, "preflight", None)
    if check is None:
        return
    try:
        await check(action, model, params, refs=refs)
    except InputRejected as exc:
        raise ApiError(422, str(exc)) from None


def create_endpoint(action: Action):
    async def create(request: Request) -> Json:
        rt = runtime(request)
        who = await authenticated(request)
        require_api_key(who)
        body = await json_body(request)
        model, params = validate(action, body)
        if who.allowed_models is not None and model and model.id not in who.allowed_models:
            raise ApiError(422, f"Model {model.id} is not allowed for this API key")  # the docs: 422
        idem = request.headers.get("idempotency-key", "").strip() or None
        if idem and len(idem) > MAX_IDEMPOTENCY_KEY:
            raise ApiError(400, f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY} characters")
        client_request_id = client_request_id_of(request)
        model_id = model.id if model else None
        if idem:
            # a retry of a request already made answers with its task before anything that could refuse it
            # now (the key's limit, which the original may have used up; a guardrail changed since)
            fingerprint = engine.request_fingerprint(action.family, action.name, model_id, params)
            existing = await engine.find_replay(rt.db, who.account_id, idem, action.family, action.name, fingerprint)
            if existing:
                return await created_answer(request, action, existing, replayed=True,
                                            client_request_id=client_request_id)
        await check_callback_url(params.get("callback_url"), rt.settings.allow_private_network)
        refs = await engine.resolve_refs(rt.db, who.account_id, action, params)
        price = model.quote(params) if model else 0
        candidates = rt.providers.candidates(action.family, model_id, action.name)
        guarded = await check_guardrail(rt, who, model_id, candidates)
        await preflight(rt.providers.get(guarded.provider), action, model, params, refs)
        task, created = await engine.create_task(rt.db, NewTask(
            account_id=who.account_id, api_key_id=who.key_id, family=action.family, action=action.name,
            model=model_id, params=params, price_cents=price, provider=guarded.provider,
            public_base_url=base_url(request), idempotency_key=idem, guardrail_id=guarded.guardrail_id,
            member_guardrail_id=guarded.member_guardrail_id,
            provider_job=rt.providers.initial_job(guarded.barred), client_request_id=client_request_id,
            # checked and charged with the reservation, in one step: only the request crossing a limit runs
            limits=key_limits(who.key_id, who.credit_limit_cents, who.credit_limit_reset_interval) + guarded.limits))
        if created:
            rt.wake_worker()
        return await created_answer(request, action, task, replayed=not created, client_request_id=client_request_id)

    return create


async def check_callback_url(url: str | None, allow_private: bool) -> None:
    """A callback the delivery worker would refuse to send (loopback/private address, the SSRF policy of
    net/safe_http.py) is refused now, naming the setting, instead of the task completing and never calling."""
    if url and await refused_destination(url, allow_private):
        raise ApiError(422, "callback_url resolves to a loopback or private address, which callbacks are not "
                            "sent to; set RUNAPI_ALLOW_PRIVATE_NETWORK=true to allow it (local development)")


def client_request_id_of(request: Request) -> str | None:
    """X-Client-Request-Id: the client's own correlation id, kept with the task. Printable ASCII only, so it
    can be echoed in a header and logged as it is."""
    value = request.headers.get(CLIENT_REQUEST_ID_HEADER)
    if value is None or not value.strip():
        return None
    if len(value) > MAX_CLIENT_REQUEST_ID or not all(" " <= ch <= "~" for ch in value):
        raise ApiError(400, f"{CLIENT_REQUEST_ID_HEADER} must be at most {MAX_CLIENT_REQUEST_ID} printable "
                            "ASCII characters")
    return value


def task_headers(task: Task, client_request_id: str | None = None) -> dict[str, str]:
    headers = {TASK_ID_HEADER: task.id}
    echoed = client_request_id or task.client_request_id
    if echoed:
        headers[CLIENT_REQUEST_ID_HEADER] = echoed
    return headers


async def created_answer(request: Request, action: Action, task: Task, *, replayed: bool,
                         client_request_id: str | None) -> Json:
    """The answer to a create: 202 {"id", "status"}; for an Idempotency-Key replay, the same status code with the
    task's current status body and "task_replayed": true (a retry looks like the original answer, plus news)."""
    headers = task_headers(task, client_request_id)
    if action.sync:
        return await sync_result(request, task.id, task.account_id, headers)
    if not replayed:
        return Json({"id": task.id, "status": TaskState.QUEUED.wire}, status_code=202, headers=headers)
    rt = runtime(request)  # the replayed row was read just now: it is the task's current state
    body = status_body(task, rt.signer, base_url(request), rt.settings.generated_url_ttl_seconds)
    if body["status"] == "processing":
        headers["Retry-After"] = str(retry_after_seconds(task))
    return Json({**body, "task_replayed": True}, status_code=202, headers=headers)


SYNC_TIMEOUT_SECONDS = 120
TASK_KEYS = ("id", "status", "model")


async def sync_result(request: Request, task_id: str, account_id: int, headers: dict[str, str]) -> Json:
    """Synchronous endpoints run as ordinary durable tasks; the request waits for the result body."""
    rt = runtime(request)
    await rt.wait_finished(task_id, SYNC_TIMEOUT_SECONDS)
    task = await engine.get_task(rt.db, task_id, account_id)
    if task is None:  # not seen: it was created by this account just now, and tasks are never deleted
        raise task_not_found()
    body = status_body(task, rt.signer, base_url(request), rt.settings.generated_url_ttl_seconds)
    if task.state is TaskState.FAILED:
        raise ApiError(422, body["error"], headers=headers)
    if task.state is not TaskState.COMPLETED:
        raise ApiError(503, "The request is taking longer than expected; try again",
                       headers={**headers, "Retry-After": "5"})
    return Json({k: v for k, v in body.items() if k not in TASK_KEYS}, headers=headers)


def status_endpoint(action: Action):
    async def status(request: Request) -> Json:
        rt = runtime(request)
        who = await authenticated(request)
        task = await engine.get_task(rt.db, request.path_params["task_id"], who.account_id)
        if task is None or task.family != action.family or task.action != action.name:
            raise task_not_found()
        body = status_body(task, rt.signer, base_url(request), rt.settings.generated_url_ttl_seconds)
        headers = task_headers(task)
        if body["status"] == "processing":  # the SDKs poll by it
            headers["Retry-After"] = str(retry_after_seconds(task))
        return Json(body, headers=headers)

    return status


def media_routes(catalog: Catalog) -> list[Route]:
    routes = []
    for action in catalog.actions():
        routes.append(Route(action.path, create_endpoint(action), methods=["POST"], name=f"{action.key}:create"))
        routes.append(Route(action.path + "/{task_id}", status_endpoint(action), methods=["GET"],
                            name=f"{action.key}:status"))
    return routes
