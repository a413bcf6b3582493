"""ElevenLabs on the sandbox: real audio files whose length, content and timing follow the request (speech,
dialogue, sound effects) or the input (transcription, voice isolation), checked by decoding what came out."""

import asyncio
import io
import wave

import av
import numpy as np
import pytest

from runapi.api.errors import http_status
from runapi.catalog import get_catalog
from runapi.catalog.validation import validate
from runapi.errors import RunapiError
from runapi.net.safe_http import safe_client
from runapi.providers.base import TaskFailed, TaskInput
from runapi.providers.inputs import Inputs
from runapi.providers.sandbox import GENERATORS, audio_gen, media, samples
from tests.conftest import wait_done

SR = media.SAMPLE_RATE
CATALOG = get_catalog()


def action(name):
    return CATALOG.action("elevenlabs", name)


def run(action_name, body):
    """Validate `body` like the API does (defaults applied), then run the action's sandbox generator."""
    act = action(action_name)
    model, params = validate(act, body)
    spec = model.sandbox

    async def go():
        async with safe_client(allow_private=True) as http:
            task = TaskInput(id="t", action=act, model=model, params=params)
            return await GENERATORS[spec.generator](Inputs(http, None, 50 << 20), task, spec)
    return asyncio.run(go())


def seconds_of(data: bytes) -> float:
    return len(media.decode_audio(data)) / SR


def pitch(x: np.ndarray) -> float:
    """Fundamental frequency (Hz) by autocorrelation, searched between 70 and 320 Hz."""
    x = x - x.mean()
    n = 1 << (2 * len(x) - 1).bit_length()
    f = np.fft.rfft(x, n)
    ac = np.fft.irfft(f * np.conj(f), n)[:len(x)]
    lo, hi = int(SR / 320), int(SR / 70)
    return SR / (lo + int(np.argmax(ac[lo:hi])))


def band_energy(x: np.ndarray, lo: float, hi: float) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    return float(spectrum[(freqs >= lo) & (freqs < hi)].sum())


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


# ---------------------------------------------------------------- text to speech

LATIN_70 = "Welcome back to the show, today we talk about sound design and voices!!"[:70]


@pytest.mark.parametrize("speed", [None, 0.7, 1.2])
def test_speech_duration_follows_text_length_and_speed(speed):
    assert len(LATIN_70) == 70
    body = {"model": "text-to-speech-turbo-v2.5", "text": LATIN_70}
    if speed is not None:
        body["speed"] = speed
    out = run("text_to_speech", body).outputs[0]
    assert out.content_type == "audio/mpeg" and out.extension == "mp3"
    expected = 70 / (14 * (speed or 1.0))
    assert abs(seconds_of(out.data) - expected) < 0.1
    x = media.decode_audio(out.data)
    assert np.sqrt(np.mean(x ** 2)) > 0.02  # not silence


def test_speech_cjk_text_and_its_timestamps():
    text = "你好,欢迎使用 RunAPI。"
    out = run("text_to_speech", {"model": "text-to-speech-multilingual-v2", "text": text, "voice": "Rachel",
                                 "timestamps": True}).outputs[0]
    assert abs(seconds_of(out.data) - len(text) / 14) < 0.1
    assert [w["word"] for w in out.meta["timestamps"]] == ["你", "好", "欢", "迎", "使", "用", "RunAPI"]


def test_turbo_voice_default_and_multilingual_voice_required():
    _, params = validate(action("text_to_speech"), {"model": "text-to-speech-turbo-v2.5", "text": "hi"})
    assert params["voice"] == "EkK5I93UQWFDigLMpZcX"
    with pytest.raises(RunapiError) as err:
        validate(action("text_to_speech"), {"model": "text-to-speech-multilingual-v2", "text": "hi"})
    assert http_status(err.value) == 400 and "voice" in err.value.message
    with pytest.raises(RunapiError) as err:
        validate(action("text_to_speech"), {"model": "text-to-speech-turbo-v2.5", "text": "hi", "speed": 1.3})
    assert http_status(err.value) == 422


def test_speech_word_timestamps_match_the_audio():
    text = "one two three four five six"
    out = run("text_to_speech", {"model": "text-to-speech-turbo-v2.5", "text": text, "timestamps": True}).outputs[0]
    x = media.decode_audio(out.data)
    duration = len(x) / SR
    words = out.meta["timestamps"]
    assert [w["word"] for w in words] == text.split()
    assert words[0]["start"] == 0 and abs(words[-1]["end"] - duration) < 0.05
    for a, b in zip(words, words[1:]):
        assert a["start"] < a["end"] <= b["start"] < b["end"]
    rms = lambda s, e: float(np.sqrt(np.mean(x[int(s * SR):int(e * SR)] ** 2)))  # noqa: E731
    speech = np.mean([rms(w["start"] + 0.01, w["end"] - 0.01) for w in words])
    gaps = [rms(a["end"] + 0.015, b["start"] - 0.015) for a, b in zip(words, words[1:])]
    assert max(gaps) < 0.1 * speech  # the pauses between the timestamped words are silent


