"""Creating a media task on behalf of a caller: the one create path behind POST /api/v1/<family>/<action> and
the web console's playground. Validation (catalog), the key's allowed models, the callback URL, references to
earlier tasks, the price, the guardrails, the provider's preflight and the reservation against every limit
all happen here, in that order, so both doors refuse and charge exactly alike. Refusals are domain errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..auth.principal import Principal, require_api_key
from ..billing.limits import key_limits
from ..callbacks import allowlist
from ..catalog import Action, ModelSpec
from ..catalog.validation import validate
from ..domain.task import NewTask, Task
from ..errors import InvalidInput
from ..net.safe_http import refused_destination
from ..observability import tracing
from ..policy.guardrails import GuardrailCache, check_guardrail
from ..providers import InputRejected, Provider, ProviderRegistry
from ..settings import Settings
from ..storage import UrlSigner
from ..store import Database
from . import engine
from .file_inputs import resolve_file_inputs


class SubmitServices(Protocol):
    """What creating a task uses of the services (runapi.services.Services is one)."""

    settings: Settings
    db: Database
    signer: UrlSigner
    providers: ProviderRegistry
    guardrails: GuardrailCache

    def wake_worker(self) -> None:
        """A task was created: wake an idle worker, here or in another process."""


@dataclass(frozen=True)
class ValidRequest:
    """A create request checked against the catalog (defaults applied) and the key's allowed models."""

    action: Action
    model: ModelSpec | None
    params: dict[str, Any]

    @property
    def model_id(self) -> str | None:
        return self.model.id if self.model else None


def reservation_cents(request: ValidRequest) -> int:
    """What creating `request` reserves (and charges once it completes): its model's catalog price for its params.
    The one price of a create: POST /api/v1/price_quotes answers with it too, so a quote cannot drift from it."""
    return request.model.quote(request.params) if request.model else 0


@dataclass(frozen=True)
class Submitted:
    task: Task  # the new task (a replayed one for an Idempotency-Key seen before)
    created: bool  # False: an Idempotency-Key replay of an earlier task, nothing charged now


async def preflight(
    provider: Provider, action: Action, model: ModelSpec | None, params: dict[str, Any], refs: Any = None
) -> None:
    """A provider that can tell from the request alone (e.g. an uploaded input too large) that the task would
    fail refuses it here, before any credit is reserved."""
    check = getattr(provider, "preflight", None)
    if check is None:
        return
    try:
        await check(action, model, params, refs=refs)
    except InputRejected as exc:
        raise InvalidInput(str(exc)) from None


async def check_callback_url(url: str | None, allow_private: bool) -> None:
    """A callback the delivery worker would refuse to send (loopback/private address, the SSRF policy of
    net/safe_http.py) is refused now, naming the setting, instead of the task completing and never calling."""
    if url and await refused_destination(url, allow_private):
        raise InvalidInput(
            "callback_url resolves to a loopback or private address, which callbacks are not "
            "sent to; set RUNAPI_ALLOW_PRIVATE_NETWORK=true to allow it (local development)"
        )


async def check_callback_allowed(db: Database, account_id: int, url: str | None) -> None:
    """A callback_url off the account's allow-list (when it has one) is refused, naming the list's endpoint."""
    if not url:
        return
    entries = await allowlist.get(db, account_id)
    if not allowlist.allowed(url, entries):  # 422 like the other callback_url refusals
        raise InvalidInput(
            f"callback_url {url[:200]} is not on this account's callback URL allow-list "
            f"({', '.join(e[:100] for e in entries[:5])}{', ...' if len(entries) > 5 else ''}); "
            "an account admin sets it with PUT /api/v1/me/callback_url_allowlist"
        )


def validated(who: Principal, action: Action, body: Any) -> ValidRequest:
    """The request body checked against the catalog and the key's allowed models (the first refusals a create
    can meet, before anything about the HTTP request's headers)."""
    require_api_key(who)
    model, params = validate(action, body)
    if who.allowed_models is not None and model and model.id not in who.allowed_models:
        raise InvalidInput(f"Model {model.id} is not allowed for this API key")  # the docs: 422
    return ValidRequest(action, model, params)


async def submit_task(
    rt: SubmitServices,
    who: Principal,
    request: ValidRequest,
    *,
    public_base_url: str,
    idempotency_key: str | None = None,
    client_request_id: str | None = None,
) -> Submitted:
    """Price a validated request, route it through the caller's guardrails and commit the task with its
    reservation (checked against the key's and the guardrails' limits in the same step)."""
    require_api_key(who)
    action, model, params, model_id = request.action, request.model, request.params, request.model_id
    if idempotency_key:
        # a retry of a request already made answers with its task before anything that could refuse it now
        # (the key's limit, which the original may have used up; a guardrail changed since)
        fingerprint = engine.request_fingerprint(action.family, action.name, model_id, params)
        existing = await engine.find_replay(
            rt.db, who.account_id, idempotency_key, action.family, action.name, fingerprint
        )
        if existing:
            return Submitted(existing, created=False)
    # stored files named as inputs become their signed links (the fingerprint above keeps the ids as sent)
    spec = model.params if model else action.params
    params = await resolve_file_inputs(rt.db, rt.signer, who.account_id, spec, params, public_base_url)
    await check_callback_url(params.get("callback_url"), rt.settings.allow_private_network)
    await check_callback_allowed(rt.db, who.account_id, params.get("callback_url"))
    refs = await engine.resolve_refs(rt.db, who.account_id, action, params)
    price = reservation_cents(request)
    candidates = rt.providers.candidates(action.family, model_id, action.name)
    guarded = await check_guardrail(rt, who, model_id, candidates)
    await preflight(rt.providers.get(guarded.provider), action, model, params, refs)
    with tracing.span(
        "task.create",
        family=action.family,
        action=action.name,
        model=model_id,
        provider=guarded.provider,
        provider_kind=rt.providers.kind(guarded.provider),
    ) as span:
        task, created = await engine.create_task(
            rt.db,
            NewTask(
                account_id=who.account_id,
                api_key_id=who.key_id,
                family=action.family,
                action=action.name,
                model=model_id,
                params=params,
                price_cents=price,
                provider=guarded.provider,
                public_base_url=public_base_url,
                idempotency_key=idempotency_key,
                guardrail_id=guarded.guardrail_id,
                member_guardrail_id=guarded.member_guardrail_id,
                provider_job=rt.providers.initial_job(guarded.barred),
                client_request_id=client_request_id,
                request_params=request.params,
                # checked and charged with the reservation, in one step: only the request crossing a limit runs
                limits=key_limits(who.key_id, who.credit_limit_cents, who.credit_limit_reset_interval) + guarded.limits,
            ),
        )
        span.set(task_id=task.id, created=created)
        if created:
            tracing.remember_task(task.id)  # its worker steps link back to this span
    if created:
        rt.wake_worker()
    return Submitted(task, created)
