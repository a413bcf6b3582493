"""ElevenLabs on the sandbox over fetched inputs and through the API: transcription and voice isolation of audio
served by a local host, the status bodies over HTTP, and dialogue validation up to its longest accepted dialogue
(minutes of audio to render). Speech, dialogue and sound effects that render quickly and need no socket are in
tests/unit/test_audio_elevenlabs.py."""

import numpy as np
import pytest

from runapi.api.errors import http_status
from runapi.catalog.validation import validate
from runapi.errors import RunapiError
from runapi.providers.base import TaskFailed
from runapi.providers.sandbox import audio_gen, media, samples
from tests.support.audio_elevenlabs import SR, action, band_energy, run, seconds_of
from tests.support.servers import wait_done


def wav_bytes(x: np.ndarray) -> bytes:
    return media.encode_audio(b"", len(x) / SR, "wav", samples=x.astype(np.float32))


@pytest.fixture
def host(recorder):
    """Serves crafted audio registered in `files` by path; any other path gets the sample file of its extension."""
    files: dict[str, bytes] = {}

    def serve(m, path, h, b):
        path = path.split("?")[0]
        if path in files:
            return 200, {}, files[path]
        return 200, {}, samples.sample_bytes(path.rsplit(".", 1)[-1])

    rec = recorder(serve)
    rec.files = files
    return rec


