"""The declarative catalog: every family, action, model, parameter and price, loaded once from families/*.yaml."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from ..yamlload import load_yaml
from .model import (
    PLATFORM_PARAMS,
    Action,
    Family,
    ModelSpec,
    Param,
    Price,
    build_family,
)
from .openai_schema import OpenAiMap

__all__ = [
    "PLATFORM_PARAMS",
    "Action",
    "Catalog",
    "Family",
    "ModelSpec",
    "OpenAiRoute",
    "Param",
    "Price",
    "catalog_dir",
    "get_catalog",
]

FAMILIES_DIR = Path(__file__).parent / "families"


@dataclass(frozen=True)
class OpenAiRoute:
    """One model served at an OpenAI-compatible endpoint: the action that runs it and the block that maps the
    endpoint's fields onto the action's parameters (catalog/openai_schema.py)."""

    action: Action
    model: ModelSpec
    block: OpenAiMap


@dataclass(frozen=True)
class Catalog:
    families: dict[str, Family]

    def __post_init__(self) -> None:
        _ = self.openai_routes  # two actions serving one model id at one endpoint fail the load

    @cached_property
    def openai_routes(self) -> dict[str, dict[str, OpenAiRoute]]:
        """endpoint → model id → route, for every action with an `openai:` block (catalog order)."""
        out: dict[str, dict[str, OpenAiRoute]] = {}
        for action in self.actions():
            for block in action.openai:
                served = out.setdefault(block.endpoint, {})
                for model in action.models.values():
                    if block.models is not None and model.id not in block.models:
                        continue
                    if model.id in served:
                        raise ValueError(
                            f"{action.key}: openai ({block.endpoint}): model {model.id} is already served there "
                            f"by {served[model.id].action.key}"
                        )
                    served[model.id] = OpenAiRoute(action, model, block)
        return out

    def action(self, family: str, action: str) -> Action | None:
        fam = self.families.get(family)
        return fam.actions.get(action) if fam else None

    def actions(self) -> list[Action]:
        return [a for fam in self.families.values() for a in fam.actions.values()]


def catalog_dir() -> Path:
    """Where the families are read from: RUNAPI_CATALOG_DIR replaces the bundled ones (an operator's own catalog)."""
    return Path(os.environ.get("RUNAPI_CATALOG_DIR") or FAMILIES_DIR)


@lru_cache(maxsize=1)
def get_catalog() -> Catalog:
    families = {}
    for path in sorted(catalog_dir().glob("*.yaml")):
        family = build_family(load_yaml(path))
        families[family.name] = family
    return Catalog(families=families)
