"""The prompt gallery (GET /api/v1/prompts, the MCP server's search_prompts): requests that work, to start from.
Two sources, both shipped with the package: the curated set (curated.yaml, validated against the catalog when
loaded) and every catalog example whose action takes a prompt. Read-only, the same for everyone, built once."""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..catalog import Action, Catalog, get_catalog
from ..catalog.validation import validate
from ..errors import InvalidInput, RunapiError
from ..yamlload import load_yaml

CURATED = Path(__file__).parent / "curated.yaml"
MODALITIES = ("image", "video", "audio", "text")
DIFFICULTIES = ("beginner", "intermediate", "advanced")
TEXT_FIELDS = ("prompt", "text", "lyrics", "style")  # where a request keeps what a person wrote, in that order
DEFAULT_PER_PAGE, MAX_PER_PAGE = 20, 100
MAX_PAGE = 10_000
_CURATED_KEYS = {"title", "category", "tags", "difficulty", "featured", "service", "action", "params"}
# An action's result field → what it makes; anything else (lyrics, a persona, a voice id) is text.
_MODALITY_OF_RESULT = {
    "images": "image",
    "videos": "video",
    "video_url": "video",
    "audios": "audio",
    "wav_url": "audio",
    "track": "audio",
    "covers": "audio",
    "instruments": "audio",
    "separated_audios": "audio",
}


@dataclass(frozen=True)
class Prompt:
    id: int
    prompt: str
    modality: str
    service: str
    action: str
    runapi_model: str | None
    source: str  # curated | catalog
    params: dict[str, Any]
    title: str | None = None
    category: str | None = None
    tags: tuple[str, ...] = ()
    difficulty: str | None = None
    featured: bool = False
    _haystack: str = field(default="", repr=False, compare=False)

    def matches(self, words: str) -> bool:
        return words in self._haystack

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "prompt": self.prompt,
            "modality": self.modality,
            "service": self.service,
            "action": self.action,
            "runapi_model": self.runapi_model,
            "source_model": self.runapi_model,
            "source": self.source,
            "source_url": None,
            "category": self.category,
            "tags": list(self.tags),
            "difficulty": self.difficulty,
            "engagement": None,
            "params": self.params,
            "preview_url": None,
            "featured": self.featured,
        }


def modality_of(action: Action) -> str:
    return _MODALITY_OF_RESULT.get(action.result, "text")


def prompt_text(params: dict[str, Any]) -> str | None:
    return next((v for k in TEXT_FIELDS if isinstance(v := params.get(k), str) and v.strip()), None)


def _made(pid: int, action: Action, params: dict[str, Any], source: str, **extra: Any) -> Prompt:
    text = prompt_text(params) or ""
    model = params.get("model") if isinstance(params.get("model"), str) else action.default_model
    tags = tuple(extra.pop("tags", ()) or (action.family, action.name))
    haystack = " ".join([text, extra.get("title") or "", extra.get("category") or "", action.family, *tags])
    return Prompt(
        id=pid, prompt=text, modality=modality_of(action), service=action.family, action=action.name,
        runapi_model=model, source=source, params=params, tags=tags, _haystack=haystack.casefold(), **extra,
    )  # fmt: skip


