"""A fake of kie.ai's Suno API (and sunoapi.org's, the same API) on 127.0.0.1, shaped after docs.kie.ai/suno-api
and docs.sunoapi.org/suno-api: `Authorization: Bearer <key>` checked; every answer is the envelope
{code, msg, data} with HTTP 200 (kie reports errors in `code`); each body is checked against the published
schema (tests/support/contracts/kie_suno_schemas.yaml via kie_suno_contract: code 422/400 with kie's msg); a song task
moves PENDING → TEXT_SUCCESS → FIRST_SUCCESS → SUCCESS, one step per record-info poll; result files are served
here (/files/...). Ids are remembered: an audioId or taskId this fake did not issue is refused (code 400), as
kie refuses ids of other accounts.

Modes: ok | slow (PENDING for `slow_polls` polls first) | 500 (submit answers code 500) | 429 (submit answers
code 429) | 430 (the same, kie's "call frequency too high") | policy (the song ends SENSITIVE_WORD_ERROR) |
lost (the job ends GENERATE_AUDIO_FAILED, errorCode 531) | copyright (ends GENERATE_AUDIO_FAILED, errorCode 400) |
callback (a song stays PENDING for 0.3 s, then is SUCCESS and kie's "complete" callback is POSTed to its
callBackUrl).
`hold` keeps songs at one status (e.g. FIRST_SUCCESS) until it is cleared."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runapi.providers.sandbox import media
from tests.support.fake_media import MP3, MP4, PNG, FakeServer
from tests.support.kie_suno_contract import refusal

WAV = media.encode_audio(b"fake-kie-wav", 0.5, "wav")
POLICY_MESSAGE = "The description contains sensitive words."
SONG_STEPS = ["PENDING", "TEXT_SUCCESS", "FIRST_SUCCESS", "SUCCESS"]
SONG_ENDPOINTS = {
    "/api/v1/generate",
    "/api/v1/generate/extend",
    "/api/v1/generate/upload-extend",
    "/api/v1/generate/upload-cover",
    "/api/v1/generate/mashup",
    "/api/v1/generate/add-vocals",
    "/api/v1/generate/add-instrumental",
    "/api/v1/generate/sounds",
    "/api/v1/generate/replace-section",
}
VOICE_RECORDS = {
    "/api/v1/voice/validate-info": {"/api/v1/voice/validate", "/api/v1/voice/regenerate"},
    "/api/v1/voice/record-info": {"/api/v1/voice/generate"},
}
RECORDS = {
    **VOICE_RECORDS,
    "/api/v1/generate/record-info": SONG_ENDPOINTS,
    "/api/v1/lyrics/record-info": {"/api/v1/lyrics"},
    "/api/v1/wav/record-info": {"/api/v1/wav/generate"},
    "/api/v1/vocal-removal/record-info": {"/api/v1/vocal-removal/generate"},
    "/api/v1/midi/record-info": {"/api/v1/midi/generate"},
    "/api/v1/suno/cover/record-info": {"/api/v1/suno/cover/generate"},
    "/api/v1/mp4/record-info": {"/api/v1/mp4/generate"},
}
SPLIT_STEMS = ["vocal", "backingVocals", "drums", "bass", "guitar", "keyboard", "percussion", "strings", "synth"]


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def envelope(code: int, msg: str, data: Any = None) -> JSONResponse:
    return JSONResponse({"code": code, "msg": msg, "data": data})


class FakeKieSuno(FakeServer):
    def __init__(self, key: str, kind: str = "kie_suno"):
        self.key = key
        self.kind = kind  # which published contract bodies are checked against (kie_suno | sunoapi)
        self.slow_polls = 3
        self.hold: str | None = None  # a song status songs stay at until the test clears it
        self.jobs: dict[str, dict[str, Any]] = {}
        self.audio_ids: dict[str, str] = {}  # audio id → the task that made it
        self.refused: list[dict[str, Any]] = []
        self._later: set[asyncio.Task[None]] = set()
        super().__init__(
            [
                Route("/files/{name}", self.file, methods=["GET"]),
                *[Route(path, self.record_info, methods=["GET"]) for path in RECORDS],
                Route("/api/v1/{rest:path}", self.submit, methods=["POST"]),
            ]
        )

    # --- helpers --------------------------------------------------------------------------------

    def _auth(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return envelope(401, "You do not have access permissions")
        return None

    def _unknown_ids(self, path: str, body: dict[str, Any]) -> str | None:
        for field in ("taskId", "task_id"):
            if field in body and body[field] not in self.jobs:
                return f"{field} {body[field]} not found"
        if "audioId" in body and body["audioId"] not in self.audio_ids:
            return f"audioId {body['audioId']} not found"
        if path == "/api/v1/midi/generate" and self.jobs[body["taskId"]]["path"] != "/api/v1/vocal-removal/generate":
            return "taskId is not a stem separation task"
        return None

    def _track(self, task_id: str, body: dict[str, Any], i: int, ready: bool) -> dict[str, Any]:
        audio_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{task_id}/{i}"))
        self.audio_ids[audio_id] = task_id
        return {
            "id": audio_id,
            "audioUrl": f"{self.url}/files/{audio_id}.mp3" if ready else "",
            "sourceAudioUrl": "",
            "streamAudioUrl": f"{self.url}/files/{audio_id}.mp3",
            "imageUrl": f"{self.url}/files/{audio_id}.png" if ready else "",
            "prompt": body.get("prompt") or "[Verse]\nfake lyrics",
            "modelName": "chirp-v5" if body.get("model") in ("V5", None) else f"chirp-{str(body['model']).lower()}",
            "title": body.get("title") or "Fake Song",
            "tags": body.get("style") or body.get("tags") or "pop",
            "createTime": "2026-12-06 00:00:00",
            "duration": 12.5,
        }

    # --- routes ---------------------------------------------------------------------------------

    async def file(self, request: Request) -> Response:
        name = request.path_params["name"]
        await self.record(request)
        kinds = {".mp3": (MP3, "audio/mpeg"), ".png": (PNG, "image/png"), ".mp4": (MP4, "video/mp4")}
        data, mime = next((v for k, v in kinds.items() if name.endswith(k)), (WAV, "audio/wav"))
        return Response(data, media_type=mime)

    async def submit(self, request: Request) -> Response:
        path = request.url.path
        body = await request.json()
        await self.record(request, body=body)
        denied = self._auth(request)
        if denied:
            return denied
        if self.mode == "500":
            return envelope(500, "Server Error - An unexpected error occurred while processing the request")
        if self.mode in ("429", "430"):
            return envelope(int(self.mode), "Your call frequency is too high. Please try again later.")
        try:
            refused = refusal(self.kind, path, body)
        except KeyError:
            return envelope(404, f"{path} not found")
        if refused:
            self.refused.append({"path": path, "body": body, "msg": refused[1]})
            return envelope(*refused)
        unknown = self._unknown_ids(path, body)
        if unknown:
            return envelope(400, unknown)
        if path == "/api/v1/suno/cover/generate":  # one cover task per song: again answers 400 with that task
            made = next(
                (k for k, v in self.jobs.items() if v["path"] == path and v["body"]["taskId"] == body["taskId"]), None
            )
            if made:
                return envelope(400, "Cover already generated for this task", {"taskId": made})
        task_id = uuid.uuid4().hex
        self.jobs[task_id] = {"path": path, "body": body, "polls": 0, "mode": self.mode}
        if self.mode == "callback" and path in SONG_ENDPOINTS:
            self._later.add(asyncio.create_task(self._finish_and_call_back(task_id)))
        sync = self._sync(path, task_id, body)
        if sync is not None:
            return envelope(200, "success", sync)
        return envelope(200, "success", {"taskId": task_id})

    def _sync(self, path: str, task_id: str, body: dict[str, Any]) -> dict[str, Any] | None:
        if path == "/api/v1/style/generate":
            return {
                "taskId": task_id,
                "param": body["content"],
                "result": f"{body['content']}, lush, modern",
                "successFlag": 1,
            }
        if path == "/api/v1/generate/get-timestamped-lyrics":
            return {
                "alignedWords": [{"word": "[Verse]\nHello", "success": True, "startS": 1.2, "endS": 1.8, "palign": 0}],
                "waveformData": [0.1, 0.5, 0.2],
                "hootCer": 0.31,
                "isStreamed": False,
            }
        if path == "/api/v1/voice/check-voice":
            return {"isAvailable": self.jobs[body["task_id"]]["path"] == "/api/v1/voice/generate"}
        if path == "/api/v1/generate/generate-persona":
            return {"personaId": f"persona-{task_id[:8]}", "name": body["name"], "description": body["description"]}
        return None

    async def _finish_and_call_back(self, task_id: str) -> None:
        """Like kie: the job ends on its own schedule and POSTs the "complete" callback (snake_case tracks)."""
        job = self.jobs[task_id]
        await asyncio.sleep(0.3)
        job["done"] = True
        record = self._song_record(job, len(SONG_STEPS))
        tracks = [{_snake(k): v for k, v in t.items()} for t in record["response"]["sunoData"]]
        payload = {"callbackType": "complete", "task_id": task_id, "data": tracks}
        async with httpx.AsyncClient() as client:
            resp = await client.post(
                job["body"]["callBackUrl"], json={"code": 200, "msg": "All generated successfully.", "data": payload}
            )
        job["callback_status"] = resp.status_code

    async def record_info(self, request: Request) -> Response:
        await self.record(request)
        denied = self._auth(request)
        if denied:
            return denied
        job = self.jobs.get(request.query_params.get("taskId", ""))
        if job is None or job["path"] not in RECORDS[request.url.path]:
            return envelope(404, "task not found")
        job["polls"] += 1
        waiting = self.slow_polls if job["mode"] == "slow" else 0
        step = max(job["polls"] - waiting, 0)
        if job["mode"] == "callback":  # ends when it says so, not by polls
            step = len(SONG_STEPS) if job.get("done") else 0
        if job["path"] in SONG_ENDPOINTS:
            return envelope(200, "success", self._song_record(job, step))
        if request.url.path in VOICE_RECORDS:
            return envelope(200, "success", self._voice_record(job, step))
        return envelope(200, "success", self._other_record(job, step))

    def _song_record(self, job: dict[str, Any], step: int) -> dict[str, Any]:
        task_id = next(k for k, v in self.jobs.items() if v is job)
        body = job["body"]
        status = SONG_STEPS[min(step, len(SONG_STEPS) - 1)]
        if self.hold and SONG_STEPS.index(status) > SONG_STEPS.index(self.hold):
            status = self.hold
        error_code, error = None, None
        if status == "SUCCESS" and job["mode"] == "policy":
            status, error_code, error = "SENSITIVE_WORD_ERROR", 400, POLICY_MESSAGE
        elif status == "SUCCESS" and job["mode"] in ("lost", "copyright"):
            error_code = 531 if job["mode"] == "lost" else 400
            status, error = "GENERATE_AUDIO_FAILED", "Generation failed, please try again"
        count = 1 if job["path"] == "/api/v1/generate/replace-section" else 2
        ready = {"SUCCESS": count, "FIRST_SUCCESS": 1}.get(status, 0)
        tracks = (
            []
            if status in ("PENDING", "SENSITIVE_WORD_ERROR", "GENERATE_AUDIO_FAILED")
            else [self._track(task_id, body, i, i < ready) for i in range(count)]
        )
        return {
            "taskId": task_id,
            "parentMusicId": "",
            "param": json.dumps(body),
            "response": {"taskId": task_id, "sunoData": tracks},
            "status": status,
            "type": "GENERATE",
            "errorCode": error_code,
            "errorMessage": error,
        }

    def _voice_record(self, job: dict[str, Any], step: int) -> dict[str, Any]:
        task_id = next(k for k, v in self.jobs.items() if v is job)
        done = "success" if job["path"] == "/api/v1/voice/generate" else "wait_validating"
        status = "processing_validate" if step < 1 else ("fail" if job["mode"] in ("lost", "policy") else done)
        record = {"taskId": task_id, "status": status, "errorCode": None, "errorMessage": None}
        if job["path"] == "/api/v1/voice/generate":
            return {**record, "voiceId": f"voice-{task_id[:8]}" if status == "success" else None}
        return {**record, "validateInfo": "Harmonies fill the air tonight" if status == done else ""}

    def _other_record(self, job: dict[str, Any], step: int) -> dict[str, Any]:
        task_id = next(k for k, v in self.jobs.items() if v is job)
        path, body = job["path"], job["body"]
        done = step >= 1 and job["mode"] not in ("lost", "policy")
        failed = step >= 1 and not done
        base = {"taskId": task_id, "callbackUrl": body.get("callBackUrl"), "errorCode": None, "errorMessage": None}
        if path == "/api/v1/lyrics":
            status = (
                "SUCCESS" if done else ("SENSITIVE_WORD_ERROR" if failed and job["mode"] == "policy" else "PENDING")
            )
            if failed and job["mode"] == "lost":
                status = "GENERATE_LYRICS_FAILED"
            entries = [
                {"text": f"[Verse]\n{body['prompt']} {i}", "title": f"Song {i}", "status": "complete"} for i in (1, 2)
            ]
            return {
                **base,
                "param": json.dumps(body),
                "response": {"taskId": task_id, "data": entries if done else []},
                "status": status,
                "type": "LYRICS",
            }
        if path in ("/api/v1/midi/generate", "/api/v1/suno/cover/generate"):
            flag = 1 if done else (3 if failed else 0)
            if path == "/api/v1/midi/generate":
                notes = [{"pitch": 60, "start": 0.5, "end": 1.0, "velocity": 100}]
                return {
                    **base,
                    "recordTaskId": body["taskId"],
                    "successFlag": flag,
                    "midiData": {"state": "complete", "instruments": [{"name": "Drums", "notes": notes}]}
                    if done
                    else None,
                }
            images = [f"{self.url}/files/cover-{task_id}-{i}.png" for i in (1, 2)]
            return {
                **base,
                "parentTaskId": body["taskId"],
                "successFlag": flag,
                "response": {"images": images} if done else None,
            }
        flag = "SUCCESS" if done else ("GENERATE_AUDIO_FAILED" if failed else "PENDING")
        if path == "/api/v1/wav/generate":
            response = {"audioWavUrl": f"{self.url}/files/{task_id}.wav"}
        elif path == "/api/v1/mp4/generate":
            response = {"videoUrl": f"{self.url}/files/{task_id}.mp4"}
        else:
            names = SPLIT_STEMS if body.get("type") == "split_stem" else ["vocal", "instrumental"]
            response = {"originUrl": f"{self.url}/files/{task_id}-origin.mp3"}
            response |= {f"{n}Url": f"{self.url}/files/{task_id}-{n}.mp3" for n in names}
            response |= {"woodwindsUrl": None} if body.get("type") == "split_stem" else {}
        return {**base, "musicId": body.get("audioId"), "successFlag": flag, "response": response if done else None}
