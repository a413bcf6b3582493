"""The platform's Suno SDK (runapi-suno 0.6, unchanged but for base_url) calling each of its resources end to end
on the sandbox: personas, voices, style_expansions, timestamped_lyrics, audio_exports, music_visualizations and
music_from_sample. Every call succeeds and parses into the SDK's typed models; the hybrid personas call follows its
202 Location to the stored result; a task result is only its own account's."""

from __future__ import annotations

import httpx
import pytest

from runapi.api import suno_resources
from runapi.providers.sandbox import media, samples
from tests.support.servers import new_account, start_server

suno = pytest.importorskip("runapi.suno")
from runapi.core import NotFoundError, RequestOptions, TaskResult, ValidationError  # noqa: E402
from runapi.suno import types as T  # noqa: E402

ASYNC = RequestOptions(headers={"Prefer": "respond-async"})


@pytest.fixture(scope="module")
def client(server):
    return suno.SunoClient(api_key=server.key, base_url=server.url)


@pytest.fixture(scope="module")
def song(client):
    done = client.text_to_music.run(vocal_mode="auto_lyrics", prompt="a chill lo-fi beat", model="suno-v5")
    assert done.status == "completed" and len(done.audios) == 2
    return done


@pytest.fixture
def host(recorder):
    """Serves real sample audio: /<name>.mp3, .wav."""
    return recorder(lambda m, path, h, b: (200, {}, samples.sample_bytes(path.split("?")[0].rsplit(".", 1)[-1])))


def persona_params(song, name="Electronic Pop Singer"):
    return {
        "source_task_id": song.id,
        "source_audio_id": song.audios[0].id,
        "name": name,
        "description": "A modern electronic pop voice",
    }


# ---------------------------------------------------------------------------------------------- personas


def test_personas_run_then_get(client, song):
    made = client.personas.run(**persona_params(song))
    assert isinstance(made, T.PersonaCreationResponse) and isinstance(made.persona, T.PersonaResource)
    assert made.persona.name == "Electronic Pop Singer" and made.persona.description.startswith("A modern")
    assert made.runapi_task_id  # the task behind it, as a header
    got = client.personas.get(made.persona.id)
    assert isinstance(got, T.PersonaResourceResponse) and got.status == "available"
    assert got.persona.to_dict() == made.persona.to_dict()
    # the persona works where persona_id is taken
    styled = client.text_to_music.run(
        vocal_mode="auto_lyrics", prompt="a song", model="suno-v5", persona_id=made.persona.id, persona_type="style"
    )
    assert styled.status == "completed"


def test_personas_hybrid_202_is_followed_to_the_stored_result(client, server, song):
    made = client.personas.run(**persona_params(song, "Async Singer"), options=ASYNC)
    assert isinstance(made, T.PersonaCreationResponse) and made.persona.name == "Async Singer"
    task_id = made.runapi_task_id
    with server.client() as api:
        # the same request over HTTP: 202, a relative Location, the task acceptance as body
        accepted = api.post(
            "/api/v1/personas",
            json=persona_params(song, "Async Singer"),
            headers={"Prefer": "respond-async", "Idempotency-Key": "hybrid-1"},
        )
        assert accepted.status_code == 202, accepted.text
        location = accepted.headers["location"]
        assert location == f"/api/v1/task_results/{accepted.json()['id']}" and accepted.headers["retry-after"]
        assert accepted.json()["status"] == "processing"
        # the stored answer equals the synchronous answer of the same request
        result = client.personas.subscribe(location)
        stored = api.get(location).json()
        sync = api.post("/api/v1/personas", json=persona_params(song, "Async Singer"))
        assert sync.status_code == 200
        assert TaskResult(stored).status == "completed"
        assert stored["response"] == {
            "status": 200,
            "content_type": "application/json",
            "headers": {"X-RunAPI-Task-Id": stored["id"]},
            "body": sync.json(),
        }
        assert result.to_dict() == sync.json() and set(sync.json()) == {"persona"}
        # replaying the Idempotency-Key answers with the (now finished) task, not a new one
        replay = api.post(
            "/api/v1/personas", json=persona_params(song, "Async Singer"), headers={"Idempotency-Key": "hybrid-1"}
        )
        assert replay.status_code == 200 and replay.headers["x-runapi-task-id"] == stored["id"]
    assert task_id and task_id != stored["id"]


