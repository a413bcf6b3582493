"""ElevenLabs' own API, a synchronous upstream (header `xi-api-key`):
  text_to_speech   POST /v1/text-to-speech/{voice_id}[/with-timestamps]?output_format=...
  text_to_dialogue POST /v1/text-to-dialogue?output_format=...   {inputs: [{text, voice_id}]}
  text_to_sound    POST /v1/sound-generation?output_format=...
  speech_to_text   POST /v1/speech-to-text   (multipart `file`)  → {text, language_code, words}
  isolate_audio    POST /v1/audio-isolation  (multipart `audio`) → audio bytes
Our `voice` takes a voice name or id; names are looked up in the account's voices (GET /v1/voices, cached).
Errors are `{"detail": {"status", "message"}}`; 4xx other than auth/rate limits are the request's fault and
become the task's error."""

from __future__ import annotations

import io
import re
import time
import wave
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from ..base import TaskFailed, TaskInput
from ..inputs import Inputs
from . import errors
from .adapter import Finished, Synchronous, UpstreamFile
from .config import MediaDeployment
from .http_call import b64_bytes, call
from .mapping import Context, build

# Our model ids → ElevenLabs model_id (a deployment's model_map can rename the right-hand side).
MODELS = {
    "text-to-speech-turbo-v2.5": "eleven_turbo_v2_5",
    "text-to-speech-multilingual-v2": "eleven_multilingual_v2",
    "text-to-dialogue-v3": "eleven_v3",
    "sound-effect-v2": "eleven_text_to_sound_v2",
    "speech-to-text": "scribe_v1",
    "audio-isolation": "audio-isolation",
}
DEFAULT_OUTPUT_FORMAT = "mp3_44100_128"
VOICE_ID = re.compile(r"^[A-Za-z0-9]{20}$")
VOICES_TTL_SECONDS = 600.0

# Request bodies per action, as mapping.py value specs over our parameters.
BODIES: dict[str, dict[str, Any]] = {
    "elevenlabs/text_to_speech": {
        "text": "$text",
        "previous_text": "$previous_text",
        "next_text": "$next_text",
        "language_code": "$language_code",
        "voice_settings": {
            "object": {
                "stability": "$stability",
                "similarity_boost": "$similarity_boost",
                "style": "$style",
                "speed": "$speed",
            }
        },
    },
    "elevenlabs/text_to_dialogue": {
        "language_code": "$language_code",
        "settings": {"object": {"stability": "$stability"}},
    },
    "elevenlabs/text_to_sound": {
        "text": "$text",
        "loop": "$loop",
        "duration_seconds": "$duration_seconds",
        "prompt_influence": "$prompt_influence",
    },
    "elevenlabs/speech_to_text": {
        "language_code": "$language_code",
        "tag_audio_events": "$tag_audio_events",
        "diarize": "$diarize",
    },
    "elevenlabs/isolate_audio": {},
}


