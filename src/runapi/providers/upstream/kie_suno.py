"""kie.ai's Suno API (docs.kie.ai/suno-api; the /api/v1/generate family, also kept at
docs.kie.ai/old-model/suno-api) and sunoapi.org's (docs.sunoapi.org/suno-api: the same endpoints, fields and
envelope at https://api.sunoapi.org, with one more model, V5_5).

    submit   POST {base}{endpoint}            {..., model, callBackUrl}  → {code, msg, data: {taskId}}
    poll     GET  {base}{record}?taskId=...   → {code, msg, data: {status | successFlag, response, ...}}
    sync     POST /api/v1/style/generate, /api/v1/generate/get-timestamped-lyrics,
             /api/v1/generate/generate-persona, /api/v1/voice/check-voice → the result in `data`
    voice    POST /api/v1/voice/{validate, regenerate, generate} → poll /api/v1/voice/{validate-info, record-info}
             (status wait_validating: the phrase to record; success: the custom voice's voiceId)
`Authorization: Bearer <key>`. Every answer is the envelope {code, msg, data}: code 200 is success, otherwise
the code says what went wrong (often with HTTP 200). Errors: 401/402 (bad key, no credits) and 404/409 → the
next deployment; 405/429/430 (call limits, too many calls) → a cool-down; 455 (maintenance) and 5xx/531 → the
next deployment; 400/413/422/451 → the request itself (the task fails with kie's message). A song task's status:
PENDING, TEXT_SUCCESS (→ our text_generated stage), FIRST_SUCCESS (→ first_audio_ready, with the first track
as partial result), SUCCESS; CREATE_TASK_FAILED / GENERATE_AUDIO_FAILED / CALLBACK_EXCEPTION (kie lost it: the
next deployment) and SENSITIVE_WORD_ERROR (a content-policy refusal: the task fails, refunded).

Which endpoint runs which (action, model) and the bodies are data (kie_suno_models.yaml). Three fields are
added here: `model` (our model id → kie's enum; a model an endpoint does not define is refused, out of reach),
`callBackUrl` (required by kie: our signed wake-up link, so kie's stage callbacks make us poll at once; without
a public address the request is out of reach) and `taskId` (the upstream id of the task our task_id names).

Carrying ids between tasks: a track's id in our result IS kie's audio id (sunoData[].id), so an audio_id a
client copies from an earlier result is sent as kie's audioId unchanged; kie's task id stays in the earlier
task's provider handle (tasks.provider_job: {"handle": {"kind", "base", "taskId", ...}}), read back through
the task reference. A reference to a task another kind or address made (the sandbox, another upstream) is
refused as out of reach: its ids mean nothing here. Suno Voice's voiceId is our voice_id, and goes back as
personaId (personaModel voice_persona) like a persona's id."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import httpx

from ...domain.task import Task
from ...yamlload import load_yaml
from ..base import TaskInput
from ..inputs import Inputs
from . import errors
from .adapter import Finished, Running, Started, UpstreamFile
from .config import MediaDeployment
from .errors import UpstreamError
from .http_call import bearer, send
from .mapping import Context, Table

TABLE_PATH = Path(__file__).with_name("kie_suno_models.yaml")
SANDBOX = "sandbox"  # the sandbox provider's name (no deployment may take it): ids it made mean nothing here
DEFAULT_POLL_SECONDS = 5.0  # a song takes about a minute; kie's callbacks wake the task earlier anyway

# kie's codes, by what the router should do (any other non-200 code is the request's own fault). kie's pages
# differ on some: 405 "call limit exceeded" and 429 "insufficient credits" (sunoapi.org's lyrics pages) or
# 429 "rate limited" and 402 "insufficient credits" (kie's): either way the deployment is set aside a while.
NEXT_DEPLOYMENT = frozenset({401, 402, 403, 404, 408, 409, 455})
RATE_LIMITED = frozenset({405, 429, 430})
# a song task's statuses (record-info `status`)
SONG_STAGES = {"PENDING": None, "TEXT_SUCCESS": "text_generated", "FIRST_SUCCESS": "first_audio_ready"}
LOST = frozenset({"CREATE_TASK_FAILED", "GENERATE_AUDIO_FAILED", "GENERATE_LYRICS_FAILED", "CALLBACK_EXCEPTION"})
POLICY = frozenset({"SENSITIVE_WORD_ERROR"})
REQUEST_FAULT_CODES = frozenset({400, 413, 422, 451})  # a failed job's errorCode that blames the request
# successFlag of the other record-info endpoints: strings (wav, mp4, vocal removal) or numbers (cover, midi)
FLAG_RUNNING = frozenset({"PENDING", "0", ""})
FLAG_DONE = frozenset({"SUCCESS", "1"})
# the cover record's 2 is "generating" (docs.sunoapi.org get-cover-suno-details); midi's 2 is a failure
FLAG_RUNNING_BY_RESULT = {"covers": frozenset({"2"})}
COVER_ENDPOINT = "/api/v1/suno/cover/generate"
# Suno Voice records (validate-info, voice record-info): the statuses that end each kind of task
VOICE_DONE = {"validation_phrase": frozenset({"wait_validating", "success"}), "voice": frozenset({"success"})}
VOICE_FAILED = frozenset({"processing_validate_fail", "fail"})


@dataclass(frozen=True)
class Endpoint:
    path: str
    result: str  # how its result reads (read_tracks, read_job, read_voice, read_sync below)
    record: str | None = None  # where a job is polled; None: synchronous, the answer is the result
    callback: str | None = None  # the field that takes our callback link (required unless callback_optional)
    callback_optional: bool = False
    task_id: str | None = None  # the field that names an earlier upstream task


@dataclass(frozen=True)
class SunoData:
    """The "_" sections of kie_suno_models.yaml."""

    models: dict[str, str]  # our model id → kie's model enum value
    endpoint_models: dict[str, frozenset[str]]  # endpoints with a narrower model enum
    endpoints: dict[str, Endpoint]


@cache
def suno_data() -> SunoData:
    raw = load_yaml(TABLE_PATH)
    endpoints = {path: Endpoint(path=path, **spec) for path, spec in raw["_endpoints"].items()}
    table = suno_table()
    for (action, model), mapping in table.entries.items():
        for route in mapping.routes:
            if route.refuse is None and route.app not in endpoints:
                raise ValueError(f"{action}/{model}: endpoint {route.app} is not in _endpoints")
    return SunoData(
        models=dict(raw["_models"]),
        endpoint_models={path: frozenset(models) for path, models in raw["_endpoint_models"].items()},
        endpoints=endpoints,
    )


def suno_table() -> Table:
    return Table.bundled(TABLE_PATH)


def envelope_message(data: Any) -> str | None:
    return str(data.get("msg") or "") or None if isinstance(data, dict) else None


def classify(code: int, message: str, name: str, retry_after: float | None = None) -> UpstreamError:
    """A non-200 code of kie's envelope (or HTTP status) as the error the router acts on."""
    if code in RATE_LIMITED:  # 430 ("call frequency too high") is a rate limit too: cool the deployment down
        return UpstreamError(f"{name} answered {code}: {message}", 429, True, retry_after)
    if code in NEXT_DEPLOYMENT or code >= 500:
        return UpstreamError(f"{name} answered {code}: {message}", code, True, retry_after)
    return UpstreamError(message, code, retryable=False)


