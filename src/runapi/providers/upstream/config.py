"""One configured media deployment (an entry of RUNAPI_MEDIA_UPSTREAMS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MediaDeployment:
    name: str  # what guardrails' allowed_providers / blocked_providers match, and what a task row records
    kind: str
    base_url: str = ""
    api_key: str | None = None
    models: tuple[str, ...] = ("*",)  # our model ids this deployment serves; "*": all its adapter can map
    model_map: dict[str, str] = field(default_factory=dict)  # upstream model/app id → the one to call instead
    max_concurrency: int | None = None  # jobs this process keeps at the upstream at once (None: no limit)
    timeout_seconds: float = 100.0  # per HTTP call; synchronous upstreams must answer within a task lease
    max_output_bytes: int = 512 << 20
    poll_seconds: float | None = None  # fixed interval between status checks (None: the worker's backoff)
    # fal: ask the upstream to POST /webhooks/fal/{task} when a job ends, so the task is checked at once
    # (polling stays as the backstop). Needs RUNAPI_PUBLIC_URL (or tasks created at a reachable address).
    webhooks: bool = False

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> MediaDeployment:
        unknown = set(raw) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ValueError(f"media upstream {raw.get('name')!r}: unknown keys {sorted(unknown)}")
        from .registry import adapter_class  # the adapters import this module

        kind = raw.get("kind")
        adapter = adapter_class(kind, raw.get("name"))  # an unknown kind is refused, naming it
        if not raw.get("name"):
            raise ValueError("every media upstream needs a name")
        models = raw.get("models", ["*"])
        models = (models,) if isinstance(models, str) else tuple(models)
        limit = raw.get("max_concurrency")
        if limit is not None and int(limit) < 1:
            raise ValueError(f"media upstream {raw['name']!r}: max_concurrency must be at least 1")
        return cls(name=str(raw["name"]), kind=str(kind),
                   base_url=str(raw.get("base_url") or adapter.default_base_url).rstrip("/"),
                   api_key=raw.get("api_key"), models=models, model_map=dict(raw.get("model_map") or {}),
                   max_concurrency=int(limit) if limit is not None else None,
                   timeout_seconds=float(raw.get("timeout_seconds", 100.0)),
                   max_output_bytes=int(raw.get("max_output_bytes", 512 << 20)),
                   poll_seconds=float(raw["poll_seconds"]) if raw.get("poll_seconds") is not None else None,
                   webhooks=bool(raw.get("webhooks", False)))

    def lists(self, model: str | None) -> bool:
        return "*" in self.models or (model is not None and model in self.models)
