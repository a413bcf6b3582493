"""Serves stored objects at signed, expiring URLs.

A file is served only as the type we know it to be, never the type its name suggests: an upload as the type
sniffed from its bytes when it was stored (files.mime_type), a generated file as the type we produced (its
key's extension is ours). Only images, audio and video are shown inline, and never SVG; everything else is
an attachment. Every answer carries nosniff and a CSP that blocks scripts and sandboxes the document, so a
polyglot (a GIF that is also HTML) stays an inert image even opened directly.

A generated file that retention deleted (runapi/retention.py) answers 410 `file_expired`, whether its link
was signed or is the unsigned one the task's status body shows since.

The bytes are streamed with ranges and conditional requests (api/serving.py); with s3_presigned_redirect the
link answers 307 to a pre-signed GetObject URL that sets the same type and disposition (not nosniff or CSP:
S3 cannot add those; the bucket is another origin, so a hostile file still runs with none of ours)."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import files_policy as policy
from ..errors import ApiError
from ..storage import files_store, parse_expires
from ..tasks import retention
from .context import runtime
from .serving import presigned_redirect, serve_object

FILE_HEADERS = {
    "Cache-Control": "private, max-age=3600",
    "X-Content-Type-Options": "nosniff",  # browsers must not reinterpret an upload as something executable
    "Content-Security-Policy": "default-src 'none'; sandbox",
}
OCTET = "application/octet-stream"
_TASK_ID = re.compile(r"[0-9a-f-]{36}")  # a task id (uuid4) as generated/<id>/... names it


async def served_type(request: Request, key: str) -> str:
    parts = key.split("/")
    if parts[0] == "uploads" and len(parts) == 4:  # uploads/{account}/{file_id}/{name}
        mime = await files_store.upload_type(runtime(request).db, parts[2], key)
    else:  # generated outputs (and stores of our own): the extension is one we chose for the type
        mime = policy.type_for_extension(key)
    return mime if mime in policy.ALLOWED_MIME else OCTET


def disposition(mime: str, key: str) -> str:
    inline = mime.split("/")[0] in ("image", "audio", "video") and mime != "image/svg+xml"
    name = policy.download_name(key.rsplit("/", 1)[-1], mime)
    return f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(name, safe='')}"


async def _expired_output(request: Request, key: str) -> None:
    """410 for a generated file that retention deleted (its task says so), whatever the link's signature."""
    parts = key.split("/")
    if parts[0] != "generated" or len(parts) < 3 or not _TASK_ID.fullmatch(parts[1]):
        return
    rt = runtime(request)
    if await retention.outputs_expired(rt.db, parts[1]) is not None:
        days = rt.settings.generated_media_retention_days
        raise ApiError(
            410,
            f"Generated file expired: generated files are kept {days} days after their task finished",
            code="file_expired",
        )


class _NoObject(Exception):
    """serve_object found no such object (told apart from a 404 so an expired output can answer 410)."""


async def serve_file(request: Request) -> Response:
    rt = runtime(request)
    key = request.path_params["key"]
    expires = request.query_params.get("expires")
    if not rt.signer.verify(key, expires, request.query_params.get("signature")):
        await _expired_output(request, key)
        raise ApiError(403, "Link expired or invalid signature")
    media_type = await served_type(request, key)
    headers = {**FILE_HEADERS, "Content-Disposition": disposition(media_type, key)}
    # HEAD stays here: a pre-signed URL is signed for GET only
    if rt.settings.s3_presigned_redirect and request.method == "GET":
        until = parse_expires(expires) or 0  # (verified above)
        seconds = rt.settings.s3_presign_seconds
        redirect = await presigned_redirect(rt.storage, key, media_type, headers["Content-Disposition"], seconds, until)
        if redirect is not None:
            return redirect
    try:
        return await serve_object(request, rt.storage, key, media_type, headers, _NoObject())
    except _NoObject:
        await _expired_output(request, key)  # 410 when retention deleted it
        raise ApiError(404, "Record does not exist") from None


routes = [Route("/files/{key:path}", serve_file, methods=["GET", "HEAD"])]