def envelope_status(resp: httpx.Response) -> tuple[int, dict[str, Any]]:
    """kie's status for an answer (its envelope `code`, else the HTTP status) and the envelope's `data`."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    code = body.get("code") if isinstance(body, dict) else None
    status = resp.status_code
    if status == 200 and isinstance(code, int) and code != 200:
        status = code  # kie reports most errors as HTTP 200 with the error in `code`
    data = body.get("data") if isinstance(body, dict) else None
    return status, data if isinstance(data, dict) else {}


def read_envelope(resp: httpx.Response, name: str) -> dict[str, Any]:
    """`data` of kie's {code, msg, data}; UpstreamError (classified) when the HTTP status or `code` is not 200."""
    status, data = envelope_status(resp)
    if status != 200:
        raise classify(status, errors.body_message(resp, envelope_message), name, errors.retry_after(resp))
    if "code" not in errors.json_object(resp, name):  # not kie's envelope
        raise UpstreamError(f"{name} answered with unexpected JSON")
    return data


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


class KieSuno:
    """Serves our suno/* actions on kie.ai (the kind `kie_suno`)."""

    default_base_url = "https://api.kie.ai"
    kind: ClassVar[str] = "kie_suno"
    label: ClassVar[str] = "kie.ai"
    # kie's documented `model` enum (docs.kie.ai/suno-api/generate-music: V4, V4_5, V4_5PLUS, V4_5ALL, V5)
    upstream_models: ClassVar[frozenset[str]] = frozenset({"V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5"})

    def __init__(self, deployment: MediaDeployment, http: httpx.AsyncClient, inputs: Inputs | None = None):
        self.deployment = deployment
        self.http = http
        self.table = suno_table()
        self.data = suno_data()

    # --- what it serves ----------------------------------------------------------------------------

    @classmethod
    def accepts(cls, endpoint: str, upstream_model: str) -> bool:
        return accepts(cls.upstream_models, endpoint, upstream_model)

    @classmethod
    def pairs(cls) -> frozenset[tuple[str, str]]:
        """Every mapped pair whose model this service's endpoint defines (models the endpoints take no model
        for are always served)."""
        return _pairs(cls.upstream_models)

    def supports(self, action_key: str, model: str | None) -> bool:
        return (action_key, model or "") in _pairs(self.upstream_models)

    # --- requests ----------------------------------------------------------------------------------

    def request(self, task: TaskInput, ctx: Context) -> tuple[Endpoint, dict[str, Any]]:
        """The endpoint and body that run this task here; an out_of_reach UpstreamError when they cannot."""
        mapping, route = self.table.route_for(task, self.label)
        endpoint = self.data.endpoints[route.app]
        body = mapping.body(route, ctx)
        model = task.model.id if task.model else ""
        if model in self.data.models:
            upstream = self.deployment.model_map.get(self.data.models[model], self.data.models[model])
            if not (self.accepts(endpoint.path, upstream) or upstream in self.deployment.model_map.values()):
                raise UpstreamError(
                    f"{self.label}'s {endpoint.path} has no Suno model {upstream} (for {model})",
                    retryable=False,
                    out_of_reach=True,
                )
            body["model"] = upstream
        for name, row in task.refs.items():
            if name == "task_id" and endpoint.task_id:
                body[endpoint.task_id] = self.upstream_task_id(row)
            else:
                self.check_origin(row)
        if endpoint.callback and ctx.webhook_url:
            body[endpoint.callback] = ctx.webhook_url
        elif endpoint.callback and not endpoint.callback_optional:
            raise UpstreamError(
                f"{self.label}'s Suno API requires a {endpoint.callback}: set RUNAPI_PUBLIC_URL to this server's "
                "public address",
                retryable=False,
                out_of_reach=True,
            )
        return endpoint, body

    def upstream_task_id(self, row: Task) -> str:
        """kie's task id of a task this service made (see the module docstring); out of reach otherwise."""
        handle = (row.provider_job or {}).get("handle") or {}
        if not handle.get("taskId") or not self._ours(handle):
            raise self._foreign(row)
        return str(handle["taskId"])

    def check_origin(self, row: Task) -> None:
        """A referenced task whose ids we pass on (a track id, a persona id) must not come from elsewhere: one
        another upstream job made, or the sandbox. (A synchronous answer leaves no job handle: a persona made
        by a deployment is let through, and kie judges its id.)"""
        handle = (row.provider_job or {}).get("handle")
        if (handle is not None and not self._ours(handle)) or (handle is None and row.provider == SANDBOX):
            raise self._foreign(row)

    def _ours(self, handle: dict[str, Any]) -> bool:
        return handle.get("kind") == self.kind and handle.get("base") == self.deployment.base_url

    def _foreign(self, row: Task) -> UpstreamError:
        return UpstreamError(
            f"Task {row.id} was not made on {self.label} ({self.deployment.base_url}): its ids cannot be used there",
            retryable=False,
            out_of_reach=True,
        )

    def _headers(self) -> dict[str, str]:
        return bearer(self.deployment.api_key)

    def _poll_in(self) -> float:
        return self.deployment.poll_seconds if self.deployment.poll_seconds is not None else DEFAULT_POLL_SECONDS

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        # the answer as is: kie's envelope codes are read by the caller (read_envelope)
        return await send(
            self.http, self.deployment, method, self.deployment.base_url + path, headers=self._headers(), **kwargs
        )

    # --- the adapter protocol ----------------------------------------------------------------------

    async def start(self, task: TaskInput, ctx: Context) -> Started | Finished:
        endpoint, body = self.request(task, ctx)
        resp = await self._call("POST", endpoint.path, json=body)
        status, data = envelope_status(resp)
        # covers were made for this song already: kie answers 400 with that earlier task (its docs): poll it
        if not (endpoint.path == COVER_ENDPOINT and status == 400 and data.get("taskId")):
            data = read_envelope(resp, self.deployment.name)
        if endpoint.record is None:
            return read_sync(endpoint.result, data, task.params)
        upstream_id = data.get("taskId")
        if not isinstance(upstream_id, str) or not upstream_id:
            raise UpstreamError(f"{self.deployment.name} answered without a taskId")
        handle = {"kind": self.kind, "base": self.deployment.base_url, "endpoint": endpoint.path, "taskId": upstream_id}
        return Started(handle=handle, poll_in=self._poll_in())

    async def check(self, task: TaskInput, handle: dict[str, Any]) -> Running | Finished:
        endpoint = self.data.endpoints.get(str(handle.get("endpoint")))
        if endpoint is None or endpoint.record is None:
            raise UpstreamError(f"unknown {self.label} job {handle!r}", job_failed=True)
        resp = await self._call("GET", endpoint.record, params={"taskId": handle["taskId"]})
        try:
            data = read_envelope(resp, self.deployment.name)
        except UpstreamError as exc:
            if exc.rate_limited:  # polling too often is no failure: ask again later
                return Running(poll_in=exc.retry_after or self._poll_in())
            raise
        if endpoint.result in ("tracks", "track"):
            return self._song(task, endpoint, handle, data)
        if endpoint.result in VOICE_DONE:
            return self._voice(endpoint, data)
        return self._job(endpoint, data)

    async def cancel(self, handle: dict[str, Any]) -> None:
        return None  # kie has no way to stop a task

    async def aclose(self) -> None:
        return None

    # --- results -----------------------------------------------------------------------------------

    def _song(
        self, task: TaskInput, endpoint: Endpoint, handle: dict[str, Any], data: dict[str, Any]
    ) -> Running | Finished:
        status = str(data.get("status") or "PENDING")
        tracks = ((data.get("response") or {}).get("sunoData")) or []
        text_key = "prompt" if "prompt" in task.action.result_fields else "lyrics"
        if status == "SUCCESS":
            return read_tracks(tracks, text_key, single=endpoint.result == "track")
        failed = self._failure(status, data)
        if failed is not None:
            raise failed
        stage = SONG_STAGES.get(status)
        if stage is None or stage == handle.get("stage") or stage not in task.action.stages:
            return Running(poll_in=self._poll_in())
        partial = None
        if stage == task.action.first_file_stage and endpoint.result == "tracks":
            ready = [t for t in tracks if isinstance(t, dict) and t.get("audioUrl")][:1]
            partial = read_tracks(ready, text_key) if ready else None
        return Running(poll_in=self._poll_in(), handle={**handle, "stage": stage}, stage=stage, partial=partial)

    def _failure(self, status: str, data: dict[str, Any]) -> UpstreamError | None:
        message = str(data.get("errorMessage") or (data.get("response") or {}).get("errorMessage") or status)
        if status in POLICY:
            return UpstreamError(message, retryable=False)
        if status in LOST or status.endswith("_FAILED"):
            if data.get("errorCode") in REQUEST_FAULT_CODES:  # e.g. 400 copyrighted lyrics, 413 known artwork
                return UpstreamError(message, data.get("errorCode"), retryable=False)
            return UpstreamError(f"{self.deployment.name} failed the job: {message}", job_failed=True)
        return None

    def _voice(self, endpoint: Endpoint, data: dict[str, Any]) -> Running | Finished:
        """A Suno Voice record: the phrase is ready at wait_validating, the voice at success."""
        status = str(data.get("status") or "wait_processing")
        if status in VOICE_DONE[endpoint.result]:
            return read_voice(endpoint.result, status, data)
        if status in VOICE_FAILED:  # the recordings given do not make a voice: the request's own outcome
            raise UpstreamError(str(data.get("errorMessage") or status), data.get("errorCode"), retryable=False)
        return Running(poll_in=self._poll_in())

    def _job(self, endpoint: Endpoint, data: dict[str, Any]) -> Running | Finished:
        raw = data.get("status") if endpoint.result == "lyrics" else data.get("successFlag")
        flag = "" if raw is None else str(raw)
        if flag in FLAG_RUNNING or flag in SONG_STAGES or flag in FLAG_RUNNING_BY_RESULT.get(endpoint.result, ()):
            return Running(poll_in=self._poll_in())
        if flag not in FLAG_DONE:  # a failure status (numbers 2, 3 on the cover and midi records)
            raise self._failure(flag, data) or UpstreamError(
                f"{self.deployment.name} failed the job ({flag}): {data.get('errorMessage') or ''}", job_failed=True
            )
        return read_job(endpoint.result, data)


