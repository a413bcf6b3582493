"""`search_prompts` over the catalog's examples. The platform's tool searches its Prompt API (a curated prompt
library); this server has no prompt library, so every documented example request that carries text (a
prompt, lyrics, a style…) is a prompt here, filtered and paged with the tool's own arguments. Ids are the
examples' positions in catalog order, stable for one catalog."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ...catalog import Action, Catalog
from .contract import modality_for_action, service_slug

SOURCE = "catalog examples"
DEFAULT_PER_PAGE = 20
# The example fields that hold what a person would call the prompt, most telling first.
TEXT_FIELDS = ("prompt", "lyrics", "text", "description", "style")
# Image actions that change a given image: the prompt library's `image_edit` modality.
EDIT_WORDS = ("edit", "remix", "reframe", "upscale", "background")


@dataclass(frozen=True)
class Prompt:
    id: int
    title: str
    prompt: str
    model: str | None
    service: str
    action: str
    modality: str
    category: str
    tags: tuple[str, ...]
    featured: bool  # the action's first example: the one its documentation leads with
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "prompt": self.prompt,
            "model": self.model,
            "service": self.service,
            "action": self.action,
            "modality": self.modality,
            "category": self.category,
            "tags": list(self.tags),
            "featured": self.featured,
            "params": self.params,  # the whole example request: create_task's `params` (less `model`)
        }


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

    def matches(self, p: Prompt) -> bool:
        wanted_tags = {t.lower() for t in self.tags}
        text = self.q.lower() if self.q else None
        return (
            (self.modality is None or p.modality == self.modality)
            and (self.category is None or p.category.lower() == self.category.lower())
            and wanted_tags <= {t.lower() for t in p.tags}
            and (text is None or text in p.title.lower() or text in p.prompt.lower())
            and (self.model is None or p.model == self.model)
            and (self.featured is None or p.featured == self.featured)
        )


def prompt_modality(action: Action) -> str:
    """The prompt library's modalities: image, image_edit, video, audio, music."""
    modality = modality_for_action(action.name)
    if modality == "image" and any(word in action.name for word in EDIT_WORDS):
        return "image_edit"
    if modality == "audio" and (action.family == "suno" or "music" in action.name):
        return "music"
    return modality


def _text_of(example: dict[str, Any]) -> str | None:
    for name in TEXT_FIELDS:
        value = example.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return None


def catalog_prompts(catalog: Catalog) -> tuple[Prompt, ...]:
    found: list[Prompt] = []
    for family in catalog.families.values():
        for action in family.actions.values():
            for i, example in enumerate(action.examples):
                text = _text_of(example)
                if text is None:
                    continue
                model = example.get("model") or action.default_model or next(iter(action.models), None)
                service = service_slug(action.family)
                found.append(
                    Prompt(
                        id=len(found) + 1,
                        title=f"{family.title}: {action.summary or action.name.replace('_', ' ')}",
                        prompt=text,
                        model=model,
                        service=service,
                        action=action.name,
                        modality=prompt_modality(action),
                        category=action.name,
                        tags=tuple(dict.fromkeys(t for t in (service, action.name, model) if t)),
                        featured=i == 0,
                        params={k: v for k, v in example.items() if k != "model"},
                    )
                )
    return tuple(found)


def search(prompts: tuple[Prompt, ...], query: PromptQuery) -> dict[str, Any]:
    matched = [p for p in prompts if query.matches(p)]
    start = (query.page - 1) * query.per_page
    page = matched[start : start + query.per_page]
    return {
        "source": SOURCE,
        "count": len(page),
        "pagination": {
            "page": query.page,
            "per_page": query.per_page,
            "total": len(matched),
            "pages": math.ceil(len(matched) / query.per_page),
        },
        "prompts": [p.as_dict() for p in page],
    }
