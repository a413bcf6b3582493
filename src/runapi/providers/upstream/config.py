"""One configured media deployment (an entry of RUNAPI_MEDIA_UPSTREAMS), as data: registry.parse_deployment
builds it (checking its kind against the adapters, which import this module)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    # fal, luma: ask the upstream to POST our signed /webhooks/upstream/{task} link when a job ends, so the
    # task is checked at once (polling stays as the backstop). Needs RUNAPI_PUBLIC_URL (or tasks created at a
    # reachable address).
    webhooks: bool = False

    def lists(self, model: str | None) -> bool:
        return "*" in self.models or (model is not None and model in self.models)
