"""The one registry of upstream adapter kinds: a deployment's `kind` (RUNAPI_MEDIA_UPSTREAMS) names the adapter
class that serves it. A new upstream is a new adapter class and one line here."""

from __future__ import annotations

from .adapter import AdapterClass
from .elevenlabs import ElevenLabs
from .fal import FalQueue
from .openai_images import OpenAIImages

ADAPTERS: dict[str, AdapterClass] = {
    "fal": FalQueue,
    "openai_images": OpenAIImages,
    "elevenlabs": ElevenLabs,
}


class UnknownAdapterKind(ValueError):
    """A configured deployment names a kind no adapter serves: a configuration error, refused at start-up."""

    def __init__(self, deployment: object, kind: object):
        super().__init__(f"media upstream {deployment!r}: unknown kind {kind!r} "
                         f"(one of {', '.join(ADAPTERS)})")
        self.kind = kind


def adapter_class(kind: object, deployment: object = None) -> AdapterClass:
    """The adapter class for `kind`; UnknownAdapterKind (naming it) if there is none."""
    found = ADAPTERS.get(kind) if isinstance(kind, str) else None
    if found is None:
        raise UnknownAdapterKind(deployment, kind)
    return found
