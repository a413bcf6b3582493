"""Serves stored objects at signed, expiring URLs.

A file is served only as the type we know it to be, never the type its name suggests: an upload as the type
sniffed from its bytes when it was stored (files.mime_type), a generated file as the type we produced (its
key's extension is ours). Only images, audio and video are shown inline, and never SVG; everything else is
an attachment. Every answer carries nosniff and a CSP that blocks scripts and sandboxes the document, so a
polyglot (a GIF that is also HTML) stays an inert image even opened directly.

A generated file that retention deleted (runapi/retention.py) answers 410 `file_expired`, whether its link
was signed or is the unsigned one the task's status body shows since."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from .. import files_policy as policy
from ..errors import ApiError
from ..storage import files_store
from ..tasks import retention
from .context import runtime

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


async def serve_file(request: Request) -> Response:
    rt = runtime(request)
    key = request.path_params["key"]
    if not rt.signer.verify(key, request.query_params.get("expires"), request.query_params.get("signature")):
        await _expired_output(request, key)
        raise ApiError(403, "Link expired or invalid signature")
    media_type = await served_type(request, key)
    headers = {**FILE_HEADERS, "Content-Disposition": disposition(media_type, key)}
    path = await rt.storage.get_path(key)
    if path is not None:
        return FileResponse(path, media_type=media_type, headers=headers)
    data = await rt.storage.read(key)
    if data is None:
        await _expired_output(request, key)
        raise ApiError(404, "Record does not exist")
    return Response(data, media_type=media_type, headers=headers)


routes = [Route("/files/{key:path}", serve_file, methods=["GET", "HEAD"])]
