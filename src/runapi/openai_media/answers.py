"""What OpenAI's synchronous media endpoints answer, from a completed task: the images response (each image
as base64 read from storage, or as a signed link), the speech's audio bytes, a transcription in the asked
format. The bytes come from our storage directly, never by HTTP to ourselves."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any, Literal

from ..domain.task import Task
from ..errors import BadRequest
from ..services import Services
from .service import file_bytes, files_of

ImageFormat = Literal["url", "b64_json"]
IMAGE_FORMATS: tuple[ImageFormat, ...] = ("b64_json", "url")
TRANSCRIPT_FORMATS = ("json", "text", "verbose_json")
SEGMENT_GAP_SECONDS = 0.5  # a pause this long between two words starts a new segment (verbose_json)
_OUTPUT_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp"}


def format_choice(value: Any, supported: tuple[str, ...], default: str) -> str:
    """A `response_format` field: the default when absent, else one of `supported` (400 naming them)."""
    if value is None:
        return default
    if value not in supported:
        raise BadRequest(
            f"Invalid value for response_format: {value!r}. Supported values: {', '.join(supported)}",
            code="invalid_value",
        )
    return str(value)


def image_format(value: Any) -> ImageFormat:
    """response_format of the images endpoints. Default b64_json: what OpenAI's GPT image models return."""
    return "url" if format_choice(value, IMAGE_FORMATS, "b64_json") == "url" else "b64_json"


async def images_body(rt: Services, task: Task, response_format: ImageFormat, base_url: str) -> dict[str, Any]:
    files = files_of(task, "images")
    expires = int((task.completed_at or time.time()) + rt.settings.generated_url_ttl_seconds)
    data: list[dict[str, Any]] = []
    for item in files:
        if response_format == "url":
            data.append({"url": rt.signer.url(base_url, item["key"], expires)})
        else:
            data.append({"b64_json": base64.b64encode(await file_bytes(rt, item)).decode("ascii")})
    body: dict[str, Any] = {"created": int(task.completed_at or task.created_at), "data": data}
    output_format = _OUTPUT_FORMATS.get(str(files[0].get("content_type"))) if files else None
    if output_format:
        body["output_format"] = output_format
    return body


@dataclass(frozen=True)
class Audio:
    data: bytes
    content_type: str


async def speech_audio(rt: Services, task: Task) -> Audio:
    files = files_of(task, "audios")
    if not files:
        raise BadRequest("The task made no audio")
    return Audio(await file_bytes(rt, files[0]), str(files[0].get("content_type") or "audio/mpeg"))


def transcript_format(value: Any) -> str:
    return format_choice(value, TRANSCRIPT_FORMATS, "json")


def transcript_body(task: Task, response_format: str, granularities: tuple[str, ...] = ()) -> dict[str, Any] | str:
    """json: {text, usage}; text: the text alone; verbose_json: language, duration, segments (and words when
    `timestamp_granularities` asks for them), as OpenAI's TranscriptionVerbose."""
    extra = (task.result or {}).get("extra") or {}
    text = str(extra.get("text") or "")
    words = [w for w in extra.get("words") or () if isinstance(w, dict) and w.get("type", "word") == "word"]
    duration = max((float(w.get("end") or 0) for w in extra.get("words") or () if isinstance(w, dict)), default=0.0)
    if response_format == "text":
        return text
    usage = {"type": "duration", "seconds": round(duration, 3)}
    if response_format == "json":
        return {"text": text, "usage": usage}
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": str(extra.get("language_code") or ""),
        "duration": round(duration, 3),
        "text": text,
        "segments": _segments(words),
        "usage": usage,
    }
    if "word" in granularities:
        body["words"] = [{"word": str(w.get("text", "")), "start": w.get("start"), "end": w.get("end")} for w in words]
    return body


def _segments(words: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: list[list[dict[str, Any]]] = []
    for w in words:
        if groups and float(w.get("start") or 0) - float(groups[-1][-1].get("end") or 0) < SEGMENT_GAP_SECONDS:
            groups[-1].append(w)
        else:
            groups.append([w])
    return [
        {
            "id": i,
            "seek": 0,
            "start": group[0].get("start"),
            "end": group[-1].get("end"),
            "text": " ".join(str(w.get("text", "")) for w in group),
            "tokens": [],
            "temperature": 0.0,
            "avg_logprob": 0.0,
            "compression_ratio": 1.0,
            "no_speech_prob": 0.0,
        }
        for i, group in enumerate(groups)
    ]
