"""The field mapping table of the platform SDK's Suno resources (api/suno_resources.py, tasks/surfaces.py): each
row maps exactly the fields runapi-suno 0.6 sends onto params its catalog action declares, covers every param the
action requires, answers as the SDK's resource class reads it; renaming requests and refusals; the record views."""

from __future__ import annotations

import time
from typing import Any

import pytest

from runapi.api.suno_resources import SURFACES, Adapter
from runapi.catalog import get_catalog
from runapi.catalog.validation import validate
from runapi.domain.task import Task, TaskState
from runapi.errors import InvalidInput, MissingParameter, RunapiError
from runapi.tasks.surfaces import (
    PERSONAS,
    VOICES,
    Answer,
    Surface,
    action_params,
    record_body,
    rename_refusal,
    renamed,
    tracks_of,
)

suno = pytest.importorskip("runapi.suno")
from runapi.suno import types as T  # noqa: E402
from runapi.suno.resources import (  # noqa: E402
    audio_exports,
    music_from_sample,
    music_visualizations,
    personas,
    style_expansions,
    timestamped_lyrics,
    voices,
)

BY_PATH = {s.path: s for s in SURFACES}
# each SDK resource: its class and the TypedDict of the parameters it sends
SDK = {
    "/api/v1/personas": (personas.Personas, T.PersonaParams),
    "/api/v1/voices": (voices.Voices, T.VoiceParams),
    "/api/v1/style_expansions": (style_expansions.StyleExpansions, T.StyleExpansionParams),
    "/api/v1/timestamped_lyrics": (timestamped_lyrics.TimestampedLyrics, T.TimestampedLyricsParams),
    "/api/v1/audio_exports": (audio_exports.AudioExports, T.AudioExportParams),
    "/api/v1/music_visualizations": (music_visualizations.MusicVisualizations, T.MusicVisualizationParams),
    "/api/v1/music_from_sample": (music_from_sample.MusicFromSample, T.MusicFromSampleParams),
}
# a request of each, as the SDK's own docs and types make it
EXAMPLES: dict[str, dict[str, Any]] = {
    "/api/v1/personas": {"source_task_id": "t-1", "source_audio_id": "a-1", "name": "N", "description": "D"},
    "/api/v1/voices": {"source_audio_url": "https://example.com/v.mp3", "name": "Warm"},
    "/api/v1/style_expansions": {"description": "Pop, Mysterious"},
    "/api/v1/timestamped_lyrics": {"source_audio_id": "a-1", "source_task_id": "t-1"},
    "/api/v1/audio_exports": {"source_audio_id": "a-1", "source_task_id": "t-1", "callback_url": "https://e.com/c"},
    "/api/v1/music_visualizations": {"source_audio_id": "a-1", "source_task_id": "t-1", "author": "A"},
    "/api/v1/music_from_sample": {
        "model": "suno-v5",
        "audio_url": "https://example.com/s.mp3",
        "start_seconds": 1,
        "end_seconds": 4.5,
        "prompt": "p",
    },
}
IDS = [s.path.rsplit("/", 1)[-1] for s in SURFACES]


def test_every_resource_of_the_sdk_has_one_surface():
    assert sorted(BY_PATH) == sorted(SDK) == sorted(EXAMPLES)
    for path, (cls, _) in SDK.items():
        assert cls.ENDPOINT == path


@pytest.mark.parametrize("surface", SURFACES, ids=IDS)
def test_the_surface_takes_exactly_the_fields_the_sdk_sends(surface: Surface):
    _, params = SDK[surface.path]
    assert set(surface.fields) == params.__required_keys__ | params.__optional_keys__


@pytest.mark.parametrize("surface", SURFACES, ids=IDS)
def test_each_field_maps_to_a_declared_param_and_every_required_param_is_covered(surface: Surface):
    action = surface.catalog_action
    assert set(surface.fields.values()) <= set(action.params), surface.path
    covered = set(surface.fields.values())
    if surface.before:
        covered.add(surface.before.into)
        step = get_catalog().action(surface.family, surface.before.action)
        assert step is not None
        assert set(surface.before.fields.values()) | set(surface.before.fixed) <= set(step.params)
        step_required = {p.name for p in step.params.values() if p.required}
        assert step_required <= set(surface.before.fields.values()) | set(surface.before.fixed)
    required = {p.name for p in action.params.values() if p.required}
    assert required <= covered, f"{surface.path} can never send {required - covered}"
    # what the SDK must send, the action requires (or, for a found track, the surface does)
    _, params = SDK[surface.path]
    for name in params.__required_keys__:
        param = action.params[surface.fields[name]]
        assert param.required or (surface.find_track and param.name == "audio_id"), name
    for name in params.__optional_keys__:
        param = action.params[surface.fields[name]]
        assert not param.required or (surface.find_track and param.name == "task_id"), name


