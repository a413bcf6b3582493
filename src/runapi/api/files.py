"""Serves stored objects at signed, expiring URLs."""

from __future__ import annotations

import mimetypes

from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Route

from ..errors import ApiError
from .context import runtime


async def serve_file(request: Request) -> FileResponse:
    rt = runtime(request)
    key = request.path_params["key"]
    if not rt.signer.verify(key, request.query_params.get("expires"), request.query_params.get("signature")):
        raise ApiError(403, "Link expired or invalid signature")
    path = await rt.storage.get_path(key)
    if path is None:
        raise ApiError(404, "Record does not exist")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


routes = [Route("/files/{key:path}", serve_file, methods=["GET", "HEAD"])]
