"""The OpenAPI description of OpenAI's media endpoints (api/openai_media.py): images, speech, transcriptions
and the video API, with the models the catalog serves at each (its `openai:` blocks). Errors in OpenAI's
shape; the synchronous endpoints also answer 504 when their task outlasts the wait (it runs on, billed)."""

from __future__ import annotations

from typing import Any

from ..catalog import get_catalog
from ..openai_media.answers import IMAGE_FORMATS, TRANSCRIPT_FORMATS
from ..openai_media.videos import VARIANTS
from .openapi_platform import (
    JSON,
    OBJECT_ANSWERS,
    OBJECT_HEADERS,
    _body,
    _errors,
    _json,
    _nullable,
    _obj,
    _op,
    _path_param,
    _ref,
)

BINARY = {"type": "string", "format": "binary"}
TAG = "openai media"


def _models(endpoint: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(get_catalog().openai_routes.get(endpoint, {}))}


def _multipart(properties: dict[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    return {"required": True, "content": {"multipart/form-data": {"schema": _obj(properties, required)}}}


def _sync(summary: str, ok: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A synchronous operation: its errors, and 504 when the task outlasts the wait."""
    timeout = _json(
        "The task outlasted the wait: it runs on and is billed (x-should-retry: false)", _ref("OpenAIError")
    )
    errors = _errors("OpenAIError", 400, 401, 402, 403, 404, 413, 422, 429, 503, 507)
    return _op(TAG, summary, {"200": ok, **errors, "504": timeout}, **extra)


def openai_media_paths() -> dict[str, Any]:
    image_fields = {
        "prompt": {"type": "string", "minLength": 1},
        "n": {"type": "integer", "minimum": 1, "maximum": 10},
        "size": {"type": "string"},
        "quality": {"type": "string"},
        "output_format": {"type": "string", "enum": ["png", "jpeg", "webp"]},
        "response_format": {"type": "string", "enum": list(IMAGE_FORMATS)},
        "user": {"type": "string"},
    }
    images = _json(
        "The images",
        _obj(
            {
                "created": {"type": "integer"},
                "data": {
                    "type": "array",
                    "items": _obj({"b64_json": {"type": "string"}, "url": {"type": "string"}}),
                },
                "output_format": {"type": "string"},
            },
            ("created", "data"),
        ),
    )
    video = _obj(
        {
            "id": {"type": "string"},
            "object": {"const": "video"},
            "model": {"type": "string"},
            "status": {"type": "string", "enum": ["queued", "in_progress", "completed", "failed"]},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "created_at": {"type": "integer"},
            "completed_at": _nullable({"type": "integer"}),
            "expires_at": _nullable({"type": "integer"}),
            "prompt": _nullable({"type": "string"}),
            "seconds": _nullable({"type": "string"}),
            "size": _nullable({"type": "string"}),
            "error": _nullable(_obj({"code": {"type": "string"}, "message": {"type": "string"}}, ("code", "message"))),
        },
        ("id", "object", "model", "status", "progress", "created_at"),
    )
    video_id = [_path_param("video_id")]

    def video_op(
        summary: str, ok: dict[str, Any], *codes: int, extra_answers: dict[str, Any] | None = None, **extra: Any
    ) -> dict[str, Any]:
        answers = {"200": ok, **(extra_answers or {}), **_errors("OpenAIError", 401, 403, *codes)}
        return _op(TAG, summary, answers, **extra)

    def query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "query", "schema": schema}

    return {
        "/v1/images/generations": {
            "post": _sync(
                "Generate images with a catalog model (OpenAI Images API)",
                images,
                requestBody=_body(_obj({"model": _models("images.generations"), **image_fields}, ("model", "prompt"))),
            )
        },
        "/v1/images/edits": {
            "post": _sync(
                "Edit images with a catalog model (OpenAI Images API; multipart image files)",
                images,
                requestBody=_multipart(
                    {
                        "model": _models("images.edits"),
                        "image": {"anyOf": [BINARY, {"type": "array", "items": BINARY, "maxItems": 16}]},
                        "mask": BINARY,
                        **image_fields,
                    },
                    ("model", "prompt", "image"),
                ),
            )
        },
        "/v1/audio/speech": {
            "post": _sync(
                "Speech from text with a catalog model (OpenAI Audio API): the audio bytes",
                {"description": "The audio", "content": {"audio/mpeg": {"schema": BINARY}}},
                requestBody=_body(
                    _obj(
                        {
                            "model": _models("audio.speech"),
                            "input": {"type": "string", "minLength": 1},
                            "voice": {"type": "string"},
                            "response_format": {"type": "string"},
                            "speed": {"type": "number"},
                        },
                        ("model", "input", "voice"),
                    )
                ),
            )
        },
        "/v1/audio/transcriptions": {
            "post": _sync(
                "Transcribe an audio file with a catalog model (OpenAI Audio API)",
                {
                    "description": "The transcript (text/plain for response_format text)",
                    "content": {
                        JSON: {"schema": _obj({"text": {"type": "string"}}, ("text",))},
                        "text/plain": {"schema": {"type": "string"}},
                    },
                },
                requestBody=_multipart(
                    {
                        "file": BINARY,
                        "model": _models("audio.transcriptions"),
                        "language": {"type": "string"},
                        "response_format": {"type": "string", "enum": list(TRANSCRIPT_FORMATS)},
                    },
                    ("file", "model"),
                ),
            )
        },
        "/v1/videos": {
            "post": video_op(
                "Start a video with a catalog model (OpenAI Videos API)",
                _json("The video, queued", video),
                400,
                402,
                404,
                413,
                422,
                429,
                507,
                requestBody=_multipart(
                    {
                        "model": _models("videos"),
                        "prompt": {"type": "string", "minLength": 1},
                        "seconds": {"type": "string"},
                        "size": {"type": "string"},
                        "input_reference": BINARY,
                    },
                    ("model", "prompt"),
                ),
            ),
            "get": video_op(
                "This account's videos, a page at a time",
                _json(
                    "A page of videos",
                    _obj(
                        {
                            "object": {"const": "list"},
                            "data": {"type": "array", "items": video},
                            "first_id": _nullable({"type": "string"}),
                            "last_id": _nullable({"type": "string"}),
                            "has_more": {"type": "boolean"},
                        },
                        ("object", "data", "has_more"),
                    ),
                ),
                422,
                parameters=[
                    query("after", {"type": "string"}),
                    query("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                    query("order", {"type": "string", "enum": ["asc", "desc"]}),
                ],
            ),
        },
        "/v1/videos/{video_id}": {
            "get": video_op("One video", _json("The video", video), 404, parameters=video_id),
            "delete": video_op(
                "Delete a finished video and its files",
                _json(
                    "Deleted",
                    _obj(
                        {"id": {"type": "string"}, "object": {"const": "video.deleted"}, "deleted": {"const": True}},
                        ("id", "object", "deleted"),
                    ),
                ),
                400,
                404,
                parameters=video_id,
            ),
        },
        "/v1/videos/{video_id}/content": {
            "get": video_op(
                "A completed video's bytes (variant video) or first frame (thumbnail)",
                {
                    "description": "The file",
                    "content": {"video/mp4": {"schema": BINARY}, "image/jpeg": {"schema": BINARY}},
                },
                400,
                404,
                416,
                parameters=[*video_id, query("variant", {"type": "string", "enum": list(VARIANTS)}), *OBJECT_HEADERS],
                extra_answers=OBJECT_ANSWERS,
            )
        },
    }
