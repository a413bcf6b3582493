"""Local file paths in a family command's media URL fields, uploaded first, as the platform CLI does
(runapi-ai/cli README: "For top-level model media URL fields, readable local file paths are accepted directly.
The CLI uploads them before submitting the request and keeps http:// or https:// values unchanged"). A value
is a path when it names a readable file and is not a URL or a stored file's id; each is uploaded once through
POST /api/v1/files (the temporary upload) and replaced by the link it answers with."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..catalog import Action
from ..files_policy import is_file_id

_URL_PREFIXES = ("http://", "https://", "data:")


def local_path(value: Any) -> Path | None:
    """The readable local file `value` names, or None (a URL, a file id, anything else)."""
    if not isinstance(value, str) or not value.strip() or value.lower().startswith(_URL_PREFIXES):
        return None
    if is_file_id(value):
        return None
    path = Path(value).expanduser()
    try:
        return path if path.is_file() else None
    except OSError:
        return None


def with_uploads(action: Action, body: dict[str, Any], upload: Callable[[Path], str]) -> dict[str, Any]:
    """`body` with every local path in a top-level media URL field (or in a list of them) replaced by
    `upload(path)`; the same path is uploaded once."""
    done: dict[Path, str] = {}

    def swap(value: Any) -> Any:
        path = local_path(value)
        if path is None:
            return value
        if path not in done:
            done[path] = upload(path)
        return done[path]

    out = dict(body)
    for name, p in action.params.items():
        if not p.takes_input_file or name not in out:
            continue
        value = out[name]
        out[name] = [swap(v) for v in value] if isinstance(value, list) else swap(value)
    return out


def mime_of(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
