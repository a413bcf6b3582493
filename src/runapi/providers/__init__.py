"""Providers and the routing from a task's model to the provider that runs it."""

from __future__ import annotations

from .base import Done, Output, Progress, Provider, TaskFailed, TaskInput

__all__ = ["Done", "Output", "Progress", "Provider", "ProviderRegistry", "TaskFailed", "TaskInput"]


class ProviderRegistry:
    """Maps (family, model) to a provider; the sandbox serves everything no upstream is configured for."""

    def __init__(self, default: Provider):
        self.default = default
        self.by_name: dict[str, Provider] = {default.name: default}

    def register(self, provider: Provider) -> None:
        self.by_name[provider.name] = provider

    def route(self, family: str, model: str | None) -> Provider:
        return self.default

    def get(self, name: str) -> Provider:
        return self.by_name[name]
