"""Serves stored objects at signed, expiring URLs."""

from __future__ import annotations

import mimetypes

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ..errors import ApiError
from .context import runtime


async def serve_file(request: Request) -> Response:
    rt = runtime(request)
    key = request.path_params["key"]
    if not rt.signer.verify(key, request.query_params.get("expires"), request.query_params.get("signature")):
        raise ApiError(403, "Link expired or invalid signature")
    media_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    # nosniff: browsers must not reinterpret an upload as something executable
    headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
    path = await rt.storage.get_path(key)
    if path is not None:
        return FileResponse(path, media_type=media_type, headers=headers)
    data = await rt.storage.read(key)
    if data is None:
        raise ApiError(404, "Record does not exist")
    return Response(data, media_type=media_type, headers=headers)


routes = [Route("/files/{key:path}", serve_file, methods=["GET", "HEAD"])]
