"""The platform's Suno resources, as its runapi-suno 0.6 SDK calls them: personas, voices, style_expansions,
timestamped_lyrics, audio_exports, music_visualizations and music_from_sample. Each is a surface over a suno
catalog action (tasks/surfaces.py): one row of SURFACES below, answered by the one generic adapter here. The
/api/v1/suno/<action> endpoints stay as they are.

How each answers (the SDK's resource class decides which it reads):
  SYNC    200 with the result (style_expansions, timestamped_lyrics, voices), 503 + Retry-After past the wait.
  HYBRID  personas: the result at once when the task finishes within HYBRID_WAIT_SECONDS, else (or with
          `Prefer: respond-async`) 202 {id, status} + Location: /api/v1/task_results/<id> (api/task_results.py),
          which the SDK follows until the task is terminal and then reads the stored answer from.
  TASK    202 {id, status}; GET <path>/<id> is the task's status body (audio_exports, music_visualizations,
          music_from_sample).
Personas and voices are records their completed tasks hold: GET <path>/<id> finds them by their own id."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..auth.principal import Principal, require_api_key
from ..catalog import Action, get_catalog
from ..domain.task import Task
from ..errors import ApiError, RunapiError, record_not_found
from ..tasks import engine
from ..tasks.submit import Submitted, submit_task, validated
from ..tasks.surfaces import (
    PERSONAS,
    VOICES,
    Answer,
    RecordKind,
    Step,
    Surface,
    action_params,
    find_record,
    record_body,
    rename_refusal,
    renamed,
    track_task_id,
    voice_view,
)
from ..tasks.views import billing_facts, retry_after_seconds
from . import media
from .context import authenticated, base_url, runtime
from .responses import Json, json_body
from .task_results import PublicAnswer, location, public_answer

HYBRID_WAIT_SECONDS = 5.0  # a hybrid create answers 202 + Location past this (never later than a sync one)
VOICE_WINDOW_SECONDS = 30  # the part of a voice recording its validation phrase is made from
PREFER_ASYNC = "respond-async"  # RFC 7240: the client wants the 202 + Location at once

SURFACES: tuple[Surface, ...] = (
    Surface(
        "/api/v1/personas",
        "suno",
        "generate_persona",
        {"source_task_id": "task_id", "source_audio_id": "audio_id", "name": "name", "description": "description"},
        Answer.HYBRID,
        record=PERSONAS,
    ),
    Surface(
        "/api/v1/voices",
        "suno",
        "generate_voice",
        {"source_audio_url": "verify_url", "name": "voice_name"},
        Answer.SYNC,
        # one recording: its window becomes the validation phrase task, and it is the reading that verifies it
        before=Step(
            "voice_to_validation_phrase",
            {"source_audio_url": "voice_url"},
            into="task_id",
            fixed={"vocal_start_seconds": 0, "vocal_end_seconds": VOICE_WINDOW_SECONDS},
        ),
        record=VOICES,
        view=lambda task: {"voice": voice_view(task)},
    ),
    Surface("/api/v1/style_expansions", "suno", "boost_style", {"description": "description"}, Answer.SYNC),
    Surface(
        "/api/v1/timestamped_lyrics",
        "suno",
        "get_timestamped_lyrics",
        {"source_audio_id": "audio_id", "source_task_id": "task_id"},
        Answer.SYNC,
        find_track=True,
    ),
    Surface(
        "/api/v1/audio_exports",
        "suno",
        "convert_audio",
        {"source_audio_id": "audio_id", "source_task_id": "task_id", "callback_url": "callback_url"},
        Answer.TASK,
        find_track=True,
    ),
    Surface(
        "/api/v1/music_visualizations",
        "suno",
        "visualize_music",
        {
            "source_audio_id": "audio_id",
            "source_task_id": "task_id",
            "callback_url": "callback_url",
            "author": "author",
            "domain_name": "domain_name",
        },
        Answer.TASK,
        find_track=True,
    ),
    Surface(
        "/api/v1/music_from_sample",
        "suno",
        "add_samples",
        {name: name for name in ("model", "audio_url", "start_seconds", "end_seconds", "prompt", "callback_url")},
        Answer.TASK,
    ),
)


@contextlib.contextmanager
def surface_names(fields: Mapping[str, str]) -> Iterator[None]:
    """Refusals raised inside name the surface's fields, not the action's params."""
    try:
        yield
    except RunapiError as exc:
        raise rename_refusal(exc, fields) from None


def prefers_async(request: Request) -> bool:
    prefer = request.headers.get("prefer", "")
    return any(token.strip().lower() == PREFER_ASYNC for token in prefer.split(","))


def step_key(idempotency_key: str | None, step: Step) -> str | None:
    """The step's own Idempotency-Key, derived from the request's: a retry replays the step too."""
    if idempotency_key is None:
        return None
    return f"{step.action}:{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}"


class Adapter:
    """Creates through the one create path (validation, price, guardrails, reservation: tasks/submit.py) on the
    surface's behalf, and answers as the surface does."""

    def __init__(self, surface: Surface) -> None:
        self.surface = surface
        self.action = surface.catalog_action
        if surface.answer is Answer.HYBRID and surface.view is not None:
            # its answer must be the one its task result stores (api/task_results.public_answer)
            raise ValueError(f"{surface.path}: a hybrid surface answers with its action's own result")

    async def create(self, request: Request) -> Json:
        rt = runtime(request)
        who = await authenticated(request)
        require_api_key(who)
        body = await json_body(request)
        idem = media.idempotency_key_of(request)
        client_request_id = media.client_request_id_of(request)
        surface, step = self.surface, self.surface.before
        with surface_names(surface.fields):
            params = await track_task_id(rt.db, who.account_id, surface, action_params(surface.fields, body))
            if step is not None and isinstance(params, dict):
                # every refusal the request can meet comes before the step's task is made (and charged)
                validated(who, self.action, {**params, step.into: "(made first)"})
            else:
                validated(who, self.action, params)
        if step is not None and isinstance(params, dict):
            made = await self.run_step(request, who, step, body, step_key(idem, step), client_request_id)
            params = {**params, step.into: made.id}
        with surface_names(surface.fields):
            submitted = await self.submit(request, who, self.action, params, idem, client_request_id)
        task = submitted.task
        if surface.answer is Answer.TASK:
            return await media.created_answer(
                request, self.action, task, replayed=not submitted.created, client_request_id=client_request_id
            )
        if surface.answer is Answer.HYBRID:
            if prefers_async(request):
                return accepted(task, client_request_id)
            task = await finished(request, task, min(HYBRID_WAIT_SECONDS, media.SYNC_TIMEOUT_SECONDS))
            if not task.state.terminal:
                return accepted(task, client_request_id)
        else:
            task = await finished(request, task, media.SYNC_TIMEOUT_SECONDS)
        return self.answer(request, task)

    async def run_step(
        self,
        request: Request,
        who: Principal,
        step: Step,
        body: Any,
        idem: str | None,
        client_request_id: str | None,
    ) -> Task:
        """The step's task, completed (waited for as a synchronous request waits)."""
        action = get_catalog().action(self.surface.family, step.action)
        assert action is not None, step.action  # the table is checked when the routes are built
        with surface_names(step.fields):
            submitted = await self.submit(
                request, who, action, action_params(step.fields, body, step.fixed), idem, client_request_id
            )
        task = await finished(request, submitted.task, media.SYNC_TIMEOUT_SECONDS)
        self.completed_answer(request, task, step.fields)
        return task

    @staticmethod
    async def submit(
        request: Request,
        who: Principal,
        action: Action,
        params: Any,
        idem: str | None,
        client_request_id: str | None,
    ) -> Submitted:
        return await submit_task(
            runtime(request),
            who,
            validated(who, action, params),
            public_base_url=base_url(request),
            idempotency_key=idem,
            client_request_id=client_request_id,
        )

    def completed_answer(self, request: Request, task: Task, fields: Mapping[str, str]) -> PublicAnswer:
        """A completed task's answer; 503 while it still runs, and its failure as the refusal."""
        if not task.state.terminal:
            raise media.still_running(media.task_headers(task))
        answer = public_answer(request, task)
        if answer.status != 200:
            message = answer.body["error"]
            # a hybrid's failure stays as its task result stores it; a synchronous one speaks the surface's names
            if self.surface.answer is Answer.SYNC:
                message = renamed(message, fields)
            raise ApiError(answer.status, message, headers=answer.headers)
        return answer

    def answer(self, request: Request, task: Task) -> Json:
        """The synchronous answer of a terminal task: the surface's view, or its action's own result."""
        answer = self.completed_answer(request, task, self.surface.fields)
        body = self.surface.view(task) if self.surface.view else answer.body
        return Json(body, headers=answer.headers)


