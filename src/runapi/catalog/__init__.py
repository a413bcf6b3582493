"""The declarative catalog: every family, action, model, parameter and price, loaded once from families/*.yaml."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
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

__all__ = [
    "PLATFORM_PARAMS",
    "Action",
    "Catalog",
    "Family",
    "ModelSpec",
    "Param",
    "Price",
    "catalog_dir",
    "get_catalog",
]

FAMILIES_DIR = Path(__file__).parent / "families"


@dataclass(frozen=True)
class Catalog:
    families: dict[str, Family]

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
