"""The catalog seen the way the platform's MCP server sees its embedded contract: one entry per (service,
action, model) with the model's input fields summarised, the cross-field input rules, and the modality of
each action. Pure: built from the catalog, no I/O.

Names follow the platform: a *service* is a family slug with hyphens (`nano-banana`, `veo-3-1`), an *action*
the endpoint name with underscores (`text_to_image`). Lookups accept either spelling of both."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ...catalog import Action, Catalog, ModelSpec, Param

__all__ = ["Contract", "FieldSummary", "InputRule", "ModelEntry", "input_rules", "modality_for_action"]


def service_slug(family: str) -> str:
    """`veo_3_1` → `veo-3-1`: the platform's service slug of a family."""
    return family.replace("_", "-")


def family_name(service: str) -> str:
    return service.strip().replace("-", "_")


def action_name(action: str) -> str:
    return action.strip().replace("-", "_")


def modality_for_action(action: str) -> str:
    """The output modality of an endpoint, by its name (the platform's own rule, so filters agree)."""
    if "video" in action or action in ("ai_avatar", "motion_control", "animate"):
        return "video"
    if "image" in action or "background" in action or action == "create_character":
        return "image"
    if any(word in action for word in ("audio", "music", "speech", "sound", "voice", "dialogue")):
        return "audio"
    return "utility"


@dataclass(frozen=True)
class FieldSummary:
    """One input field of one model, as get_model_info lists it (absent constraints are left out)."""

    name: str
    required: bool
    type: str
    enum: tuple[Any, ...] | None = None
    default: Any = None
    min: float | None = None  # numbers: the value; strings: the length
    max: float | None = None
    min_items: int | None = None
    max_items: int | None = None
    description: str | None = None

    @classmethod
    def of(cls, param: Param) -> FieldSummary:
        textual = param.type == "string"
        return cls(
            name=param.name,
            required=param.required,
            type=param.type,
            enum=param.enum,
            default=param.default,
            min=param.min_length if textual else param.min,
            max=param.max_length if textual else param.max,
            min_items=param.min_items,
            max_items=param.max_items,
            description=param.description,
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "required": self.required}
        optional = {
            "enum": list(self.enum) if self.enum is not None else None,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "min_items": self.min_items,
            "max_items": self.max_items,
            "type": self.type,
            "description": self.description,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out


@dataclass(frozen=True)
class InputRule:
    """A cross-field rule of an action. `when` is a catalog condition (catalog/FORMAT.md → Conditions), e.g.
    "vocal_mode == instrumental"; then the listed fields are required or forbidden, or `description` holds."""

    when: str
    required: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    description: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"when": self.when, "required": list(self.required), "forbidden": list(self.forbidden)}
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class ModelEntry:
    """One executable (service, action, model)."""

    action: Action
    model: ModelSpec
    model_line: str  # the family's title, e.g. "Nano Banana"

    @property
    def service(self) -> str:
        return service_slug(self.action.family)

    @property
    def action_name(self) -> str:
        return self.action.name

    @property
    def modality(self) -> str:
        return modality_for_action(self.action.name)

    @cached_property
    def fields(self) -> tuple[FieldSummary, ...]:
        """The model's own parameters: those limited to other models are not its fields."""
        return tuple(
            FieldSummary.of(p)
            for p in self.model.params.values()
            if p.only_models is None or self.model.id in p.only_models
        )

    @property
    def required_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.required]


class Contract:
    """The catalog's executable models, looked up as the MCP tools name them."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.entries: tuple[ModelEntry, ...] = tuple(
            ModelEntry(action, model, family.title)
            for family in catalog.families.values()
            for action in family.actions.values()
            for model in action.models.values()
        )

    def find_action(self, service: str, action: str) -> Action | None:
        return self.catalog.action(family_name(service), action_name(action))

    def find_models(self, model: str) -> list[ModelEntry]:
        return [e for e in self.entries if e.model.id == model]

    def find_model(self, model: str) -> ModelEntry | None:
        found = self.find_models(model)
        return found[0] if found else None

    def find_model_for_action(self, service: str, action: str, model: str | None = None) -> ModelEntry | None:
        """The entry of `model` on that endpoint; without a model, the endpoint's default one (what a create
        that leaves `model` out would run)."""
        found = self.find_action(service, action)
        if found is None or not found.models:
            return None
        chosen = model or found.default_model or next(iter(found.models))
        spec = found.models.get(chosen)
        if spec is None:
            return None
        return ModelEntry(found, spec, self.catalog.families[found.family].title)

    def action_groups(self) -> list[dict[str, Any]]:
        """Endpoint names grouped by modality, in the order each modality first appears."""
        groups: dict[str, set[str]] = {}
        for action in self.catalog.actions():
            groups.setdefault(modality_for_action(action.name), set()).add(action.name)
        return [{"modality": m, "actions": sorted(names)} for m, names in groups.items()]


def input_rules(entry: ModelEntry) -> list[InputRule]:
    """The conditional requirements a request for this model meets: each of its parameters' `required_when` /
    `forbidden_when`, then the action's own rules (with their documented message)."""
    rules = []
    for p in entry.model.params.values():
        if p.only_models is not None and entry.model.id not in p.only_models:
            continue
        if p.required_when:
            rules.append(InputRule(when=p.required_when, required=(p.name,)))
        if p.forbidden_when:
            rules.append(InputRule(when=p.forbidden_when, forbidden=(p.name,)))
    for rule in entry.action.rules:
        rules.append(InputRule(when=rule.when, description=f"requires {rule.then}: {rule.message}"))
    return rules
