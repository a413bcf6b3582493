"""Uploads, OpenAI style: POST /v1/uploads, POST /v1/uploads/{id}/parts, POST /v1/uploads/{id}/complete,
POST /v1/uploads/{id}/cancel, as runapi-core's Uploads and OpenAI's SDK (`client.uploads`, its
`upload_file_chunked`) call them. The upload lifecycle is storage/multipart.py; its rules (sizes, part order,
expiry) storage/upload_rules.py. A completed upload is a file like any other (api/openai_files.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..errors import BadRequest, TooLarge
from ..storage import StorageFull, multipart, quota
from ..storage.multipart import Upload
from ..storage.upload_rules import PART_MAX_BYTES, declared
from ..storage.uploads import Spooled, UnsupportedType
from .context import runtime
from .openai_files import api_key_caller, check_expires_after, file_object
from .responses import Json, json_body
from .uploads import multipart_file, refused, storage_full, unsupported


def upload_object(request: Request, upload: Upload, completed: multipart.Completed | None = None) -> dict[str, Any]:
    """OpenAI's Upload object; `file` is the File object once completed."""
    return {
        "id": upload.id,
        "object": "upload",
        "bytes": upload.bytes,
        "created_at": int(upload.created_at),
        "expires_at": int(upload.expires_at),
        "filename": upload.filename,
        "purpose": upload.purpose,
        "status": upload.status.wire,
        "file": file_object(request, completed.file) if completed and completed.file else None,
    }


MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around a part's bytes, generously


def check_part_length(upload: Upload, content_length: int) -> None:
    """A request body longer than what the upload still takes (plus multipart framing) cannot hold a part
    that fits: refused from its Content-Length, so it is never spooled."""
    room = min(PART_MAX_BYTES, upload.bytes - upload.received_bytes)
    if content_length > room + MULTIPART_OVERHEAD:
        raise TooLarge(
            f"The request body ({content_length} bytes) is larger than any part this upload still takes "
            f"({room} bytes remain of the {upload.bytes} declared)",
            code="upload_too_large",
        )


async def create_upload(request: Request) -> Json:
    who = await api_key_caller(request)
    body = await json_body(request)
    wanted = declared(body)
    expires_after = body.get("expires_after")
    if expires_after is not None:
        if not isinstance(expires_after, dict):
            check_expires_after(expires_after, None)
        else:
            check_expires_after(expires_after.get("anchor"), expires_after.get("seconds"))
    rt = runtime(request)
    try:
        upload = await multipart.create_upload(
            rt.db, quota.UploadLimits.from_settings(rt.settings), who.account_id, who.key_id, wanted
        )
    except quota.UploadRefused as exc:
        raise refused(exc) from None
    return Json(upload_object(request, upload))


async def add_part(request: Request) -> Json:
    who = await api_key_caller(request)
    upload_id = request.path_params["upload_id"]
    rt = runtime(request)
    # a 404, a closed upload or a body that cannot fit is refused before the body is read
    upload = await multipart.open_upload(rt.db, who.account_id, upload_id)
    declared_length = request.headers.get("content-length", "")
    if declared_length.isascii() and declared_length.isdigit():
        check_part_length(upload, int(declared_length))
    async with multipart_file(request, "data", PART_MAX_BYTES) as (_, data):
        try:
            part = await multipart.add_part(
                rt.db, rt.storage, who.account_id, upload_id, Spooled(data.file, data.size or 0)
            )
        except StorageFull:
            raise storage_full() from None
    return Json({"id": part.id, "object": "upload.part", "created_at": int(part.created_at), "upload_id": upload_id})


async def complete_upload(request: Request) -> Json:
    who = await api_key_caller(request)
    body = await json_body(request)
    body = body if isinstance(body, dict) else {}
    md5 = body.get("md5")
    if md5 is not None and not isinstance(md5, str):
        raise BadRequest("md5 must be the hex MD5 of the file")
    rt = runtime(request)
    try:
        completed = await multipart.complete_upload(
            rt.db,
            rt.storage,
            quota.UploadLimits.from_settings(rt.settings),
            who.account_id,
            request.path_params["upload_id"],
            body.get("part_ids"),
            md5 or None,
        )
    except UnsupportedType:
        raise unsupported() from None
    except StorageFull:
        raise storage_full() from None
    return Json(upload_object(request, completed.upload, completed))


async def cancel_upload(request: Request) -> Json:
    who = await api_key_caller(request)
    rt = runtime(request)
    upload = await multipart.cancel_upload(rt.db, rt.storage, who.account_id, request.path_params["upload_id"])
    return Json(upload_object(request, upload))


routes = [
    Route("/v1/uploads", create_upload, methods=["POST"]),
    Route("/v1/uploads/{upload_id}/parts", add_part, methods=["POST"]),
    Route("/v1/uploads/{upload_id}/complete", complete_upload, methods=["POST"]),
    Route("/v1/uploads/{upload_id}/cancel", cancel_upload, methods=["POST"]),
]