def accepts(service_models: frozenset[str], endpoint: str, upstream_model: str) -> bool:
    """Whether a service with this `model` enum takes the model at this endpoint."""
    allowed = suno_data().endpoint_models.get(endpoint, service_models)
    return upstream_model in service_models and upstream_model in allowed


@cache
def _pairs(service_models: frozenset[str]) -> frozenset[tuple[str, str]]:
    """KieSuno.pairs, worked out once per service (routing asks for every task)."""
    data = suno_data()
    served = set()
    for (action, model), mapping in suno_table().entries.items():
        upstream = data.models.get(model)
        apps = {r.app for r in mapping.routes if r.refuse is None}
        if upstream is None or any(accepts(service_models, app, upstream) for app in apps):
            served.add((action, model))
    return frozenset(served)


class SunoApiOrg(KieSuno):
    """sunoapi.org: kie's Suno API at another address (docs.sunoapi.org/suno-api), with V5_5 (the kind
    `sunoapi`)."""

    default_base_url = "https://api.sunoapi.org"
    kind: ClassVar[str] = "sunoapi"
    label: ClassVar[str] = "sunoapi.org"
    upstream_models: ClassVar[frozenset[str]] = frozenset({"V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5"})


# --- reading kie's results (pure: unit-tested) -------------------------------------------------------


