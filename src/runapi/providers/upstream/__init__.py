"""Real media upstreams behind the same Provider interface as the sandbox: fal.ai's queue API (many model
families, mapped declaratively in fal_models.yaml), OpenAI Images and ElevenLabs (synchronous, wrapped in
submit/poll), routed per model with ordered fallback, concurrency limits and rate-limit cool-downs
(router.py). Configured by RUNAPI_MEDIA_UPSTREAMS; nothing configured means the sandbox serves everything."""

from __future__ import annotations

from typing import Any

import httpx

from ...storage import UrlSigner
from ..inputs import Inputs
from .adapter import Adapter
from .config import MediaDeployment
from .registry import ADAPTERS, UnknownAdapterKind, adapter_class, parse_deployment
from .router import MediaRouter, RoutedProvider

__all__ = [
    "ADAPTERS",
    "MediaDeployment",
    "MediaRouter",
    "RoutedProvider",
    "UnknownAdapterKind",
    "build_router",
    "parse_deployment",
]


def _adapter(d: MediaDeployment, api: httpx.AsyncClient, inputs: Inputs) -> Adapter:
    return adapter_class(d.kind, d.name)(d, api, inputs)


def build_router(
    raw_deployments: list[dict[str, Any]],
    downloads: httpx.AsyncClient,
    inputs: Inputs,
    signer: UrlSigner | None = None,
    public_url: str | None = None,
) -> MediaRouter | None:
    """The router for the configured deployments, or None when there are none. Upstream API calls go to
    operator-configured hosts on their own client; result downloads use `downloads` (the SSRF-safe one)."""
    deployments = [parse_deployment(raw) for raw in raw_deployments]
    if not deployments:
        return None
    names = [d.name for d in deployments]
    if len(set(names)) != len(names) or "sandbox" in names:
        raise ValueError("media upstream names must be unique and not 'sandbox'")
    api = httpx.AsyncClient(limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
    router = MediaRouter([_adapter(d, api, inputs) for d in deployments], downloads, signer, public_url)
    router.owned_clients.append(api)
    return router
