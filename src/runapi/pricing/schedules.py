"""Prices, read from the catalogs: the price schedule of every public endpoint identity (service, action,
model) and the quote of one request. Media prices come from the families' `price` blocks, LLM token prices from
llm_models.yaml. A quote is computed by the very functions a create uses (tasks.submit.reservation_cents after
tasks.submit.validated; llm.billing.reservation_cents), so it cannot drift from what a create reserves; it
reserves and charges nothing.

`service` is a catalog family (`nano_banana`) or `llm` for the LLM models (action: their kind, chat or embedding).
Clients that spell families with hyphens (`nano-banana`, the MCP contract's slugs) are understood; answers use the
catalog's spelling."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from ..auth.principal import Principal, require_api_key
from ..catalog import Action, ModelSpec, catalog_dir, get_catalog
from ..catalog.validation import INT64_MAX
from ..errors import BadRequest, invalid, missing_parameter
from ..llm import billing as llm_billing
from ..llm.models import PATH as LLM_MODELS_PATH
from ..llm.models import LlmModel, llm_models
from ..tasks.submit import reservation_cents, validated

LLM_SERVICE = "llm"
CURRENCY = "USD"  # integer cents of the account balance


class BillingStrategy(enum.StrEnum):
    FLAT = "flat"  # one price per call
    TIERED = "tiered"  # per call, the price picked by a parameter's value (billing_config.tiers)
    PER_UNIT = "per_unit"  # unit price × the quantity in billing_config.quantity_param
    TIERED_PER_UNIT = "tiered_per_unit"  # both
    PER_TOKEN = "per_token"  # LLM: cents per million tokens of each kind


class EstimateBasis(enum.StrEnum):
    EXACT = "exact"  # a media task is charged what it reserved once it completes (refunded if it fails)
    MAXIMUM = "maximum"  # an LLM call reserves the most it can cost and is settled to its real usage


@dataclass(frozen=True)
class PriceSchedule:
    """One priced endpoint identity. `model` is None where the endpoint takes no model."""

    service: str
    action: str
    model: str | None
    billing_unit: str
    billing_strategy: BillingStrategy
    unit_price_cents: int | None = None
    input_price_per_1m_cents: int | None = None
    output_price_per_1m_cents: int | None = None
    cache_read_price_per_1m_cents: int | None = None
    cache_write_price_per_1m_cents: int | None = None
    cache_write_5m_price_per_1m_cents: int | None = None
    cache_write_1h_price_per_1m_cents: int | None = None
    billing_config: dict[str, Any] = field(default_factory=dict)
    pricing_status: str = "available"
    catalog_status: str = "active"
    currency: str = CURRENCY
    # the catalog's own entry for an endpoint without a model parameter (e.g. "runway"): a model filter naming
    # it finds the schedule too; not shown
    priced_as: str | None = field(default=None, compare=False)

    def matches(self, model: str) -> bool:
        return model in (self.model, self.priced_as)

    def as_json(self) -> dict[str, Any]:
        body = asdict(self)
        del body["priced_as"]
        body["billing_strategy"] = str(self.billing_strategy)
        return body


@dataclass(frozen=True)
class ScheduleList:
    as_of: str
    price_schedules: tuple[PriceSchedule, ...]

    def as_json(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "price_schedules": [s.as_json() for s in self.price_schedules]}


@dataclass(frozen=True)
class PriceQuote:
    service: str
    action: str
    model: str | None
    reservation_amount_cents: int
    estimate_basis: EstimateBasis
    as_of: str
    pricing_status: str = "available"
    currency: str = CURRENCY

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "estimate_basis": str(self.estimate_basis)}


# ------------------------------------------------------------------------------------------------ schedules


@lru_cache(maxsize=1)
def as_of() -> str:
    """When the prices last changed: the newest modification time of the catalog files (read once, as the
    catalogs are), the same in every process serving them."""
    paths = [*catalog_dir().glob("*.yaml"), LLM_MODELS_PATH]
    newest = max(path.stat().st_mtime for path in paths)
    return datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _public_model(action: Action, model: ModelSpec) -> str | None:
    return None if action.model_param == "absent" else model.id


def _billing_unit(action: Action, per: str | None) -> str:
    if per is None:
        return "per_call"
    if per.endswith("seconds"):
        return "per_second"
    if per == "output_count" and action.result.endswith("s"):
        return f"per_{action.result[:-1]}"  # images → per_image
    return f"per_{per}"


def _default_quantity(model: ModelSpec) -> float | None:
    """The quantity a request that leaves the `per` parameter out is priced at (None: it must be sent)."""
    param = model.params.get(model.price.per or "")
    if param is not None and param.default is not None and param.default_when is None:
        return float(param.default)
    return None if model.price.per_default is None else float(model.price.per_default)


def media_schedule(action: Action, model: ModelSpec) -> PriceSchedule:
    price = model.price
    strategy = {
        (False, False): BillingStrategy.FLAT,
        (True, False): BillingStrategy.TIERED,
        (False, True): BillingStrategy.PER_UNIT,
        (True, True): BillingStrategy.TIERED_PER_UNIT,
    }[(bool(price.by), price.per is not None)]
    config: dict[str, Any] = {}
    if price.by:
        config["tiers"] = {
            name: {str(value): cents for value, cents in table.items()} for name, table in price.by.items()
        }
    if price.per:
        config["quantity_param"] = price.per
        default = _default_quantity(model)
        if default is not None:
            config["default_quantity"] = int(default) if default.is_integer() else default
    return PriceSchedule(
        service=action.family,
        action=action.name,
        model=_public_model(action, model),
        billing_unit=_billing_unit(action, price.per),
        billing_strategy=strategy,
        unit_price_cents=price.cents,
        billing_config=config,
        priced_as=model.id if action.model_param == "absent" else None,
    )


def llm_schedule(model: LlmModel) -> PriceSchedule:
    config: dict[str, Any] = {}
    if model.kind == "chat":
        config["max_output_tokens"] = model.max_output  # what a call without max_tokens reserves for
    return PriceSchedule(
        service=LLM_SERVICE,
        action=model.kind,
        model=model.id,
        billing_unit="per_1m_tokens",
        billing_strategy=BillingStrategy.PER_TOKEN,
        input_price_per_1m_cents=model.input,
        output_price_per_1m_cents=model.output,
        cache_read_price_per_1m_cents=model.cache_read,
        # writes to the prompt cache: at the 5-minute price unless a 1-hour TTL is asked for
        cache_write_price_per_1m_cents=model.write_5m,
        cache_write_5m_price_per_1m_cents=model.write_5m,
        cache_write_1h_price_per_1m_cents=model.write_1h,
        billing_config=config,
    )


@lru_cache(maxsize=1)
def all_schedules() -> tuple[PriceSchedule, ...]:
    """Every schedule: the families in catalog order, then the LLM models."""
    media = [media_schedule(action, model) for action in get_catalog().actions() for model in action.models.values()]
    return (*media, *(llm_schedule(model) for model in llm_models().values()))


def _allowed(values: list[str]) -> str:
    return ", ".join(dict.fromkeys(values))


def _service(raw: str) -> str:
    """The catalog's spelling of a service a client named, hyphens or underscores (422 when unknown)."""
    name = raw.strip().lower().replace("-", "_")
    services = [s.service for s in all_schedules()]
    if name not in services:
        raise invalid(f"Invalid value for service: {raw!r}. Allowed values: {_allowed(services)}")
    return name