def test_personas_hybrid_waits_then_answers_202_when_the_task_is_slow(tmp_path, monkeypatch):
    monkeypatch.setattr(suno_resources, "HYBRID_WAIT_SECONDS", 0.2)
    srv = start_server(tmp_path, sandbox_delay_seconds=2)
    try:
        c = suno.SunoClient(api_key=srv.key, base_url=srv.url)
        song = c.text_to_music.run(vocal_mode="instrumental", style="Jazz", title="Slow", model="suno-v4")
        with srv.client() as api:
            first = api.post("/api/v1/personas", json=persona_params(song))
            assert first.status_code == 202 and first.headers["location"].startswith("/api/v1/task_results/")
        made = c.personas.run(**persona_params(song, "Slow Singer"))  # no Prefer: the wait ran out
        assert isinstance(made, T.PersonaCreationResponse) and made.persona.name == "Slow Singer"
    finally:
        srv.stop()


def test_a_failed_hybrid_task_raises_the_stored_error(client, song):
    with pytest.raises(ValidationError) as err:
        client.personas.run(**{**persona_params(song), "source_audio_id": "not-a-track"}, options=ASYNC)
    assert err.value.status == 422 and "not-a-track" in str(err.value)


def test_task_results_and_records_are_only_their_own_accounts(client, server, song):
    made = client.personas.run(**persona_params(song, "Mine"), options=ASYNC)
    task_id = made.runapi_task_id
    _, other_key = new_account(server)
    other = suno.SunoClient(api_key=other_key, base_url=server.url)
    with server.client(other_key) as api:
        resp = api.get(f"/api/v1/task_results/{task_id}")
        assert resp.status_code == 404 and resp.json() == {"error": "Task not found"}
        assert api.get("/api/v1/task_results/not-a-uuid").status_code == 404
    with pytest.raises(NotFoundError):
        other.personas.subscribe(f"/api/v1/task_results/{task_id}")
    with pytest.raises(NotFoundError):
        other.personas.get(made.persona.id)
    # nor can it name the other account's tracks, with or without their task
    with pytest.raises(NotFoundError):
        other.audio_exports.create(source_audio_id=song.audios[0].id)
    with pytest.raises(NotFoundError):
        other.personas.run(**persona_params(song))
    exported = client.audio_exports.create(source_audio_id=song.audios[0].id)
    with pytest.raises(NotFoundError):
        other.audio_exports.get(exported.id)


# ---------------------------------------------------------------------------------------------- voices


def test_voices_run_then_get(client, server, host):
    made = client.voices.run(source_audio_url=f"{host.url}/singer.mp3", name="Warm Voice")
    assert isinstance(made, T.VoiceCreationResponse) and isinstance(made.voice, T.VoiceResource)
    assert made.voice.id.startswith("voice_") and made.voice.name == "Warm Voice"
    got = client.voices.get(made.voice.id)
    assert isinstance(got, T.VoiceResourceResponse) and got.status == "available"
    assert got.voice.to_dict() == {"id": made.voice.id, "name": "Warm Voice"}
    # two tasks of the account made it, each priced and logged as its own action
    with server.client() as api:
        phrase = api.get("/api/v1/tasks", params={"action": "voice_to_validation_phrase", "limit": 1}).json()["data"]
        voice = api.get("/api/v1/tasks", params={"action": "generate_voice", "limit": 1}).json()["data"]
    assert phrase[0]["status"] == voice[0]["status"] == "completed"
    assert voice[0]["voice_id"] == made.voice.id and voice[0]["cost_cents"] == 20
    # the voice works as a v5 voice persona
    sung = client.text_to_music.run(
        vocal_mode="auto_lyrics", prompt="a ballad", model="suno-v5", persona_id=made.voice.id, persona_type="voice"
    )
    assert sung.status == "completed"


def test_voices_refusals_name_the_surface_fields(client):
    with pytest.raises(ValidationError) as err:
        client.voices.run(name="No recording")
    assert err.value.status == 400 and "source_audio_url" in str(err.value)
    with pytest.raises(ValidationError) as err:
        client.voices.run(source_audio_url="not a url")
    assert (
        err.value.status == 422
        and str(err.value) == "Invalid value for source_audio_url: must be an http(s) URL or a file id"
    )
    with pytest.raises(NotFoundError):
        client.voices.get("voice_unknown")


# ---------------------------------------------------------------------------------------------- synchronous


def test_style_expansions(client):
    expanded = client.style_expansions.run(description="Pop, Mysterious")
    assert isinstance(expanded, T.BoostStyleResponse) and expanded.style.startswith("Pop, Mysterious")


