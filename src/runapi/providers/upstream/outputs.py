"""Copy upstream results into our storage's hands: download each file (through the SSRF-safe client, before
the upstream's links expire), check it really is media, and turn it into an Output the worker stores. Clients
only ever see our signed links."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import httpx

from ...files_policy import extension_for, sniff
from ...net.safe_http import BlockedDestination, TooLarge, fetch_bytes
from ..base import Output, TaskFailed, TransientFailure
from .adapter import UpstreamFile


def _data_url(url: str) -> bytes:
    header, _, payload = url.partition(",")
    if ";base64" not in header:
        raise TaskFailed("The upstream returned an unreadable result")
    try:
        return base64.b64decode(payload, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise TaskFailed("The upstream returned an unreadable result") from exc


async def download(http: httpx.AsyncClient, f: UpstreamFile, max_bytes: int) -> bytes:
    if f.data is not None:
        return f.data
    url = f.url or ""
    if url.startswith("data:"):
        return _data_url(url)
    try:
        data, _ = await fetch_bytes(http, url, max_bytes)
        return data
    except TooLarge as exc:
        raise TaskFailed(f"The upstream result is too large: {exc}") from exc
    except BlockedDestination as exc:
        raise TaskFailed("The upstream result points at a private address") from exc
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code in (403, 404, 410):  # expired or gone: polling again will not help
            raise TaskFailed("The upstream result is no longer available") from exc
        raise TransientFailure(f"Could not download the upstream result (HTTP {exc.response.status_code})") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise TransientFailure(f"Could not download the upstream result ({type(exc).__name__})") from exc


def as_output(f: UpstreamFile, data: bytes) -> Output:
    """Types come from the bytes, never from the upstream's headers: only media we would accept as an
    upload is stored and served from our domain."""
    mime = sniff(data)
    if mime is None:
        raise TaskFailed("The upstream returned a file that is not a supported image, video or audio")
    return Output(f.kind, data, mime, extension_for(mime), dict(f.meta))


async def collect(http: httpx.AsyncClient, files: list[UpstreamFile], max_bytes: int) -> list[Output]:
    return [as_output(f, await download(http, f, max_bytes)) for f in files]


def result_files(result: Any, field_kinds: dict[str, str], meta: dict[str, Any]) -> list[UpstreamFile]:
    """Files named by `field_kinds` in an upstream JSON result: each field holds a file object ({url, ...}),
    a list of them, or a bare URL string."""
    files = []
    for field_name, kind in field_kinds.items():
        value = result.get(field_name) if isinstance(result, dict) else None
        for item in value if isinstance(value, list) else [value] if value else []:
            url = item.get("url") if isinstance(item, dict) else item
            if isinstance(url, str) and url:
                files.append(UpstreamFile(kind=kind, url=url, meta=dict(meta)))
    return files