def read_tracks(tracks: list[Any], text_key: str = "lyrics", single: bool = False) -> Finished:
    """sunoData → our tracks: each track's audio and cover image downloaded (referenced as {"$file": i}); the
    track id is kie's audio id (what a later extend/stems/wav request names)."""
    files: list[UpstreamFile] = []
    items = []
    for t in tracks:
        if not isinstance(t, dict) or not t.get("audioUrl"):
            continue
        audio = {"$file": len(files)}
        files.append(UpstreamFile(None, url=str(t["audioUrl"])))
        image = None
        if t.get("imageUrl"):
            image = {"$file": len(files)}
            files.append(UpstreamFile(None, url=str(t["imageUrl"])))
        items.append(
            {
                "id": t.get("id"),
                "audio_url": audio,
                "stream_audio_url": audio,  # we serve the finished file for both
                "image_url": image,
                text_key: t.get("prompt"),
                "model_name": t.get("modelName"),
                "title": t.get("title"),
                "tags": t.get("tags"),
                "duration": t.get("duration"),
            }
        )
    if not items:
        raise UpstreamError("the upstream answered SUCCESS without a track", job_failed=True)
    if single:
        return Finished(files, {"track": items[0]})
    return Finished(files, {"generation_stage": "all_audios_ready", "audios": items})


