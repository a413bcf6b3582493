"""Resource surfaces over catalog actions: another path, other field names, the same task.

The platform's typed SDKs (runapi-suno 0.6: personas, voices, style_expansions, ...) name the resource a request
works on instead of the provider operation behind it. Each such surface is one row of a table
(api/suno_resources.py): the catalog action it creates, how its fields map onto that action's params, and how it
answers. A request is renamed here and then takes the one create path (tasks/submit.py), so validation, price,
billing, usage log and callbacks are the action's own; refusals that name a param are renamed back, so the client
reads the names it sent. This module holds the table's types and the lookups a surface needs (the task that made
a track, a persona or voice record); HTTP stays in api/."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, select

from ..catalog import Action, get_catalog
from ..domain.task import Task, TaskState
from ..errors import MissingParameter, RecordNotFound, RunapiError
from ..store import Database
from ..store.schema import tasks
from . import engine

MAX_LOOKUP_ID = 200  # longer ids name no track or record (and are not worth a query)
TRACK_CANDIDATES = 50  # tasks whose result mentions the audio id, checked one by one (newest first)


class Answer(enum.StrEnum):
    """How a surface answers a create."""

    SYNC = "sync"  # 200 with the result once the task finished (the request waits, as a sync catalog action)
    HYBRID = "hybrid"  # SYNC when the task finishes within a short wait, else 202 + Location of its task result
    TASK = "task"  # 202 {id, status}; GET <path>/<id> reads the task


@dataclass(frozen=True)
class Step:
    """A task a surface runs (and waits for) before its own, whose id it passes on: a voice needs a validation
    phrase task first, which the voices surface makes from the same recording."""

    action: str
    fields: Mapping[str, str]  # surface field → this step's param
    into: str  # the surface action's param that takes this step's task id
    fixed: Mapping[str, Any] = field(default_factory=dict)  # params the surface does not expose


@dataclass(frozen=True)
class RecordKind:
    """A record a completed task holds (a persona, a custom voice): how to find it by id and how it reads."""

    envelope: str  # the key it is answered under: {"persona": {...}, "status": ...}
    kinds: Mapping[str, str]  # as catalog record_ref: {family/action: dotted path of the id in the result}
    view: Callable[[Task], dict[str, Any]]  # the record as a resource: {id, name, ...}
    available: Callable[[Task], bool]  # ready to use (else "failed")


@dataclass(frozen=True)
class Surface:
    path: str  # POST creates; GET <path>/<id> reads the task (TASK) or the record (`record`)
    family: str
    action: str
    fields: Mapping[str, str]  # surface field → action param; nothing else the client sends is passed on
    answer: Answer
    # the surface's `audio_id` field may come without `task_id`: the account's task that made the track is found
    find_track: bool = False
    before: Step | None = None
    record: RecordKind | None = None
    # the 200 body from the completed task; None: the action's own synchronous answer
    view: Callable[[Task], dict[str, Any]] | None = None

    @property
    def catalog_action(self) -> Action:
        found = get_catalog().action(self.family, self.action)
        if found is None:
            raise LookupError(f"surface {self.path}: no catalog action {self.family}/{self.action}")
        return found

    def field_for(self, param: str) -> str | None:
        """The surface field that carries `param`."""
        return next((f for f, p in self.fields.items() if p == param), None)


def action_params(fields: Mapping[str, str], body: Any, fixed: Mapping[str, Any] | None = None) -> Any:
    """The body renamed to the action's params (only the mapped fields), plus `fixed`. Anything but a JSON
    object passes as it is, for the catalog to refuse in its own words."""
    if not isinstance(body, dict):
        return body
    params = {param: body[name] for name, param in fields.items() if name in body}
    return {**params, **(fixed or {})}


def renamed(message: str, fields: Mapping[str, str]) -> str:
    """A refusal's text with each action param it names replaced by the surface field that carries it."""
    back = {param: name for name, param in fields.items() if name != param}
    if not back:
        return message
    pattern = re.compile(r"\b(" + "|".join(re.escape(p) for p in sorted(back, key=len, reverse=True)) + r")\b")
    return pattern.sub(lambda m: back[m.group(1)], message)


def rename_refusal(exc: RunapiError, fields: Mapping[str, str]) -> RunapiError:
    """The same refusal (class, code, status) in the surface's field names."""
    exc.message = renamed(exc.message, fields)
    exc.args = (exc.message,)
    if isinstance(exc, MissingParameter):
        exc.parameter = renamed(exc.parameter, fields)
    return exc