@pytest.mark.parametrize("surface", SURFACES, ids=IDS)
def test_the_answer_is_the_one_the_sdk_reads(surface: Surface):
    cls, _ = SDK[surface.path]
    # a task resource creates and reads by id; the others answer the result (a hybrid may answer 202 + Location)
    assert (surface.answer is Answer.TASK) == (hasattr(cls, "create") and hasattr(cls, "get"))
    assert (surface.answer is Answer.HYBRID) == ("_run_hybrid" in cls.run.__code__.co_names)
    assert (surface.record is not None) == (hasattr(cls, "get") and not hasattr(cls, "create"))
    # an action the catalog runs synchronously is not made into a task resource, nor the reverse
    if surface.answer is Answer.TASK:
        assert not surface.catalog_action.sync
    Adapter(surface)  # the table's own consistency checks


@pytest.mark.parametrize("surface", SURFACES, ids=IDS)
def test_the_sdks_example_maps_to_a_valid_request_of_the_action(surface: Surface):
    params = action_params(surface.fields, EXAMPLES[surface.path])
    if surface.before:
        params[surface.before.into] = "t-0"
        step = get_catalog().action(surface.family, surface.before.action)
        assert step is not None
        validate(step, action_params(surface.before.fields, EXAMPLES[surface.path], surface.before.fixed))
    validate(surface.catalog_action, params)


def test_renaming_a_request():
    fields = BY_PATH["/api/v1/audio_exports"].fields
    body = {"source_audio_id": "a", "source_task_id": "t", "task_id": "sneaked", "audio_id": "x", "extra": 1}
    assert action_params(fields, body) == {"audio_id": "a", "task_id": "t"}
    assert action_params(fields, ["not", "an", "object"]) == ["not", "an", "object"]
    step = BY_PATH["/api/v1/voices"].before
    assert step is not None
    assert action_params(step.fields, {"source_audio_url": "u", "name": "n"}, step.fixed) == {
        "voice_url": "u",
        "vocal_start_seconds": 0,
        "vocal_end_seconds": 30,
    }


def test_renaming_a_refusal():
    fields = BY_PATH["/api/v1/timestamped_lyrics"].fields
    assert renamed("Missing required parameter: task_id", fields) == "Missing required parameter: source_task_id"
    assert (
        renamed("task_id must name a suno/text_to_music task (task x is a suno/boost_style task)", fields)
        == "source_task_id must name a suno/text_to_music task (task x is a suno/boost_style task)"
    )
    # whole names only: a field that contains a param's name is left alone, and so is other text
    assert renamed("source_audio_id audio_ids audio_id.", fields) == "source_audio_id audio_ids source_audio_id."
    assert renamed("Invalid value for model", BY_PATH["/api/v1/music_from_sample"].fields) == "Invalid value for model"

    missing = rename_refusal(MissingParameter("audio_id"), fields)
    assert isinstance(missing, MissingParameter) and missing.parameter == "source_audio_id"
    assert missing.message == str(missing) == "Missing required parameter: source_audio_id"
    invalid = rename_refusal(InvalidInput("Invalid type for audio_id: expected a string"), fields)
    assert type(invalid) is InvalidInput and invalid.message == "Invalid type for source_audio_id: expected a string"
    assert isinstance(invalid, RunapiError)


def task(action: str, result: dict[str, Any] | None, params: dict[str, Any] | None = None) -> Task:
    now = time.time()
    return Task(
        id="00000000-0000-0000-0000-000000000001",
        account_id=1,
        family="suno",
        action=action,
        params=params or {},
        state=TaskState.COMPLETED,
        price_cents=1,
        provider="sandbox",
        next_run_at=now,
        created_at=now,
        updated_at=now,
        result=result,
    )


def test_record_views_parse_as_the_sdks_models():
    persona = task(
        "generate_persona", {"files": {}, "extra": {"persona": {"id": "p1", "name": "N", "description": "D"}}}
    )
    body = record_body(PERSONAS, persona)
    assert body == {"persona": {"id": "p1", "name": "N", "description": "D"}, "status": "available"}
    assert T.PersonaResourceResponse(body).persona.id == "p1"

    made = {"files": {}, "extra": {"provider_status": "success", "voice_id": "voice_1"}}
    voice = record_body(VOICES, task("generate_voice", made, {"voice_name": "Warm"}))
    assert voice == {"voice": {"id": "voice_1", "name": "Warm"}, "status": "available"}
    assert T.VoiceResourceResponse(voice).status == "available"
    unnamed = record_body(VOICES, task("generate_voice", {"extra": {"provider_status": "fail", "voice_id": "voice_2"}}))
    assert unnamed == {"voice": {"id": "voice_2"}, "status": "failed"}
    assert T.VoiceResourceResponse(unnamed).voice.name is None


def test_tracks_of_a_task():
    audios = [{"id": "a"}, {"id": "b"}, "junk"]
    assert [t["id"] for t in tracks_of(task("text_to_music", {"extra": {"audios": audios}}))] == ["a", "b"]
    assert [t["id"] for t in tracks_of(task("replace_section", {"extra": {"track": {"id": "c"}}}))] == ["c"]
    assert tracks_of(task("text_to_music", None)) == []
