"""OpenAI-compatible media endpoints over the catalog: /v1/images/generations and /edits, /v1/audio/speech and
/transcriptions (synchronous: the task is waited for in-process), and OpenAI's video API /v1/videos (create,
retrieve, content, list, delete). Each call is a task made through the one create path; the catalog's `openai:`
blocks say which action serves a model and how the fields map (runapi/openai_media/). Errors take OpenAI's
shape, as everything under /v1/ (app.api_error)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .. import files_policy
from ..catalog import OpenAiRoute, get_catalog
from ..domain.task import Task
from ..errors import ApiError, BadRequest, NotFound, TooLarge
from ..openai_media import answers, videos
from ..openai_media.fields import parse_fields
from ..openai_media.mapping import OpenAiRequest
from ..openai_media.service import Created, GenerationFailed, StillRunning, Upload, create, finished
from .context import base_url, runtime
from .listing import page_request
from .llm_common import caller
from .media import MAX_IDEMPOTENCY_KEY, client_request_id_of, task_headers
from .responses import Json, json_body
from .serving import serve_object

MAX_FORM_FILES = 17  # OpenAI: up to 16 images to edit, and a mask
MAX_FORM_FIELDS = 50
FORM_SLACK_BYTES = 1024 * 1024  # the fields and part headers around the files
POLL_HEADER = "openai-poll-after-ms"


# ------------------------------------------------------------------------------------------ request input


async def _json_fields(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    return body


async def _form(request: Request) -> tuple[dict[str, Any], dict[str, list[Upload]]]:
    """A multipart body: its fields (`name[]` parts gathered into lists, `name[key]` into objects) and its
    files, by field name (`image[]` and `image` are one field)."""
    declared = request.headers.get("content-length", "")
    limit = files_policy.LOCAL_MAX_BYTES + FORM_SLACK_BYTES
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"Request body exceeds the maximum size ({limit // (1024 * 1024)}MB)")
    try:
        form: FormData = await request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS)
    except Exception:
        raise BadRequest("Malformed multipart body") from None
    fields: dict[str, Any] = {}
    uploads: dict[str, list[Upload]] = {}
    for key, value in form.multi_items():
        name = key.removesuffix("[]")
        if isinstance(value, UploadFile):
            data = await value.read(files_policy.LOCAL_MAX_BYTES + 1)
            uploads.setdefault(name, []).append(Upload(data, value.filename))
        elif key.endswith("[]"):
            fields.setdefault(name, []).append(value)
        elif "[]" in key and key.endswith("]"):  # images[][file_id]: one object of a list per part
            outer, inner = key[:-1].split("[][", 1)
            listed = fields.setdefault(outer, [])
            if isinstance(listed, list):
                listed.append({inner: value})
        elif "[" in key and key.endswith("]"):  # input_reference[image_url]
            outer, inner = key[:-1].split("[", 1)
            nested = fields.setdefault(outer, {})
            if isinstance(nested, dict):
                nested[inner] = value
        else:
            fields[name] = value
    return fields, uploads


async def _request_fields(request: Request) -> tuple[dict[str, Any], dict[str, list[Upload]]]:
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        return await _form(request)
    return await _json_fields(request), {}


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key", "").strip() or None
    if key and len(key) > MAX_IDEMPOTENCY_KEY:
        raise BadRequest(f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY} characters")
    return key


async def _create(
    request: Request,
    endpoint: str,
    fields: Mapping[str, Any],
    uploads: Mapping[str, list[Upload]],
    inputs: Mapping[str, tuple[str, ...]] | None = None,
) -> Created:
    """The task for a request (`fields` as parsed by fields.parse_fields; `inputs`: input files given by URL)."""
    rt, who = runtime(request), await caller(request)
    return await create(
        rt,
        who,
        OpenAiRequest(endpoint, fields, dict(inputs or {})),
        uploads,
        public_base_url=base_url(request),
        idempotency_key=_idempotency_key(request),
        client_request_id=client_request_id_of(request),
    )


def _references(name: str, value: Any, uploads: dict[str, list[Upload]]) -> tuple[str, ...]:
    """Inputs given by reference (JSON bodies, `name[image_url]` form fields): {image_url} objects (a URL, or a
    base64 data URL, stored as an upload), {file_id} objects (a file of /v1/files: the create path takes a file
    id wherever it takes an input URL) or plain URLs, one or a list. URLs and file ids are returned; data goes
    to `uploads`."""
    urls: list[str] = []
    for item in value if isinstance(value, (list, tuple)) else [value]:
        url = (item.get("image_url") or item.get("file_id")) if isinstance(item, dict) else item
        if not isinstance(url, str) or not url.strip():
            raise BadRequest(f"{name} needs an image_url or a file_id (or send the file itself as {name})")
        if url.startswith("data:"):
            uploads.setdefault(name, []).append(Upload(_data_url_bytes(name, url), None))
        else:
            urls.append(url)
    return tuple(urls)


def _data_url_bytes(name: str, url: str) -> bytes:
    head, _, payload = url.partition(",")
    if not head.endswith(";base64") or not payload:
        raise BadRequest(f"{name}: a data URL must be base64 (data:image/png;base64,...)")
    if len(payload) * 3 // 4 > files_policy.BASE64_MAX_BYTES + 3:
        raise TooLarge(f"{name}: at most {files_policy.BASE64_MAX_BYTES // (1024 * 1024)}MB as a data URL")
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{name}: the data URL is not valid base64") from None


async def _finished(request: Request, created: Created) -> Task:
    """The completed task. 504 past the wait (the task runs on and is billed; the SDK must not retry it into a
    second task), 422 with the task's error when it failed (refunded)."""
    rt = runtime(request)
    wait = rt.settings.openai_media_wait_seconds
    try:
        return await finished(rt, created.task, wait)
    except StillRunning as exc:
        raise ApiError(
            504,
            f"Timed out after {wait:g} s waiting for the result. Task {exc.task.id} keeps running and is billed "
            f"when it completes; read its result at GET {created.route.action.path}/{exc.task.id}",
            code="timeout",
            headers={**task_headers(exc.task), "x-should-retry": "false"},
        ) from None
    except GenerationFailed as exc:
        raise ApiError(
            422, exc.task.error or "Generation failed", code="generation_failed", headers=task_headers(exc.task)
        ) from None