def crafted_input() -> np.ndarray:
    """5 s: a low voice 0.5-1.5 s, silence, a bright voice 2.5-3.5 s, silence, noise (applause) 4.0-4.5 s."""
    x = np.zeros(5 * SR, dtype=np.float32)
    t = np.arange(SR) / SR
    syllables = 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)  # a speech-like amplitude rhythm
    voice = lambda f: 0.3 * syllables * (np.sin(2 * np.pi * f * t) + 0.5 * np.sin(4 * np.pi * f * t))  # noqa: E731
    x[int(0.5 * SR) : int(1.5 * SR)] = voice(140)
    x[int(2.5 * SR) : int(3.5 * SR)] = voice(1500)
    x[int(4.0 * SR) : int(4.5 * SR)] = 0.2 * np.random.default_rng(1).standard_normal(SR // 2)
    return x


# ---------------------------------------------------------------- dialogue


# Its longest accepted dialogue renders about six minutes of audio: seconds of CPU, too slow for the unit tier.
def test_dialogue_validation():
    act = action("text_to_dialogue")
    for bad, status in [
        ({"dialogue": [{"text": "a", "voice": "b"}], "stability": 0.3}, 422),
        ({"dialogue": []}, 422),
        ({"dialogue": ["hello"]}, 422),
        ({}, 400),
    ]:
        with pytest.raises(RunapiError) as err:
            validate(act, bad)
        assert http_status(err.value) == status, bad
    # item fields and the 5000-character total are checked at creation (422), before anything is charged
    with pytest.raises(RunapiError, match=r"dialogue\[1\]\.voice") as err:
        validate(act, {"dialogue": [{"text": "a", "voice": "Adam"}, {"text": "b"}]})
    assert http_status(err.value) == 422
    lines = lambda n: [{"text": "a" * 2600, "voice": "Adam"}, {"text": "b" * n, "voice": "Bo"}]  # noqa: E731
    with pytest.raises(RunapiError, match="5000"):
        validate(act, {"dialogue": lines(2401)})
    ok = run("text_to_dialogue", {"dialogue": lines(2400)})
    assert abs(seconds_of(ok.outputs[0].data) - 5000 / 14) < 0.2


# ---------------------------------------------------------------- speech to text


def test_transcript_words_sit_in_the_sounding_parts(host):
    host.files["/talk.wav"] = wav_bytes(crafted_input())
    body = {"source_audio_url": f"{host.url}/talk.wav", "diarize": True, "tag_audio_events": True}
    done = run("speech_to_text", body)
    assert done.outputs == []
    result = done.extra
    assert isinstance(result["text"], str) and result["text"] and result["language_code"] == "en"
    words = result["words"]
    for a, b in zip(words, words[1:]):
        assert a["start"] < a["end"] <= b["start"]
    assert all(0 <= w["start"] < w["end"] <= 5.0 for w in words)
    spoken = [w for w in words if w["type"] == "word"]
    events = [w for w in words if w["type"] == "audio_event"]
    assert all(0.45 <= w["start"] and w["end"] <= 1.55 or 2.45 <= w["start"] and w["end"] <= 3.55 for w in spoken)
    first = [w for w in spoken if w["end"] <= 1.55]
    second = [w for w in spoken if w["start"] >= 2.45]
    assert first and second
    assert {w["speaker_id"] for w in first} == {"speaker_0"} and {w["speaker_id"] for w in second} == {"speaker_1"}
    assert len(events) == 1 and 3.95 <= events[0]["start"] and events[0]["end"] <= 4.55
    assert events[0]["text"] in result["text"]
    assert result["text"].lower().replace("(applause)", "").replace(".", "").split() == [w["text"] for w in spoken]
    assert run("speech_to_text", body).extra == result  # deterministic

    plain = run("speech_to_text", {"source_audio_url": f"{host.url}/talk.wav"}).extra
    assert all(w["type"] == "word" and "speaker_id" not in w for w in plain["words"])
    assert len(plain["words"]) == len(spoken)


def test_transcript_language_and_video_input(host):
    zh = run("speech_to_text", {"source_audio_url": f"{host.url}/voice.mp3", "language_code": "zh"}).extra
    assert zh["language_code"] == "zh" and zh["text"].endswith("。") and " " not in zh["text"]
    duration = media.probe(samples.sample_bytes("mp4")).duration
    video = run("speech_to_text", {"source_audio_url": f"{host.url}/clip.mp4"}).extra
    assert video["words"] and video["words"][-1]["end"] <= duration + 0.05


def test_transcript_of_a_non_audio_file_fails(host):
    with pytest.raises(TaskFailed):
        run("speech_to_text", {"source_audio_url": f"{host.url}/picture.png"})


def test_isolation_keeps_the_voice_and_removes_hum_and_hiss(host):
    speech, _ = audio_gen.synthesize_speech("one two three four five six seven", "Adam", b"v" * 32, 3.0, 1 / 14)
    t = np.arange(len(speech)) / SR
    hum = 0.15 * np.sin(2 * np.pi * 50 * t)
    hiss = 0.04 * np.sin(2 * np.pi * 12000 * t) + 0.01 * np.random.default_rng(2).standard_normal(len(t))
    noisy = (speech + hum + hiss).astype(np.float32)
    host.files["/noisy.wav"] = wav_bytes(noisy)
    out = run("isolate_audio", {"source_audio_url": f"{host.url}/noisy.wav"}).outputs[0]
    assert out.extension == "mp3" and out.content_type == "audio/mpeg"
    y = media.decode_audio(out.data)
    assert abs(len(y) / SR - len(noisy) / SR) < 0.03
    x = noisy[: len(y)]
    assert band_energy(y, 40, 60) < 0.01 * band_energy(x, 40, 60)  # hum: -20 dB or better
    assert band_energy(y, 10000, 16000) < 0.01 * band_energy(x, 10000, 16000)  # hiss
    assert band_energy(y, 200, 4000) > 0.3 * band_energy(x, 200, 4000)  # the voice stays
    assert run("isolate_audio", {"source_audio_url": f"{host.url}/noisy.wav"}).outputs[0].data == out.data


def test_isolation_of_the_sample_keeps_length_and_changes_samples(host):
    source = media.decode_audio(samples.sample_bytes("mp3"))
    out = run("isolate_audio", {"source_audio_url": f"{host.url}/voice.mp3"}).outputs[0]
    y = media.decode_audio(out.data)
    assert abs(len(y) - len(source)) < 0.03 * SR
    n = min(len(y), len(source))
    assert np.abs(y[:n] - source[:n]).mean() > 0.02 * np.abs(source[:n]).mean()
    assert band_energy(y[:n], 0, 60) < 0.1 * band_energy(source[:n], 0, 60) + 1e-9


def test_status_bodies_over_http(api, host):
    host.files["/talk.wav"] = wav_bytes(crafted_input())
    created = api.post("/api/v1/elevenlabs/speech_to_text", json={"source_audio_url": f"{host.url}/talk.wav"})
    assert created.status_code == 202, created.text
    done = wait_done(api, "/api/v1/elevenlabs/speech_to_text", created.json()["id"])
    assert done["status"] == "completed" and isinstance(done["text"], str) and done["words"]
    assert "audios" not in done

    created = api.post(
        "/api/v1/elevenlabs/text_to_speech",
        json={"model": "text-to-speech-turbo-v2.5", "text": "Hello from RunAPI", "timestamps": True},
    )
    assert created.status_code == 202, created.text
    done = wait_done(api, "/api/v1/elevenlabs/text_to_speech", created.json()["id"])
    assert done["status"] == "completed" and done["model"] == "text-to-speech-turbo-v2.5"
    [audio] = done["audios"]
    assert [w["word"] for w in audio["timestamps"]] == ["Hello", "from", "RunAPI"]
    file = api.get(audio["url"])
    assert file.status_code == 200 and abs(seconds_of(file.content) - 17 / 14) < 0.1
