"""Fake media upstreams on 127.0.0.1 speaking each provider's documented protocol, with behaviour tests switch
at run time: fal.ai's queue API, OpenAI Images and ElevenLabs. Media bytes are real (tiny PNG, MP4, MP3)."""

from __future__ import annotations

import asyncio
import base64
import io
import threading
import time
import uuid
from typing import Any, ClassVar

import httpx
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runapi.providers.sandbox import media
from tests.support.fal_contract import refusals
from tests.support.servers import free_port


def tiny_png(color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, "PNG")
    return buf.getvalue()


PNG = tiny_png()
MP4 = media.encode_video(b"fake-upstream", 64, 64, 0.5)
MP3 = media.encode_audio(b"fake-upstream", 0.5, "mp3")
POLICY_MESSAGE = "The content was flagged by a content checker."


class FakeServer:
    """A Starlette app served by uvicorn in a thread; `mode` switches behaviour; `requests` records calls."""

    def __init__(self, routes: list[Route]):
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(Starlette(routes=routes), host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    async def record(self, request: Request, **extra: Any) -> dict[str, Any]:
        entry = {
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.query_params),
            "headers": dict(request.headers),
            **extra,
        }
        self.requests.append(entry)
        return entry

    def calls(self, method: str, contains: str = "") -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method and contains in r["path"]]


def _fal_outputs(app: str, base: str, count: int) -> dict[str, Any]:
    """Shaped like fal's results: video apps answer {video: File}, single-image tools {image: File}, image
    models {images: [File]}."""
    images = ("text-to-image", "image-to-image", "grok-imagine-image")
    if not (any(k in app for k in images) or app.endswith("/edit")) and any(
        k in app for k in ("video", "veo", "kling", "seedance", "hailuo", "wan", "infinitalk", "avatar", "modify")
    ):
        return {"video": {"url": f"{base}/files/out.mp4", "content_type": "video/mp4", "file_name": "out.mp4"}}
    if "topaz/upscale/image" in app or "recraft" in app:
        return {"image": {"url": f"{base}/files/out.png", "content_type": "image/png"}}
    return {
        "images": [
            {"url": f"{base}/files/out.png", "content_type": "image/png", "width": 8, "height": 8} for _ in range(count)
        ],
        "seed": 42,
    }