async def finished(request: Request, task: Task, timeout: float) -> Task:
    """The task once terminal, or as it is after `timeout` seconds."""
    if task.state.terminal:
        return task
    rt = runtime(request)
    await rt.wait_finished(task.id, timeout)
    return await engine.get_task(rt.db, task.id, task.account_id) or task


def accepted(task: Task, client_request_id: str | None) -> Json:
    """202: the task goes on; its result will be at Location."""
    headers = {
        **media.task_headers(task, client_request_id),
        "Location": location(task),
        "Retry-After": str(retry_after_seconds(task)),
    }
    return Json({"id": task.id, "status": task.state.wire, "billing": billing_facts(task)}, 202, headers=headers)


def record_endpoint(kind: RecordKind) -> media.Endpoint:
    """GET <path>/<id>: a persona or voice of this account, by its own id."""

    async def read(request: Request) -> Json:
        who = await authenticated(request)
        task = await find_record(runtime(request).db, who.account_id, kind, str(request.path_params["record_id"]))
        if task is None:
            raise record_not_found()
        return Json(record_body(kind, task), headers=media.task_headers(task))

    return read


def surface_routes(surface: Surface) -> list[Route]:
    adapter = Adapter(surface)
    if surface.before is not None and get_catalog().action(surface.family, surface.before.action) is None:
        raise LookupError(f"surface {surface.path}: no catalog action {surface.family}/{surface.before.action}")
    name = surface.path.rsplit("/", 1)[-1]
    found = [Route(surface.path, adapter.create, methods=["POST"], name=f"{name}:create")]
    if surface.answer is Answer.TASK:
        found.append(
            Route(
                surface.path + "/{task_id}", media.status_endpoint(adapter.action), methods=["GET"], name=f"{name}:get"
            )
        )
    if surface.record is not None:
        found.append(
            Route(surface.path + "/{record_id}", record_endpoint(surface.record), methods=["GET"], name=f"{name}:get")
        )
    return found


routes = [route for surface in SURFACES for route in surface_routes(surface)]