def test_speech_is_deterministic_and_voice_dependent():
    body = {"model": "text-to-speech-multilingual-v2", "text": "Hello from RunAPI", "voice": "Adam"}
    first, again = run("text_to_speech", body).outputs[0], run("text_to_speech", body).outputs[0]
    assert first.data == again.data and "timestamps" not in first.meta
    other = run("text_to_speech", {**body, "voice": "Alice"}).outputs[0]
    assert other.data != first.data
    assert abs(pitch(media.decode_audio(first.data)[:8192]) / audio_gen.voice_pitch("Adam") - 1) < 0.2
    assert abs(pitch(media.decode_audio(other.data)[:8192]) / audio_gen.voice_pitch("Alice") - 1) < 0.2


# ---------------------------------------------------------------- dialogue


def test_dialogue_covers_every_turn_in_order():
    turns = [{"text": "aaa ooo eee aaa ooo", "voice": "Adam"}, {"text": "eee aaa ooo eee aaa ooo", "voice": "Alice"}]
    out = run("text_to_dialogue", {"dialogue": turns, "stability": 1}).outputs[0]
    x = media.decode_audio(out.data)
    first, second = len(turns[0]["text"]) / 14, len(turns[1]["text"]) / 14
    assert abs(len(x) / SR - (first + second)) < 0.1
    low, high = audio_gen.voice_pitch("Adam"), audio_gen.voice_pitch("Alice")
    assert high / low > 1.5
    a = pitch(x[int(0.05 * SR):int((first - 0.05) * SR)])
    b = pitch(x[int((first + 0.05) * SR):int((first + second - 0.05) * SR)])
    assert abs(a / low - 1) < 0.2 and abs(b / high - 1) < 0.2  # each turn in its own voice, in order
    swapped = run("text_to_dialogue", {"dialogue": turns[::-1], "stability": 1}).outputs[0]
    assert swapped.data != out.data
    assert run("text_to_dialogue", {"dialogue": turns, "stability": 1}).outputs[0].data == out.data


def test_dialogue_validation():
    act = action("text_to_dialogue")
    for bad, status in [({"dialogue": [{"text": "a", "voice": "b"}], "stability": 0.3}, 422),
                        ({"dialogue": []}, 422), ({"dialogue": ["hello"]}, 422), ({}, 400)]:
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


# ---------------------------------------------------------------- sound effects


@pytest.mark.parametrize("body,seconds", [({"text": "雷声与大雨", "output_format": "mp3_44100_128"}, 5.0),
                                          ({"text": "footsteps on gravel", "duration_seconds": 3.5}, 3.5),
                                          ({"text": "a tiny click", "duration_seconds": 0.5}, 0.5)])
def test_sound_duration(body, seconds):
    out = run("text_to_sound", body).outputs[0]
    assert out.extension == "mp3" and abs(seconds_of(out.data) - seconds) < 0.06
    assert run("text_to_sound", body).outputs[0].data == out.data


def test_sound_follows_the_prompt():
    rain = media.decode_audio(run("text_to_sound", {"text": "heavy rain", "prompt_influence": 1}).outputs[0].data)
    engine = media.decode_audio(run("text_to_sound", {"text": "idling engine", "prompt_influence": 1}).outputs[0].data)
    high = lambda x: band_energy(x, 4000, 16000) / band_energy(x, 20, 16000)  # noqa: E731
    assert high(rain) > 3 * high(engine)


def test_sound_loop_is_seamless_and_one_shot_fades():
    def pcm(loop):
        out = run("text_to_sound", {"text": "wind and waves", "duration_seconds": 2, "loop": loop,
                                    "output_format": "pcm_44100"}).outputs[0]
        with wave.open(io.BytesIO(out.data)) as w:
            assert w.getframerate() == 44100 and w.getnframes() == 2 * 44100
            return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(float) / 32767
    looped, once = pcm(True), pcm(False)
    step = np.median(np.abs(np.diff(looped)))
    assert abs(looped[-1] - looped[0]) < 6 * step + 1e-3  # the end joins the start like any two neighbours
    assert np.abs(once[:20]).max() < 0.05 and np.abs(once[-20:]).max() < 0.05
    assert np.sqrt(np.mean(once ** 2)) > 0.05