def test_timestamped_lyrics_with_and_without_the_source_task(client, song):
    found = client.timestamped_lyrics.run(source_audio_id=song.audios[0].id)
    named = client.timestamped_lyrics.run(source_audio_id=song.audios[0].id, source_task_id=song.id)
    for result in (found, named):
        assert isinstance(result, T.GetTimestampedLyricsResponse)
        assert result.aligned_words and isinstance(result.aligned_words[0], T.AlignedWord)
    assert found.to_dict() == named.to_dict()
    with pytest.raises(NotFoundError) as err:
        client.timestamped_lyrics.run(source_audio_id="no-such-track")
    assert "source_audio_id" in str(err.value)
    with pytest.raises(ValidationError) as err:
        client.timestamped_lyrics.run(source_task_id=song.id)
    assert str(err.value) == "Missing required parameter: source_audio_id"


# ---------------------------------------------------------------------------------------------- tasks


def test_audio_exports(client, song):
    exported = client.audio_exports.run(source_audio_id=song.audios[1].id)
    assert isinstance(exported, T.CompletedAudioExportResponse) and exported.status == "completed"
    assert httpx.get(exported.wav_url).content[:4] == b"RIFF"
    created = client.audio_exports.create(source_audio_id=song.audios[0].id, source_task_id=song.id)
    assert created.status == "processing"
    got = client.audio_exports.get(created.id)
    assert isinstance(got, T.AudioExportResponse) and got.id == created.id


def test_music_visualizations(client, song):
    video = client.music_visualizations.run(source_audio_id=song.audios[0].id, author="Suno Artist")
    assert isinstance(video, T.CompletedMusicVisualizationResponse)
    assert httpx.get(video.video_url).content[4:8] == b"ftyp"
    with pytest.raises(ValidationError) as err:
        client.music_visualizations.create(source_audio_id=song.audios[0].id, author="x" * 51)
    assert err.value.status == 422 and "author" in str(err.value)


def test_music_from_sample(client, host):
    made = client.music_from_sample.run(
        model="suno-v5", audio_url=f"{host.url}/loop.mp3", start_seconds=0.5, end_seconds=2.5, prompt="Lo-fi hip hop"
    )
    assert isinstance(made, T.CompletedMusicFromSampleResponse) and len(made.audios) == 2
    track = made.audios[0]
    assert isinstance(track, T.Audio) and track.model_name == "chirp-v5"
    audio = media.decode_audio(httpx.get(track.audio_url).content)
    assert abs(len(audio) / media.SAMPLE_RATE - track.duration) < 0.5
    with pytest.raises(ValidationError) as err:
        client.music_from_sample.create(model="suno-v5", audio_url=f"{host.url}/a.mp3", start_seconds=3, end_seconds=1)
    assert str(err.value) == "end_seconds must be greater than start_seconds"
    # the SDK's deprecated AddSamples posts the same request to the action itself
    old = client.add_samples.run(model="suno-v4", audio_url=f"{host.url}/loop.wav", start_seconds=0, end_seconds=1)
    assert old.status == "completed" and len(old["audios"]) == 2


# ---------------------------------------------------------------------------------------------- backends


@pytest.fixture(scope="module")
def db_server(db_backend, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(f"resources-{db_backend.name}")
    srv = start_server(data_dir, **db_backend.server_settings(data_dir))
    yield srv
    srv.stop()


def test_lookups_on_each_database(db_server):
    """The queries behind the surfaces (a track found by its id in task results, a record by its id, a task
    result) on SQLite and PostgreSQL, with ids that are LIKE patterns and NULs not matching anything."""
    c = suno.SunoClient(api_key=db_server.key, base_url=db_server.url)
    song = c.text_to_music.run(vocal_mode="instrumental", style="Jazz", title="Night", model="suno-v4")
    assert c.timestamped_lyrics.run(source_audio_id=song.audios[1].id).aligned_words is not None
    for pattern in ("%", "_", song.audios[1].id[:8] + "%", "a\x00b"):
        with pytest.raises(NotFoundError):
            c.audio_exports.create(source_audio_id=pattern)
    made = c.personas.run(**persona_params(song), options=ASYNC)
    assert c.personas.get(made.persona.id).status == "available"
    for pattern in ("%", made.persona.id[:6] + "%"):
        with pytest.raises(NotFoundError):
            c.personas.get(pattern)
