"""The one registry of upstream adapter kinds: a deployment's `kind` (RUNAPI_MEDIA_UPSTREAMS) names the adapter
class that serves it. A new upstream is a new adapter class and one line here."""

from __future__ import annotations

from typing import Any

from ...secret_refs import resolve_secret
from .adapter import AdapterClass
from .ark import ModelArk
from .bfl import BlackForestLabs
from .config import MediaDeployment
from .dashscope import DashScope
from .elevenlabs import ElevenLabs
from .fal import FalQueue
from .gemini import Gemini
from .ideogram import Ideogram
from .kie import KieAI
from .kie_suno import KieSuno, SunoApiOrg
from .kling import Kling
from .luma import Luma
from .minimax import MiniMax
from .openai_images import OpenAIImages
from .recraft import Recraft
from .runway import Runway
from .xai import XAI

ADAPTERS: dict[str, AdapterClass] = {
    "fal": FalQueue,
    "openai_images": OpenAIImages,
    "elevenlabs": ElevenLabs,
    "ark": ModelArk,
    "bfl": BlackForestLabs,
    "gemini": Gemini,
    "kie": KieAI,
    "kie_suno": KieSuno,
    "sunoapi": SunoApiOrg,
    "dashscope": DashScope,
    "kling": Kling,
    "minimax": MiniMax,
    "xai": XAI,
    "runway": Runway,
    "luma": Luma,
    "ideogram": Ideogram,
    "recraft": Recraft,
}


class UnknownAdapterKind(ValueError):
    """A configured deployment names a kind no adapter serves: a configuration error, refused at start-up."""

    def __init__(self, deployment: object, kind: object):
        super().__init__(f"media upstream {deployment!r}: unknown kind {kind!r} (one of {', '.join(ADAPTERS)})")
        self.kind = kind


def adapter_class(kind: object, deployment: object = None) -> AdapterClass:
    """The adapter class for `kind`; UnknownAdapterKind (naming it) if there is none."""
    found = ADAPTERS.get(kind) if isinstance(kind, str) else None
    if found is None:
        raise UnknownAdapterKind(deployment, kind)
    return found


def parse_deployment(raw: dict[str, Any]) -> MediaDeployment:
    """One RUNAPI_MEDIA_UPSTREAMS entry as a deployment; ValueError naming what is wrong (an unknown key, an
    unknown kind, a missing name, a bad limit, an api_key reference that does not resolve)."""
    unknown = set(raw) - set(MediaDeployment.__dataclass_fields__)
    if unknown:
        raise ValueError(f"media upstream {raw.get('name')!r}: unknown keys {sorted(unknown)}")
    kind = raw.get("kind")
    adapter = adapter_class(kind, raw.get("name"))  # an unknown kind is refused, naming it
    if not raw.get("name"):
        raise ValueError("every media upstream needs a name")
    models = raw.get("models", ["*"])
    models = (models,) if isinstance(models, str) else tuple(models)
    limit = raw.get("max_concurrency")
    if limit is not None and int(limit) < 1:
        raise ValueError(f"media upstream {raw['name']!r}: max_concurrency must be at least 1")
    return MediaDeployment(
        name=str(raw["name"]),
        kind=str(kind),
        base_url=str(raw.get("base_url") or adapter.default_base_url).rstrip("/"),
        # "env:NAME" / "file:/path" are read here, at start-up
        api_key=resolve_secret(raw.get("api_key"), f"media upstream {raw['name']!r}: api_key"),
        models=models,
        model_map=dict(raw.get("model_map") or {}),
        max_concurrency=int(limit) if limit is not None else None,
        timeout_seconds=float(raw.get("timeout_seconds", 100.0)),
        max_output_bytes=int(raw.get("max_output_bytes", 512 << 20)),
        poll_seconds=float(raw["poll_seconds"]) if raw.get("poll_seconds") is not None else None,
        webhooks=bool(raw.get("webhooks", False)),
    )