def plausible_id(value: Any) -> bool:
    """An id worth looking up: a short printable string (a NUL would not even reach PostgreSQL)."""
    return isinstance(value, str) and 0 < len(value) <= MAX_LOOKUP_ID and value.isprintable()


def tracks_of(task: Task) -> list[dict[str, Any]]:
    """The tracks a completed music task holds (`audios`, or replace_section's `track`)."""
    extra = (task.result or {}).get("extra") or {}
    found = [t for t in extra.get("audios") or [] if isinstance(t, dict)]
    if isinstance(extra.get("track"), dict):
        found.append(extra["track"])
    return found


async def find_track_task(db: Database, account_id: int, audio_id: str, kinds: tuple[str, ...]) -> Task | None:
    """The newest completed task of this account, of one of `kinds`, that holds the track `audio_id`."""
    if not plausible_id(audio_id):
        return None
    pairs = [tuple(kind.split("/", 1)) for kind in kinds]
    async with db.read() as conn:
        rows = (
            (
                await conn.execute(
                    select(tasks)
                    .where(
                        tasks.c.account_id == account_id,
                        tasks.c.state == TaskState.COMPLETED,
                        tasks.c.family.in_({f for f, _ in pairs}),
                        tasks.c.action.in_({a for _, a in pairs}),
                        cast(tasks.c.result, String).contains(audio_id, autoescape=True),
                    )
                    .order_by(tasks.c.created_at.desc())
                    .limit(TRACK_CANDIDATES)
                )
            )
            .mappings()
            .all()
        )
    for row in rows:
        task = Task.from_row(row)
        if task.kind in kinds and any(t.get("id") == audio_id for t in tracks_of(task)):
            return task
    return None


def _blank(value: Any) -> bool:
    """Absent as the catalog counts it: missing, null or a blank string."""
    return value is None or (isinstance(value, str) and not value.strip())


async def track_task_id(db: Database, account_id: int, surface: Surface, params: Any) -> Any:
    """`params` with the `task_id` of the track they name by `audio_id` alone (surfaces with `find_track`);
    404 when no task of this account made that track."""
    if not surface.find_track or not isinstance(params, dict) or not _blank(params.get("task_id")):
        return params
    audio_id = params.get("audio_id")
    audio_field = surface.field_for("audio_id") or "audio_id"
    if _blank(audio_id):
        raise MissingParameter(audio_field)
    if not isinstance(audio_id, str):
        return params  # the catalog refuses its type
    kinds = surface.catalog_action.params["task_id"].task_ref or ()
    made = await find_track_task(db, account_id, audio_id, kinds)
    if made is None:
        raise RecordNotFound(
            f"Record does not exist: {audio_field} {audio_id!r} is not a track this account made "
            f"(give {surface.field_for('task_id') or 'task_id'} with it)"
        )
    return {**params, "task_id": made.id}


async def find_record(db: Database, account_id: int, kind: RecordKind, record_id: str) -> Task | None:
    """The completed task of this account that holds the record `record_id`."""
    if not plausible_id(record_id):
        return None
    return await engine.find_record(db, account_id, dict(kind.kinds), record_id)


def record_body(kind: RecordKind, task: Task) -> dict[str, Any]:
    """GET <path>/<id> of a record: the record and whether it can be used."""
    return {kind.envelope: kind.view(task), "status": "available" if kind.available(task) else "failed"}


def _extra(task: Task) -> dict[str, Any]:
    extra = (task.result or {}).get("extra")
    return extra if isinstance(extra, dict) else {}


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def persona_view(task: Task) -> dict[str, Any]:
    """A generate_persona task's persona: {id, name, description}."""
    persona = _extra(task).get("persona") or {}
    return _present({"id": persona.get("id"), "name": persona.get("name"), "description": persona.get("description")})


def voice_view(task: Task) -> dict[str, Any]:
    """A generate_voice task's voice: its voice_id and the name it was given."""
    return _present({"id": _extra(task).get("voice_id"), "name": task.params.get("voice_name")})


def voice_available(task: Task) -> bool:
    """As check_voice tells: the provider made the voice."""
    extra = _extra(task)
    return bool(extra.get("voice_id")) and extra.get("provider_status") == "success"


PERSONAS = RecordKind("persona", {"suno/generate_persona": "persona.id"}, persona_view, lambda task: True)
VOICES = RecordKind("voice", {"suno/generate_voice": "voice_id"}, voice_view, voice_available)