def _action(raw: str, service: str | None) -> str:
    name = raw.strip().lower().replace("-", "_")
    actions = [s.action for s in all_schedules() if service is None or s.service == service]
    if name not in actions:
        raise invalid(f"Invalid value for action: {raw!r}. Allowed values: {_allowed(sorted(actions))}")
    return name


def _given(value: str | None) -> str | None:
    """A filter as sent, or None when absent or blank (what the SDKs leave out)."""
    return value if value is not None and value.strip() else None


def list_schedules(service: str | None = None, action: str | None = None, model: str | None = None) -> ScheduleList:
    """The schedules matching every filter given (blank filters count as absent); a filter naming nothing
    priced is refused with 422, naming the allowed values where they are few enough to list."""
    service, action, model = _given(service), _given(action), _given(model)
    found = all_schedules()
    wanted_service = _service(service) if service is not None else None
    if wanted_service is not None:
        found = tuple(s for s in found if s.service == wanted_service)
    if action is not None:
        wanted_action = _action(action, wanted_service)
        found = tuple(s for s in found if s.action == wanted_action)
    if model is not None:
        within, found = found, tuple(s for s in found if s.matches(model))
        if not found:
            models = [s.model for s in within if s.model is not None]
            listed = wanted_service is not None and action is not None and models
            raise invalid(
                f"Invalid value for model: {model!r}" + (f". Allowed values: {_allowed(models)}" if listed else "")
            )
    return ScheduleList(as_of(), found)


