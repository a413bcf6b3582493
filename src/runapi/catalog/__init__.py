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
from .openai_schema import OpenAiMap, takes_inputs

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
        _ = self.openai_tables  # two actions serving one model id at one endpoint the same way fail the load

    @cached_property
    def openai_tables(self) -> tuple[dict[str, dict[str, OpenAiRoute]], dict[str, dict[str, OpenAiRoute]]]:
        """(plain, with inputs): endpoint → model id → route, for every action with an `openai:` block. A model
        two actions serve at one endpoint is allowed when exactly one of them takes an input file for that model
        (text-to-video and image-to-video of one model at /v1/videos): a request with an input goes to that one."""
        plain: dict[str, dict[str, OpenAiRoute]] = {}
        with_inputs: dict[str, dict[str, OpenAiRoute]] = {}
        for action in self.actions():
            for block in action.openai:
                served = plain.setdefault(block.endpoint, {})
                for model in action.models.values():
                    if block.models is not None and model.id not in block.models:
                        continue
                    route = OpenAiRoute(action, model, block)
                    other = served.get(model.id)
                    if other is None:
                        served[model.id] = route
                        continue
                    if takes_inputs(other.block, other.model) == takes_inputs(block, model):
                        raise ValueError(
                            f"{action.key}: openai ({block.endpoint}): model {model.id} is already served there "
                            f"by {other.action.key}"
                        )
                    inputs_route, plain_route = (route, other) if takes_inputs(block, model) else (other, route)
                    served[model.id] = plain_route
                    with_inputs.setdefault(block.endpoint, {})[model.id] = inputs_route
        return plain, with_inputs

    @property
    def openai_routes(self) -> dict[str, dict[str, OpenAiRoute]]:
        """endpoint → model id → the route a request without input files takes."""
        return self.openai_tables[0]

    def openai_route(self, endpoint: str, model_id: str, with_inputs: bool = False) -> OpenAiRoute | None:
        if with_inputs:
            found = self.openai_tables[1].get(endpoint, {}).get(model_id)
            if found is not None:
                return found
        return self.openai_routes.get(endpoint, {}).get(model_id)

    def openai_routes_of(self, endpoint: str) -> list[OpenAiRoute]:
        """Every route at an endpoint, both tables."""
        return [*self.openai_routes.get(endpoint, {}).values(), *self.openai_tables[1].get(endpoint, {}).values()]

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
