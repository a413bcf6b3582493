"""Audio generators (speech, dialogue, sound effects, transcription, isolation).

All outputs are real, decodable files, deterministic from the request (or, for processing, from the input):

- `speech`: formant (FOF) synthesis of the text, one time slot per character (14 characters per second at
  speed 1, any script; at least 0.3 s), vowels voiced, consonants as noise or bursts, CJK characters as
  syllables, spaces and punctuation as pauses; the pitch follows the voice (and varies less with higher
  stability). Optional word timestamps that match the audio (CJK: one word per character).
- `dialogue`: every turn synthesized in its own voice, concatenated in order.
- `sound`: a mix of synthesized layers (noise bed, rumble, wind, crackles, thumps, tones, engine) weighted by
  keywords in the prompt; seamless loops on request; output codec/sample rate/bitrate from an
  ElevenLabs-style `output_format` (mp3_44100_128, pcm_16000, ulaw_8000, opus_48000_64, ...).
- `speech_to_text`: decodes the input, finds where there is sound (short-time energy), and places a
  deterministic transcript's words (and audio events / speakers on request) inside those regions.
- `isolate_audio`: a real STFT band-pass (voice band) and spectral noise gate; same length as the input.

Sandbox keys (catalog `sandbox:`, declared in catalog/sandbox_schema.py; defaults in brackets):
  speech: text_param [text], voice_param [voice], speed_param [speed], stability_param [stability],
          style_param [style], timestamps_param, chars_per_second [14], default_voice.
  dialogue: turns_param [dialogue] (items {text, voice}), stability_param [stability], chars_per_second [14],
          max_total_chars.
  sound: text_param [text], duration_param [duration_seconds], default_duration [5], max_duration [60],
          loop_param [loop], influence_param [prompt_influence], format_param [output_format],
          default_format [mp3_44100_128].
  speech_to_text: sources [source_audio_url], language_param [language_code], events_param [tag_audio_events],
          diarize_param [diarize], max_seconds [600], max_source_bytes.
  isolate_audio: sources [source_audio_url], max_seconds [600], max_source_bytes.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

from ...catalog.sandbox_schema import DialogueSpec, IsolateAudioSpec, SoundSpec, SpeechSpec, SpeechToTextSpec
from ..base import Done, Output, TaskFailed, TaskInput
from ..inputs import Inputs
from . import dsp, limits, media
from .base import as_list, generator, task_seed

SR = media.SAMPLE_RATE
CHUNK = SR * 10  # synthesis works in 10 s blocks to keep memory flat for long texts

# ---------------------------------------------------------------- text → timed slots

_WIDE = "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WIDE_RE = re.compile(f"[{_WIDE}]")
_WORD_RE = re.compile(f"[{_WIDE}]|(?:(?![{_WIDE}])[\\w'’])+")

# vowel formants F1, F2, F3 (Hz)
_VOWELS = {
    "a": (730, 1090, 2440),
    "e": (530, 1840, 2480),
    "i": (270, 2290, 3010),
    "o": (570, 840, 2410),
    "u": (300, 870, 2240),
}
_VOWEL_LIST = list(_VOWELS.values())
_NASAL = (300, 1200, 2500)
_VOICED_CONSONANTS = set("bdgjlmnrvwz")
_HISS = set("scxz")
_PLOSIVES = set("ptkqbdg")


@dataclass
class Slot:
    """One character's time slot: voiced amplitude (start→end), noise amplitudes, formants."""

    units: float
    voiced: tuple[float, float] = (0.0, 0.0)
    hiss: tuple[float, float] = (0.0, 0.0)
    broad: tuple[float, float] = (0.0, 0.0)
    formants: tuple[float, float, float] | None = None


def _units(ch: str) -> float:
    """Time units of one character. Uniform (one slot each, ~14 per second): a CJK character would
    realistically take ~3 slots, but 5000 of them would then make 18 minutes of MP3, too costly to encode."""
    return 1.0


