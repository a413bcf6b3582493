"""Typed view of the declarative catalog (families/*.yaml): families, actions, models, parameters, prices."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from .conditions import shown
from .sandbox_schema import SandboxSpec, default_length, parse_sandbox

PARAM_KEYS = (
    "type",
    "items",
    "required",
    "required_when",
    "forbidden_when",
    "only_models",
    "enum",
    "default",
    "min",
    "max",
    "min_length",
    "max_length",
    "min_items",
    "max_items",
    "format",
    "task_ref",
    "description",
    "fields",
    "max_total_length",
    "default_when",
    "total_of",
    "record_ref",
    "effect",
    "reason",
)

# Parameters the platform consumes itself, whatever the action (so no generator or upstream mapping reads them):
# name → what uses it. Every other parameter needs a reader, or `effect: none` with a `reason` (FORMAT.md).
PLATFORM_PARAMS = {
    "callback_url": "the callback worker posts the task's final status there (callbacks/delivery.py)",
    "model": "routing: picks the model spec, price and provider",
}
ACTION_KEYS = (
    "summary",
    "result",
    "result_fields",
    "sync",
    "model_param",
    "default_model",
    "echo",
    "params",
    "rules",
    "sandbox",
    "models",
    "examples",
    "status_extra",
    "stages",
    "result_extra",
)
MODEL_KEYS = ("description", "params", "sandbox", "price")


@dataclass(frozen=True)
class Param:
    name: str
    type: str = "string"
    items: str | None = None
    required: bool = False
    required_when: str | None = None
    forbidden_when: str | None = None
    only_models: tuple[str, ...] | None = None
    enum: tuple[Any, ...] | None = None
    default: Any = None
    # the default applies only where this holds (a documented example omits a param its table requires there)
    default_when: str | None = None
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    format: str | None = None
    task_ref: tuple[str, ...] | None = None
    description: str | None = None
    # arrays of objects: each item's own fields, and a cap on one text field summed over all items
    fields: tuple[Param, ...] | None = None
    max_total_length: dict[str, Any] | None = None  # {field: text, max: 5000}
    # a total the items carry: {items: multi_prompt, field: duration_seconds, when: "multi_shots == true"} makes
    # this param the sum of that field where `when` holds (a different value sent is refused)
    total_of: dict[str, Any] | None = None
    # the id of a record a completed task of this account produced: {family/action: dotted path in its result}
    record_ref: dict[str, str] | None = None
    # `effect: none` + `reason`: accepted (the docs list it) but deliberately changes nothing; anything else
    # must be read by the sandbox generator or an upstream mapping (tests/e2e/test_param_effects.py)
    effect: str | None = None
    reason: str | None = None

    @property
    def takes_input_file(self) -> bool:
        """A URL the task reads an input from (every URL but the callback, which it sends to): a stored file's
        id is taken here too (tasks/file_inputs.py)."""
        return self.format == "url" and self.name != "callback_url"

    def __post_init__(self) -> None:
        if self.effect is not None and self.effect != "none":
            raise ValueError(f"param {self.name}: effect must be none (the only declared effect), got {self.effect!r}")
        if self.effect == "none" and not (isinstance(self.reason, str) and self.reason.strip()):
            raise ValueError(f"param {self.name}: effect: none needs a reason")
        if self.effect is None and self.reason is not None:
            raise ValueError(f"param {self.name}: reason without effect: none")

    @classmethod
    def from_dict(cls, name: str, raw: dict[str, Any]) -> Param:
        unknown = set(raw) - set(PARAM_KEYS)
        if unknown:
            raise ValueError(f"param {name}: unknown keys {sorted(unknown)}")
        return cls(name=name, **_tuples(raw))

    def overridden(self, raw: dict[str, Any]) -> Param:
        unknown = set(raw) - set(PARAM_KEYS)
        if unknown:
            raise ValueError(f"param {self.name}: unknown override keys {sorted(unknown)}")
        return replace(self, **_tuples(raw))


def _tuples(raw: dict[str, Any]) -> dict[str, Any]:
    out = {
        k: tuple(v) if isinstance(v, list) and k in ("enum", "only_models", "task_ref") else v for k, v in raw.items()
    }
    fields = raw.get("fields")
    if isinstance(fields, dict):
        out["fields"] = tuple(Param.from_dict(name, spec or {}) for name, spec in fields.items())
    return out


@dataclass(frozen=True)
class Price:
    """Integer cents per unit; `by` swaps the base price by a parameter's value; `per` multiplies by a param."""

    cents: int
    by: dict[str, dict[str, int]] = field(default_factory=dict)
    per: str | None = None
    # the `per` quantity when the request leaves it out (a length: what the sandbox makes then); else 1
    per_default: float | None = None

    def quote(self, params: dict[str, Any]) -> int:
        cents = self.cents
        for param_name, table in self.by.items():
            value = shown(params.get(param_name))
            if value is not None:
                match = {str(k).lower(): v for k, v in table.items()}.get(value.lower())
                if match is not None:
                    cents = match
        if self.per:
            cents = math.ceil(cents * self.quantity(params))  # never undercharge a fractional quantity
        return cents

    def quantity(self, params: dict[str, Any]) -> float:
        """How many units the price counts: the `per` parameter's value (1 for a price per request)."""
        if not self.per:
            return 1.0
        quantity = params.get(self.per)
        if quantity is None or isinstance(quantity, bool):
            quantity = self.per_default
        try:
            return float(str(quantity).rstrip("sx")) if quantity is not None else 1.0
        except ValueError:
            return 1.0