class FakeFal(FakeServer):
    """fal.ai's queue API. Every submission is checked against fal's published input schema for its endpoint
    (tests/support/contracts/fal_schemas.yaml): an unknown endpoint id answers 404, a body with an unknown field, a
    wrong type or enum value, a value out of range or a missing required field answers 422 with fal's
    `{"detail": [{loc, msg, type}]}`. Modes: ok | slow (IN_QUEUE, IN_PROGRESS for `slow_polls` status checks) |
    500 | 429 (submit refused, Retry-After) | policy (the result is a 422 content_policy_violation) | lost (the
    result is a 503 runner error) | status500 (status checks fail) | webhook (in progress for 0.3 s, then
    POSTs the outcome to the submit's `fal_webhook` URL)."""

    def __init__(self, name: str):
        self.name = name
        self.slow_polls = 3
        self.jobs: dict[str, dict[str, Any]] = {}
        self.refused: list[dict[str, Any]] = []  # submissions fal's schema refused (app, body, detail)
        self._later: set[asyncio.Task] = set()
        super().__init__(
            [
                Route("/files/{name}", self.file, methods=["GET"]),
                Route("/{owner}/{app}/requests/{rid}/status", self.status, methods=["GET"]),
                Route("/{owner}/{app}/requests/{rid}/cancel", self.cancel, methods=["PUT"]),
                Route("/{owner}/{app}/requests/{rid}", self.result, methods=["GET"]),
                Route("/{app_id:path}", self.submit, methods=["POST"]),
            ]
        )

    async def submit(self, request: Request) -> Response:
        body = await request.json()
        app = request.path_params["app_id"]
        await self.record(request, body=body, app=app)
        if self.mode == "500":
            return JSONResponse(
                {"detail": "Internal server error", "error_type": "runner_scheduling_failure"}, status_code=503
            )
        if self.mode == "429":
            return JSONResponse(
                {"detail": "Too many concurrent requests"}, status_code=429, headers={"Retry-After": "30"}
            )
        refused = refusals(app, body)
        if refused is None:
            return JSONResponse({"detail": f"Application '{app}' not found"}, status_code=404)
        if refused:
            self.refused.append({"app": app, "body": body, "detail": refused})
            return JSONResponse({"detail": refused}, status_code=422)
        rid = str(uuid.uuid4())
        self.jobs[rid] = {
            "app": app,
            "body": body,
            "polls": 0,
            "mode": self.mode,
            "webhook": request.query_params.get("fal_webhook"),
        }
        if self.mode == "webhook":  # runs a while, then reports its end to fal_webhook
            self._later.add(asyncio.create_task(self._finish_and_call_back(rid)))
        root = f"{self.url}/{'/'.join(app.split('/')[:2])}/requests/{rid}"
        return JSONResponse(
            {
                "request_id": rid,
                "status": "IN_QUEUE",
                "queue_position": 0,
                "response_url": root,
                "status_url": f"{root}/status",
                "cancel_url": f"{root}/cancel",
            }
        )

    async def _finish_and_call_back(self, rid: str) -> None:
        job = self.jobs[rid]
        await asyncio.sleep(0.3)
        job["done"] = True
        if job["webhook"]:
            payload = _fal_outputs(job["app"], self.url, int(job["body"].get("num_images") or 1))
            async with httpx.AsyncClient() as client:
                resp = await client.post(
                    job["webhook"],
                    json={"request_id": rid, "gateway_request_id": rid, "status": "OK", "payload": payload},
                )
            job["webhook_status"] = resp.status_code

    def _job(self, request: Request) -> dict[str, Any] | None:
        return self.jobs.get(request.path_params["rid"])

    async def status(self, request: Request) -> Response:
        await self.record(request)
        job = self._job(request)
        if job is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        if self.mode == "status500":
            return JSONResponse({"detail": "Internal server error"}, status_code=500)
        job["polls"] += 1
        if job["mode"] == "slow" and job["polls"] <= self.slow_polls:
            state = "IN_QUEUE" if job["polls"] == 1 else "IN_PROGRESS"
            return JSONResponse(
                {
                    "status": state,
                    "queue_position": 2 if state == "IN_QUEUE" else None,
                    "response_url": f"{self.url}{request.url.path[:-7]}",
                },
                status_code=202,
            )
        if job.get("cancelled"):
            return JSONResponse({"status": "CANCELED"})
        if job["mode"] == "webhook" and not job.get("done"):
            return JSONResponse({"status": "IN_PROGRESS"}, status_code=202)
        return JSONResponse({"status": "COMPLETED", "response_url": f"{self.url}{request.url.path[:-7]}"})

    async def result(self, request: Request) -> Response:
        await self.record(request)
        job = self._job(request)
        if job is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        if job["mode"] == "policy":
            return JSONResponse(
                {
                    "detail": [
                        {
                            "loc": ["body", "prompt"],
                            "msg": POLICY_MESSAGE,
                            "type": "content_policy_violation",
                            "input": job["body"].get("prompt"),
                        }
                    ]
                },
                status_code=422,
            )
        if job["mode"] == "lost":
            return JSONResponse(
                {"detail": "Runner disconnected", "error_type": "runner_disconnected"},
                status_code=503,
                headers={"X-Fal-Error-Type": "runner_disconnected"},
            )
        count = int(job["body"].get("num_images") or 1)
        return JSONResponse(_fal_outputs(job["app"], self.url, count))

    async def cancel(self, request: Request) -> Response:
        await self.record(request)
        job = self._job(request)
        if job is None:
            return JSONResponse({"status": "NOT_FOUND"}, status_code=404)
        job["cancelled"] = True
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

    async def file(self, request: Request) -> Response:
        await self.record(request)
        if request.path_params["name"].endswith(".mp4"):
            return Response(MP4, media_type="video/mp4")
        return Response(PNG, media_type="image/png")


GPT_IMAGE_1_SIZES = {"auto", "1024x1024", "1536x1024", "1024x1536"}


def openai_size_error(model: str, size: str | None) -> str | None:
    """OpenAI's verdict on `size` for an image model, None when valid. gpt-image-2 takes any WxH with both
    edges multiples of 16, the longer at most 3840, long:short at most 3:1 and 655,360-8,294,400 pixels;
    gpt-image-1 and 1.5 take three sizes."""
    if size is None or size == "auto":
        return None
    if model.startswith("gpt-image-1"):
        return None if size in GPT_IMAGE_1_SIZES else f"Invalid size '{size}' for {model}"
    if model != "gpt-image-2":
        return None
    try:
        width, height = (int(v) for v in size.split("x"))
    except ValueError:
        return f"Invalid size '{size}': expected WIDTHxHEIGHT"
    if width % 16 or height % 16:
        return f"Invalid size '{size}': width and height must be multiples of 16"
    if max(width, height) > 3840:
        return f"Invalid size '{size}': the longest edge must be at most 3840"
    if max(width, height) > 3 * min(width, height):
        return f"Invalid size '{size}': the aspect ratio must be at most 3:1"
    if not 655_360 <= width * height <= 8_294_400:
        return f"Invalid size '{size}': the image must have between 655360 and 8294400 pixels"
    return None