def _slot(ch: str) -> Slot:
    units = _units(ch)
    if ch.isspace() or not (ch.isalnum() or unicodedata.category(ch).startswith("M")):
        return Slot(units)  # pause
    base = unicodedata.normalize("NFKD", ch)[0].lower()
    if _WIDE_RE.match(ch):  # a CJK / kana / hangul syllable: short onset noise, then a vowel
        vowel = _VOWEL_LIST[ord(ch) % len(_VOWEL_LIST)]
        return Slot(units, voiced=(0.9, 0.6), broad=(0.35, 0.0), formants=vowel)
    if base in "aeiouy" or base.isdigit():
        vowel = _VOWELS.get(base, _VOWEL_LIST[ord(base) % len(_VOWEL_LIST)])
        return Slot(units, voiced=(1.0, 0.85), formants=vowel)
    if base in _PLOSIVES:
        voiced = (0.35, 0.1) if base in _VOICED_CONSONANTS else (0.0, 0.0)
        return Slot(units, voiced=voiced, broad=(0.8, 0.05), formants=_NASAL)
    if base in _HISS:
        voiced = (0.25, 0.25) if base in _VOICED_CONSONANTS else (0.0, 0.0)
        return Slot(units, voiced=voiced, hiss=(0.7, 0.6), formants=_NASAL)
    if base in _VOICED_CONSONANTS:  # l m n r v w j
        return Slot(units, voiced=(0.55, 0.55), formants=_NASAL)
    if base.isascii():  # f h
        return Slot(units, broad=(0.35, 0.3), formants=_NASAL)
    return Slot(units, voiced=(0.9, 0.8), formants=_VOWEL_LIST[ord(ch) % len(_VOWEL_LIST)])  # other scripts


def text_units(text: str) -> float:
    return sum(_units(ch) for ch in text)


def speech_seconds(text: str, chars_per_second: float = 14.0, speed: float = 1.0, minimum: float = 0.3) -> float:
    """Duration of `text` spoken at `speed`: one slot per character, at least `minimum` seconds."""
    return max(minimum, text_units(text) / (chars_per_second * speed))


def voice_pitch(voice: str) -> float:
    """Base pitch (Hz) of a voice name or id: 95-225 Hz, stable per voice."""
    h = int.from_bytes(hashlib.sha256(str(voice).encode()).digest()[:4], "big")
    return 95.0 + (h % 1300) / 10.0


def _word_spans(text: str, starts: np.ndarray, ends: np.ndarray) -> list[dict[str, Any]]:
    words = []
    for m in _WORD_RE.finditer(text):
        words.append(
            {"word": m.group(0), "start": round(float(starts[m.start()]), 3), "end": round(float(ends[m.end() - 1]), 3)}
        )
    return words


def _ramped_track(bounds: np.ndarray, values: list[tuple[float, float]], ramp: float) -> tuple[np.ndarray, np.ndarray]:
    """Control points for np.interp: within each slot the value goes start→end, with `ramp` s between slots."""
    xs, ys = [], []
    for (a, b), (s, e) in zip(values, zip(bounds[:-1], bounds[1:])):
        r = min(ramp, (e - s) / 4)
        xs += [s + r, e - r]
        ys += [a, b]
    return np.asarray(xs), np.asarray(ys)


