"""The console's navigation: one table, so a page is added in one place; a page appears only once it shows
real data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import Viewer


@dataclass(frozen=True)
class NavEntry:
    path: str
    label: str
    operator_only: bool = False


NAV: tuple[NavEntry, ...] = (
    NavEntry("/console/overview", "Overview"),
    NavEntry("/console/tasks", "Tasks"),
    NavEntry("/console/usage", "Usage"),
    NavEntry("/console/playground", "Playground"),
    NavEntry("/console/chat", "Chat"),
    NavEntry("/console/keys", "API keys"),
    NavEntry("/console/guardrails", "Guardrails"),
    NavEntry("/console/callback-secret", "Callback secret"),
    NavEntry("/console/operator", "Operator", operator_only=True),
)


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    current: bool


def nav_for(viewer: Viewer, path: str) -> list[NavItem]:
    return [
        NavItem(e.path, e.label, path == e.path or path.startswith(e.path + "/"))
        for e in NAV
        if viewer.is_operator or not e.operator_only
    ]
