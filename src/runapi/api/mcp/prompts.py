"""`search_prompts` over the prompt gallery (runapi/prompts: what GET /api/v1/prompts serves, the platform's
tool's source too), answered in the platform's tool shape. The tool's modalities are finer than the gallery's:
`image_edit` is the image actions that change a given image, `music` the audio actions that make music; so the
gallery is narrowed to the tool's modality first and then searched and paged with the other arguments."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ...catalog import Action, get_catalog
from ...prompts import DEFAULT_PER_PAGE, Prompt, PromptQuery, gallery, search_prompts
from .contract import service_slug

SOURCE = "RunAPI Prompt API"
EDIT_WORDS = ("edit", "remix", "reframe", "upscale", "background")  # image actions that start from an image


def tool_modality(action: Action, gallery_modality: str) -> str:
    """The prompt's modality as the tool names them: image, image_edit, video, audio, music (or text)."""
    if gallery_modality == "image" and any(word in action.name for word in EDIT_WORDS):
        return "image_edit"
    if gallery_modality == "audio" and (action.family == "suno" or "music" in action.name):
        return "music"
    return gallery_modality


def _modality(prompt: Prompt) -> str:
    action = get_catalog().action(prompt.service, prompt.action)
    return tool_modality(action, prompt.modality) if action else prompt.modality


@lru_cache(maxsize=1)
def by_modality() -> dict[str, tuple[Prompt, ...]]:
    groups: dict[str, list[Prompt]] = {}
    for prompt in gallery():
        groups.setdefault(_modality(prompt), []).append(prompt)
    return {modality: tuple(found) for modality, found in groups.items()}


def summary(prompt: Prompt) -> dict[str, Any]:
    return {
        "id": prompt.id,
        "title": prompt.title,
        "prompt": prompt.prompt,
        "model": prompt.runapi_model,
        "service": service_slug(prompt.service),
        "action": prompt.action,
        "modality": _modality(prompt),
        "category": prompt.category,
        "tags": list(prompt.tags),
        "featured": prompt.featured,
        "params": prompt.params,  # the whole request: create_task's `params` (with its `model`)
    }


def search(args: dict[str, Any]) -> dict[str, Any]:
    modality = args.get("modality")
    query = PromptQuery(
        category=args.get("category"),
        tags=tuple(args.get("tags") or ()),
        q=args.get("q"),
        model=args.get("model"),
        featured=args.get("featured"),
        page=args.get("page") or 1,
        per_page=args.get("per_page") or DEFAULT_PER_PAGE,
    )
    page = search_prompts(query, by_modality().get(modality, ()) if modality else None)
    return {
        "source": SOURCE,
        "count": len(page.prompts),
        "pagination": page.to_wire()["pagination"],
        "prompts": [summary(p) for p in page.prompts],
    }
