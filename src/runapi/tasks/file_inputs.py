"""Stored files named as task inputs: wherever a task takes an input URL, a file's id (`file_...`) or its
content link on this server (`{base}/v1/files/{id}/content`, which needs an API key to fetch) may stand
instead. At submission each is replaced by the file's signed link, the one POST /api/v1/files answers with:
every provider then sees a URL as before (the sandbox and our own fetches read it straight from storage,
providers/inputs.py; an upstream fetches it from our public address). Only the submitting account's stored,
unexpired files resolve; any other id is a 404 that says nothing about whose it might be."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..catalog.model import Param
from ..errors import RecordNotFound
from ..files_policy import is_file_id
from ..storage import UrlSigner
from ..storage.files_store import StoredFile, find_ready_many
from ..store import Database

_CONTENT_PATH = re.compile(r"/v1/files/(file_[0-9a-f]{32})/content")


def file_named(value: str, base_url: str) -> str | None:
    """The file id `value` names: the id itself, or a content link on our own origin."""
    if is_file_id(value):
        return value
    try:
        parts, ours = urlsplit(value), urlsplit(base_url)
    except ValueError:
        return None
    found = _CONTENT_PATH.fullmatch(parts.path)
    same_origin = (parts.scheme, parts.netloc.lower()) == (ours.scheme, ours.netloc.lower())
    return found.group(1) if found and same_origin and parts.path.startswith(ours.path.rstrip("/")) else None


def _slots(spec: Mapping[str, Param], params: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    """Every input-URL value in the params: (where, container, key/index), so it can be replaced in place."""
    for name, p in spec.items():
        value = params.get(name)
        if value is None:
            continue
        if p.fields is not None and isinstance(value, list):
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    continue
                for f in p.fields:
                    if f.takes_input_file and item.get(f.name) is not None:
                        yield from _values(f"{name}[{i}].{f.name}", item, f.name)
        elif p.takes_input_file:
            yield from _values(name, params, name)


def _values(where: str, container: Any, key: Any) -> Iterator[tuple[str, Any, Any]]:
    value = container[key]
    if isinstance(value, str):
        yield where, container, key
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield f"{where}[{i}]", value, i


async def resolve_file_inputs(
    db: Database,
    signer: UrlSigner,
    account_id: int,
    spec: Mapping[str, Param],
    params: dict[str, Any],
    base_url: str,
) -> dict[str, Any]:
    """`params` with every file named as an input replaced by the file's signed link (a copy; unchanged when
    none is named). RecordNotFound naming the parameter when a file is not one of this account's."""
    out: dict[str, Any] = _copy(params)
    named = [
        (where, box, key, file_id)
        for where, box, key in _slots(spec, out)
        if (file_id := file_named(box[key], base_url))
    ]
    if not named:
        return params
    found: dict[str, StoredFile] = await find_ready_many(db, account_id, {n[3] for n in named})
    for where, box, key, file_id in named:
        f = found.get(file_id)
        if f is None or f.key is None:
            raise RecordNotFound(
                f"Record does not exist: {where} names file {file_id!r}, which is no stored file of this "
                "account (files expire an hour after upload)",
                code="file_not_found",
            )
        box[key] = signer.url(base_url, f.key, int(f.expires_at))
    return out


def _copy(value: Any) -> Any:
    """A deep copy of JSON-like params (lists and objects), so the caller's stay as they were sent."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