@pytest.mark.parametrize("fmt,codec,rate,ext", [("pcm_16000", "pcm_s16le", 16000, "wav"),
                                                ("mp3_22050_32", "mp3", 22050, "mp3"),
                                                ("ulaw_8000", "pcm_mulaw", 8000, "wav"),
                                                ("opus_48000_64", "opus", 48000, "opus")])
def test_sound_output_formats(fmt, codec, rate, ext):
    out = run("text_to_sound", {"text": "a bell", "duration_seconds": 2, "output_format": fmt}).outputs[0]
    assert out.extension == ext
    with av.open(io.BytesIO(out.data)) as c:
        stream = c.streams.audio[0]
        assert stream.codec_context.name.startswith(codec) and stream.sample_rate == rate
        if fmt == "mp3_22050_32":
            assert abs(len(out.data) * 8 / 2 - 32000) < 4000  # ~32 kbps
    assert abs(seconds_of(out.data) - 2.0) < 0.05


def test_sound_unsupported_format_fails_the_task():
    with pytest.raises(TaskFailed, match="output_format"):
        run("text_to_sound", {"text": "x", "output_format": "flac_44100"})


# ---------------------------------------------------------------- speech to text


def crafted_input() -> np.ndarray:
    """5 s: a low voice 0.5-1.5 s, silence, a bright voice 2.5-3.5 s, silence, noise (applause) 4.0-4.5 s."""
    x = np.zeros(5 * SR, dtype=np.float32)
    t = np.arange(SR) / SR
    syllables = 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)  # a speech-like amplitude rhythm
    voice = lambda f: 0.3 * syllables * (np.sin(2 * np.pi * f * t) + 0.5 * np.sin(4 * np.pi * f * t))  # noqa: E731
    x[int(0.5 * SR):int(1.5 * SR)] = voice(140)
    x[int(2.5 * SR):int(3.5 * SR)] = voice(1500)
    x[int(4.0 * SR):int(4.5 * SR)] = 0.2 * np.random.default_rng(1).standard_normal(SR // 2)
    return x


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


# ---------------------------------------------------------------- voice isolation


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
    x = noisy[:len(y)]
    assert band_energy(y, 40, 60) < 0.01 * band_energy(x, 40, 60)           # hum: -20 dB or better
    assert band_energy(y, 10000, 16000) < 0.01 * band_energy(x, 10000, 16000)  # hiss
    assert band_energy(y, 200, 4000) > 0.3 * band_energy(x, 200, 4000)        # the voice stays
    assert run("isolate_audio", {"source_audio_url": f"{host.url}/noisy.wav"}).outputs[0].data == out.data


def test_isolation_of_the_sample_keeps_length_and_changes_samples(host):
    source = media.decode_audio(samples.sample_bytes("mp3"))
    out = run("isolate_audio", {"source_audio_url": f"{host.url}/voice.mp3"}).outputs[0]
    y = media.decode_audio(out.data)
    assert abs(len(y) - len(source)) < 0.03 * SR
    n = min(len(y), len(source))
    assert np.abs(y[:n] - source[:n]).mean() > 0.02 * np.abs(source[:n]).mean()
    assert band_energy(y[:n], 0, 60) < 0.1 * band_energy(source[:n], 0, 60) + 1e-9


# ---------------------------------------------------------------- through the API


def test_status_bodies_over_http(api, host):
    host.files["/talk.wav"] = wav_bytes(crafted_input())
    created = api.post("/api/v1/elevenlabs/speech_to_text", json={"source_audio_url": f"{host.url}/talk.wav"})
    assert created.status_code == 202, created.text
    done = wait_done(api, "/api/v1/elevenlabs/speech_to_text", created.json()["id"])
    assert done["status"] == "completed" and isinstance(done["text"], str) and done["words"]
    assert "audios" not in done

    created = api.post("/api/v1/elevenlabs/text_to_speech",
                       json={"model": "text-to-speech-turbo-v2.5", "text": "Hello from RunAPI", "timestamps": True})
    assert created.status_code == 202, created.text
    done = wait_done(api, "/api/v1/elevenlabs/text_to_speech", created.json()["id"])
    assert done["status"] == "completed" and done["model"] == "text-to-speech-turbo-v2.5"
    [audio] = done["audios"]
    assert [w["word"] for w in audio["timestamps"]] == ["Hello", "from", "RunAPI"]
    file = api.get(audio["url"])
    assert file.status_code == 200 and abs(seconds_of(file.content) - 17 / 14) < 0.1