def _curated(catalog: Catalog, entries: Any) -> list[Prompt]:
    if not isinstance(entries, list):
        raise ValueError(f"{CURATED.name}: expected a list of prompts")
    out = []
    for n, raw in enumerate(entries, start=1):
        where = f"{CURATED.name} #{n}"
        if not isinstance(raw, dict) or set(raw) - _CURATED_KEYS:
            raise ValueError(f"{where}: expected a mapping with keys {sorted(_CURATED_KEYS)}")
        action = catalog.action(str(raw.get("service")), str(raw.get("action")))
        if action is None:
            raise ValueError(f"{where}: no action {raw.get('service')}/{raw.get('action')} in the catalog")
        if raw.get("difficulty") not in (None, *DIFFICULTIES):
            raise ValueError(f"{where}: difficulty must be one of {DIFFICULTIES}")
        params = dict(raw.get("params") or {})
        try:
            validate(action, params)
        except RunapiError as exc:  # any refusal: the gallery must not offer it
            raise ValueError(f"{where}: its params do not validate: {exc}") from None
        if prompt_text(params) is None:
            raise ValueError(f"{where}: no prompt text in params (one of {TEXT_FIELDS})")
        out.append(
            _made(
                n, action, params, "curated", title=raw.get("title"), category=raw.get("category"),
                tags=tuple(raw.get("tags") or ()), difficulty=raw.get("difficulty"),
                featured=bool(raw.get("featured")),
            )
        )  # fmt: skip
    return out


def example_id(action: Action, index: int) -> int:
    """Stable across restarts and catalog edits elsewhere: from the example's place in its action; above the
    curated ids (which count from 1)."""
    return 100_000 + zlib.crc32(f"{action.key}#{index}".encode()) % 2_000_000_000


def _examples(actions: Iterable[Action]) -> list[Prompt]:
    out = []
    for action in actions:
        for i, example in enumerate(action.examples):
            if prompt_text(example) is not None:
                out.append(_made(example_id(action, i), action, dict(example), "catalog", category=action.name))
    return out


def build_gallery(catalog: Catalog, curated: Any) -> tuple[Prompt, ...]:
    found = [*_curated(catalog, curated), *_examples(sorted(catalog.actions(), key=lambda a: a.key))]
    ids = [p.id for p in found]
    if len(set(ids)) != len(ids):
        raise ValueError("prompt gallery: two prompts share an id")
    return tuple(found)


@lru_cache(maxsize=1)
def gallery() -> tuple[Prompt, ...]:
    return build_gallery(get_catalog(), load_yaml(CURATED))


@dataclass(frozen=True)
class PromptQuery:
    modality: str | None = None
    category: str | None = None
    tags: tuple[str, ...] = ()
    q: str | None = None
    model: str | None = None
    featured: bool | None = None
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    def __post_init__(self) -> None:
        if self.modality is not None and self.modality not in MODALITIES:
            raise InvalidInput(
                f"Invalid value for modality: {self.modality!r}. Allowed values: {', '.join(MODALITIES)}"
            )
        if not 1 <= self.page <= MAX_PAGE:
            raise InvalidInput(f"page must be an integer between 1 and {MAX_PAGE}")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise InvalidInput(f"per_page must be an integer between 1 and {MAX_PER_PAGE}")

    def admits(self, p: Prompt) -> bool:
        wanted_tags = {t.casefold() for t in self.tags}
        return (
            (self.modality is None or p.modality == self.modality)
            and (self.category is None or (p.category or "").casefold() == self.category.casefold())
            and wanted_tags <= {t.casefold() for t in p.tags}
            and (self.model is None or p.runapi_model == self.model)
            and (self.featured is None or p.featured == self.featured)
            and (not self.q or all(p.matches(word) for word in self.q.casefold().split()))
        )


@dataclass(frozen=True)
class PromptPage:
    prompts: tuple[Prompt, ...]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.per_page)

    def to_wire(self) -> dict[str, Any]:
        return {
            "prompts": [p.to_wire() for p in self.prompts],
            "pagination": {"page": self.page, "per_page": self.per_page, "total": self.total, "pages": self.pages},
        }


def search_prompts(query: PromptQuery, prompts: tuple[Prompt, ...] | None = None) -> PromptPage:
    """Matching prompts, featured first, then curated before catalog examples, in their order."""
    found = [p for p in (gallery() if prompts is None else prompts) if query.admits(p)]
    found.sort(key=lambda p: (not p.featured, p.source != "curated"))
    start = (query.page - 1) * query.per_page
    return PromptPage(tuple(found[start : start + query.per_page]), query.page, query.per_page, len(found))
