"""Suno on kie.ai's Suno API (kind kie_suno) and sunoapi.org's (kind sunoapi), against local fakes speaking their
protocol (tests/support/fake_kie_suno.py, which checks every body against the published schema): a song with
its staged callbacks, an extend and a stem separation of that song (kie's own ids carried between tasks),
lyrics, synchronous endpoints, suno-v5.5 on sunoapi.org only, a content-policy refusal refunded, a 429 falling
back to the next deployment, and a job kie lost moving there."""

from __future__ import annotations

import json
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import select

from runapi.store.schema import tasks
from tests.support.fake_kie_suno import MP3, MP4, PNG, POLICY_MESSAGE, WAV, FakeKieSuno
from tests.support.servers import new_account, start_server, wait_done, wait_for
from tests.support.upstream_e2e import balance, reset_cooldowns

FAST = 0.05
SONG = {"model": "suno-v5", "vocal_mode": "auto_lyrics", "prompt": "A chill lo-fi beat with soft vocals"}


@pytest.fixture(scope="module")
def fakes():
    f = SimpleNamespace(
        primary=FakeKieSuno("kie-primary"), backup=FakeKieSuno("kie-backup"), sunoapi=FakeKieSuno("sa", "sunoapi")
    )
    yield f
    for server in vars(f).values():
        server.stop()


@pytest.fixture(scope="module")
def srv(fakes, tmp_path_factory):
    def deployment(name: str, kind: str, fake: FakeKieSuno) -> dict:
        return {"name": name, "kind": kind, "base_url": fake.url, "api_key": fake.key, "poll_seconds": FAST}

    server = start_server(
        tmp_path_factory.mktemp("kiesuno"),
        max_task_attempts=3,
        media_upstreams=[
            deployment("kie-primary", "kie_suno", fakes.primary),
            deployment("kie-backup", "kie_suno", fakes.backup),
            deployment("sunoapi", "sunoapi", fakes.sunoapi),
        ],
    )
    yield server
    server.stop()


@pytest.fixture
def modes(fakes, srv):
    keys = {name: server.key for name, server in vars(fakes).items()}
    yield fakes
    for name, server in vars(fakes).items():
        server.mode, server.hold, server.key = "ok", None, keys[name]
    reset_cooldowns(srv)


def create(c: httpx.Client, action: str, body: dict) -> str:
    r = c.post(f"/api/v1/suno/{action}", json=body)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def finish(c: httpx.Client, action: str, task_id: str) -> dict:
    return wait_done(c, f"/api/v1/suno/{action}", task_id, timeout=60)


def job(srv, task_id: str) -> dict:
    async def go(db):
        async with db.read() as conn:
            return (await conn.execute(select(tasks.c.provider_job).where(tasks.c.id == task_id))).scalar_one()

    return srv.db_call(go)


@pytest.fixture(scope="module")
def song(srv, fakes):
    """One song made on kie-primary, for the tests that build on it."""
    with srv.client() as c:
        task_id = create(c, "text_to_music", SONG)
        return task_id, finish(c, "text_to_music", task_id)


def test_a_song_completes_on_kie_with_its_stages_called_back(srv, modes, recorder):
    receiver = recorder()
    with srv.client() as c:
        task_id = create(c, "text_to_music", {**SONG, "callback_url": f"{receiver.url}/cb"})
        body = finish(c, "text_to_music", task_id)
    assert body["status"] == "completed" and len(body["audios"]) == 2
    handle = job(srv, task_id)["handle"]
    assert handle["kind"] == "kie_suno" and handle["taskId"] in modes.primary.jobs
    assert {a["id"] for a in body["audios"]} <= set(modes.primary.audio_ids)  # kie's audio ids are ours
    assert all(a["title"] == "Fake Song" and a["duration"] == 12.5 for a in body["audios"])
    assert httpx.get(body["audios"][0]["audio_url"]).content == MP3
    submitted = modes.primary.calls("POST", "/api/v1/generate")[-1]
    assert submitted["headers"]["authorization"] == "Bearer kie-primary"
    assert submitted["body"]["model"] == "V5" and submitted["body"]["customMode"] is False
    assert f"/webhooks/upstream/{task_id}?signature=" in submitted["body"]["callBackUrl"]
    wait_for(lambda: len(receiver.requests) >= 3, timeout=30)
    bodies = [json.loads(r["body"]) for r in receiver.requests]
    assert [(b["status"], b.get("generation_stage")) for b in bodies] == [
        ("processing", "text_generated"),
        ("processing", "first_audio_ready"),
        ("completed", "all_audios_ready"),
    ]
    assert len(bodies[1]["audios"]) == 1  # kie's first track, as the stage's partial result
    assert not modes.primary.refused


