"""File uploads: POST /api/v1/files (multipart, URL or base64 source), the two-step direct upload used by the
SDKs (POST /api/v1/files/prepare → PUT upload_url → POST /api/v1/files/confirm), and expiry.

Errors here use the files API's shape: {"error": {"code", "message"}}."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import files_policy as policy
from ..auth.principal import require_api_key
from ..domain.times import iso
from ..errors import ApiError
from ..net.safe_http import BlockedDestination, TooLarge, fetch_bytes
from ..storage import StorageFull, files_store, parse_expires, quota
from ..storage.uploads import Spooled, UnsupportedType, store_upload
from .context import authenticated, base_url, runtime
from .responses import Json, json_body

_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(;[\w-]+=[^;,]*)*;base64,", re.IGNORECASE)


def invalid_source(message: str, status: int = 400) -> ApiError:
    return ApiError(status, message, code="invalid_source")


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"File size exceeds maximum allowed size ({limit // (1024 * 1024)}MB)", code="file_too_large")


def unsupported() -> ApiError:
    return ApiError(415, "File type not supported", code="unsupported_file_type")


def refused(exc: quota.UploadRefused) -> ApiError:
    """Rate: 429 with Retry-After (waiting helps). Quota: 403 (the account's own limit; it frees up only as
    its files expire), kept apart from 413 (this file alone is too big) and 507 (our disk is full)."""
    if exc.reason == "rate":
        return ApiError(429, exc.message, code="rate_limit_exceeded", headers={"Retry-After": str(exc.retry_after)})
    return ApiError(403, exc.message, code="storage_quota_exceeded")


def storage_full() -> ApiError:
    return ApiError(
        507,
        "Insufficient storage: the file could not be stored, try again later",
        code="insufficient_storage",
        headers={"Retry-After": "60"},
    )


async def _put(request: Request, key: str, data: bytes, mime: str) -> None:
    try:
        await runtime(request).storage.put(key, data, mime)
    except StorageFull:
        raise storage_full() from None


async def _from_url(request: Request, source: dict[str, Any], account_id: int) -> tuple[bytes, str | None]:
    url = source.get("url")
    if not isinstance(url, str) or not url.strip():
        raise invalid_source("source.url is required for source.type url")
    rt = runtime(request)
    try:
        scheme = httpx.URL(url).scheme if "://" in url else ""
    except httpx.InvalidURL:
        raise invalid_source("source.url is not a valid URL") from None
    if scheme != "https" and not (rt.settings.allow_private_network and scheme == "http"):
        raise invalid_source("Only HTTPS URLs are allowed")
    try:
        data, _ = await fetch_bytes(rt.files_http, url, policy.URL_MAX_BYTES, tenant=account_id)
    except TooLarge:
        raise too_large(policy.URL_MAX_BYTES) from None
    except httpx.TimeoutException:
        raise ApiError(408, "Download timeout", code="download_timeout") from None
    except httpx.TooManyRedirects:
        raise invalid_source("Too many redirects (at most 5)") from None
    except httpx.ConnectError as exc:
        if isinstance(exc.__context__, BlockedDestination) or "private or reserved" in str(exc):
            raise invalid_source("URLs resolving to private or loopback addresses are not allowed") from None
        raise invalid_source("Could not connect to the source URL") from None
    except httpx.HTTPStatusError as exc:
        raise invalid_source(f"The source URL answered HTTP {exc.response.status_code}") from None
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        if "https" in str(exc).lower():
            raise invalid_source("Only HTTPS URLs are allowed") from None
        raise invalid_source("Could not download the source URL") from None
    return data, url.rsplit("/", 1)[-1].split("?")[0] or None


def _from_base64(source: dict[str, Any]) -> bytes:
    data = source.get("data")
    if not isinstance(data, str) or not data.strip():
        raise invalid_source("source.data is required for source.type base64")
    payload = _DATA_URL.sub("", data.strip(), count=1)
    payload = "".join(payload.split())
    if len(payload) * 3 // 4 > policy.BASE64_MAX_BYTES + 3:
        raise too_large(policy.BASE64_MAX_BYTES)
    try:
        raw = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise invalid_source("source.data is not valid base64") from None
    if len(raw) > policy.BASE64_MAX_BYTES:
        raise too_large(policy.BASE64_MAX_BYTES)
    return raw


@contextlib.asynccontextmanager
async def multipart_file(request: Request, field: str, max_bytes: int) -> AsyncIterator[tuple[FormData, UploadFile]]:
    """The multipart body's form and its one file part `field` (spooled to a temporary file past 1 MB by
    Starlette), refused as too large from its Content-Length before anything is read; closed on the way out."""
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > max_bytes + 1024 * 1024:
        raise too_large(max_bytes)
    try:
        form = await request.form(max_files=1, max_fields=20)
    except Exception:
        raise invalid_source("Malformed multipart body") from None
    try:
        upload = form.get(field)
        if not isinstance(upload, UploadFile):
            raise invalid_source(f"Missing file part '{field}'")
        if upload.size is not None and upload.size > max_bytes:
            raise too_large(max_bytes)
        await upload.seek(0)
        yield form, upload
    finally:
        await form.close()


async def _from_multipart(request: Request) -> tuple[bytes, str | None]:
    async with multipart_file(request, "file", policy.LOCAL_MAX_BYTES) as (form, upload):
        data = await upload.read(policy.LOCAL_MAX_BYTES + 1)
        if len(data) > policy.LOCAL_MAX_BYTES:
            raise too_large(policy.LOCAL_MAX_BYTES)
        name = form.get("file_name")
    return data, name if isinstance(name, str) and name else upload.filename


async def stored_file(
    request: Request,
    account_id: int,
    api_key_id: str | None,
    data: bytes | Spooled,
    name: str | None,
    file_id: str | None = None,
    purpose: str | None = None,
) -> files_store.StoredFile:
    """Sniff, store and record a ready file (storage/uploads.py), its refusals as this API words them."""
    rt = runtime(request)
    try:
        return await store_upload(
            rt.db,
            rt.storage,
            quota.UploadLimits.from_settings(rt.settings),
            account_id,
            api_key_id,
            data,
            name,
            file_id=file_id,
            purpose=purpose,
        )
    except UnsupportedType:
        raise unsupported() from None
    except quota.UploadRefused as exc:
        raise refused(exc) from None
    except StorageFull:
        raise storage_full() from None


async def _store(
    request: Request, account_id: int, api_key_id: str | None, data: bytes, name: str | None, file_id: str | None = None
) -> dict[str, Any]:
    """A stored file as the answer the docs show (201)."""
    return _answer(request, await stored_file(request, account_id, api_key_id, data, name, file_id))


def _answer(request: Request, stored: files_store.StoredFile) -> dict[str, Any]:
    rt = runtime(request)
    assert stored.key is not None  # (a ready file is stored)
    return {
        "file_name": stored.file_name,
        "url": rt.signer.url(base_url(request), stored.key, int(stored.expires_at)),
        "size_bytes": stored.size_bytes,
        "mime_type": stored.mime_type,
        "created_at": iso(stored.created_at),
        "expires_at": iso(stored.expires_at),
    }


async def precheck(request: Request, account_id: int) -> None:
    """Refuse an account already at its upload limits before reading or fetching anything."""
    rt = runtime(request)
    try:
        await quota.precheck(rt.db, account_id, quota.UploadLimits.from_settings(rt.settings))
    except quota.UploadRefused as exc:
        raise refused(exc) from None


async def create_file(request: Request) -> Json:
    who = await authenticated(request)
    require_api_key(who)
    await precheck(request, who.account_id)
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        data, name = await _from_multipart(request)
    else:
        body = await json_body(request)
        source = body.get("source") if isinstance(body, dict) else None
        if not isinstance(source, dict):
            raise invalid_source("Provide a multipart 'file' or a JSON 'source' object")
        kind = source.get("type")
        if kind == "url":
            data, name = await _from_url(request, source, who.account_id)
        elif kind == "base64":
            data, name = _from_base64(source), None
        else:
            raise invalid_source("source.type must be url or base64")
        if isinstance(body.get("file_name"), str) and body["file_name"].strip():
            name = body["file_name"]
    return Json(await _store(request, who.account_id, who.key_id, data, name), status_code=201)


# ------------------------------------------------------------------------------ direct (two-step) upload


async def prepare_upload(request: Request) -> Json:
    who = await authenticated(request)
    require_api_key(who)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise invalid_source("Request body must be a JSON object")
    size, name, checksum = body.get("byte_size"), body.get("filename"), body.get("checksum")
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise invalid_source("byte_size must be a positive integer")
    if size > policy.LOCAL_MAX_BYTES:
        raise too_large(policy.LOCAL_MAX_BYTES)
    if checksum is not None and not (isinstance(checksum, str) and len(checksum) <= 40):
        raise invalid_source("checksum must be the base64 MD5 of the file")
    rt = runtime(request)
    now = time.time()
    file_id = f"file_{uuid.uuid4().hex}"
    try:  # the prepared size counts against the limits from now on (the PUT may not exceed it)
        row = {
            "id": file_id,
            "account_id": who.account_id,
            "api_key_id": who.key_id,
            "key": None,
            "file_name": str(name or "upload")[:255],
            "size_bytes": size,
            "checksum": checksum,
            "state": "pending",
            "created_at": now,
            "expires_at": now + policy.LIFETIME_SECONDS,
        }
        await quota.reserve(rt.db, row, quota.UploadLimits.from_settings(rt.settings))
    except quota.UploadRefused as exc:
        raise refused(exc) from None
    expires = int(now + policy.LIFETIME_SECONDS)
    sig = rt.signer.sign("upload", file_id, expires)
    headers = {"Content-Type": "application/octet-stream"}
    if checksum:
        headers["Content-MD5"] = checksum
    return Json(
        {
            "upload_url": f"{base_url(request)}/uploads/{file_id}?expires={expires}&signature={sig}",
            "headers": headers,
            "signed_id": file_id,
        }
    )


async def receive_upload(request: Request) -> Response:
    """The pre-authorised PUT target: the URL is the credential (no API key is sent here)."""
    rt = runtime(request)
    file_id = request.path_params["file_id"]
    expires, sig = parse_expires(request.query_params.get("expires")), request.query_params.get("signature", "")
    if (
        expires is None
        or expires < time.time()
        or not hmac.compare_digest(rt.signer.sign("upload", file_id, expires).encode(), sig.encode())
    ):
        raise ApiError(403, "Upload URL expired or invalid", code="invalid_signature")
    row = await files_store.pending_upload(rt.db, file_id)
    if row is None:
        raise ApiError(404, "Record does not exist", code="not_found")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > row.size_bytes:
            raise ApiError(413, "Upload is larger than the prepared byte_size", code="file_too_large")
        chunks.append(chunk)
    data = b"".join(chunks)
    if len(data) != row.size_bytes:
        raise ApiError(422, "Upload size does not match the prepared byte_size", code="size_mismatch")
    if row.checksum and base64.b64encode(hashlib.md5(data).digest()).decode() != row.checksum:
        raise ApiError(422, "Upload checksum does not match", code="checksum_mismatch")
    await _put(request, f"pending/{file_id}", data, "application/octet-stream")
    return Response(status_code=204)


async def confirm_upload(request: Request) -> Json:
    who = await authenticated(request)
    require_api_key(who)
    body = await json_body(request)
    file_id = body.get("signed_id") if isinstance(body, dict) else None
    if not isinstance(file_id, str):
        raise invalid_source("signed_id is required")
    rt = runtime(request)
    row = await files_store.pending_upload(rt.db, file_id, who.account_id)
    data = await rt.storage.read(f"pending/{file_id}") if row else None
    if row is None or data is None:
        raise ApiError(404, "Record does not exist", code="not_found")
    try:
        answer = await _store(request, who.account_id, who.key_id, data, row.file_name, file_id=file_id)
    finally:
        await rt.storage.delete(f"pending/{file_id}")
    return Json(answer, status_code=201)


routes = [
    Route("/api/v1/files", create_file, methods=["POST"]),
    Route("/api/v1/files/prepare", prepare_upload, methods=["POST"]),
    Route("/api/v1/files/confirm", confirm_upload, methods=["POST"]),
    Route("/uploads/{file_id}", receive_upload, methods=["PUT"]),
]
