"""Providers and the routing from a task's model to the provider that runs it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .base import (
    Done,
    InputRejected,
    Output,
    Progress,
    Provider,
    TaskFailed,
    TaskInput,
    TransientFailure,
    WebhookCall,
    WebhookNotSupported,
)

if TYPE_CHECKING:
    from .upstream import MediaRouter

__all__ = [
    "Done",
    "InputRejected",
    "Output",
    "Progress",
    "Provider",
    "ProviderRegistry",
    "TaskFailed",
    "TaskInput",
    "TransientFailure",
    "WebhookCall",
    "WebhookNotSupported",
]


class ProviderRegistry:
    """Maps (family, action, model) to a provider: the first configured upstream deployment that serves it
    (RUNAPI_MEDIA_UPSTREAMS), else the sandbox."""

    def __init__(self, default: Provider, upstreams: MediaRouter | None = None):
        self.default = default
        self.upstreams = upstreams
        self.by_name: dict[str, Provider] = {default.name: default}
        self.kinds: dict[str, str] = {default.name: default.name}  # provider name → its kind (traces)
        if upstreams is not None:
            from .upstream import RoutedProvider

            for adapter in upstreams.adapters:
                self.register(RoutedProvider(adapter.deployment.name, upstreams))
                self.kinds[adapter.deployment.name] = adapter.deployment.kind

    def register(self, provider: Provider) -> None:
        self.by_name[provider.name] = provider

    def candidates(self, family: str, model: str | None, action: str | None = None) -> list[str]:
        """The providers that can run this, in fallback order: the upstream deployments serving it, else the
        sandbox alone."""
        if self.upstreams is not None and action is not None:
            serving = self.upstreams.serving(f"{family}/{action}", model)
            if serving:
                return [a.deployment.name for a in serving]
        return [self.default.name]

    def initial_job(self, excluded: Sequence[str]) -> dict[str, Any] | None:
        """The job a new task starts with when some deployments must never be tried (a guardrail blocks them):
        they count as tried already, so fallback passes them by."""
        return {"stage": "pending", "tried": list(excluded)} if excluded else None

    def kind(self, name: str) -> str:
        """A provider's kind: "sandbox", or a media deployment's adapter kind (fal, kling, ...)."""
        return self.kinds.get(name, "unconfigured")

    def get(self, name: str) -> Provider:
        return self.by_name.get(name) or _Unconfigured(name)

    async def aclose(self) -> None:
        if self.upstreams is not None:
            await self.upstreams.aclose()


class _Unconfigured(Provider):
    """A task routed to a deployment that has since been removed from the settings: it fails (refunded)
    instead of being retried forever."""

    def __init__(self, name: str):
        self.name = name

    async def submit(self, task: TaskInput) -> dict[str, Any]:
        return {}

    async def poll(self, task: TaskInput, job: dict[str, Any]) -> Progress | Done:
        raise TaskFailed(f"Provider {self.name} is no longer configured")