@dataclass(frozen=True)
class ModelSpec:
    id: str
    description: str
    params: dict[str, Param]
    sandbox: SandboxSpec | None  # the action's block merged with the model's; None: no sandbox
    price: Price

    def quote(self, params: dict[str, Any]) -> int:
        """Price in cents (the price block states everything it needs, `per_default` included)."""
        return self.price.quote(params)

    def units(self, params: dict[str, Any]) -> tuple[str, float]:
        """What the price of a request with `params` counts, and how many: ("duration_seconds", 8.0),
        ("output_count", 4.0), or ("request", 1.0) for a price per request (the usage log shows it)."""
        return self.price.per or "request", self.price.quantity(params)


@dataclass(frozen=True)
class Rule:
    """When `when` holds, `then` must hold too, else 422 `message`."""

    when: str
    then: str
    message: str
    counterexample: dict[str, Any] | None = None  # a request that breaks the rule (conformance tests)


@dataclass(frozen=True)
class Action:
    family: str
    name: str
    summary: str
    result: str
    model_param: str  # required | optional | absent
    params: dict[str, Param]
    models: dict[str, ModelSpec]
    sandbox: SandboxSpec | None  # the action's own block (tasks whose model left the catalog)
    default_model: str | None = None
    rules: tuple[Rule, ...] = ()
    sync: bool = False
    echo: tuple[str, ...] = ()
    result_fields: tuple[str, ...] = ("url",)
    examples: tuple[dict[str, Any], ...] = ()
    # fixed fields per wire status, e.g. {processing: {generation_stage: text_generated}}
    status_extra: dict[str, dict[str, Any]] = field(default_factory=dict)
    # fixed documented fields of the completed body (e.g. progress: "1.00"), whichever provider made the result
    result_extra: dict[str, Any] = field(default_factory=dict)
    # progress stages a processing task passes through, in order, each shown in `stage_field` and called back
    stages: tuple[str, ...] = ()
    stage_field: str | None = None
    first_file_stage: str | None = None  # the stage whose callback carries the first result file

    @property
    def path(self) -> str:
        return f"/api/v1/{self.family}/{self.name}"

    @property
    def key(self) -> str:
        return f"{self.family}/{self.name}"


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    description: str
    actions: dict[str, Action]


PRICE_KEYS = {"cents", "by", "per", "per_default"}