def test_a_song_held_at_kies_first_success_shows_its_first_track_while_processing(srv, modes, recorder):
    """The stage comes from kie's FIRST_SUCCESS (not filled in at the end): the task shows it, and calls it back
    with kie's first track, while kie still holds the second."""
    modes.primary.hold = "FIRST_SUCCESS"
    receiver = recorder()
    with srv.client() as c:
        task_id = create(c, "text_to_music", {**SONG, "callback_url": f"{receiver.url}/cb"})
        wait_for(
            lambda: (
                c.get(f"/api/v1/suno/text_to_music/{task_id}").json().get("generation_stage") == "first_audio_ready"
            ),
            timeout=30,
        )
        wait_for(lambda: len(receiver.requests) >= 2, timeout=30)
        staged = json.loads(receiver.requests[1]["body"])
        assert staged["status"] == "processing" and staged["generation_stage"] == "first_audio_ready"
        assert len(staged["audios"]) == 1 and staged["audios"][0]["id"] in modes.primary.audio_ids
        assert httpx.get(staged["audios"][0]["audio_url"]).content == MP3
        modes.primary.hold = None
        body = finish(c, "text_to_music", task_id)
    assert body["status"] == "completed" and body["audios"][0]["id"] == staged["audios"][0]["id"]


def test_an_extend_and_stems_of_a_previous_song_use_kies_ids(srv, modes, song):
    song_id, made = song
    audio_id = made["audios"][0]["id"]
    kie_task = job(srv, song_id)["handle"]["taskId"]
    extend = {"model": "suno-v5", "parameter_mode": "custom", "task_id": song_id, "audio_id": audio_id,
              "prompt": "More", "style": "Lo-fi", "title": "Longer", "continue_at": 5}  # fmt: skip
    stems = {"task_id": song_id, "audio_id": audio_id, "type": "split_stem"}
    with srv.client() as c:
        extended = finish(c, "extend_music", create(c, "extend_music", extend))
        separated = finish(c, "separate_audio_stems", create(c, "separate_audio_stems", stems))
        wav = finish(c, "convert_audio", create(c, "convert_audio", {"task_id": song_id, "audio_id": audio_id}))
    assert extended["status"] == "completed" and len(extended["audios"]) == 2
    sent = modes.primary.calls("POST", "/api/v1/generate/extend")[-1]["body"]
    assert (sent["audioId"], sent["defaultParamFlag"], sent["continueAt"]) == (audio_id, True, 5)
    assert separated["status"] == "completed"
    assert {"vocal_url", "drums_url", "backing_vocals_url"} <= set(separated["separated_audios"])
    assert httpx.get(separated["separated_audios"]["vocal_url"]).content == MP3
    assert modes.primary.calls("POST", "/api/v1/vocal-removal/generate")[-1]["body"]["taskId"] == kie_task
    assert httpx.get(wav["wav_url"]).content == WAV
    assert not modes.primary.refused


def test_artwork_video_and_midi_of_a_song(srv, modes, song):
    song_id, made = song
    audio_id = made["audios"][0]["id"]
    with srv.client() as c:
        covers = finish(c, "generate_artwork", create(c, "generate_artwork", {"task_id": song_id}))
        again = finish(c, "generate_artwork", create(c, "generate_artwork", {"task_id": song_id}))
        video = finish(
            c,
            "visualize_music",
            create(c, "visualize_music", {"task_id": song_id, "audio_id": audio_id, "author": "Me"}),
        )
        stems_id = create(c, "separate_audio_stems", {"task_id": song_id, "audio_id": audio_id, "type": "split_stem"})
        assert finish(c, "separate_audio_stems", stems_id)["status"] == "completed"
        midi = finish(c, "generate_midi", create(c, "generate_midi", {"task_id": stems_id}))
    assert covers["status"] == "completed" and len(covers["covers"]) == 2
    assert httpx.get(covers["covers"][0]["url"]).content == PNG
    assert again["status"] == "completed"  # kie answers a second cover request with its first cover task
    assert len(modes.primary.calls("POST", "/api/v1/suno/cover/generate")) >= 2
    assert video["status"] == "completed" and httpx.get(video["video_url"]).content == MP4
    assert modes.primary.calls("POST", "/api/v1/mp4/generate")[-1]["body"]["author"] == "Me"
    assert midi["status"] == "completed" and midi["instruments"][0]["name"] == "Drums"
    assert (
        modes.primary.calls("POST", "/api/v1/midi/generate")[-1]["body"]["taskId"]
        == job(srv, stems_id)["handle"]["taskId"]
    )
    assert not modes.primary.refused


