"""ElevenLabs on the sandbox: real audio files whose length, content and timing follow the request (speech,
dialogue, sound effects) or the input (transcription, voice isolation), checked by decoding what came out. Here
without a socket; inputs fetched from a host, the API and the longest dialogue: tests/e2e/test_audio_elevenlabs.py."""

import io
import wave

import av
import numpy as np
import pytest

from runapi.api.errors import http_status
from runapi.catalog.validation import validate
from runapi.errors import RunapiError
from runapi.providers.base import TaskFailed
from runapi.providers.sandbox import audio_gen, media
from tests.support.audio_elevenlabs import SR, action, band_energy, run, seconds_of


def pitch(x: np.ndarray) -> float:
    """Fundamental frequency (Hz) by autocorrelation, searched between 70 and 320 Hz."""
    x = x - x.mean()
    n = 1 << (2 * len(x) - 1).bit_length()
    f = np.fft.rfft(x, n)
    ac = np.fft.irfft(f * np.conj(f), n)[: len(x)]
    lo, hi = int(SR / 320), int(SR / 70)
    return SR / (lo + int(np.argmax(ac[lo:hi])))


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
    assert np.sqrt(np.mean(x**2)) > 0.02  # not silence


def test_speech_cjk_text_and_its_timestamps():
    text = "你好,欢迎使用 RunAPI。"
    out = run(
        "text_to_speech",
        {"model": "text-to-speech-multilingual-v2", "text": text, "voice": "Rachel", "timestamps": True},
    ).outputs[0]
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
    rms = lambda s, e: float(np.sqrt(np.mean(x[int(s * SR) : int(e * SR)] ** 2)))  # noqa: E731
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
    a = pitch(x[int(0.05 * SR) : int((first - 0.05) * SR)])
    b = pitch(x[int((first + 0.05) * SR) : int((first + second - 0.05) * SR)])
    assert abs(a / low - 1) < 0.2 and abs(b / high - 1) < 0.2  # each turn in its own voice, in order
    swapped = run("text_to_dialogue", {"dialogue": turns[::-1], "stability": 1}).outputs[0]
    assert swapped.data != out.data
    assert run("text_to_dialogue", {"dialogue": turns, "stability": 1}).outputs[0].data == out.data


# ---------------------------------------------------------------- sound effects


@pytest.mark.parametrize(
    "body,seconds",
    [
        ({"text": "雷声与大雨", "output_format": "mp3_44100_128"}, 5.0),
        ({"text": "footsteps on gravel", "duration_seconds": 3.5}, 3.5),
        ({"text": "a tiny click", "duration_seconds": 0.5}, 0.5),
    ],
)
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
        out = run(
            "text_to_sound",
            {"text": "wind and waves", "duration_seconds": 2, "loop": loop, "output_format": "pcm_44100"},
        ).outputs[0]
        with wave.open(io.BytesIO(out.data)) as w:
            assert w.getframerate() == 44100 and w.getnframes() == 2 * 44100
            return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(float) / 32767

    looped, once = pcm(True), pcm(False)
    step = np.median(np.abs(np.diff(looped)))
    assert abs(looped[-1] - looped[0]) < 6 * step + 1e-3  # the end joins the start like any two neighbours
    assert np.abs(once[:20]).max() < 0.05 and np.abs(once[-20:]).max() < 0.05
    assert np.sqrt(np.mean(once**2)) > 0.05


@pytest.mark.parametrize(
    "fmt,codec,rate,ext",
    [
        ("pcm_16000", "pcm_s16le", 16000, "wav"),
        ("mp3_22050_32", "mp3", 22050, "mp3"),
        ("ulaw_8000", "pcm_mulaw", 8000, "wav"),
        ("opus_48000_64", "opus", 48000, "opus"),
    ],
)
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