# ------------------------------------------------------------------------------------------------ images


async def images_generations(request: Request) -> Json:
    fields = parse_fields("images.generations", await _json_fields(request))
    response_format = answers.image_format(fields.get("response_format"))
    created = await _create(request, "images.generations", fields, {})
    task = await _finished(request, created)
    body = await answers.images_body(runtime(request), task, response_format, base_url(request))
    return Json(body, headers=task_headers(task))


async def images_edits(request: Request) -> Json:
    raw, uploads = await _request_fields(request)
    fields = parse_fields("images.edits", raw)
    response_format = answers.image_format(fields.get("response_format"))
    inputs = {}  # given by reference (OpenAI's JSON form: images: [{image_url}], mask: {image_url})
    for name, given in (("image", fields.pop("images", fields.pop("image", None))), ("mask", fields.pop("mask", None))):
        if given is not None:
            inputs[name] = _references(name, given, uploads)
    created = await _create(request, "images.edits", fields, uploads, inputs)
    task = await _finished(request, created)
    body = await answers.images_body(runtime(request), task, response_format, base_url(request))
    return Json(body, headers=task_headers(task))


# ------------------------------------------------------------------------------------------------- audio


async def audio_speech(request: Request) -> Response:
    fields = parse_fields("audio.speech", await _json_fields(request))
    created = await _create(request, "audio.speech", fields, {})
    task = await _finished(request, created)
    audio = await answers.speech_audio(runtime(request), task)
    return Response(audio.data, media_type=audio.content_type, headers=task_headers(task))


async def audio_transcriptions(request: Request) -> Response:
    raw, uploads = await _request_fields(request)
    fields = parse_fields("audio.transcriptions", raw)
    response_format = answers.transcript_format(fields.get("response_format"))
    granularities = tuple(fields.get("timestamp_granularities") or ())
    created = await _create(request, "audio.transcriptions", fields, uploads)
    task = await _finished(request, created)
    body = answers.transcript_body(task, response_format, granularities)
    if isinstance(body, str):
        return PlainTextResponse(body, headers=task_headers(task))
    return Json(body, headers=task_headers(task))


# ------------------------------------------------------------------------------------------------ videos


def _video_answer(request: Request, task: Task, route: OpenAiRoute) -> Json:
    headers = task_headers(task)
    if not task.state.terminal:  # the SDK's poll helper waits this long before asking again
        headers[POLL_HEADER] = str(videos.poll_after_ms(task))
    days = runtime(request).settings.generated_media_retention_days
    return Json(videos.video_object(task, route, days), headers=headers)


async def videos_create(request: Request) -> Json:
    raw, uploads = await _request_fields(request)
    fields = parse_fields("videos", raw)
    reference = fields.pop("input_reference", None)
    inputs = {"input_reference": _references("input_reference", reference, uploads)} if reference else {}
    created = await _create(request, "videos", fields, uploads, inputs)
    return _video_answer(request, created.task, created.route)


async def videos_retrieve(request: Request) -> Json:
    rt, who = runtime(request), await caller(request)
    task, route = await videos.get_video(rt, get_catalog(), str(request.path_params["video_id"]), who.account_id)
    return _video_answer(request, task, route)


async def videos_content(request: Request) -> Response:
    rt, who = runtime(request), await caller(request)
    task, _ = await videos.get_video(rt, get_catalog(), str(request.path_params["video_id"]), who.account_id)
    content = await videos.video_content(rt, task, request.query_params.get("variant") or "video")
    headers = {**task_headers(task), "X-Content-Type-Options": "nosniff"}
    if content.key is not None:  # streamed from storage, with ranges for players that seek
        gone = NotFound("The generated file is no longer available")
        return await serve_object(request, rt.storage, content.key, content.content_type, headers, gone)
    return Response(content.data, media_type=content.content_type, headers=headers)


async def videos_list(request: Request) -> Json:
    rt, who = runtime(request), await caller(request)
    found = await videos.list_videos(rt, get_catalog(), who.account_id, page_request(request))
    data = [
        videos.video_object(task, route, rt.settings.generated_media_retention_days) for task, route in found.videos
    ]
    return Json(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": found.has_more,
        }
    )


async def videos_delete(request: Request) -> Json:
    rt, who = runtime(request), await caller(request)
    task, _ = await videos.get_video(rt, get_catalog(), str(request.path_params["video_id"]), who.account_id)
    await videos.delete_video(rt, task)
    return Json({"id": task.id, "object": "video.deleted", "deleted": True})


routes = [
    Route("/v1/images/generations", images_generations, methods=["POST"]),
    Route("/v1/images/edits", images_edits, methods=["POST"]),
    Route("/v1/audio/speech", audio_speech, methods=["POST"]),
    Route("/v1/audio/transcriptions", audio_transcriptions, methods=["POST"]),
    Route("/v1/videos", videos_create, methods=["POST"]),
    Route("/v1/videos", videos_list, methods=["GET"]),
    Route("/v1/videos/{video_id}", videos_retrieve, methods=["GET"]),
    Route("/v1/videos/{video_id}", videos_delete, methods=["DELETE"]),
    Route("/v1/videos/{video_id}/content", videos_content, methods=["GET"]),
]
