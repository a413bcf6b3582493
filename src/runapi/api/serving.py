"""One way to answer with a stored object, for every endpoint that serves one (signed /files/ links,
/v1/files/{id}/content, /v1/videos/{id}/content): streamed from storage a chunk at a time, never read whole,
the same on local disk and S3, with what browsers and players need to seek and cache (RFC 9110):

- validators: a strong ETag (the backend's: size and mtime on disk, the bucket's ETag on S3) and Last-Modified;
  If-None-Match (else If-Modified-Since) answers 304.
- one byte range: `bytes=a-b`, `bytes=a-`, `bytes=-n` answer 206 with Content-Range, unless If-Range names
  another version; a range starting past the end answers 416 with `Content-Range: bytes */size`. A Range
  header that is not valid (another unit, not numbers, last before first) is ignored, as RFC 9110 §14.2 says:
  200 with the whole object. So is one asking for several ranges (no multipart/byteranges: browsers and media
  players ask for one).
- HEAD: the same headers, no body, nothing read.

Starlette's FileResponse does ranges for local files, but answers a malformed Range with 400, has no 304, and
cannot stream from S3; one path for both backends keeps them answering alike."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ..errors import ApiError
from ..storage import ObjectInfo, Storage

MAX_POSITION_DIGITS = 18  # a longer byte position is past any object (and int() of 4,300+ digits raises)
BEYOND = 10**MAX_POSITION_DIGITS


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # exclusive

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end - 1}/{size}"


class Unsatisfiable(Exception):
    """A valid single range none of whose bytes exist (416)."""


def _position(text: str) -> int | None:
    if not text or not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) <= MAX_POSITION_DIGITS else BEYOND


def parse_range(header: str, size: int) -> ByteRange | None:
    """The one range a Range header asks for, clipped to the object; None when the header is to be ignored
    (not valid, several ranges, or the whole object anyway). Unsatisfiable when it starts past the end."""
    unit, sep, ranges = header.partition("=")
    if not sep or unit.strip().lower() != "bytes" or "," in ranges:
        return None
    first, dash, last = ranges.strip().partition("-")
    if not dash:
        return None
    if not first:  # bytes=-n: the last n bytes
        suffix = _position(last)
        if suffix is None:
            return None
        if suffix == 0:
            raise Unsatisfiable
        start, end = max(size - suffix, 0), size
    else:
        start_at = _position(first)
        end_at = _position(last) if last else BEYOND
        if start_at is None or end_at is None or end_at < start_at:
            return None
        if start_at >= size:
            raise Unsatisfiable
        start, end = start_at, min(end_at, size - 1) + 1
    return ByteRange(start, end) if end > start else None


def _http_date(value: str) -> int | None:
    try:
        return int(parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _opaque(tag: str) -> str:
    return tag.strip().removeprefix("W/")


def not_modified(request: Request, info: ObjectInfo) -> bool:
    """If-None-Match (weak comparison; `*` matches any object), else If-Modified-Since (RFC 9110 §13.2.2)."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = [_opaque(t) for t in if_none_match.split(",")]
        return "*" in tags or _opaque(info.etag) in tags
    since = _http_date(request.headers.get("if-modified-since") or "")
    return since is not None and int(info.last_modified) <= since


def range_allowed(request: Request, info: ObjectInfo) -> bool:
    """If-Range: the range only when it names this version, by strong ETag or exact Last-Modified date."""
    if_range = request.headers.get("if-range")
    if if_range is None:
        return True
    if_range = if_range.strip()
    if if_range.startswith(('"', "W/")):
        return if_range == info.etag and not if_range.startswith("W/")
    return _http_date(if_range) == int(info.last_modified)


class ObjectResponse(StreamingResponse):
    """Streams bytes [start, end) of a stored object. The storage iterator is closed however the answer ends
    (done, client gone, error), so its file or bucket connection is released at once."""

    def __init__(
        self,
        storage: Storage,
        key: str,
        byte_range: ByteRange,
        status: int,
        headers: Mapping[str, str],
        media_type: str | None = None,
    ):
        self.storage, self.key, self.byte_range = storage, key, byte_range
        # (media_type, not a header: text types get their charset as every other answer of ours)
        super().__init__(_nothing(), status_code=status, headers=headers, media_type=media_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") == "HEAD":
            await super().__call__(scope, receive, send)
            return
        async with aclosing(self.storage.open_range(self.key, self.byte_range.start, self.byte_range.end)) as chunks:
            self.body_iterator = chunks
            await super().__call__(scope, receive, send)


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # (an async generator that yields nothing)


async def serve_object(
    request: Request,
    storage: Storage,
    key: str,
    media_type: str,
    headers: Mapping[str, str],
    missing: Exception,
) -> Response:
    """Answer GET or HEAD with the object at `key` as `media_type`, with `headers` (the caller's security and
    disposition headers) on every answer, 200, 206 or 304. Raises `missing` when there is no such object."""
    info = await storage.stat(key)
    if info is None:
        raise missing
    common = {
        **headers,
        "Accept-Ranges": "bytes",
        "ETag": info.etag,
        "Last-Modified": formatdate(info.last_modified, usegmt=True),
    }
    if not_modified(request, info):
        return Response(status_code=304, headers=common)
    wanted = None
    range_header = request.headers.get("range")
    if request.method == "GET" and range_header is not None and range_allowed(request, info):
        try:
            wanted = parse_range(range_header, info.size)
        except Unsatisfiable:
            raise ApiError(
                416,
                f"Range not satisfiable: the object has {info.size} bytes",
                headers={"Content-Range": f"bytes */{info.size}"},
            ) from None
    if wanted is None:
        whole = {**common, "Content-Length": str(info.size)}
        return ObjectResponse(storage, key, ByteRange(0, info.size), 200, whole, media_type)
    part = {
        **common,
        "Content-Length": str(wanted.end - wanted.start),
        "Content-Range": wanted.content_range(info.size),
    }
    return ObjectResponse(storage, key, wanted, 206, part, media_type)


async def presigned_redirect(
    storage: Storage, key: str, media_type: str, disposition: str, seconds: int, link_expires: int
) -> Response | None:
    """307 to the backend's own URL for the object (None when it has none), living `seconds` but never past
    our signed link's expiry. Not cached: every answer is a newly signed URL."""
    lifetime = min(seconds, link_expires - int(time.time()))
    if lifetime < 1:
        return None
    url = await storage.presigned_url(key, lifetime, media_type, disposition)
    if url is None:
        return None
    return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