def read_job(result: str, data: dict[str, Any]) -> Finished:
    """A finished lyrics / stems / wav / midi / cover / video job's record as our result."""
    response = data.get("response") or {}
    if result == "lyrics":
        entries = [e for e in response.get("data") or [] if isinstance(e, dict)]
        return Finished([], {"lyrics": [{"title": e.get("title"), "text": e.get("text")} for e in entries]})
    if result == "stems":
        files: list[UpstreamFile] = []
        stems: dict[str, Any] = {}
        for key, url in response.items():
            if key.endswith("Url") and key != "originUrl" and isinstance(url, str) and url:
                stems[_snake(key)] = {"$file": len(files)}
                files.append(UpstreamFile(None, url=url))
        if not files:
            raise UpstreamError("the upstream answered SUCCESS without stems", job_failed=True)
        return Finished(files, {"separated_audios": stems})
    if result == "wav":
        return _one_file(response.get("audioWavUrl"), "wav_url")
    if result == "video":
        return _one_file(response.get("videoUrl"), "video_url")
    if result == "covers":
        images = [u for u in response.get("images") or [] if isinstance(u, str) and u]
        if not images:
            raise UpstreamError("the upstream answered SUCCESS without images", job_failed=True)
        return Finished([UpstreamFile("covers", url=u) for u in images])
    if result == "midi":
        instruments = (data.get("midiData") or {}).get("instruments") or []
        return Finished([], {"instruments": [i for i in instruments if isinstance(i, dict)]})
    raise UpstreamError(f"unknown result kind {result}")


