"""What a task made, for showing in the page: every file link in its status body (the same body the API
returns) as an image, a video or an audio player, by the media type of the file behind the link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from .. import files_policy as policy
from ..storage import FILES_PREFIX


@dataclass(frozen=True)
class Preview:
    url: str
    media: str  # image | video | audio | file
    label: str  # where in the body it was (e.g. images[0].url)


def media_of(url: str, where: str) -> str:
    """image | video | audio | file: from the stored file's extension (ours, for generated files), else from
    the field's name."""
    parts = urlsplit(url)
    if parts.path.startswith(FILES_PREFIX):
        kind = (policy.type_for_extension(unquote(parts.path)) or "").split("/")[0]
        if kind in ("image", "video", "audio"):
            return kind
    for kind in ("image", "video", "audio"):
        if kind in where.lower():
            return kind
    return "file"


def previews(body: Any, where: str = "") -> list[Preview]:
    """Every http(s) link in the body, in order, with how to show it."""
    found: list[Preview] = []
    if isinstance(body, dict):
        for key, value in body.items():
            found += previews(value, f"{where}.{key}" if where else str(key))
    elif isinstance(body, list):
        for i, value in enumerate(body):
            found += previews(value, f"{where}[{i}]")
    elif isinstance(body, str) and body.startswith(("http://", "https://")):
        found.append(Preview(body, media_of(body, where), where))
    return found


def unique(items: list[Preview]) -> list[Preview]:
    """One preview per link (some bodies repeat a link, e.g. url and origin_url)."""
    seen: set[str] = set()
    out = []
    for item in items:
        if item.url not in seen:
            seen.add(item.url)
            out.append(item)
    return out


def task_previews(body: dict[str, Any]) -> list[Preview]:
    """What a task's status body shows to look at or play: each link once (its own id is not a link)."""
    return unique(previews({k: v for k, v in body.items() if k != "id"}))
