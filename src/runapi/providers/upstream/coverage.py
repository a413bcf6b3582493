"""Which real upstreams can serve each catalog (family, action, model), as data.

Every catalog action runs as a media task (synchronous ones too: they are durable tasks the request waits
for), so every (action, model) pair of the catalog is counted; LLM models are not catalog actions and are
not counted here. For each pair:
  available   the registered adapter kinds (registry.ADAPTERS) whose `pairs()` contain it: what an operator
              could configure;
  configured  the deployments of the given router that would take it, in fallback order (the router's own
              `serving` rule: the deployment's `models` filter and its adapter's `supports`).
`runapi providers`, scripts/coverage_table.py (the README table) and tests/unit/test_coverage.py read this."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ...catalog import Catalog
from .adapter import AdapterClass
from .registry import ADAPTERS
from .router import MediaRouter


@dataclass(frozen=True)
class PairCoverage:
    family: str
    action: str
    model: str
    available: tuple[str, ...]  # adapter kinds, in registry order
    configured: tuple[str, ...]  # deployment names, in fallback order

    @property
    def action_key(self) -> str:
        return f"{self.family}/{self.action}"

    def as_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "action": self.action,
            "model": self.model,
            "available": list(self.available),
            "configured": list(self.configured),
        }


def coverage(
    catalog: Catalog, router: MediaRouter | None = None, kinds: Mapping[str, AdapterClass] | None = None
) -> list[PairCoverage]:
    """Every catalog pair (catalog order) with the kinds that could serve it and the deployments that do."""
    served = {kind: cls.pairs() for kind, cls in (ADAPTERS if kinds is None else kinds).items()}
    found = []
    for action in catalog.actions():
        for model in action.models:
            deployments = router.serving(action.key, model) if router is not None else []
            found.append(
                PairCoverage(
                    family=action.family,
                    action=action.name,
                    model=model,
                    available=tuple(kind for kind, pairs in served.items() if (action.key, model) in pairs),
                    configured=tuple(a.deployment.name for a in deployments),
                )
            )
    return found


def gaps(pairs: Iterable[PairCoverage]) -> set[tuple[str, str]]:
    """(action key, model) of the pairs no registered kind can serve."""
    return {(p.action_key, p.model) for p in pairs if not p.available}


def summary(pairs: list[PairCoverage]) -> dict[str, Any]:
    by_kind: Counter[str] = Counter(kind for p in pairs for kind in p.available)
    return {
        "pairs": len(pairs),
        "servable": sum(1 for p in pairs if p.available),
        "configured": sum(1 for p in pairs if p.configured),
        "by_kind": dict(sorted(by_kind.items())),
    }


def as_json(pairs: list[PairCoverage]) -> dict[str, Any]:
    return {"pairs": [p.as_json() for p in pairs], "summary": summary(pairs)}


def text_table(pairs: list[PairCoverage]) -> str:
    """One line per pair: what a terminal shows (`runapi providers`)."""
    rows = [("ACTION", "MODEL", "AVAILABLE", "CONFIGURED")]
    rows += [(p.action_key, p.model, ",".join(p.available) or "-", ",".join(p.configured) or "-") for p in pairs]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]  # the last column is not padded
    lines = [" ".join([*(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)), row[3]]) for row in rows]
    total = summary(pairs)
    lines.append(
        f"{total['pairs']} pairs, {total['servable']} servable by a registered kind, "
        f"{total['configured']} by a configured deployment"
    )
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(pairs: list[PairCoverage]) -> str:
    """The README table: one row per family (its actions × models, how many pairs a real upstream serves, and
    which kinds), then the pairs no kind serves yet."""
    families: dict[str, list[PairCoverage]] = {}
    for p in pairs:
        families.setdefault(p.family, []).append(p)
    lines = [
        "| family | actions | models | pairs served | upstream kinds |",
        "|---|---|---|---|---|",
    ]
    for family, rows in families.items():
        actions = len({p.action for p in rows})
        models = len({p.model for p in rows})
        served = sum(1 for p in rows if p.available)
        kinds = sorted({kind for p in rows for kind in p.available})
        lines.append(
            f"| {family} | {actions} | {models} | {served} / {len(rows)} | {', '.join(kinds) or '— (sandbox only)'} |"
        )
    total = summary(pairs)
    lines.append("")
    lines.append(f"{total['servable']} of {total['pairs']} (action, model) pairs have a real upstream.")
    return "\n".join(lines) + "\n"


README_START, README_END = "<!-- coverage:start -->", "<!-- coverage:end -->"


def with_readme_table(readme: str, table: str) -> str:
    """The README with `table` between its coverage markers (scripts/coverage_table.py); ValueError when the
    markers are missing or out of order."""
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {README_START} … {README_END} section")
    return readme[: start + len(README_START)] + "\n" + table + readme[end:]
