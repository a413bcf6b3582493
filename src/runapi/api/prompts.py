"""GET /api/v1/prompts: the prompt gallery, public (the platform's MCP server calls it without a key). Query
`modality`, `category`, `tags` (comma separated, all must be present), `q` (words, all must appear), `model`,
`featured`, `page`, `per_page`; the answer is `{prompts: [...], pagination: {page, per_page, total, pages}}`."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.routing import Route

from ..errors import InvalidInput
from ..prompts import DEFAULT_PER_PAGE, MODALITIES, PromptQuery, search_prompts
from .listing import choice, text
from .responses import Json

_COUNT = re.compile(r"[0-9]{1,6}")
MAX_TAGS = 20


def _count(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name) or None
    if raw is None:
        return default
    if not _COUNT.fullmatch(raw):
        raise InvalidInput(f"{name} must be a positive integer")
    return int(raw)


def _flag(request: Request, name: str) -> bool | None:
    raw = choice(request, name, ("true", "false", "1", "0"))
    return None if raw is None else raw in ("true", "1")


def prompt_query(request: Request) -> PromptQuery:
    tags = tuple(t.strip() for t in (text(request, "tags") or "").split(",") if t.strip())
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"tags takes at most {MAX_TAGS} tags")
    return PromptQuery(
        modality=choice(request, "modality", MODALITIES),
        category=text(request, "category"),
        tags=tags,
        q=text(request, "q"),
        model=text(request, "model"),
        featured=_flag(request, "featured"),
        page=_count(request, "page", 1),
        per_page=_count(request, "per_page", DEFAULT_PER_PAGE),
    )


async def list_prompts(request: Request) -> Json:
    return Json(search_prompts(prompt_query(request)).to_wire())


routes = [Route("/api/v1/prompts", list_prompts, methods=["GET"])]