def synthesize_speech(
    text: str, voice: str, seed: bytes, seconds: float, unit_seconds: float, stability: float = 0.5, style: float = 0.0
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Mono float32 speech lasting `seconds`: character slots of `unit_seconds` per unit (silence after the
    text when a minimum duration pads it), and the word timestamps that match it."""
    total = max(1, int(round(seconds * SR)))
    slots = [_slot(ch) for ch in text] or [Slot(1.0)]
    units = np.array([s.units for s in slots], dtype=np.float64)
    bounds = np.minimum(np.concatenate([[0.0], np.cumsum(units) * unit_seconds]), seconds)

    rng = dsp.seed_rng(seed)
    f0_base = voice_pitch(voice)
    variation = 0.03 + 0.12 * (1.0 - stability) + 0.08 * style
    # pitch: one control point per word, with declination across the utterance
    word_centers = [(bounds[m.start()] + bounds[m.end()]) / 2 for m in _WORD_RE.finditer(text)] or [seconds / 2]
    f0_x = np.concatenate([[0.0], word_centers, [seconds]])
    offsets = 1.0 + variation * rng.uniform(-1, 1, len(f0_x))
    decline = 1.06 - 0.12 * (f0_x / max(seconds, 1e-9))
    f0_y = f0_base * offsets * decline
    vib_rate, vib_depth = 5.0 + rng.uniform(-0.5, 0.5), 0.006 + 0.01 * style

    ramp = 0.008
    tracks = {
        name: _ramped_track(bounds, [getattr(s, name) for s in slots], ramp) for name in ("voiced", "hiss", "broad")
    }
    centers = (bounds[:-1] + bounds[1:]) / 2
    formant_x = [c for c, s in zip(centers, slots) if s.formants]
    formant_y = np.array([s.formants for s in slots if s.formants] or [_NASAL], dtype=np.float64)
    if not formant_x:
        formant_x = [0.0]

    out = np.empty(total, dtype=np.float32)
    phase = 0.0
    widths = (80.0, 100.0, 130.0)
    gains = (1.0, 0.55, 0.3)
    for start in range(0, total, CHUNK):
        n = min(CHUNK, total - start)
        t = (start + np.arange(n)) / SR
        f0 = np.interp(t, f0_x, f0_y) * (1 + vib_depth * np.sin(2 * np.pi * vib_rate * t))
        ph = phase + np.cumsum(f0 / SR)
        phase = float(ph[-1] % 1.0)
        since = ((ph % 1.0) / f0).astype(np.float32)  # seconds since the last glottal pulse
        voiced = np.zeros(n, dtype=np.float32)
        for k in range(3):
            fk = np.interp(t, formant_x, formant_y[:, k]).astype(np.float32)
            voiced += (
                np.float32(gains[k])
                * np.exp(np.float32(-np.pi * widths[k]) * since)
                * np.sin(np.float32(2 * np.pi) * fk * since)
            )
        noise_rng = np.random.default_rng([int.from_bytes(seed[8:16], "big"), start])
        white = noise_rng.standard_normal(n + 1, dtype=np.float32)
        hiss = np.diff(white) * np.float32(0.5)
        broad = (white[1:] + white[:-1]) * np.float32(0.5)
        chunk = (
            voiced * np.interp(t, *tracks["voiced"]).astype(np.float32)
            + np.float32(0.35) * hiss * np.interp(t, *tracks["hiss"]).astype(np.float32)
            + np.float32(0.3) * broad * np.interp(t, *tracks["broad"]).astype(np.float32)
        )
        out[start : start + n] = np.clip(chunk * 0.32, -1, 1)
    return out, _word_spans(text, bounds[:-1], bounds[1:])


def _param(p: dict[str, Any], name: str | None, default: Any = None) -> Any:
    """The value of the param a spec key names (None: the key names none), else `default`."""
    value = p.get(name) if name else None
    return default if value is None else value


def _mp3(samples: np.ndarray) -> Output:
    data, _, _ = encode_output(samples)
    return Output("audios", data, "audio/mpeg", "mp3", {"duration": round(len(samples) / SR, 3)})


@generator("speech")
async def generate_speech(inputs: Inputs, task: TaskInput, spec: SpeechSpec) -> Done:
    p = task.params
    text = str(_param(p, spec.text_param, ""))
    voice = str(_param(p, spec.voice_param, spec.default_voice))
    speed = float(_param(p, spec.speed_param, 1.0))
    stability = float(_param(p, spec.stability_param, 0.5))
    style = float(_param(p, spec.style_param, 0.0))
    want_timestamps = bool(p.get(spec.timestamps_param)) if spec.timestamps_param else False
    cps = spec.chars_per_second
    seconds = speech_seconds(text, cps, speed)
    seed = task_seed(task)

    def work() -> Output:
        samples, words = synthesize_speech(text, voice, seed, seconds, 1.0 / (cps * speed), stability, style)
        out = _mp3(samples)
        if want_timestamps:
            out.meta["timestamps"] = words
        return out

    return Done(outputs=[await limits.run(work)])


@generator("dialogue")
async def generate_dialogue(inputs: Inputs, task: TaskInput, spec: DialogueSpec) -> Done:
    p = task.params
    name = spec.turns_param
    turns = as_list(p.get(name))
    if not turns:
        raise TaskFailed(f"{name} must contain at least one line")
    for i, turn in enumerate(turns):
        for key in ("text", "voice"):
            if not isinstance(turn, dict) or not isinstance(turn.get(key), str) or not turn[key].strip():
                raise TaskFailed(f"{name}[{i}].{key} is required and must be a non-empty string")
    limit = spec.max_total_chars
    total_chars = sum(len(t["text"]) for t in turns)
    if limit is not None and total_chars > limit:
        raise TaskFailed(f"The total text of {name} must be at most {limit} characters (got {total_chars})")
    stability = float(_param(p, spec.stability_param, 0.5))
    cps = spec.chars_per_second

    def work() -> Output:
        parts = []
        for i, turn in enumerate(turns):
            seconds = speech_seconds(turn["text"], cps)
            samples, _ = synthesize_speech(
                turn["text"], turn["voice"], task_seed(task, i + 1), seconds, 1.0 / cps, stability
            )
            parts.append(samples)
        return _mp3(np.concatenate(parts))

    return Done(outputs=[await limits.run(work)])


# ---------------------------------------------------------------- sound effects

_LAYERS = ("hiss", "rumble", "wind", "crackle", "thumps", "tones", "engine")
_KEYWORDS = {
    "hiss": (
        "rain",
        "drizzle",
        "shower",
        "water",
        "splash",
        "stream",
        "river",
        "fountain",
        "steam",
        "spray",
        "雨",
        "水",
        "溪",
        "河",
        "喷",
    ),
    "rumble": ("thunder", "explosion", "boom", "rumble", "earthquake", "cannon", "blast", "雷", "爆", "轰", "地震"),
    "wind": ("wind", "storm", "ocean", "wave", "sea", "breeze", "whoosh", "air", "风", "海", "浪", "暴风"),
    "crackle": ("fire", "crackle", "campfire", "sizzle", "static", "glass", "break", "火", "噼", "玻璃", "碎"),
    "thumps": (
        "footstep",
        "step",
        "knock",
        "door",
        "clap",
        "applause",
        "drum",
        "heartbeat",
        "walk",
        "run",
        "脚步",
        "敲",
        "门",
        "掌",
        "鼓",
        "心跳",
    ),
    "tones": (
        "bell",
        "chime",
        "ding",
        "beep",
        "alarm",
        "notification",
        "bird",
        "whistle",
        "music",
        "piano",
        "ring",
        "tone",
        "铃",
        "钟",
        "鸟",
        "哨",
        "音乐",
        "提示",
    ),
    "engine": (
        "engine",
        "car",
        "motor",
        "machine",
        "drone",
        "hum",
        "truck",
        "plane",
        "train",
        "引擎",
        "车",
        "机器",
        "马达",
        "飞机",
        "火车",
    ),
}


def _layer_weights(prompt: str, influence: float, rng: np.random.Generator) -> np.ndarray:
    random_w = rng.uniform(0.1, 1.0, len(_LAYERS))
    text = prompt.lower()
    hits = np.array([float(any(k in text for k in _KEYWORDS[name])) for name in _LAYERS])
    if not hits.any():
        return random_w
    return (1 - influence) * random_w * 0.5 + influence * hits + 0.05


def synthesize_sound(
    prompt: str, seed: bytes, seconds: float, influence: float = 0.3, loop: bool = False
) -> np.ndarray:
    n = max(1, int(round(seconds * SR)))
    fade = min(int(0.25 * SR), n // 4) if loop else 0
    total = n + fade
    rng = dsp.seed_rng(seed)
    weights = _layer_weights(prompt, influence, rng)
    t = np.arange(total) / SR
    white = rng.standard_normal(total + 1)
    lfo = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t + rng.uniform(0, 6.28))
    layers = {
        "hiss": np.diff(white) * 0.5 * lfo,
        "rumble": dsp.smooth(dsp.smooth(white[:total], 150), 150) * 12,
        "wind": (dsp.smooth(white[:total], 12) - dsp.smooth(white[:total], 160))
        * 2.5
        * (0.3 + 0.7 * np.abs(np.sin(2 * np.pi * rng.uniform(0.08, 0.3) * t))),
    }
    impulses = np.zeros(total)
    count = max(1, int(seconds * rng.uniform(4, 20)))
    impulses[rng.integers(0, total, count)] = rng.uniform(0.3, 1.0, count) * rng.choice([-1, 1], count)
    k_len = int(0.03 * SR)
    kernel = np.exp(-np.arange(k_len) / (0.004 * SR)) * rng.standard_normal(k_len)
    layers["crackle"] = dsp.fft_convolve(impulses, kernel) * 0.8
    thumps = np.zeros(total)
    interval = rng.uniform(0.35, 0.8)
    thumps[(np.arange(0, seconds + fade / SR, interval) * SR).astype(int).clip(0, total - 1)] = 1.0
    k_len = int(0.15 * SR)
    kt = np.arange(k_len) / SR
    layers["thumps"] = dsp.fft_convolve(thumps, np.exp(-kt * 30) * np.sin(2 * np.pi * rng.uniform(70, 140) * kt))
    tones = np.zeros(total)
    step = rng.uniform(0.3, 1.0)
    base = rng.uniform(400, 1400)
    for i, start in enumerate(range(0, total, int(step * SR))):
        seg = np.arange(min(int(1.5 * SR), total - start)) / SR
        f = base * (1.0, 1.25, 1.5, 2.0)[int(rng.integers(4))]
        tones[start : start + len(seg)] += np.exp(-seg * 4) * (
            np.sin(2 * np.pi * f * seg) + 0.4 * np.sin(2 * np.pi * f * 2.76 * seg)
        )
    layers["tones"] = tones * 0.5
    motor = rng.uniform(40, 90) * (1 + 0.03 * np.sin(2 * np.pi * 0.7 * t))
    saw = 2 * (np.cumsum(motor / SR) % 1.0) - 1
    layers["engine"] = dsp.smooth(saw, 8) * 0.5 + 0.1 * np.diff(white) * 0.5

    mix = np.zeros(total)
    for w, name in zip(weights, _LAYERS):
        layer = layers[name]
        mix += w * layer / (np.sqrt(np.mean(layer**2)) + 1e-9)
    mix *= 0.7 / (np.max(np.abs(mix)) + 1e-9)
    out = mix[:n].copy()
    if loop:
        ramp = np.linspace(0.0, 1.0, fade, endpoint=False)
        out[:fade] = mix[:fade] * ramp + mix[n : n + fade] * (1 - ramp)  # the end flows into the start
    else:
        fin, fout = min(int(0.01 * SR), n // 4), min(int(0.08 * SR), n // 4)
        out[:fin] *= np.linspace(0, 1, fin)
        out[n - fout :] *= np.linspace(1, 0, fout)
    return out.astype(np.float32)


_FORMAT_RE = re.compile(r"^(mp3|pcm|wav|ulaw|alaw|opus)_(\d+)(?:_(\d+))?$")
_MP3_RATES = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000}
_OPUS_RATES = {8000, 12000, 16000, 24000, 48000}


def parse_output_format(value: str) -> tuple[str, int, int | None]:
    """`mp3_44100_128` → ("mp3", 44100, 128); raises ValueError when the sandbox cannot produce it."""
    m = _FORMAT_RE.match(value.strip().lower())
    if not m:
        raise ValueError(value)
    codec, rate, kbps = m.group(1), int(m.group(2)), int(m.group(3)) if m.group(3) else None
    ok = {
        "mp3": rate in _MP3_RATES and (kbps is None or 8 <= kbps <= 320),
        "pcm": 8000 <= rate <= 48000,
        "wav": 8000 <= rate <= 48000,
        "ulaw": rate == 8000,
        "alaw": rate == 8000,
        "opus": rate in _OPUS_RATES and (kbps is None or 6 <= kbps <= 510),
    }[codec]
    if not ok:
        raise ValueError(value)
    return codec, rate, kbps


def _resample(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == SR:
        return samples.astype(np.float32)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    frame = av.AudioFrame.from_ndarray(samples.astype(np.float32).reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = SR
    chunks = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def encode_output(samples: np.ndarray, output_format: str = "mp3_44100_128") -> tuple[bytes, str, str]:
    """(data, content type, extension) for an ElevenLabs-style output format."""
    codec, rate, kbps = parse_output_format(output_format)
    resampled = _resample(samples, rate)
    if codec == "mp3":
        return dsp.mp3(resampled, rate, kbps or 128), "audio/mpeg", "mp3"
    if codec in ("pcm", "wav"):
        return dsp.wav(resampled, rate), "audio/wav", "wav"
    if codec in ("ulaw", "alaw"):
        return (
            media.encode_mono("pcm_mulaw" if codec == "ulaw" else "pcm_alaw", "wav", resampled, rate, None),
            "audio/wav",
            "wav",
        )
    return media.encode_mono("libopus", "ogg", resampled, rate, kbps or 64), "audio/ogg", "opus"


@generator("sound")
async def generate_sound(inputs: Inputs, task: TaskInput, spec: SoundSpec) -> Done:
    p = task.params
    prompt = str(_param(p, spec.text_param, ""))
    seconds = float(_param(p, spec.duration_param, spec.default_duration))
    seconds = min(max(seconds, 0.1), spec.max_duration)
    loop = bool(_param(p, spec.loop_param, False))
    influence = float(_param(p, spec.influence_param, 0.3))
    fmt = str(_param(p, spec.format_param, spec.default_format))
    try:
        parse_output_format(fmt)
    except ValueError:
        raise TaskFailed(
            f"Unsupported output_format {fmt!r} (expected codec_samplerate[_bitrate], "
            "e.g. mp3_44100_128, pcm_16000, ulaw_8000, opus_48000_64)"
        ) from None
    seed = task_seed(task)

    def work() -> Output:
        samples = synthesize_sound(prompt, seed, seconds, influence, loop)
        data, ctype, ext = encode_output(samples, fmt)
        return Output("audios", data, ctype, ext, {"duration": round(len(samples) / SR, 3), "loop": loop})

    return Done(outputs=[await limits.run(work)])


# ---------------------------------------------------------------- inputs: speech-to-text and isolation


async def _source_audio(
    inputs: Inputs, task: TaskInput, spec: SpeechToTextSpec | IsolateAudioSpec
) -> tuple[bytes, np.ndarray]:
    urls = [u for name in spec.sources for u in as_list(task.params.get(name))]
    if not urls:
        raise TaskFailed("No source audio given")
    data = await inputs.fetch(urls[0], spec.max_source_bytes, "audio")
    max_seconds = spec.max_seconds

    def decode() -> np.ndarray:
        try:
            return media.decode_audio(data, limit_seconds=max_seconds)
        except (av.error.FFmpegError, ValueError, IndexError) as exc:
            raise TaskFailed("Failed to read the source audio: not a supported audio or video file") from exc

    samples = await limits.run(decode)
    if len(samples) == 0:
        raise TaskFailed("The source file has no audio track")
    if len(samples) > max_seconds * SR:
        raise TaskFailed(f"The source audio is longer than {max_seconds:g} seconds")
    return data, samples


_FRAME = int(0.02 * SR)  # 20 ms analysis frames

_VOCAB = {
    "en": (
        "the",
        "sound",
        "of",
        "a",
        "quiet",
        "morning",
        "we",
        "are",
        "here",
        "today",
        "to",
        "talk",
        "about",
        "music",
        "and",
        "voices",
        "this",
        "is",
        "just",
        "how",
        "it",
        "works",
        "hello",
        "everyone",
        "thank",
        "you",
        "for",
        "listening",
        "again",
        "welcome",
        "back",
        "new",
        "ideas",
        "make",
        "that",
        "clear",
    ),
    "zh": (
        "你好",
        "欢迎",
        "大家",
        "今天",
        "我们",
        "来",
        "聊聊",
        "声音",
        "音乐",
        "这个",
        "非常",
        "简单",
        "谢谢",
        "收听",
        "一起",
        "开始",
        "现在",
        "好的",
    ),
    "es": (
        "hola",
        "a",
        "todos",
        "hoy",
        "vamos",
        "hablar",
        "de",
        "la",
        "música",
        "y",
        "el",
        "sonido",
        "gracias",
        "por",
        "escuchar",
        "bienvenidos",
    ),
    "fr": (
        "bonjour",
        "à",
        "tous",
        "aujourd'hui",
        "nous",
        "parlons",
        "de",
        "la",
        "musique",
        "et",
        "du",
        "son",
        "merci",
        "pour",
        "votre",
        "écoute",
    ),
    "de": (
        "hallo",
        "zusammen",
        "heute",
        "sprechen",
        "wir",
        "über",
        "musik",
        "und",
        "den",
        "klang",
        "danke",
        "fürs",
        "zuhören",
        "willkommen",
    ),
    "ja": ("こんにちは", "皆さん", "今日", "は", "音楽", "の", "話", "を", "します", "ありがとう", "ございます"),
}
_LANG_ALIASES = {
    "eng": "en",
    "zho": "zh",
    "cmn": "zh",
    "chi": "zh",
    "spa": "es",
    "fra": "fr",
    "fre": "fr",
    "deu": "de",
    "ger": "de",
    "jpn": "ja",
}
_NO_SPACES = {"zh", "ja"}


def _language(code: Any) -> str:
    raw = str(code or "en").strip().lower().replace("_", "-").split("-")[0]
    return _LANG_ALIASES.get(raw, raw)


def _regions(samples: np.ndarray) -> tuple[list[tuple[np.intp, np.intp]], np.ndarray]:
    """Frame ranges [start, end) with sound, from short-time energy; and the per-frame RMS."""
    n = len(samples) // _FRAME
    if n == 0:
        return [], np.zeros(0)
    frames = samples[: n * _FRAME].reshape(n, _FRAME).astype(np.float64)
    rms = np.sqrt(np.mean(frames**2, axis=1)) + 1e-9
    db = 20 * np.log10(rms)
    # 6 dB over the noise floor (10th percentile), but never more than 15 dB under the peak (so a sound with
    # no pause at all is one region), nor under -60 dBFS or 35 dB under the peak
    threshold = max(min(np.percentile(db, 10) + 6.0, db.max() - 15.0), db.max() - 35.0, -60.0)
    active = db > threshold
    # numpy integers, kept as such: the times derived from them (and their rounding) are numpy floats
    regions: list[list[np.intp]] = []
    for i in np.flatnonzero(active):
        if regions and i - regions[-1][1] <= 7:  # bridge gaps under 150 ms
            regions[-1][1] = i + 1
        else:
            regions.append([i, i + 1])
    return [(a, b) for a, b in regions if b - a >= 4], frames  # at least 80 ms


def _features(frames: np.ndarray) -> tuple[float, float]:
    """Spectral centroid (Hz) and spectral flatness (0-1) of a region."""
    spec = np.abs(np.fft.rfft(frames * np.hanning(frames.shape[1]), axis=1)) ** 2
    power = spec.mean(axis=0) + 1e-12
    freqs = np.fft.rfftfreq(frames.shape[1], 1 / SR)
    centroid = float((freqs * power).sum() / power.sum())
    flatness = float(np.exp(np.mean(np.log(power))) / np.mean(power))
    return centroid, flatness


def transcribe(
    data: bytes, samples: np.ndarray, language_code: Any = None, tag_events: bool = False, diarize: bool = False
) -> dict[str, Any]:
    lang = _language(language_code)
    vocab = _VOCAB.get(lang, _VOCAB["en"])
    sep = "" if lang in _NO_SPACES else " "
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(data + lang.encode()).digest()[:8], "big"))
    regions, frames = _regions(samples)
    feats = [_features(frames[a:b]) for a, b in regions]
    speech = [i for i, (_, flat) in enumerate(feats) if flat < 0.3]
    speakers: dict[int, str] = {}
    if diarize and speech:
        cents = np.array([feats[i][0] for i in speech])
        lo, hi = cents.min(), cents.max()
        split = (lo + hi) / 2 if hi - lo > 0.25 * cents.mean() else None
        order: list[bool] = []
        for i, c in zip(speech, cents):
            group = bool(split is not None and c > split)
            if group not in order:
                order.append(group)
            speakers[i] = f"speaker_{order.index(group)}"
    words: list[dict[str, Any]] = []
    sentences: list[str] = []
    for i, (a, b) in enumerate(regions):
        start, end = a * _FRAME / SR, b * _FRAME / SR
        centroid, flat = feats[i]
        if flat >= 0.3:  # noise-like: an audio event, not speech
            if tag_events:
                label = "(applause)" if centroid > 2500 else "(laughter)"
                words.append({"text": label, "start": round(start, 3), "end": round(end, 3), "type": "audio_event"})
                sentences.append(label)
            continue
        count = max(1, int(round((end - start) * (4.0 if lang in _NO_SPACES else 2.6))))
        weights = rng.uniform(0.6, 1.4, count)
        edges = start + np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum() * (end - start)
        tokens = [vocab[int(rng.integers(len(vocab)))] for _ in range(count)]
        for j, tok in enumerate(tokens):
            w_start, w_end = edges[j], edges[j] + (edges[j + 1] - edges[j]) * 0.9
            item = {"text": tok, "start": round(float(w_start), 3), "end": round(float(w_end), 3), "type": "word"}
            if diarize:
                item["speaker_id"] = speakers.get(i, "speaker_0")
            words.append(item)
        sentence = sep.join(tokens)
        sentences.append(sentence + "。" if sep == "" else sentence[:1].upper() + sentence[1:] + ".")
    return {"text": ("" if sep == "" else " ").join(sentences), "language_code": lang, "words": words}


@generator("speech_to_text")
async def generate_transcript(inputs: Inputs, task: TaskInput, spec: SpeechToTextSpec) -> Done:
    p = task.params
    data, samples = await _source_audio(inputs, task, spec)
    result = await limits.run(
        transcribe,
        data,
        samples,
        _param(p, spec.language_param),
        bool(_param(p, spec.events_param, False)),
        bool(_param(p, spec.diarize_param, False)),
    )
    return Done(outputs=[], extra=result)


_N_FFT = 2048
_HOP = _N_FFT // 2
_BATCH = 2048  # frames per batch


def isolate(samples: np.ndarray, low_hz: float = 80.0, high_hz: float = 8000.0) -> np.ndarray:
    """Voice isolation: STFT (sqrt-Hann, 50 % overlap: perfect reconstruction), a voice band-pass and a
    Wiener-style spectral gate against each bin's noise floor (its 20th-percentile magnitude over time)."""
    n = len(samples)
    window = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_N_FFT) / _N_FFT)).astype(np.float32)
    blocks = -(-(n + 2 * _N_FFT) // _HOP)
    padded = np.zeros((blocks + 1) * _HOP, dtype=np.float32)
    padded[_N_FFT : _N_FFT + n] = samples
    count = blocks - 1  # frame f covers blocks f and f+1
    freqs = np.fft.rfftfreq(_N_FFT, 1 / SR)
    band = np.clip((freqs - low_hz * 0.6) / (low_hz * 0.4), 0, 1) * np.clip(
        (high_hz * 1.25 - freqs) / (high_hz * 0.25), 0, 1
    )

    def spectra(idx: np.ndarray) -> np.ndarray:
        starts = idx[:, None] * _HOP + np.arange(_N_FFT)[None, :]
        return np.fft.rfft(padded[starts] * window, axis=1)

    probe = np.linspace(0, count - 1, min(count, 1500)).astype(int)
    noise = np.percentile(np.abs(spectra(probe)), 20, axis=0) + 1e-6
    out = np.zeros_like(padded)
    out_blocks = out.reshape(-1, _HOP)
    for f0 in range(0, count, _BATCH):
        idx = np.arange(f0, min(count, f0 + _BATCH))
        spec = spectra(idx)
        power = np.abs(spec) ** 2
        gate = power / (power + (2.0 * noise) ** 2)
        frames = (np.fft.irfft(spec * (gate * band), _N_FFT, axis=1) * window).astype(np.float32)
        out_blocks[idx] += frames[:, :_HOP]
        out_blocks[idx + 1] += frames[:, _HOP:]
    return out[_N_FFT : _N_FFT + n]


@generator("isolate_audio")
async def generate_isolated(inputs: Inputs, task: TaskInput, spec: IsolateAudioSpec) -> Done:
    _, samples = await _source_audio(inputs, task, spec)
    return Done(outputs=[await limits.run(lambda: _mp3(isolate(samples)))])
