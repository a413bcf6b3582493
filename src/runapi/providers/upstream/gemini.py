"""Google's Gemini API for media (https://generativelanguage.googleapis.com/v1beta, header `x-goog-api-key`):
  images  POST models/{model}:generateContent   {contents: [{role, parts: [text, inline_data...]}],
                                                 generationConfig: {responseModalities, imageConfig}}
          → candidates[].content.parts[].inlineData {mimeType, data (base64)}: answered at once
  videos  POST models/{model}:predictLongRunning {instances: [{prompt, image, lastFrame, referenceImages}],
                                                 parameters: {aspectRatio, durationSeconds, ...}}
          → {name: operation}; GET /v1beta/{operation} until done →
          response.generateVideoResponse.generatedSamples[].video.uri
The Gemini API cannot read our links, so input images are downloaded here (through the task-input reader:
SSRF-safe, bounded) and sent inline. A Veo result URI needs the key: it is fetched here with the key only
when it is on the configured base URL's origin; a redirect from there is handed to the router's keyless,
SSRF-safe download.

Errors are `{"error": {"code", "message", "status"}}`. Google answers a wrong key with 400 INVALID_ARGUMENT
(reason API_KEY_INVALID): that is this deployment's fault, so it is treated like 401/403 (next deployment).
429 RESOURCE_EXHAUSTED carries its wait as a RetryInfo detail (`retryDelay: "30s"`), read when no Retry-After
header is sent. A prompt refused for safety answers 200 with promptFeedback.blockReason, or a candidate whose
finishReason is SAFETY / PROHIBITED_CONTENT / IMAGE_SAFETY / ... and no image; a Veo job refused for safety
finishes with raiMediaFilteredCount and no samples: both are content-policy failures (not retried).

Which Gemini model serves which of ours is data (gemini_models.yaml). Sources: ai.google.dev/gemini-api/docs
(image-generation, video, models, deprecations, changelog) and googleapis/python-genai@66807187
google/genai/models.py, read 2026-12-06."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from collections.abc import Mapping as Headers
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from ...files_policy import sniff
from ..base import TaskFailed, TaskInput
from ..inputs import Inputs
from . import errors
from .adapter import Finished, Running, Started, TableAdapter, UpstreamFile
from .config import MediaDeployment
from .http_call import same_origin, send, upstream_span
from .mapping import Context, Mapping, Table

TABLE_PATH = Path(__file__).with_name("gemini_models.yaml")
DEFAULT_POLL_SECONDS = 10.0  # Google's own examples poll a Veo operation every 10 s
# finish / block reasons meaning "refused for content" (python-genai FinishReason, BlockedReason)
POLICY_REASONS = frozenset(
    {
        "SAFETY",
        "PROHIBITED_CONTENT",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
        "RECITATION",
        "IMAGE_RECITATION",
        "MODEL_ARMOR",
        "JAILBREAK",
    }
)
DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")
OPERATION = re.compile(r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._/-]{0,300}$")  # e.g. models/veo-3.1-…/operations/abc

ImageFetch = Callable[[str], Awaitable[tuple[bytes, str]]]  # URL → (bytes, image MIME type)


def makes_video(mapping: Mapping) -> bool:
    """Veo mappings list videos as their output; every other mapping makes images."""
    return "videos" in mapping.outputs.values()


def _inline(data: bytes, mime: str) -> dict[str, str]:
    return {"mime_type": mime, "data": base64.b64encode(data).decode()}


def _veo_image(data: bytes, mime: str) -> dict[str, str]:
    return {"bytesBase64Encoded": base64.b64encode(data).decode(), "mimeType": mime}


async def image_body(fields: dict[str, Any], fetch: ImageFetch) -> dict[str, Any]:
    """The generateContent body for our mapped fields (gemini_models.yaml): the prompt, then each input image
    inline, asking for images only."""
    parts: list[dict[str, Any]] = [{"text": fields["prompt"]}]
    for url in fields.get("images") or []:
        data, mime = await fetch(url)
        parts.append({"inline_data": _inline(data, mime)})
    image_config = {k: fields[k] for k in ("aspectRatio", "imageSize") if k in fields}
    config: dict[str, Any] = {"responseModalities": ["IMAGE"]}
    if image_config:
        config["imageConfig"] = image_config
    return {"contents": [{"role": "user", "parts": parts}], "generationConfig": config}


async def video_body(fields: dict[str, Any], fetch: ImageFetch) -> dict[str, Any]:
    """The predictLongRunning body for our mapped fields: one instance (prompt, frames, asset references)
    and the generation parameters."""
    instance: dict[str, Any] = {"prompt": fields["prompt"]}
    for ours in ("image", "lastFrame"):
        if fields.get(ours):
            instance[ours] = _veo_image(*await fetch(fields[ours]))
    references = fields.get("referenceImages") or []
    if references:
        instance["referenceImages"] = [
            {"image": _veo_image(*await fetch(url)), "referenceType": "asset"} for url in references
        ]
    parameters = {k: fields[k] for k in ("aspectRatio", "durationSeconds") if k in fields}
    return {"instances": [instance], "parameters": parameters}


def error_message(data: Any) -> str | None:
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict) and err.get("message"):
        status = f" ({err['status']})" if err.get("status") else ""
        return f"{err['message']}{status}"
    return errors.first_message(data)


def _details(resp: httpx.Response) -> list[dict[str, Any]]:
    try:
        err = resp.json().get("error") or {}
        return [d for d in err.get("details") or [] if isinstance(d, dict)]
    except (ValueError, AttributeError):
        return []


def classify(resp: httpx.Response, name: str, job_failed: bool = False) -> errors.UpstreamError:
    """errors.from_response, knowing Google's two quirks: a bad key is a 400 (API_KEY_INVALID), and a 429's
    wait is a RetryInfo detail."""
    exc = errors.from_response(resp, name, error_message, job_failed=job_failed)
    details = _details(resp)
    if resp.status_code == 400 and any(d.get("reason") == "API_KEY_INVALID" for d in details):
        exc = errors.UpstreamError(f"{name} refused the API key: {exc}", resp.status_code, retryable=True)
    if exc.retry_after is None:
        for d in details:
            match = DELAY.match(str(d.get("retryDelay") or ""))
            if match:
                exc.retry_after = float(match.group(1))
    return exc


def policy_refusal(answer: dict[str, Any]) -> str | None:
    """Why Google refused a generateContent prompt, when it did (no image and a safety reason)."""
    feedback = answer.get("promptFeedback") or {}
    if feedback.get("blockReason"):
        return f"Prompt blocked by Gemini: {feedback['blockReason']}"
    for candidate in answer.get("candidates") or []:
        reason = candidate.get("finishReason")
        if reason in POLICY_REASONS:
            message = candidate.get("finishMessage")
            return f"Gemini refused to make this image: {reason}" + (f" ({message})" if message else "")
    return None


def image_files(answer: dict[str, Any], name: str) -> list[UpstreamFile]:
    """The images in a generateContent answer (interim "thought" images are left out); an UpstreamError
    when there are none: not retried when Google refused the prompt for safety."""
    files = []
    for candidate in answer.get("candidates") or []:
        for part in (candidate.get("content") or {}).get("parts") or []:
            inline = part.get("inlineData") or part.get("inline_data")
            if part.get("thought") or not isinstance(inline, dict) or not inline.get("data"):
                continue
            try:
                files.append(UpstreamFile("images", data=base64.b64decode(inline["data"], validate=True)))
            except (binascii.Error, ValueError) as exc:
                raise errors.UpstreamError(f"{name} sent an unreadable image") from exc
    if files:
        return files
    refusal = policy_refusal(answer)
    if refusal:
        raise errors.UpstreamError(refusal, retryable=False)
    raise errors.UpstreamError(f"{name} returned no image")


class Gemini(TableAdapter):
    default_base_url = "https://generativelanguage.googleapis.com/v1beta"
    table_path = TABLE_PATH

    def __init__(
        self, deployment: MediaDeployment, http: httpx.AsyncClient, inputs: Inputs, table: Table | None = None
    ):
        super().__init__(deployment, http, inputs, table)
        self.inputs: Inputs = inputs  # input images are read here and sent inline

    # --- HTTP --------------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.deployment.api_key} if self.deployment.api_key else {}

    def _ours(self, url: str) -> bool:
        """Only the configured origin ever sees our key."""
        return same_origin(self.deployment.base_url, url)

    async def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        name, url = self.deployment.name, f"{self.deployment.base_url}/{path}"
        resp = await send(self.http, self.deployment, method, url, headers=self._headers(), **kw)
        if resp.status_code >= 400:  # Google's own reading of its errors, not raise_for_status
            raise classify(resp, name)
        return errors.json_object(resp, name)

    async def _image(self, url: str) -> tuple[bytes, str]:
        data = await self.inputs.fetch(url, what="image")
        mime = sniff(data)
        if mime is None or not mime.startswith("image/"):
            raise TaskFailed("Failed to fetch the image: not a supported image")
        return data, mime

    # --- the adapter ---------------------------------------------------------------------------------------

    async def start(self, task: TaskInput, ctx: Context) -> Started | Finished:
        mapping, route = self.table.route_for(task, self.deployment.name)
        model = self.deployment.model_map.get(route.app, route.app)
        fields = mapping.body(route, ctx)
        if not makes_video(mapping):
            body = await image_body(fields, self._image)
            answer = await self._call("POST", f"models/{model}:generateContent", json=body)
            return Finished(image_files(answer, self.deployment.name))
        body = await video_body(fields, self._image)
        answer = await self._call("POST", f"models/{model}:predictLongRunning", json=body)
        operation = answer.get("name")
        if not isinstance(operation, str) or not OPERATION.match(operation):  # it becomes a path under base_url
            raise errors.UpstreamError(f"{self.deployment.name} answered without a usable operation name")
        handle = {"model": model, "operation": operation, "meta": mapping.item_meta(ctx)}
        return Started(handle, poll_in=self.deployment.poll_seconds or DEFAULT_POLL_SECONDS)

    async def check(self, task: TaskInput, handle: dict[str, Any]) -> Running | Finished:
        name = self.deployment.name
        try:
            operation = await self._call("GET", handle["operation"])
        except errors.UpstreamError as exc:
            if exc.rate_limited:  # polling too fast is not a failure of the job
                return Running(poll_in=exc.retry_after or DEFAULT_POLL_SECONDS)
            if exc.status == 404:  # Google no longer knows the operation: the job is lost
                exc.job_failed = True
            raise
        if not operation.get("done"):
            return Running(poll_in=self.deployment.poll_seconds)
        error = operation.get("error")
        if isinstance(error, dict):
            message = f"{name} failed the video: {error.get('message') or error.get('code')}"
            # code 3 is INVALID_ARGUMENT (google.rpc.Code): the request's fault, any other is Google's
            raise errors.UpstreamError(message, retryable=error.get("code") != 3, job_failed=error.get("code") != 3)
        result = ((operation.get("response") or {}).get("generateVideoResponse")) or {}
        meta = handle.get("meta") or {}
        files = [await self._video(s.get("video") or {}, meta) for s in result.get("generatedSamples") or []]
        if files:
            return Finished(files)
        if result.get("raiMediaFilteredCount"):
            reasons = "; ".join(str(r) for r in result.get("raiMediaFilteredReasons") or [])
            raise errors.UpstreamError(f"Gemini filtered the video: {reasons or 'content policy'}", retryable=False)
        raise errors.UpstreamError(f"{name} returned no video", job_failed=True)

    async def _video(self, video: dict[str, Any], meta: dict[str, Any]) -> UpstreamFile:
        if video.get("encodedVideo"):
            try:
                return UpstreamFile("videos", data=base64.b64decode(video["encodedVideo"]), meta=dict(meta))
            except (binascii.Error, ValueError) as exc:
                raise errors.UpstreamError(f"{self.deployment.name} sent an unreadable video") from exc
        uri = video.get("uri")
        if not isinstance(uri, str) or not uri:
            raise errors.UpstreamError(f"{self.deployment.name} returned a video without a link", job_failed=True)
        if not self._ours(uri):
            return UpstreamFile("videos", url=uri, meta=dict(meta))  # no key needed (nor sent) elsewhere
        return await self._download(uri, meta)

    async def _download(self, uri: str, meta: dict[str, Any]) -> UpstreamFile:
        """The video from Google's origin, with the key, at most max_output_bytes; a redirect (to storage) is
        followed by the router's keyless download instead."""
        name, limit = self.deployment.name, self.deployment.max_output_bytes
        with upstream_span(self.deployment, "GET", uri) as span:
            return await self._read_download(uri, meta, span.headers(self._headers()), name, limit)

    async def _read_download(
        self, uri: str, meta: dict[str, Any], headers: Headers[str, str], name: str, limit: int
    ) -> UpstreamFile:
        try:
            async with self.http.stream("GET", uri, headers=headers, timeout=self.deployment.timeout_seconds) as resp:
                if resp.is_redirect and resp.headers.get("location"):
                    return UpstreamFile("videos", url=urljoin(uri, resp.headers["location"]), meta=dict(meta))
                if resp.status_code >= 400:
                    await resp.aread()
                    raise classify(resp, name)
                chunks, size = [], 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        message = f"The upstream result is too large: more than {limit} bytes"
                        raise errors.UpstreamError(message, retryable=False)
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise errors.from_transport(exc, name) from exc
        return UpstreamFile("videos", data=b"".join(chunks), meta=dict(meta))

    async def cancel(self, handle: dict[str, Any]) -> None:
        return None  # the Gemini API documents no cancel for Veo operations: the job runs out on its own