class FakeOpenAIImages(FakeServer):
    """/v1/images/generations and /v1/images/edits, b64_json answers; `size` is checked per model as OpenAI
    does (400 invalid_value). Modes: ok | 500 | 429 | policy."""

    def __init__(self):
        super().__init__(
            [
                Route("/v1/images/generations", self.generate, methods=["POST"]),
                Route("/v1/images/edits", self.edit, methods=["POST"]),
            ]
        )

    def _failure(self) -> Response | None:
        if self.mode == "500":
            return JSONResponse(
                {"error": {"message": "The server had an error", "type": "server_error"}}, status_code=500
            )
        if self.mode == "429":
            return JSONResponse(
                {"error": {"message": "Rate limit reached"}}, status_code=429, headers={"Retry-After": "20"}
            )
        if self.mode == "policy":
            return JSONResponse(
                {
                    "error": {
                        "message": "Your request was rejected by the safety system.",
                        "type": "image_generation_user_error",
                        "code": "moderation_blocked",
                    }
                },
                status_code=400,
            )
        return None

    def _invalid(self, body: dict[str, Any]) -> Response | None:
        message = openai_size_error(str(body.get("model")), body.get("size"))
        if message is None:
            return None
        return JSONResponse(
            {"error": {"message": message, "type": "invalid_request_error", "param": "size", "code": "invalid_value"}},
            status_code=400,
        )

    def _images(self, n: int) -> Response:
        return JSONResponse({"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode()} for _ in range(n)]})

    async def generate(self, request: Request) -> Response:
        body = await request.json()
        await self.record(request, body=body)
        return self._failure() or self._invalid(body) or self._images(int(body.get("n") or 1))

    async def edit(self, request: Request) -> Response:
        form = await request.form()
        images = [await f.read() for f in form.getlist("image[]")]
        mask = form.get("mask")
        await self.record(
            request,
            body={k: v for k, v in form.items() if isinstance(v, str)},
            images=images,
            mask=await mask.read() if mask is not None else None,
        )
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return self._failure() or self._invalid(fields) or self._images(int(form.get("n") or 1))


class FakeElevenLabs(FakeServer):
    """The ElevenLabs endpoints our catalog uses, `xi-api-key` checked. Modes: ok | 500 | policy."""

    VOICES: ClassVar[list[dict[str, str]]] = [
        {"voice_id": "pNInz6obpgDQGcFmaJgB", "name": "Adam"},
        {"voice_id": "21m00Tcm4TlvDq8ikWAM", "name": "Rachel"},
    ]

    def __init__(self, key: str):
        self.key = key
        super().__init__(
            [
                Route("/v1/voices", self.voices, methods=["GET"]),
                Route("/v1/text-to-speech/{voice}/with-timestamps", self.speech_timestamps, methods=["POST"]),
                Route("/v1/text-to-speech/{voice}", self.speech, methods=["POST"]),
                Route("/v1/text-to-dialogue", self.audio_json, methods=["POST"]),
                Route("/v1/sound-generation", self.audio_json, methods=["POST"]),
                Route("/v1/speech-to-text", self.transcribe, methods=["POST"]),
                Route("/v1/audio-isolation", self.isolate, methods=["POST"]),
            ]
        )

    def _refuse(self, request: Request) -> Response | None:
        if request.headers.get("xi-api-key") != self.key:
            return JSONResponse(
                {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}, status_code=401
            )
        if self.mode == "500":
            return JSONResponse({"detail": {"status": "internal", "message": "Something broke"}}, status_code=500)
        if self.mode == "policy":
            return JSONResponse(
                {
                    "detail": {
                        "status": "content_against_policy",
                        "message": "This request violates our terms of service.",
                    }
                },
                status_code=400,
            )
        return None

    async def voices(self, request: Request) -> Response:
        await self.record(request)
        return self._refuse(request) or JSONResponse({"voices": self.VOICES})

    async def speech(self, request: Request) -> Response:
        await self.record(request, body=await request.json(), voice=request.path_params["voice"])
        return self._refuse(request) or Response(MP3, media_type="audio/mpeg")

    async def speech_timestamps(self, request: Request) -> Response:
        body = await request.json()
        await self.record(request, body=body, voice=request.path_params["voice"])
        text = body["text"]
        return self._refuse(request) or JSONResponse(
            {
                "audio_base64": base64.b64encode(MP3).decode(),
                "alignment": {
                    "characters": list(text),
                    "character_start_times_seconds": [i * 0.1 for i in range(len(text))],
                    "character_end_times_seconds": [i * 0.1 + 0.1 for i in range(len(text))],
                },
            }
        )

    async def audio_json(self, request: Request) -> Response:
        await self.record(request, body=await request.json())
        return self._refuse(request) or Response(MP3, media_type="audio/mpeg")

    async def transcribe(self, request: Request) -> Response:
        form = await request.form()
        audio = await form["file"].read()
        await self.record(request, body={k: v for k, v in form.items() if isinstance(v, str)}, audio=audio)
        return self._refuse(request) or JSONResponse(
            {
                "language_code": "en",
                "language_probability": 0.98,
                "text": "Hello from the fake.",
                "words": [{"text": "Hello", "start": 0.0, "end": 0.4, "type": "word"}],
            }
        )

    async def isolate(self, request: Request) -> Response:
        form = await request.form()
        audio = await form["audio"].read()
        await self.record(request, audio=audio)
        return self._refuse(request) or Response(MP3, media_type="audio/mpeg")