# ----------------------------------------------------------------------------------------------------- quotes


def _text(body: dict[str, Any], name: str, required: bool) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise missing_parameter(name)
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid type for {name}: expected a string")
    return value


def _integer(params: dict[str, Any], name: str, minimum: int, required: bool) -> int | None:
    value = params.get(name)
    if value is None:
        if required:
            raise missing_parameter(name)
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"Invalid type for {name}: expected an integer")
    if value < minimum:
        raise invalid(f"{name} must be at least {minimum} (got {value})")
    if value > INT64_MAX:
        raise invalid(f"{name} must be at most {INT64_MAX} (got {value})")
    return value


def quote(who: Principal, body: Any) -> PriceQuote:
    """What a create of `params` (with `model`) on `service`/`action` would reserve, refused exactly as that
    create would refuse it (400 for a missing parameter, 422 for an invalid one or a model the key may not use).
    For `llm`, params are `input_tokens` (required), `max_tokens` and `caching` (the request has cache
    breakpoints): the most such a call can cost, which is what it reserves."""
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    require_api_key(who)
    service = _service(_text(body, "service", required=True) or "")
    action = _action(_text(body, "action", required=True) or "", service)
    model = _text(body, "model", required=False)
    params = body.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise invalid("Invalid type for params: expected an object")
    if service == LLM_SERVICE:
        return _llm_quote(who, action, model, params)
    spec = get_catalog().action(service, action)
    assert spec is not None  # _service and _action found it among the schedules, which come from the catalog
    request = {**params, "model": model} if model is not None else params
    valid = validated(who, spec, request)  # the create's own checks, the key's allowed models included
    return PriceQuote(
        service=service,
        action=action,
        model=_public_model(spec, valid.model) if valid.model else None,
        reservation_amount_cents=reservation_cents(valid),
        estimate_basis=EstimateBasis.EXACT,
        as_of=as_of(),
    )


def _llm_quote(who: Principal, kind: str, model_id: str | None, params: dict[str, Any]) -> PriceQuote:
    if model_id is None:
        raise missing_parameter("model")
    model = llm_models().get(model_id)
    if model is None or model.kind != kind:
        ids = [m.id for m in llm_models().values() if m.kind == kind]
        raise invalid(f"Invalid value for model: {model_id!r}. Allowed values: {_allowed(ids)}")
    if who.allowed_models is not None and model.id not in who.allowed_models:
        raise invalid(f"Model {model.id} is not allowed for this API key")  # as the LLM surfaces refuse it
    input_tokens = _integer(params, "input_tokens", 0, required=True) or 0
    max_tokens = _integer(params, "max_tokens", 1, required=False)
    caching = params.get("caching")
    if caching is None:
        caching = False  # null counts as absent, as for every parameter
    if not isinstance(caching, bool):
        raise invalid("Invalid type for caching: expected a boolean")
    return PriceQuote(
        service=LLM_SERVICE,
        action=kind,
        model=model.id,
        reservation_amount_cents=llm_billing.reservation_cents(model, input_tokens, max_tokens, caching),
        estimate_basis=EstimateBasis.MAXIMUM,
        as_of=as_of(),
    )
