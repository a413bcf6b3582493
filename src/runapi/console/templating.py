"""The Jinja2 environment of the console: templates shipped in the package, autoescaped, with the few filters
the pages use (money, times, rate limits)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .spend import dollars

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES = Path(__file__).parent / "templates"


def cents(value: int | None) -> str:
    """Cents as dollars: 12345 → "$123.45" (the ledger keeps whole cents)."""
    if value is None:
        return "—"
    sign = "-" if value < 0 else ""
    whole, part = divmod(abs(int(value)), 100)
    return f"{sign}${whole:,}.{part:02d}"


RATE_UNITS = {"rpm_limit": "rpm", "tpm_limit": "tpm", "max_parallel_requests": "in flight"}


def rates(value: Any) -> str:
    """A key's, guardrail's or account's rate limits in short: "60 rpm · 10,000 tpm · 4 in flight"; "" for none."""
    found = [value.get(f) if isinstance(value, Mapping) else getattr(value, f, None) for f in RATE_UNITS]
    return " · ".join(f"{n:,} {unit}" for n, unit in zip(found, RATE_UNITS.values(), strict=True) if n is not None)


def rate_values(value: Any) -> dict[str, str]:
    """A key's or guardrail's rate limits as a form's text fields (absent: no limit)."""
    return {f: str(n) for f in RATE_UNITS if (n := getattr(value, f, None)) is not None}


def when(ts: float | None) -> str:
    """Epoch seconds as a UTC time a person reads: "2026-01-07 14:03 UTC"."""
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape  # (a rare path: lazily)

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(("html",)),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(cents=cents, dollars=dollars, when=when, iso=iso, rates=rates, rate_values=rate_values)
    return env


def render(env: Environment, template: str, context: dict[str, Any]) -> str:
    return env.get_template(template).render(**context)
