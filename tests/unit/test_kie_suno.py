"""kie.ai's Suno API adapter (kie_suno) and sunoapi.org's (sunoapi): every (action, model) the table maps builds,
from the catalog's examples and extra requests reaching every route, a body kie's published schema accepts
(tests/support/contracts/kie_suno_schemas.yaml); refusals; kie's statuses as our stages; results; error
classes. No sockets: httpx.MockTransport stands in for kie."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from runapi.catalog import get_catalog
from runapi.domain.task import Task, TaskState
from runapi.providers.base import TaskInput
from runapi.providers.upstream.adapter import Finished, Running, Started
from runapi.providers.upstream.config import MediaDeployment
from runapi.providers.upstream.errors import UpstreamError
from runapi.providers.upstream.kie_suno import (
    KieSuno,
    SunoApiOrg,
    classify,
    read_envelope,
    read_job,
    read_sync,
    read_tracks,
    suno_table,
)
from runapi.providers.upstream.mapping import Context
from runapi.providers.upstream.registry import ADAPTERS, parse_deployment
from tests.support.kie_suno_contract import refusal, schemas

WEBHOOK = "https://runapi.example.com/webhooks/upstream/t1?signature=abc"
BASES = {KieSuno: "https://api.kie.ai", SunoApiOrg: "https://api.sunoapi.org"}
AUDIO = "95e4f61a-8d35-5f8c-aeb0-033312c35cab"
TASK = "00000000-0000-0000-0000-000000000000"

# Requests reaching the routes (and refusals) the catalog's own examples do not reach.
ROUTE_EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("text_to_music", {"model": "suno-v5", "vocal_mode": "auto_lyrics", "prompt": "x", "vocal_gender": "male"}),
    ("text_to_music", {"model": "suno-v4", "vocal_mode": "exact_lyrics", "lyrics": "la", "style": "s", "title": "t"}),
    (
        "cover_audio",
        {
            "model": "suno-v5",
            "upload_url": "https://e.com/a.mp3",
            "vocal_mode": "auto_lyrics",
            "prompt": "p",
            "persona_id": "p1",
        },
    ),
    (
        "create_mashup",
        {
            "model": "suno-v5",
            "upload_url_list": ["https://e.com/a.mp3"] * 2,
            "vocal_mode": "exact_lyrics",
            "lyrics": "la",
            "style": "s",
            "title": "t",
        },
    ),
    (
        "create_mashup",
        {
            "model": "suno-v4",
            "upload_url_list": ["https://e.com/a.mp3"] * 2,
            "vocal_mode": "auto_lyrics",
            "prompt": "p",
            "vocal_gender": "female",
        },
    ),
    (
        "extend_music",
        {
            "model": "suno-v5",
            "parameter_mode": "custom",
            "audio_id": AUDIO,
            "prompt": "p",
            "style": "s",
            "title": "t",
            "continue_at": 3,
            "persona_id": "p1",
            "persona_type": "voice",
        },
    ),
    (
        "add_vocals",
        {"model": "suno-v5", "upload_url": "https://e.com/a.mp3", "lyrics": "la", "title": "t", "style": "s"},
    ),
    (
        "replace_section",
        {
            "task_id": TASK,
            "audio_id": AUDIO,
            "lyrics": "x",
            "tags": "Jazz",
            "title": "t",
            "infill_start_time": 1,
            "infill_end_time": 9,
            "full_lyrics": "all",
        },
    ),
    ("separate_audio_stems", {"task_id": TASK, "audio_id": AUDIO}),
]


def deployment(cls: type[KieSuno], **kw: Any) -> MediaDeployment:
    return MediaDeployment(name=cls.kind, kind=cls.kind, base_url=BASES[cls], api_key="k", **kw)


def made_here(cls: type[KieSuno], action: str = "text_to_music", base: str | None = None) -> Task:
    """A completed task this service made (its upstream id in the provider handle)."""
    handle = {"kind": cls.kind, "base": base or BASES[cls], "endpoint": "/api/v1/generate", "taskId": "kie-task-1"}
    return Task(
        id=TASK, account_id=1, family="suno", action=action, params={}, state=TaskState.COMPLETED, price_cents=1,
        provider=cls.kind, next_run_at=0, created_at=0, updated_at=0,
        provider_job={"stage": "upstream", "deployment": cls.kind, "handle": handle},
    )  # fmt: skip


def model_of(action: Any, params: dict[str, Any]) -> str:
    """The request's model: its own, the action's default, or the one entry of an action without models."""
    return str(params.get("model") or action.default_model or next(iter(action.models)))


def task_input(action_name: str, params: dict[str, Any], refs_from: type[KieSuno] = KieSuno) -> TaskInput:
    action = get_catalog().action("suno", action_name)
    assert action is not None
    model = action.models[model_of(action, params)]
    defaults = {p.name: p.default for p in model.params.values() if p.default is not None}
    full = {**defaults, **params}
    refs = {
        p.name: made_here(refs_from)
        for p in model.params.values()
        if (p.task_ref or p.record_ref) and full.get(p.name) is not None
    }
    return TaskInput(id="t1", action=action, model=model, params=full, refs=refs)


def all_requests() -> list[tuple[str, dict[str, Any]]]:
    catalog = get_catalog()
    out = []
    for action_key, model in suno_table().entries:
        action = catalog.action(*action_key.split("/"))
        out += [(action.name, dict(ex)) for ex in action.examples if model_of(action, ex) == model]
    return out + ROUTE_EXAMPLES


def build(cls: type[KieSuno], action: str, params: dict[str, Any], **ctx: Any) -> tuple[str, dict[str, Any]]:
    adapter = cls(deployment(cls), httpx.AsyncClient())
    task = task_input(action, params, refs_from=cls)
    endpoint, body = adapter.request(task, Context(params=task.params, refs=task.refs, webhook_url=WEBHOOK, **ctx))
    return endpoint.path, body


@pytest.mark.parametrize("cls", [KieSuno, SunoApiOrg])
def test_every_mapped_request_is_a_body_the_published_schema_accepts(cls):
    reached: set[tuple[str, str, str]] = set()
    refused = 0
    for action, params in all_requests():
        task = task_input(action, params, refs_from=cls)
        model = task.model.id if task.model else ""
        route = suno_table().get(task.action.key, model).route(task.params, model)
        try:
            path, body = build(cls, action, params)
        except UpstreamError as exc:
            assert exc.out_of_reach and not exc.retryable, (action, params, exc)
            refused += 1
            if route is not None and route.refuse is not None:
                reached.add((task.action.key, model, route.refuse))
            continue
        assert refusal(cls.kind, path, body) is None, (action, params, path, body, refusal(cls.kind, path, body))
        assert body.get("callBackUrl") == (WEBHOOK if "callBackUrl" in schemas(cls.kind)[path] else None)
        reached.add((task.action.key, model, route.app))
    for action_key, model in suno_table().entries:  # every pair runs somewhere (or is refused on purpose)
        if (action_key, model) in cls.pairs():
            assert any(r[:2] == (action_key, model) for r in reached), (action_key, model)
    assert refused


def test_every_contract_endpoint_is_used_and_every_route_endpoint_has_a_contract():
    used = {r.app for m in suno_table().entries.values() for r in m.routes if r.refuse is None}
    assert used == set(schemas())


def test_our_models_become_kies_enum_and_a_model_kie_lacks_is_refused():
    path, body = build(
        KieSuno, "text_to_music", {"model": "suno-v4.5-plus", "vocal_mode": "auto_lyrics", "prompt": "x"}
    )
    assert (path, body["model"], body["customMode"], body["instrumental"]) == (
        "/api/v1/generate",
        "V4_5PLUS",
        False,
        False,
    )
    params = {"model": "suno-v5.5", "vocal_mode": "instrumental", "style": "s", "title": "t"}
    with pytest.raises(UpstreamError) as exc:
        build(KieSuno, "text_to_music", params)
    assert exc.value.out_of_reach and "V5_5" in str(exc.value)
    assert build(SunoApiOrg, "text_to_music", params)[1]["model"] == "V5_5"  # sunoapi.org has it
    assert ("suno/text_to_music", "suno-v5.5") not in KieSuno.pairs()
    assert ("suno/text_to_music", "suno-v5.5") in SunoApiOrg.pairs()


def test_a_deployment_model_map_renames_the_upstream_model():
    adapter = KieSuno(deployment(KieSuno, model_map={"V5": "V5_5"}), httpx.AsyncClient())
    task = task_input("text_to_music", {"model": "suno-v5", "vocal_mode": "auto_lyrics", "prompt": "x"})
    _, body = adapter.request(task, Context(params=task.params, webhook_url=WEBHOOK))
    assert body["model"] == "V5_5"


def test_vocal_modes_become_custom_mode_and_personas_their_model():
    _, body = build(KieSuno, "text_to_music", {"model": "suno-v5", "vocal_mode": "exact_lyrics", "lyrics": "la", "style": "s",
                                               "title": "t", "persona_id": "p1", "persona_type": "voice", "vocal_gender": "female"})  # fmt: skip
    assert body["customMode"] is True and body["instrumental"] is False and body["prompt"] == "la"
    assert (body["personaId"], body["personaModel"], body["vocalGender"]) == ("p1", "voice_persona", "f")
    _, body = build(KieSuno, "text_to_music", {"model": "suno-v5", "vocal_mode": "instrumental", "style": "s", "title": "t",
                                               "prompt": "ignored", "persona_type": "style"})  # fmt: skip
    assert body["instrumental"] is True and "prompt" not in body and "personaModel" not in body


def test_extend_sends_the_track_id_as_kies_audio_id_and_an_upload_to_upload_extend():
    path, body = build(KieSuno, "extend_music", {"model": "suno-v5", "parameter_mode": "source", "audio_id": AUDIO})
    assert (path, body["audioId"], body["defaultParamFlag"]) == ("/api/v1/generate/extend", AUDIO, False)
    assert "taskId" not in body  # extend names the track only
    path, body = build(KieSuno, "extend_music", {"model": "suno-v5", "parameter_mode": "source", "upload_url": "https://e.com/a.mp3", "prompt": "p"})  # fmt: skip
    assert (path, body["uploadUrl"]) == ("/api/v1/generate/upload-extend", "https://e.com/a.mp3")


def test_a_referenced_task_sends_its_upstream_task_id():
    path, body = build(KieSuno, "convert_audio", {"task_id": TASK, "audio_id": AUDIO})
    assert (path, body) == ("/api/v1/wav/generate", {"audioId": AUDIO, "taskId": "kie-task-1", "callBackUrl": WEBHOOK})


@pytest.mark.parametrize(
    "row",
    [
        replace(made_here(KieSuno), provider="sandbox", provider_job={"stage": "done"}),  # the sandbox made it
        made_here(SunoApiOrg),  # another kind
        made_here(KieSuno, base="https://kie.other"),  # another address
    ],
)
def test_a_task_made_elsewhere_is_out_of_reach(row):
    adapter = KieSuno(deployment(KieSuno), httpx.AsyncClient())
    task = replace(task_input("convert_audio", {"task_id": TASK, "audio_id": AUDIO}), refs={"task_id": row})
    with pytest.raises(UpstreamError) as exc:
        adapter.request(task, Context(params=task.params, refs=task.refs, webhook_url=WEBHOOK))
    assert exc.value.out_of_reach and "was not made on kie.ai" in str(exc.value)


def test_a_persona_a_deployment_made_synchronously_passes_and_the_sandboxs_does_not():
    adapter = KieSuno(deployment(KieSuno), httpx.AsyncClient())
    params = {"model": "suno-v5", "vocal_mode": "instrumental", "style": "s", "title": "t", "persona_id": "p1"}
    persona = replace(made_here(KieSuno, "generate_persona"), provider_job={"stage": "pending", "tried": []})
    task = replace(task_input("text_to_music", params), refs={"persona_id": persona})
    body = adapter.request(task, Context(params=task.params, refs=task.refs, webhook_url=WEBHOOK))[1]
    assert body["personaId"] == "p1"
    sandboxed = replace(persona, provider="sandbox")
    task = replace(task, refs={"persona_id": sandboxed})
    with pytest.raises(UpstreamError) as exc:
        adapter.request(task, Context(params=task.params, refs=task.refs, webhook_url=WEBHOOK))
    assert exc.value.out_of_reach


def test_without_a_public_address_kie_is_out_of_reach_naming_the_setting():
    adapter = KieSuno(deployment(KieSuno), httpx.AsyncClient())
    task = task_input("generate_lyrics", {"prompt": "night"})
    with pytest.raises(UpstreamError) as exc:
        adapter.request(task, Context(params=task.params, webhook_url=None))
    assert exc.value.out_of_reach and "RUNAPI_PUBLIC_URL" in str(exc.value)
    sync = task_input("boost_style", {"description": "pop"})  # synchronous endpoints take no callBackUrl
    assert adapter.request(sync, Context(params=sync.params))[1] == {"content": "pop"}


def test_suno_voice_bodies_name_the_earlier_task_and_take_the_callback_where_published():
    path, body = build(KieSuno, "regenerate_validation_phrase", {"task_id": TASK})
    assert (path, body) == ("/api/v1/voice/regenerate", {"taskId": "kie-task-1", "calBackUrl": WEBHOOK})
    path, body = build(KieSuno, "check_voice", {"task_id": TASK})
    assert (path, body) == ("/api/v1/voice/check-voice", {"task_id": "kie-task-1"})
    adapter = KieSuno(deployment(KieSuno), httpx.AsyncClient())  # validate's callBackUrl is optional
    task = task_input(
        "voice_to_validation_phrase",
        {"voice_url": "https://e.com/v.mp3", "vocal_start_seconds": 0, "vocal_end_seconds": 9},
    )
    assert "callBackUrl" not in adapter.request(task, Context(params=task.params))[1]


@pytest.mark.parametrize(
    ("endpoint", "record", "outcome"),
    [
        ("/api/v1/voice/validate", {"status": "processing_validate"}, None),
        ("/api/v1/voice/validate", {"status": "wait_validating", "validateInfo": "Sing this"},
         {"provider_status": "wait_validating", "validation_phrase": "Sing this"}),
        ("/api/v1/voice/generate", {"status": "wait_validating"}, None),
        ("/api/v1/voice/generate", {"status": "success", "voiceId": "v1"}, {"provider_status": "success", "voice_id": "v1"}),
        ("/api/v1/voice/generate", {"status": "fail", "errorMessage": "voice mismatch"}, "voice mismatch"),
        ("/api/v1/voice/validate", {"status": "processing_validate_fail"}, "processing_validate_fail"),
    ],
)  # fmt: skip
def test_suno_voice_records(endpoint, record, outcome):
    task = task_input("generate_voice", {"task_id": TASK, "verify_url": "https://e.com/v.mp3"})
    check = mock_kie({"taskId": "kie-1", **record}).check(task, {"endpoint": endpoint, "taskId": "kie-1"})
    if outcome is None:
        assert isinstance(run(check), Running)
    elif isinstance(outcome, dict):
        assert run(check).extra == outcome
    else:
        with pytest.raises(UpstreamError) as exc:
            run(check)
        assert str(exc.value) == outcome and not exc.value.retryable


def test_both_kinds_are_registered_with_their_own_default_address():
    assert ADAPTERS["kie_suno"] is KieSuno and ADAPTERS["sunoapi"] is SunoApiOrg
    assert parse_deployment({"name": "k", "kind": "kie_suno"}).base_url == "https://api.kie.ai"
    assert parse_deployment({"name": "s", "kind": "sunoapi"}).base_url == "https://api.sunoapi.org"


# --- kie's answers ------------------------------------------------------------------------------------


def answer(code: int, msg: str = "m", data: Any = None, http: int = 200, headers: dict[str, str] | None = None):
    return httpx.Response(http, json={"code": code, "msg": msg, "data": data}, headers=headers)


@pytest.mark.parametrize(
    ("code", "retryable", "status"),
    [
        (401, True, 401),  # bad key: the next deployment
        (405, True, 429),  # "call limit exceeded": a cool-down
        (402, True, 402),  # no credits: the next deployment
        (404, True, 404),
        (429, True, 429),  # a cool-down
        (430, True, 429),  # kie's "call frequency too high" cools down like a 429
        (455, True, 455),  # maintenance
        (500, True, 500),
        (531, True, 531),
        (400, False, 400),  # the request itself
        (413, False, 413),
        (422, False, 422),
        (451, False, 451),
    ],
)
def test_envelope_codes_classify(code, retryable, status):
    with pytest.raises(UpstreamError) as exc:
        read_envelope(answer(code, "kie says no"), "kie")
    assert (exc.value.retryable, exc.value.status) == (retryable, status)
    assert "kie says no" in str(exc.value)


def test_http_errors_classify_like_codes_and_keep_retry_after():
    with pytest.raises(UpstreamError) as exc:
        read_envelope(answer(429, http=429, headers={"Retry-After": "7"}), "kie")
    assert exc.value.rate_limited and exc.value.retry_after == 7
    assert read_envelope(answer(200, data={"taskId": "x"}), "kie") == {"taskId": "x"}
    assert not classify(413, "too big", "kie").retryable


def run(coro):
    return asyncio.run(coro)


def mock_kie(record: dict[str, Any]) -> KieSuno:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer k"
        if request.method == "POST":
            return answer(200, data={"taskId": "kie-1"})
        return answer(200, data=record)

    return KieSuno(deployment(KieSuno, poll_seconds=0.5), httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def song(status: str, tracks: list[dict[str, Any]] | None = None, **kw: Any) -> dict[str, Any]:
    return {"taskId": "kie-1", "status": status, "response": {"sunoData": tracks or []}, **kw}


TRACK = {"id": "a1", "audioUrl": "https://cdn/a1.mp3", "streamAudioUrl": "https://cdn/s", "imageUrl": "https://cdn/a1.jpg",
         "prompt": "[Verse] la", "modelName": "chirp-v5", "title": "T", "tags": "pop", "duration": 12.5}  # fmt: skip


def test_start_keeps_what_polling_needs_in_the_handle():
    task = task_input("text_to_music", {"model": "suno-v5", "vocal_mode": "auto_lyrics", "prompt": "x"})
    started = run(mock_kie({}).start(task, Context(params=task.params, webhook_url=WEBHOOK)))
    assert isinstance(started, Started) and started.poll_in == 0.5
    assert started.handle == {
        "kind": "kie_suno",
        "base": "https://api.kie.ai",
        "endpoint": "/api/v1/generate",
        "taskId": "kie-1",
    }


@pytest.mark.parametrize(
    ("status", "stage"), [("PENDING", None), ("TEXT_SUCCESS", "text_generated"), ("FIRST_SUCCESS", "first_audio_ready")]
)
def test_song_statuses_become_our_stages(status, stage):
    task = task_input("text_to_music", {"model": "suno-v5", "vocal_mode": "auto_lyrics", "prompt": "x"})
    handle = {"kind": "kie_suno", "endpoint": "/api/v1/generate", "taskId": "kie-1"}
    tracks = [TRACK, {**TRACK, "id": "a2", "audioUrl": ""}]
    outcome = run(mock_kie(song(status, tracks)).check(task, handle))
    assert isinstance(outcome, Running) and outcome.stage == stage
    if stage == "first_audio_ready":  # the first track, downloadable, as the partial result
        assert [f.url for f in outcome.partial.files] == ["https://cdn/a1.mp3", "https://cdn/a1.jpg"]
        assert [a["id"] for a in outcome.partial.extra["audios"]] == ["a1"]
    else:
        assert outcome.partial is None
    if stage:  # a stage is reported once: the handle remembers it
        again = run(mock_kie(song(status, tracks)).check(task, outcome.handle))
        assert again.stage is None and again.partial is None


def test_a_finished_song_maps_sunodata_to_our_tracks():
    task = task_input("text_to_music", {"model": "suno-v5", "vocal_mode": "auto_lyrics", "prompt": "x"})
    handle = {"kind": "kie_suno", "endpoint": "/api/v1/generate", "taskId": "kie-1"}
    done = run(mock_kie(song("SUCCESS", [TRACK, {**TRACK, "id": "a2", "imageUrl": ""}])).check(task, handle))
    assert isinstance(done, Finished) and len(done.files) == 3
    first, second = done.extra["audios"]
    assert first == {"id": "a1", "audio_url": {"$file": 0}, "stream_audio_url": {"$file": 0}, "image_url": {"$file": 1},
                     "lyrics": "[Verse] la", "model_name": "chirp-v5", "title": "T", "tags": "pop", "duration": 12.5}  # fmt: skip
    assert second["image_url"] is None and done.extra["generation_stage"] == "all_audios_ready"
    sound = read_tracks([TRACK], text_key="prompt")  # text_to_sound's tracks carry `prompt`
    assert sound.extra["audios"][0]["prompt"] == "[Verse] la"
    assert read_tracks([TRACK], single=True).extra["track"]["id"] == "a1"  # replace_section


@pytest.mark.parametrize(
    ("record", "retryable", "job_failed"),
    [
        (song("SENSITIVE_WORD_ERROR", errorMessage="sensitive words"), False, False),  # policy: fails, refunded
        (song("GENERATE_AUDIO_FAILED", errorCode=531, errorMessage="try again"), True, True),  # lost: elsewhere
        (song("CREATE_TASK_FAILED"), True, True),
        (song("CALLBACK_EXCEPTION"), True, True),
        (song("GENERATE_AUDIO_FAILED", errorCode=400, errorMessage="copyrighted lyrics"), False, False),
    ],
)
def test_failed_songs_classify(record, retryable, job_failed):
    task = task_input("text_to_music", {"model": "suno-v5", "vocal_mode": "auto_lyrics", "prompt": "x"})
    with pytest.raises(UpstreamError) as exc:
        run(mock_kie(record).check(task, {"endpoint": "/api/v1/generate", "taskId": "kie-1"}))
    assert (exc.value.retryable, exc.value.job_failed) == (retryable, job_failed)


def test_a_rate_limited_poll_is_no_failure():
    def handler(request: httpx.Request) -> httpx.Response:
        return answer(430, "too often")

    adapter = KieSuno(deployment(KieSuno, poll_seconds=0.5), httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    task = task_input("generate_lyrics", {"prompt": "x"})
    outcome = run(adapter.check(task, {"endpoint": "/api/v1/lyrics", "taskId": "kie-1"}))
    assert isinstance(outcome, Running) and outcome.poll_in == 0.5


@pytest.mark.parametrize(
    ("endpoint", "flag", "running"),
    [("/api/v1/wav/generate", "PENDING", True), ("/api/v1/suno/cover/generate", 0, True),
     ("/api/v1/suno/cover/generate", 2, True),  # the cover record's 2 is "generating"
     ("/api/v1/lyrics", None, True),
     ("/api/v1/wav/generate", "GENERATE_WAV_FAILED", False), ("/api/v1/midi/generate", 2, False)],
)  # fmt: skip
def test_other_jobs_success_flags(endpoint, flag, running):
    task = task_input("convert_audio", {"task_id": TASK, "audio_id": AUDIO})
    check = mock_kie({"taskId": "kie-1", "successFlag": flag}).check(task, {"endpoint": endpoint, "taskId": "kie-1"})
    if running:
        assert isinstance(run(check), Running)
    else:
        with pytest.raises(UpstreamError) as exc:
            run(check)
        assert exc.value.job_failed


def test_a_second_cover_request_polls_the_cover_task_kie_already_made():
    def handler(request: httpx.Request) -> httpx.Response:
        return answer(400, "Cover already generated", {"taskId": "cover-1"})

    adapter = KieSuno(deployment(KieSuno), httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    task = task_input("generate_artwork", {"task_id": TASK})
    started = run(adapter.start(task, Context(params=task.params, refs=task.refs, webhook_url=WEBHOOK)))
    assert isinstance(started, Started) and started.handle["taskId"] == "cover-1"
    other = task_input("convert_audio", {"task_id": TASK, "audio_id": AUDIO})  # elsewhere a 400 is the request's fault
    with pytest.raises(UpstreamError) as exc:
        run(adapter.start(other, Context(params=other.params, refs=other.refs, webhook_url=WEBHOOK)))
    assert not exc.value.retryable


def test_finished_jobs_read_as_our_results():
    lyrics = read_job("lyrics", {"response": {"data": [{"text": "la", "title": "T", "status": "complete"}]}})
    assert lyrics.extra == {"lyrics": [{"title": "T", "text": "la"}]}
    stems = read_job(
        "stems", {"response": {"originUrl": "o", "vocalUrl": "v", "backingVocalsUrl": "b", "woodwindsUrl": None}}
    )
    assert stems.extra == {"separated_audios": {"vocal_url": {"$file": 0}, "backing_vocals_url": {"$file": 1}}}
    assert [f.url for f in stems.files] == ["v", "b"]
    assert read_job("wav", {"response": {"audioWavUrl": "w"}}).extra == {"wav_url": {"$file": 0}}
    assert read_job("video", {"response": {"videoUrl": "v"}}).files[0].url == "v"
    covers = read_job("covers", {"response": {"images": ["a", "b"]}})
    assert [(f.kind, f.url) for f in covers.files] == [("covers", "a"), ("covers", "b")]
    midi = read_job("midi", {"midiData": {"instruments": [{"name": "Drums", "notes": []}]}})
    assert midi.extra == {"instruments": [{"name": "Drums", "notes": []}]}
    with pytest.raises(UpstreamError):
        read_job("wav", {"response": {}})


def test_synchronous_answers_read_as_our_results():
    assert read_sync("style", {"result": "pop, lush"}, {}).extra == {"style": "pop, lush"}
    assert read_sync("is_available", {"isAvailable": True}, {}).extra == {"is_available": True}
    words = read_sync("aligned_words", {"alignedWords": [{"word": "la", "success": True, "startS": 1, "endS": 2, "palign": 0}],
                                        "waveformData": [0.1], "hootCer": 0.3, "isStreamed": False}, {})  # fmt: skip
    assert words.extra["aligned_words"] == [
        {"word": "la", "success": True, "start_time": 1, "end_time": 2, "palign": 0}
    ]
    persona = read_sync("persona", {"personaId": "p1"}, {"name": "N", "description": "D"})
    assert persona.extra == {"persona": {"id": "p1", "name": "N", "description": "D"}}


def test_the_fake_refuses_what_kie_refuses():
    assert (
        refusal(
            "kie_suno",
            "/api/v1/generate",
            {"customMode": True, "instrumental": True, "model": "V5", "callBackUrl": "u"},
        )[0]
        == 400
    )
    assert (
        refusal(
            "kie_suno",
            "/api/v1/generate",
            {"customMode": False, "instrumental": False, "model": "V5_5", "callBackUrl": "u", "prompt": "p"},
        )[0]
        == 422
    )
    assert (
        refusal(
            "sunoapi",
            "/api/v1/generate",
            {"customMode": False, "instrumental": False, "model": "V5_5", "callBackUrl": "u", "prompt": "p"},
        )
        is None
    )
    assert refusal("kie_suno", "/api/v1/lyrics", {"prompt": "p", "callBackUrl": "u", "extra": 1})[0] == 422
    assert json.dumps(schemas())  # plain data