def test_lyrics_and_the_synchronous_endpoints(srv, modes, song):
    song_id, made = song
    audio_id = made["audios"][1]["id"]
    with srv.client() as c:
        lyrics = finish(c, "generate_lyrics", create(c, "generate_lyrics", {"prompt": "A night in the city"}))
        style = c.post("/api/v1/suno/boost_style", json={"description": "Pop, Mysterious"})
        words = c.post("/api/v1/suno/get_timestamped_lyrics", json={"task_id": song_id, "audio_id": audio_id})
        persona = c.post(
            "/api/v1/suno/generate_persona",
            json={"task_id": song_id, "audio_id": audio_id, "name": "Singer", "description": "Warm pop voice"},
        )
    assert lyrics["status"] == "completed"
    assert [entry["title"] for entry in lyrics["lyrics"]] == ["Song 1", "Song 2"]
    assert style.status_code == 200 and style.json()["style"] == "Pop, Mysterious, lush, modern"
    assert words.status_code == 200 and words.json()["aligned_words"][0]["start_time"] == 1.2
    assert persona.status_code == 200 and persona.json()["persona"]["id"].startswith("persona-")
    persona_id = persona.json()["persona"]["id"]
    with srv.client() as c:  # a persona kie made (synchronously) styles a song there
        styled = finish(c, "text_to_music", create(c, "text_to_music", {"model": "suno-v5", "vocal_mode": "instrumental",
                                                                         "style": "pop", "title": "Styled", "persona_id": persona_id}))  # fmt: skip
    assert styled["status"] == "completed"
    assert modes.primary.calls("POST", "/api/v1/generate")[-1]["body"]["personaId"] == persona_id
    assert not modes.primary.refused


def test_a_custom_voice_made_on_kie_sings_a_song_there(srv, modes):
    """The Suno Voice flow end to end: phrase, a new phrase, the voice, its check, then a song in that voice
    (our voice_id is kie's voiceId, sent as personaId with personaModel voice_persona)."""
    with srv.client() as c:
        phrase_id = create(c, "voice_to_validation_phrase",
                           {"voice_url": "https://example.com/singer.mp3", "vocal_start_seconds": 2, "vocal_end_seconds": 12, "language": "en"})  # fmt: skip
        phrase = finish(c, "voice_to_validation_phrase", phrase_id)
        again_id = create(c, "regenerate_validation_phrase", {"task_id": phrase_id})
        again = finish(c, "regenerate_validation_phrase", again_id)
        voice_id = create(
            c, "generate_voice", {"task_id": again_id, "verify_url": "https://example.com/read.mp3", "voice_name": "Me"}
        )
        voice = finish(c, "generate_voice", voice_id)
        check = c.post("/api/v1/suno/check_voice", json={"task_id": voice_id})
        song = finish(c, "text_to_music", create(c, "text_to_music", {"model": "suno-v5", "vocal_mode": "exact_lyrics", "lyrics": "la la",
                                                                       "style": "pop", "title": "Mine", "persona_id": voice["voice_id"], "persona_type": "voice"}))  # fmt: skip
    assert phrase["status"] == again["status"] == "completed"
    assert phrase["validation_phrase"] == "Harmonies fill the air tonight"
    assert (
        modes.primary.calls("POST", "/api/v1/voice/regenerate")[-1]["body"]["taskId"]
        == job(srv, phrase_id)["handle"]["taskId"]
    )
    assert voice["status"] == "completed" and voice["voice_id"].startswith("voice-")
    assert check.status_code == 200 and check.json()["is_available"] is True
    assert song["status"] == "completed"
    sent = modes.primary.calls("POST", "/api/v1/generate")[-1]["body"]
    assert (sent["personaId"], sent["personaModel"]) == (voice["voice_id"], "voice_persona")
    assert not modes.primary.refused


def test_suno_v5_5_runs_on_sunoapi_org_which_defines_it(srv, modes):
    with srv.client() as c:
        task_id = create(c, "text_to_music", {**SONG, "model": "suno-v5.5"})
        body = finish(c, "text_to_music", task_id)
    assert body["status"] == "completed"
    assert job(srv, task_id)["deployment"] == "sunoapi"
    assert modes.sunoapi.calls("POST", "/api/v1/generate")[-1]["body"]["model"] == "V5_5"
    assert not modes.sunoapi.refused