def _price(raw: Any, where: str) -> Price:
    """Every model states its price: a missing one must not quietly make the model free."""
    if not isinstance(raw, dict) or "cents" not in raw:
        raise ValueError(f"{where}: no price (every model needs `price: {{cents: N}}`)")
    unknown = set(raw) - PRICE_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown price keys {sorted(unknown)}")
    amounts = [raw["cents"], *(v for table in (raw.get("by") or {}).values() for v in table.values())]
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in amounts):
        raise ValueError(f"{where}: prices are whole cents >= 0, got {raw}")
    return Price(**raw)


def _check_length_price(where: str, price: Price, params: dict[str, Param], sandbox: SandboxSpec | None) -> None:
    """A price per the sandbox's length param, where a request may leave the length out, states `per_default`:
    the length the sandbox then makes. Else an absent length would be charged as one second."""
    made = default_length(sandbox)
    if made is None or price.per != made[0] or made[0] not in params:
        return
    param = params[made[0]]
    if param.required or (param.default is not None and param.default_when is None):
        return  # the request always has a length
    if price.per_default != made[1]:
        raise ValueError(
            f"{where}: price per {price.per} needs per_default: {made[1]:g} (the seconds the sandbox "
            f"makes without {price.per}), got {price.per_default}"
        )


def build_family(raw: dict[str, Any]) -> Family:
    name = raw["family"]
    actions = {}
    for action_name, a in raw["actions"].items():
        unknown = set(a) - set(ACTION_KEYS)
        if unknown:
            raise ValueError(f"{name}/{action_name}: unknown keys {sorted(unknown)}")
        base = {pname: Param.from_dict(pname, p or {}) for pname, p in a.get("params", {}).items()}
        sandbox = a.get("sandbox") or {}
        action_sandbox = parse_sandbox(sandbox, f"{name}/{action_name}")  # its own mistakes named here
        models = {}
        for model_id, m in a.get("models", {}).items():
            m = m or {}
            where = f"{name}/{action_name}/{model_id}"
            unknown = set(m) - set(MODEL_KEYS)
            if unknown:
                raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
            overrides = m.get("params", {})
            missing = set(overrides) - set(base)
            if missing:
                raise ValueError(f"{where}: overrides unknown params {sorted(missing)}")
            params = {pname: p.overridden(overrides[pname]) if pname in overrides else p for pname, p in base.items()}
            model_sandbox = parse_sandbox({**sandbox, **(m.get("sandbox") or {})}, where)
            price = _price(m.get("price"), where)
            _check_length_price(where, price, params, model_sandbox)
            models[model_id] = ModelSpec(
                id=model_id,
                description=m.get("description", ""),
                params=params,
                sandbox=model_sandbox,
                price=price,
            )
        if "model" in base and base["model"].enum is None:
            # The model parameter's allowed values are the action's models, declared once.
            base["model"] = replace(base["model"], enum=tuple(models))
            for spec in models.values():
                spec.params["model"] = base["model"]
        actions[action_name] = Action(
            family=name,
            name=action_name,
            summary=a.get("summary", ""),
            result=a["result"],
            model_param=a.get("model_param", "required"),
            params=base,
            models=models,
            sandbox=action_sandbox,
            default_model=a.get("default_model"),
            rules=tuple(
                Rule(when=r["if"], then=r["then"], message=r["message"], counterexample=r.get("counterexample"))
                for r in a.get("rules", [])
            ),
            sync=bool(a.get("sync", False)),
            echo=tuple(a.get("echo", ())),
            result_fields=tuple(a.get("result_fields", ("url",))),
            examples=tuple(a.get("examples", ())),
            status_extra=a.get("status_extra", {}),
            result_extra=a.get("result_extra", {}),
            stages=tuple((a.get("stages") or {}).get("order", ())),
            stage_field=(a.get("stages") or {}).get("field"),
            first_file_stage=(a.get("stages") or {}).get("first_file"),
        )
    return Family(name=name, title=raw.get("title", name), description=raw.get("description", ""), actions=actions)