def _one_file(url: Any, field: str) -> Finished:
    if not isinstance(url, str) or not url:
        raise UpstreamError("the upstream answered SUCCESS without a file", job_failed=True)
    return Finished([UpstreamFile(None, url=url)], {field: {"$file": 0}})


def read_voice(result: str, status: str, data: dict[str, Any]) -> Finished:
    """A finished Suno Voice record: the phrase to record, or the custom voice's id (a persona id for songs)."""
    if result == "validation_phrase":
        return Finished([], {"provider_status": status, "validation_phrase": data.get("validateInfo")})
    if not data.get("voiceId"):
        raise UpstreamError("the upstream answered success without a voiceId", job_failed=True)
    return Finished([], {"provider_status": status, "voice_id": data["voiceId"]})


def read_sync(result: str, data: dict[str, Any], params: dict[str, Any]) -> Finished:
    """The answers of kie's synchronous endpoints as our results."""
    if result == "style":
        return Finished([], {"style": data.get("result")})
    if result == "is_available":
        return Finished([], {"is_available": bool(data.get("isAvailable"))})
    if result == "aligned_words":
        words = [
            {
                "word": w.get("word"),
                "success": w.get("success"),
                "start_time": w.get("startS"),
                "end_time": w.get("endS"),
                "palign": w.get("palign"),
            }
            for w in data.get("alignedWords") or []
            if isinstance(w, dict)
        ]
        return Finished(
            [],
            {
                "aligned_words": words,
                "waveform_data": data.get("waveformData") or [],
                "hoot_cer": data.get("hootCer"),
                "is_streamed": data.get("isStreamed"),
            },
        )
    if result == "persona":
        persona = {
            "id": data.get("personaId"),
            "name": data.get("name") or params.get("name"),
            "description": data.get("description") or params.get("description"),
        }
        return Finished([], {"persona": persona})
    raise UpstreamError(f"unknown result kind {result}")