def test_a_content_policy_refusal_fails_with_kies_message_and_refunds(srv, modes):
    modes.primary.mode = "policy"
    _, key = new_account(srv, credits=1000)
    before = len(modes.backup.calls("POST"))
    with srv.client(key) as c:
        body = finish(c, "text_to_music", create(c, "text_to_music", SONG))
    assert body["status"] == "failed" and body["error"] == POLICY_MESSAGE
    assert len(modes.backup.calls("POST")) == before  # a refusal is not shopped around
    assert balance(srv, key) == 1000


@pytest.mark.parametrize("limit", ["429", "430"])
def test_a_rate_limited_deployment_hands_the_song_to_the_next(srv, modes, limit):
    modes.primary.mode = limit
    with srv.client() as c:
        task_id = create(c, "generate_lyrics", {"prompt": "rate limited"})
        body = finish(c, "generate_lyrics", task_id)
    assert body["status"] == "completed"
    assert job(srv, task_id)["deployment"] == "kie-backup"
    assert modes.backup.calls("POST", "/api/v1/lyrics")[-1]["headers"]["authorization"] == "Bearer kie-backup"


def test_a_key_kie_refuses_hands_the_task_to_the_next_deployment(srv, modes):
    modes.primary.key = "rotated"  # our configured key no longer works there: code 401
    with srv.client() as c:
        task_id = create(c, "generate_lyrics", {"prompt": "refused key"})
        body = finish(c, "generate_lyrics", task_id)
    assert body["status"] == "completed"
    assert job(srv, task_id)["deployment"] == "kie-backup"


def test_a_slow_job_is_polled_until_it_completes(srv, modes):
    modes.primary.mode, modes.primary.slow_polls = "slow", 4
    with srv.client() as c:
        task_id = create(c, "text_to_music", SONG)
        body = finish(c, "text_to_music", task_id)
    assert body["status"] == "completed"
    kie_task = job(srv, task_id)["handle"]["taskId"]
    assert modes.primary.jobs[kie_task]["polls"] >= 4 + 3  # PENDING while slow, then the three stages


def test_a_song_kie_lost_moves_to_the_next_deployment(srv, modes):
    modes.primary.mode = "lost"
    with srv.client() as c:
        task_id = create(c, "text_to_music", SONG)
        body = finish(c, "text_to_music", task_id)
    assert body["status"] == "completed"
    assert job(srv, task_id)["tried"] == ["kie-primary", "kie-backup"]


def test_a_song_made_elsewhere_cannot_be_extended_on_kie(srv, modes, song):
    """The backup deployment holds none of kie-primary's ids: with the primary out, the request has nowhere
    to go and fails at once, refunded."""
    song_id, made = song
    modes.primary.mode = "500"
    _, key = new_account(srv, credits=1000)
    with srv.client(key) as c:
        r = c.post("/api/v1/suno/convert_audio", json={"task_id": song_id, "audio_id": made["audios"][0]["id"]})
    assert r.status_code == 404  # another account's task is not found, on any deployment
    with srv.client() as c:
        body = finish(
            c, "convert_audio", create(c, "convert_audio", {"task_id": song_id, "audio_id": made["audios"][0]["id"]})
        )
    assert body["status"] == "failed"
    assert not modes.backup.calls("POST", "/api/v1/wav/generate")  # never sent ids it does not know


def test_kies_callback_wakes_the_task_at_once(tmp_path):
    """kie POSTs its stage callbacks to the callBackUrl we sent (our signed wake-up link): with polling every
    hour, only that callback can finish the song within the test."""
    kie = FakeKieSuno("k")
    kie.mode = "callback"
    server = start_server(
        tmp_path,
        media_upstreams=[
            {"name": "kie", "kind": "kie_suno", "base_url": kie.url, "api_key": "k", "poll_seconds": 3600}
        ],
    )
    try:
        with server.client() as c:
            task_id = create(c, "text_to_music", SONG)
            body = finish(c, "text_to_music", task_id)
        assert body["status"] == "completed" and len(body["audios"]) == 2
        (job,) = kie.jobs.values()
        assert job["body"]["callBackUrl"].startswith(f"{server.url}/webhooks/upstream/{task_id}?signature=")
        assert job["callback_status"] == 200
    finally:
        server.stop()
        kie.stop()