class ElevenLabs(Synchronous):
    default_base_url = "https://api.elevenlabs.io"

    def __init__(self, deployment: MediaDeployment, http: httpx.AsyncClient, inputs: Inputs):
        self.deployment = deployment
        self.http = http
        self.inputs = inputs
        self._voices: tuple[float, dict[str, str]] | None = None
        self._actions: dict[str, Callable[[TaskInput, dict[str, Any], str], Awaitable[Finished]]] = {
            "elevenlabs/text_to_speech": self._speech,
            "elevenlabs/text_to_dialogue": self._dialogue,
            "elevenlabs/text_to_sound": self._sound,
            "elevenlabs/speech_to_text": self._transcribe,
            "elevenlabs/isolate_audio": self._isolate,
        }

    @classmethod
    def pairs(cls) -> frozenset[tuple[str, str]]:
        """Each action with each model it knows (the catalog decides which of them an action offers)."""
        return frozenset((action, model) for action in BODIES for model in MODELS)

    def supports(self, action_key: str, model: str | None) -> bool:
        return action_key in self._actions and (model or "") in MODELS

    async def start(self, task: TaskInput, ctx: Context) -> Finished:
        model = task.model.id if task.model else ""
        upstream_model = self.deployment.model_map.get(MODELS[model], MODELS[model])
        body = build(BODIES[task.action.key], ctx)
        return await self._actions[task.action.key](task, body, upstream_model)

    # --- one method per endpoint ----------------------------------------------------------------------

    async def _speech(self, task: TaskInput, body: dict[str, Any], model_id: str) -> Finished:
        voice = await self.voice_id(str(task.params.get("voice") or "EkK5I93UQWFDigLMpZcX"))
        body["model_id"] = model_id
        if task.params.get("timestamps"):
            resp = await self._post(
                f"/v1/text-to-speech/{voice}/with-timestamps",
                json=body,
                params={"output_format": DEFAULT_OUTPUT_FORMAT},
            )
            data = errors.json_object(resp, self.deployment.name)
            audio = _b64(data.get("audio_base64"), self.deployment.name)
            words = _words(data.get("alignment") or data.get("normalized_alignment") or {})
            return Finished([UpstreamFile("audios", data=audio, meta={"timestamps": words})])
        resp = await self._post(
            f"/v1/text-to-speech/{voice}", json=body, params={"output_format": DEFAULT_OUTPUT_FORMAT}
        )
        return Finished([UpstreamFile("audios", data=resp.content)])

    async def _dialogue(self, task: TaskInput, body: dict[str, Any], model_id: str) -> Finished:
        body["inputs"] = [
            {"text": turn["text"], "voice_id": await self.voice_id(str(turn["voice"]))}
            for turn in task.params.get("dialogue") or []
        ]
        body["model_id"] = model_id
        resp = await self._post("/v1/text-to-dialogue", json=body, params={"output_format": DEFAULT_OUTPUT_FORMAT})
        return Finished([UpstreamFile("audios", data=resp.content)])

    async def _sound(self, task: TaskInput, body: dict[str, Any], model_id: str) -> Finished:
        body["model_id"] = model_id
        fmt = str(task.params.get("output_format") or DEFAULT_OUTPUT_FORMAT)
        resp = await self._post("/v1/sound-generation", json=body, params={"output_format": fmt})
        audio = _wav(resp.content, fmt) if fmt.startswith("pcm_") else resp.content
        return Finished([UpstreamFile("audios", data=audio)])

    async def _transcribe(self, task: TaskInput, body: dict[str, Any], model_id: str) -> Finished:
        audio = await self.inputs.fetch(str(task.params["source_audio_url"]), what="audio")
        fields = {"model_id": model_id, **{k: _form(v) for k, v in body.items()}}
        resp = await self._post("/v1/speech-to-text", data=fields, files={"file": ("audio", audio)})
        data = errors.json_object(resp, self.deployment.name)
        extra: dict[str, Any] = {k: data[k] for k in ("text", "language_code", "words") if k in data}
        if "text" not in extra:
            raise errors.UpstreamError(f"{self.deployment.name} returned no transcript")
        return Finished([], extra)

    async def _isolate(self, task: TaskInput, body: dict[str, Any], model_id: str) -> Finished:
        audio = await self.inputs.fetch(str(task.params["source_audio_url"]), what="audio")
        resp = await self._post("/v1/audio-isolation", files={"audio": ("audio", audio)})
        return Finished([UpstreamFile("audios", data=resp.content)])

    # --- transport ------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"xi-api-key": self.deployment.api_key} if self.deployment.api_key else {}

    async def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        url = f"{self.deployment.base_url}{path}"
        return await call(self.http, self.deployment, method, url, headers=self._headers(), **kw)

    async def _post(self, path: str, **kw: Any) -> httpx.Response:
        return await self._send("POST", path, **kw)

    async def voice_id(self, voice: str) -> str:
        """An id as is; a name resolved through the account's voices (case-insensitive)."""
        if VOICE_ID.match(voice):
            return voice
        if self._voices is None or time.monotonic() - self._voices[0] > VOICES_TTL_SECONDS:
            data = errors.json_object(await self._send("GET", "/v1/voices"), self.deployment.name)
            names = {
                str(v.get("name", "")).strip().lower(): str(v.get("voice_id"))
                for v in data.get("voices") or []
                if v.get("voice_id")
            }
            self._voices = (time.monotonic(), names)
        found = self._voices[1].get(voice.strip().lower())
        if found is None:
            raise TaskFailed(f"Unknown voice {voice!r}")
        return found


def _b64(value: Any, name: str) -> bytes:
    return b64_bytes(value or "", f"{name} sent unreadable audio")


def _form(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _words(alignment: dict[str, Any]) -> list[dict[str, Any]]:
    """Character timings → word timings [{word, start, end}] (seconds), the shape our docs give."""
    chars = alignment.get("characters") or []
    starts = alignment.get("character_start_times_seconds") or []
    ends = alignment.get("character_end_times_seconds") or []
    words: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for ch, start, end in zip(chars, starts, ends):
        if ch.isspace():
            current = None
            continue
        if current is None:
            current = {"word": "", "start": round(float(start), 3), "end": round(float(end), 3)}
            words.append(current)
        current["word"] += ch
        current["end"] = round(float(end), 3)
    return words


def _wav(pcm: bytes, output_format: str) -> bytes:
    """ElevenLabs' pcm_<rate> is raw 16-bit mono; we store files, so give it a WAV header."""
    try:
        rate = int(output_format.split("_")[1])
    except (IndexError, ValueError):
        rate = 44100
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm[: len(pcm) // 2 * 2])
    return buf.getvalue()
