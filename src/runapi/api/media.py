"""The two generic handlers every media endpoint uses: create a task, read a task. Routes come from the catalog."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from ..auth.principal import require_api_key
from ..billing.ledger import spent_since, window_start
from ..catalog import Action, Catalog
from ..catalog.validation import validate
from ..errors import ApiError, task_not_found
from ..policy.guardrails import check_guardrail
from ..providers import InputRejected
from ..tasks import engine
from ..tasks.views import status_body
from .context import authenticated, base_url, runtime
from .responses import Json, json_body

MAX_IDEMPOTENCY_KEY = 255


async def enforce_key_limit(rt, who) -> None:
    """A key at or past its limit for the current UTC window is refused; the request that crosses it is not."""
    if who.credit_limit_cents is None:
        return
    async with rt.db.read() as conn:
        spent = await spent_since(conn, who.account_id, window_start(who.credit_limit_reset_interval),
                                  api_key_id=who.key_id)
    if spent >= who.credit_limit_cents:
        raise ApiError(403, "API key credit limit exceeded")


async def preflight(provider, action: Action, model, params) -> None:
    """A provider that can tell from the request alone (e.g. an uploaded input too large) that the task would
    fail refuses it here, before any credit is reserved."""
    check = getattr(provider, "preflight", None)
    if check is None:
        return
    try:
        await check(action, model, params)
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
        await enforce_key_limit(rt, who)
        await engine.resolve_refs(rt.db, who.account_id, action, params)
        price = model.quote(params) if model else 0
        model_id = model.id if model else None
        candidates = rt.providers.candidates(action.family, model_id, action.name)
        guarded = await check_guardrail(rt, who, model_id, candidates)
        await preflight(rt.providers.get(guarded.provider), action, model, params)
        task, created = await engine.create_task(
            rt.db, account_id=who.account_id, api_key_id=who.key_id, family=action.family, action=action.name,
            model=model_id, params=params, price_cents=price, provider=guarded.provider,
            public_base_url=base_url(request), idempotency_key=idem, guardrail_id=guarded.guardrail_id,
            provider_job=rt.providers.initial_job(guarded.barred))
        if created:
            rt.wake_worker()
        if action.sync:
            return await sync_result(request, task["id"], who.account_id)
        return Json({"id": task["id"], "status": "processing"}, status_code=202)

    return create


SYNC_TIMEOUT_SECONDS = 120
TASK_KEYS = ("id", "status", "model")


async def sync_result(request: Request, task_id: str, account_id: int) -> Json:
    """Synchronous endpoints run as ordinary durable tasks; the request waits for the result body."""
    rt = runtime(request)
    await rt.wait_finished(task_id, SYNC_TIMEOUT_SECONDS)
    task = await engine.get_task(rt.db, task_id, account_id)
    body = status_body(task, rt.signer, base_url(request), rt.settings.generated_url_ttl_seconds)
    if body["status"] == "failed":
        raise ApiError(422, body["error"])
    if body["status"] != "completed":
        raise ApiError(503, "The request is taking longer than expected; try again",
                       headers={"Retry-After": "5"})
    return Json({k: v for k, v in body.items() if k not in TASK_KEYS})


def status_endpoint(action: Action):
    async def status(request: Request) -> Json:
        rt = runtime(request)
        who = await authenticated(request)
        task = await engine.get_task(rt.db, request.path_params["task_id"], who.account_id)
        if task is None or task["family"] != action.family or task["action"] != action.name:
            raise task_not_found()
        return Json(status_body(task, rt.signer, base_url(request), rt.settings.generated_url_ttl_seconds))

    return status


def media_routes(catalog: Catalog) -> list[Route]:
    routes = []
    for action in catalog.actions():
        routes.append(Route(action.path, create_endpoint(action), methods=["POST"], name=f"{action.key}:create"))
        routes.append(Route(action.path + "/{task_id}", status_endpoint(action), methods=["GET"],
                            name=f"{action.key}:status"))
    return routes
