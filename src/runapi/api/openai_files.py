"""Files, OpenAI style: POST/GET /v1/files, GET/DELETE /v1/files/{id}, GET /v1/files/{id}/content, as the
platform's SDK (runapi-core's FilesClient) and OpenAI's SDK (`client.files`) call them.

The same files as POST /api/v1/files, through the same service: the same limits, sniffing and served-type
rules, the same hour before a file expires (`expires_at` says when). A file's id works wherever a task takes
an input URL (tasks/file_inputs.py), and so does its `url`, the signed link /api/v1/files answers with.
Errors are in OpenAI's shape (app.api_error renders every /v1 path so)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import files_policy as policy
from ..auth.principal import Principal, require_api_key
from ..errors import BadRequest, NotFound
from ..storage import files_store
from ..storage.files_store import StoredFile
from ..storage.upload_rules import purpose as checked_purpose
from ..storage.uploads import Spooled
from .context import authenticated, base_url, runtime
from .files import FILE_HEADERS, OCTET, disposition
from .listing import page_request, text
from .responses import Json
from .serving import serve_object
from .uploads import multipart_file, precheck, stored_file

EXPIRES_AFTER_SECONDS = (3600, 2_592_000)  # what OpenAI accepts for expires_after.seconds


def file_object(request: Request, f: StoredFile) -> dict[str, Any]:
    """OpenAI's File object, plus the file's type and its signed link (usable as a task's input URL)."""
    assert f.key is not None  # (a ready file is stored)
    return {
        "id": f.id,
        "object": "file",
        "bytes": f.size_bytes,
        "created_at": int(f.created_at),
        "expires_at": int(f.expires_at),
        "filename": f.file_name,
        "purpose": f.purpose or "user_data",
        "status": "processed",
        "status_details": None,
        "mime_type": f.mime_type,
        "url": runtime(request).signer.url(base_url(request), f.key, int(f.expires_at)),
    }


def file_not_found(file_id: str) -> NotFound:
    return NotFound(f"No such File object: {file_id}", code="file_not_found")


def check_expires_after(anchor: Any, seconds: Any) -> None:
    """OpenAI's optional expiration policy, checked as OpenAI checks it. Files here live an hour whatever it
    asks (the shortest it may ask for); the answer's expires_at says so."""
    if anchor is None and seconds is None:
        return
    if anchor != "created_at":
        raise BadRequest("Invalid value for expires_after.anchor: only created_at is supported")
    low, high = EXPIRES_AFTER_SECONDS
    if not (isinstance(seconds, str) and seconds.isascii() and seconds.isdigit()) and not isinstance(seconds, int):
        raise BadRequest(f"expires_after.seconds must be an integer between {low} and {high}")
    if isinstance(seconds, bool) or not low <= int(seconds) <= high:
        raise BadRequest(f"expires_after.seconds must be an integer between {low} and {high}")


async def api_key_caller(request: Request) -> Principal:
    """The caller, who must use an API key (not a management key)."""
    who = await authenticated(request)
    require_api_key(who)
    return who


async def create_file(request: Request) -> Json:
    who = await api_key_caller(request)
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise BadRequest("Send the file as multipart/form-data with the fields file and purpose")
    await precheck(request, who.account_id)
    async with multipart_file(request, "file", policy.LOCAL_MAX_BYTES) as (form, upload):
        purpose = checked_purpose(form.get("purpose"))
        check_expires_after(form.get("expires_after[anchor]"), form.get("expires_after[seconds]"))
        stored = await stored_file(
            request,
            who.account_id,
            who.key_id,
            Spooled(upload.file, upload.size if upload.size is not None else 0),
            upload.filename,
            purpose=purpose,
        )
    return Json(file_object(request, stored))


async def list_files(request: Request) -> Json:
    who = await api_key_caller(request)
    found, has_more = await files_store.list_ready(
        runtime(request).db, who.account_id, page_request(request), text(request, "purpose")
    )
    data = [file_object(request, f) for f in found]
    return Json(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": has_more,
        }
    )


async def _own_file(request: Request) -> StoredFile:
    who = await api_key_caller(request)
    file_id = request.path_params["file_id"]
    found = await files_store.find_ready(runtime(request).db, who.account_id, file_id)
    if found is None:
        raise file_not_found(file_id)
    return found


async def retrieve_file(request: Request) -> Json:
    return Json(file_object(request, await _own_file(request)))


async def file_content(request: Request) -> Response:
    """The file's bytes, served under the same rules as its signed link (api/files.py): as the type sniffed
    when it was stored, inline only for media, never sniffable into something executable; streamed, with
    ranges and conditional requests (api/serving.py)."""
    f = await _own_file(request)
    assert f.key is not None
    media_type = f.mime_type if f.mime_type in policy.ALLOWED_MIME else OCTET
    headers = {**FILE_HEADERS, "Content-Disposition": disposition(media_type, f.key)}
    return await serve_object(request, runtime(request).storage, f.key, media_type, headers, file_not_found(f.id))


async def delete_file(request: Request) -> Json:
    who = await api_key_caller(request)
    file_id = request.path_params["file_id"]
    rt = runtime(request)
    if not await files_store.delete_ready(rt.db, rt.storage, who.account_id, file_id):
        raise file_not_found(file_id)
    return Json({"id": file_id, "object": "file", "deleted": True})


routes = [
    Route("/v1/files", create_file, methods=["POST"]),
    Route("/v1/files", list_files, methods=["GET"]),
    Route("/v1/files/{file_id}", retrieve_file, methods=["GET"]),
    Route("/v1/files/{file_id}", delete_file, methods=["DELETE"]),
    Route("/v1/files/{file_id}/content", file_content, methods=["GET"]),
]
