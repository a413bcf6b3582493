"""Suno's generators: music tracks, lyrics, stems, MIDI, WAV conversion, artwork, visualisation, personas,
voices; shaped like Suno's documented result bodies.

Everything is real and deterministic from the request:
- songs are synthesised (drums, bass, chord pad and a formant "vocal" or lead line, arranged in bars at a
  tempo and key derived from the request and its style words) and encoded as MP3; every track gets a JPEG cover;
- extend / replace_section / cover / mashup / add_vocals / add_instrumental process the real source audio
  (continuation after `continue_at`, a re-composed section, the source melody re-sung over a new arrangement,
  band-swapped mix of two uploads, a vocal line or an accompaniment mixed over the upload);
- stems are STFT splits of the source (harmonic/percussive masks times frequency bands) that sum back to it;
- MIDI notes are transcribed from the stems (frame energy, dominant pitch, onsets);
- WAV is the decoded source; the music video draws the track's real waveform with a moving playhead over the
  track's own audio; timestamped lyrics follow the track's real vocal-band energy.

Audio ids are uuid5 values derived from the request (same request, same ids) and every produced track is also
indexed in storage under its id, so `extend_music` can name a track by `audio_id` alone, as the docs do.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import uuid
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..base import Done, Output, TaskFailed, TaskInput
from ..inputs import Inputs
from . import images, limits, media
from .base import generator, task_seed

SR = media.SAMPLE_RATE
NAMESPACE = uuid.UUID("7f6b1c52-3d0e-4f8a-9b1d-5c2e8a4f9d31")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
INDEX_PREFIX = "suno/audios/"
MAX_UPLOAD_SECONDS = 480  # "最长 8 分钟" for uploaded audio
TRACKS_PER_TASK = 2

# ---------------------------------------------------------------------------------------------- ids and seeds


def _sid(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(str(p) for p in parts)))


def _audio_id(task: TaskInput, index: int) -> str:
    return _sid("audio", task_seed(task, 1000 + index).hex())


def _rng(seed: bytes) -> random.Random:
    return random.Random(seed)


def _nprng(seed: bytes) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest()[:8], "big"))


def _sub(seed: bytes, *parts: object) -> bytes:
    return images.seed_bytes(seed.hex(), *parts)


# ---------------------------------------------------------------------------------------------- text

STOP = set("""a an the and or of to in on with for at by from into onto is are be been was were my your our their
his her its it this that these those as so very some any about song songs music track tracks beat beats sound
sounds soft make made create want like just more most over under using use feat featuring vocal vocals voice
""".split())
GENRES = ["lo-fi", "lofi", "pop", "rock", "jazz", "classical", "edm", "electronic", "hip hop", "hip-hop", "rap",
          "r&b", "ambient", "folk", "country", "metal", "punk", "blues", "soul", "funk", "reggae", "disco", "house",
          "techno", "trap", "indie", "acoustic", "orchestral", "cinematic", "piano", "synthwave", "k-pop", "latin",
          "gospel", "ballad", "dance"]
MOODS = ["chill", "relaxing", "upbeat", "dreamy", "melancholic", "energetic", "romantic", "mysterious", "epic",
         "peaceful", "dark", "happy", "nostalgic", "groovy", "soothing", "uplifting", "calm", "electrifying"]
FAST_WORDS = ("rock", "edm", "dance", "punk", "metal", "upbeat", "electro", "techno", "house", "drum", "energetic",
              "electrifying", "disco", "trap")
SLOW_WORDS = ("chill", "lo-fi", "lofi", "ambient", "ballad", "calm", "relax", "piano", "classical", "peaceful",
              "sleep", "jazz", "soothing", "meditation", "lullaby")
MINOR_WORDS = ("sad", "dark", "minor", "melanch", "mysterious", "night", "moody", "blues", "rain")

EN_VERSE = [
    "{A} lights are glowing on the {B}", "I keep on walking through the {B}", "Every {A} whispers out your name",
    "We were dancing where the {B} begins", "Hold on to the {A} tonight", "{A} and {C} skies, we carry on",
    "Underneath the {C} sky", "Nothing ever felt so {C}", "Turn it up and let the {A} in",
    "All the {A} is fading into {B}", "Say it softly, say it slow", "Time is drifting like the {B}",
]
EN_CHORUS = [
    "Oh {A}, {A}, don't let go", "We're alive in the {C} {B}", "Sing it loud, sing it {C}",
    "This is where the {A} belongs", "Light me up like {A}", "Take me higher through the {B}",
]
EN_BRIDGE = ["Maybe we will find the way", "When the {A} falls silent", "Close your eyes and count to three",
             "Every road leads back to {B}"]
EN_A = ["city", "moonlight", "heartbeat", "river", "summer", "midnight", "ocean", "fire", "dream", "starlight"]
EN_B = ["city", "street", "ocean", "night", "skyline", "rain", "highway", "garden", "window", "morning"]
EN_C = ["golden", "quiet", "electric", "gentle", "endless", "shining", "restless", "tender"]
ZH_VERSE = ["{A}的夜晚 灯火辉煌", "我在{B}里慢慢走", "风吹过{B}的尽头", "心跳随着{A}回响", "月光洒满{B}",
            "把{A}藏进梦里", "这一刻 {C}的光", "我们唱着{A}的歌"]
ZH_CHORUS = ["啊 {A} 不要走", "让{C}的心飞翔", "唱吧 在{B}中央", "这是{A}的方向"]
ZH_BRIDGE = ["也许我们会找到路", "当{A}安静下来", "闭上眼睛 数到三"]
ZH_A = ["城市", "星光", "梦想", "海风", "青春", "夜色"]
ZH_NOUNS = ["城市", "夜晚", "夜色", "星光", "星空", "梦想", "海风", "大海", "青春", "月光", "爱情", "故乡", "雨夜",
            "灯火", "花开", "时光", "远方", "家乡", "春天", "夏天", "秋天", "冬天", "钢铁侠", "英雄", "自由"]
ZH_B = ["城市", "街角", "海边", "夜空", "雨中"]
ZH_C = ["温柔", "闪亮", "自由", "炽热"]

STYLE_BOOST = {
    "pop": ["Upbeat", "Catchy hooks", "Polished production", "Bright synths"],
    "rock": ["Driving guitars", "Punchy drums", "Anthemic chorus", "Gritty vocals"],
    "jazz": ["Swing rhythm", "Walking bass", "Smoky saxophone", "Brushed drums"],
    "classical": ["Orchestral strings", "Expressive dynamics", "Grand piano", "Cinematic swells"],
    "lo-fi": ["Dusty vinyl crackle", "Laid-back drums", "Warm Rhodes", "Mellow"],
    "electronic": ["Synth-driven", "Pulsing bass", "Four-on-the-floor", "Glittering arpeggios"],
    "hip hop": ["Boom-bap drums", "Deep 808s", "Rhythmic flow", "Vinyl samples"],
    "folk": ["Acoustic guitar", "Warm harmonies", "Storytelling", "Organic percussion"],
    "ambient": ["Atmospheric pads", "Slow evolving textures", "Reverb-drenched", "Spacious"],
    "mysterious": ["Electronic", "Minor key", "Haunting melody", "Dark undertones"],
    "sad": ["Melancholic", "Minor key", "Emotional vocals", "Sparse piano"],
    "happy": ["Upbeat", "Major key", "Handclaps", "Sunny melody"],
}
STYLE_GENERIC = ["Upbeat", "Electronic", "Synth-driven", "Catchy hooks", "Atmospheric", "Punchy drums",
                 "Warm bass", "Lush harmonies", "Modern production", "Dynamic build", "Wide stereo", "Groovy"]

PHRASES = {
    "en": ["Harmonies fill the air with joyful melodies tonight", "Silver echoes drift across the midnight ocean",
           "Golden light dances softly over quiet rivers", "Every gentle rhythm carries my voice home",
           "Bright stars hum a tender song above the city", "Warm winds sing through the open summer fields",
           "Soft piano notes wander through the evening rain", "Morning bells ring clearly over the green hills"],
    "zh": ["和声在今夜的空气中轻轻回荡", "银色的回声飘过午夜的海洋", "金色的光在安静的河面上跳舞",
           "每一段温柔的节奏都带我回家", "明亮的星星在城市上空低声歌唱", "温暖的风吹过开阔的夏日田野"],
    "es": ["Las armonías llenan el aire de melodías alegres esta noche",
           "Ecos plateados cruzan el océano de medianoche",
           "La luz dorada baila suave sobre ríos tranquilos", "Cada ritmo tierno lleva mi voz a casa",
           "Las estrellas cantan una canción sobre la ciudad", "El viento cálido canta en los campos de verano"],
    "fr": ["Les harmonies remplissent l'air de mélodies joyeuses ce soir", "Des échos argentés dérivent sur l'océan",
           "La lumière dorée danse doucement sur les rivières", "Chaque rythme tendre ramène ma voix chez moi",
           "Les étoiles fredonnent une chanson au-dessus de la ville", "Le vent chaud chante dans les champs d'été"],
    "pt": ["As harmonias enchem o ar de melodias alegres esta noite", "Ecos prateados cruzam o oceano da meia-noite",
           "A luz dourada dança suave sobre rios tranquilos", "Cada ritmo terno leva a minha voz para casa",
           "As estrelas cantam uma canção sobre a cidade", "O vento quente canta nos campos de verão"],
    "de": ["Harmonien füllen heute Abend die Luft mit fröhlichen Melodien", "Silberne Echos treiben über den Ozean",
           "Goldenes Licht tanzt sanft über stillen Flüssen", "Jeder sanfte Rhythmus trägt meine Stimme heim",
           "Helle Sterne summen ein Lied über der Stadt", "Warmer Wind singt über den Sommerfeldern"],
    "ja": ["今夜はハーモニーが楽しいメロディーで空気を満たす", "銀色のこだまが真夜中の海を渡っていく",
           "金色の光が静かな川の上でそっと踊る", "やさしいリズムが私の声を家へ運ぶ",
           "明るい星が街の上で優しい歌を口ずさむ", "暖かい風が夏の野原で歌っている"],
    "ko": ["오늘 밤 화음이 즐거운 멜로디로 공기를 채워요", "은빛 메아리가 한밤의 바다를 건너가요",
           "황금빛이 고요한 강 위에서 부드럽게 춤춰요", "모든 부드러운 리듬이 내 목소리를 집으로 데려가요",
           "밝은 별들이 도시 위에서 노래를 흥얼거려요", "따뜻한 바람이 여름 들판에서 노래해요"],
    "hi": ["आज रात सुरीली धुनें हवा को खुशी से भर देती हैं", "चांदी जैसी गूंज आधी रात के सागर पर बहती है",
           "सुनहरी रोशनी शांत नदियों पर धीरे से नाचती है", "हर कोमल लय मेरी आवाज़ को घर ले जाती है",
           "चमकते तारे शहर के ऊपर मधुर गीत गुनगुनाते हैं", "गर्म हवा गर्मियों के खेतों में गाती है"],
    "ru": ["Гармонии наполняют воздух радостными мелодиями этой ночью", "Серебряное эхо плывёт над полуночным океаном",
           "Золотой свет мягко танцует над тихими реками", "Каждый нежный ритм несёт мой голос домой",
           "Яркие звёзды напевают песню над городом", "Тёплый ветер поёт над летними полями"],
}


def _is_cjk(text: str) -> bool:
    return bool(re.search(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]", text or ""))


def _keywords(text: str | None) -> list[str]:
    out: list[str] = []
    for w in re.findall(r"[A-Za-z][A-Za-z'\-]+|[\u4e00-\u9fff]+", text or ""):
        lw = w.lower()
        if lw in STOP or (len(w) < 3 and not _is_cjk(w)):
            continue
        if lw not in [o.lower() for o in out]:
            out.append(w if _is_cjk(w) else lw)
    return out


def _style_words(*texts: str | None) -> list[str]:
    low = " ".join(t for t in texts if t).lower()
    return [g for g in GENRES + MOODS if re.search(r"(?<![a-z])" + re.escape(g) + r"(?![a-z])", low)]


def _tags(style: str | None, prompt: str | None, rng: random.Random) -> list[str]:
    if style and style.strip():
        parts = [p.strip() for p in re.split(r"[,，/;|]+", style) if p.strip()]
        if parts:
            return parts[:8]
    found = _style_words(prompt)
    while len(found) < 2:
        pick = rng.choice(MOODS)
        if pick not in found:
            found.append(pick)
    return found[:4]


def _title(title: str | None, *sources: str | None, rng: random.Random) -> str:
    if title and title.strip():
        return title.strip()
    for text in sources:
        if _is_cjk(text or ""):
            nouns = [w for w in ZH_NOUNS if w in text]
            if nouns:
                return "".join(nouns[:2])
        kws = [k for k in _keywords(text) if k.lower() not in GENRES + MOODS] or _keywords(text)
        if kws:
            if _is_cjk(kws[0]):
                return kws[0][:8]
            return " ".join(k.capitalize() for k in kws[:3])
    return rng.choice(["Midnight Drive", "Golden Hour", "Paper Planes", "Neon Rain", "Slow Motion", "Afterglow"])


def _fill(template: str, rng: random.Random, a: list[str], b: list[str], c: list[str]) -> str:
    line = template.format(A=rng.choice(a), B=rng.choice(b), C=rng.choice(c))
    return line[:1].upper() + line[1:]


def _write_lyrics(seed: bytes, brief: str | None, sections: list[str]) -> str:
    """Structured lyrics ([Verse] / [Chorus] / ...) built around the brief's keywords, in its script."""
    rng = _rng(seed)
    kws = _keywords(brief)
    zh = _is_cjk(brief or "")
    if zh:
        a = [w for w in ZH_NOUNS if w in (brief or "")] or ZH_A
        b, c, verse, chorus, bridge = ZH_B, ZH_C, ZH_VERSE, ZH_CHORUS, ZH_BRIDGE
    else:
        a = [k for k in kws if not _is_cjk(k) and k not in GENRES + MOODS][:6] or EN_A
        b, c, verse, chorus, bridge = EN_B, EN_C, EN_VERSE, EN_CHORUS, EN_BRIDGE
    chorus_lines = [_fill(t, rng, a, b, c) for t in rng.sample(chorus, 4)]
    blocks = []
    for name in sections:
        if name.startswith("Chorus"):
            lines = chorus_lines
        elif name.startswith("Bridge") or name.startswith("Outro"):
            lines = [_fill(t, rng, a, b, c) for t in rng.sample(bridge, 2)]
        else:
            lines = [_fill(t, rng, a, b, c) for t in rng.sample(verse, 4)]
        blocks.append(f"[{name}]\n" + "\n".join(lines))
    return "\n\n".join(blocks)


def _lyric_words(lyrics: str | None) -> list[str]:
    """Sung words; a section header is attached to the first word after it, as Suno's aligned words do."""
    words: list[str] = []
    pending = ""
    for line in (lyrics or "").splitlines():
        line = line.strip()
        if not line:
            continue
        m = re.fullmatch(r"\[([^\]]+)\]\s*(.*)", line)
        if m:
            if m.group(1).strip().lower() in ("instrumental", "inst"):
                continue
            pending = f"[{m.group(1)}]\n"
            line = m.group(2)
            if not line:
                continue
        for w in line.split():
            words.append(pending + w)
            pending = ""
    return words


# ---------------------------------------------------------------------------------------------- audio I/O


def _mp3(samples: np.ndarray) -> bytes:
    return media.encode_mono("libmp3lame", "mp3", samples, SR, 128)


def _decode(data: bytes, what: str = "audio") -> np.ndarray:
    try:
        samples = media.decode_audio(data, limit_seconds=MAX_UPLOAD_SECONDS + 60)
    except Exception as exc:  # not a decodable media file
        raise TaskFailed(f"Failed to read the {what}: not a supported audio file") from exc
    if len(samples) < SR // 10:
        raise TaskFailed(f"Failed to read the {what}: it contains no audio")
    return samples


def _seconds(samples: np.ndarray) -> float:
    return round(len(samples) / SR, 2)


def _normalize(x: np.ndarray, peak: float = 0.89) -> np.ndarray:
    m = float(np.max(np.abs(x))) if len(x) else 0.0
    return (x * (peak / m)).astype(np.float32) if m > 1e-9 else x.astype(np.float32)


def _fade(x: np.ndarray, fade_in: float = 0.02, fade_out: float = 1.5) -> np.ndarray:
    x = x.copy()
    n_in, n_out = min(len(x), int(fade_in * SR)), min(len(x), int(fade_out * SR))
    if n_in:
        x[:n_in] *= np.linspace(0, 1, n_in, dtype=np.float32)
    if n_out:
        x[-n_out:] *= np.linspace(1, 0, n_out, dtype=np.float32)
    return x


def _crossfade(a: np.ndarray, b: np.ndarray, seconds: float = 0.5) -> np.ndarray:
    n = min(int(seconds * SR), len(a), len(b))
    if n == 0:
        return np.concatenate([a, b]).astype(np.float32)
    ramp = np.linspace(0, 1, n, dtype=np.float32)
    mid = a[-n:] * (1 - ramp) + b[:n] * ramp
    return np.concatenate([a[:-n], mid, b[n:]]).astype(np.float32)


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    """Loop or trim `x` to exactly n samples."""
    if len(x) >= n:
        return x[:n]
    return np.tile(x, int(math.ceil(n / max(len(x), 1))))[:n]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


# ---------------------------------------------------------------------------------------------- DSP


def _log_steps(freqs: np.ndarray, edges: list[float], width: float = 0.12) -> list[np.ndarray]:
    """Smooth high-pass steps at each edge (logistic in log-frequency); consecutive differences partition 1."""
    lf = np.log(np.maximum(freqs, 1.0))
    return [1.0 / (1.0 + np.exp(-(lf - math.log(e)) / width)) for e in edges]


def _band_masks(freqs: np.ndarray, edges: list[float]) -> list[np.ndarray]:
    steps = [np.ones_like(freqs)] + _log_steps(freqs, edges) + [np.zeros_like(freqs)]
    return [steps[i] - steps[i + 1] for i in range(len(steps) - 1)]


def _bandpass(x: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
    spec = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    mask = np.ones_like(freqs)
    if lo:
        mask *= _log_steps(freqs, [lo])[0]
    if hi:
        mask *= 1 - _log_steps(freqs, [hi])[0]
    return np.fft.irfft(spec * mask, n=len(x)).astype(np.float32)


N_FFT, HOP = 2048, 512
_WINDOW = np.hanning(N_FFT + 1)[:-1].astype(np.float32)


def _stft(x: np.ndarray) -> np.ndarray:
    padded = np.pad(x, (N_FFT, N_FFT + HOP))
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    return np.fft.rfft(frames * _WINDOW, axis=1)


def _istft(spec: np.ndarray, n: int) -> np.ndarray:
    frames = np.fft.irfft(spec, n=N_FFT, axis=1).astype(np.float32) * _WINDOW
    total = (len(frames) - 1) * HOP + N_FFT
    out = np.zeros(total, dtype=np.float32)
    norm = np.zeros(total, dtype=np.float32)
    w2 = _WINDOW ** 2
    for i, frame in enumerate(frames):
        out[i * HOP:i * HOP + N_FFT] += frame
        norm[i * HOP:i * HOP + N_FFT] += w2
    out /= np.maximum(norm, 1e-3)
    return out[N_FFT:N_FFT + n]


def _box(a: np.ndarray, width: int, axis: int) -> np.ndarray:
    """Moving average along an axis (cumulative sums; edges use the available neighbours)."""
    a = np.moveaxis(a, axis, 0)
    c = np.cumsum(np.concatenate([np.zeros((1,) + a.shape[1:], a.dtype), a]), axis=0)
    half = width // 2
    idx = np.arange(a.shape[0])
    lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, a.shape[0])
    out = (c[hi] - c[lo]) / (hi - lo).reshape((-1,) + (1,) * (a.ndim - 1))
    return np.moveaxis(out, 0, axis)


def _hpss(spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Soft harmonic / percussive masks: smooth along time (sustained tones) vs along frequency (hits)."""
    mag = np.abs(spec).astype(np.float32)
    harm = _box(mag, 17, axis=0)
    perc = _box(mag, 17, axis=1)
    h2, p2 = harm ** 2, perc ** 2
    mask_h = h2 / (h2 + p2 + 1e-12)
    return mask_h, 1.0 - mask_h


STEM_VOCAL_BAND = (220.0, 4000.0)
# split_stem: percussive part → drums / percussion / fx by band; harmonic part → ten register bands.
PERCUSSIVE_STEMS = [("drums", 0, 3000), ("percussion", 3000, 8000), ("fx", 8000, None)]
HARMONIC_STEMS = [("bass", 0, 150), ("piano", 150, 250), ("guitar", 250, 380), ("vocal", 380, 700),
                  ("keyboard", 700, 1000), ("strings", 1000, 1400), ("backing_vocals", 1400, 2000),
                  ("brass", 2000, 2800), ("woodwinds", 2800, 4200), ("synth", 4200, None)]
STEM_ORDER = ["backing_vocals", "bass", "brass", "drums", "fx", "guitar", "keyboard", "piano", "percussion",
              "strings", "synth", "vocal", "woodwinds"]
MIDI_NAMES = {"drums": "Drums", "percussion": "Percussion", "fx": "FX 1 (rain)", "bass": "Electric Bass (finger)",
              "piano": "Acoustic Grand Piano", "guitar": "Acoustic Guitar (nylon)", "vocal": "Voice Oohs",
              "keyboard": "Electric Piano 1", "strings": "String Ensemble 1", "backing_vocals": "Choir Aahs",
              "brass": "Brass Section", "woodwinds": "Flute", "synth": "Lead 1 (square)",
              "instrumental": "Acoustic Grand Piano"}


def _edges(stems: list[tuple[str, float, float | None]]) -> list[float]:
    return [float(lo) for _, lo, _ in stems[1:]]


def separate(x: np.ndarray, kind: str) -> dict[str, np.ndarray]:
    """Stems that sum back to the source (up to STFT round-off), each exactly as long as the source."""
    spec = _stft(x)
    freqs = np.fft.rfftfreq(N_FFT, 1 / SR)
    mask_h, mask_p = _hpss(spec)
    if kind == "separate_vocal":
        lo, hi = STEM_VOCAL_BAND
        band = _log_steps(freqs, [lo])[0] - _log_steps(freqs, [hi])[0]
        vocal = mask_h * band
        return {"vocal": _istft(spec * vocal, len(x)), "instrumental": _istft(spec * (1 - vocal), len(x))}
    out = {}
    for part_mask, stems in ((mask_p, PERCUSSIVE_STEMS), (mask_h, HARMONIC_STEMS)):
        for (name, _, _), band in zip(stems, _band_masks(freqs, _edges(stems))):
            out[name] = _istft(spec * (part_mask * band), len(x))
    return {name: out[name] for name in STEM_ORDER}


# ---------------------------------------------------------------------------------------------- analysis


def _frames(x: np.ndarray, size: int = 2048, hop: int = 1024) -> np.ndarray:
    if len(x) < size:
        x = np.pad(x, (0, size - len(x)))
    return np.lib.stride_tricks.sliding_window_view(x, size)[::hop]


def envelope(x: np.ndarray, points: int) -> np.ndarray:
    """Peak-normalised RMS envelope with `points` values."""
    if len(x) == 0:
        return np.zeros(points, dtype=np.float32)
    edges = np.linspace(0, len(x), points + 1).astype(int)
    sq = np.concatenate([[0.0], np.cumsum(np.square(x, dtype=np.float64))])
    counts = np.maximum(edges[1:] - edges[:-1], 1)
    env = np.sqrt((sq[edges[1:]] - sq[edges[:-1]]) / counts)
    m = env.max()
    return (env / m).astype(np.float32) if m > 0 else env.astype(np.float32)


def transcribe(x: np.ndarray, drums: bool = False, max_notes: int = 400) -> list[dict[str, Any]]:
    """Notes from real content: active frames by energy, pitch from the dominant spectral peak (parabolic
    interpolation), one note per run of equal pitch; drums: one hit per energy onset, GM drum pitch by centroid."""
    size, hop = 2048, 1024
    frames = _frames(x, size, hop)
    if len(frames) == 0:
        return []
    rms = np.sqrt(np.mean(np.square(frames), axis=1))
    peak = float(rms.max())
    if peak < 1e-4:
        return []
    mag = np.abs(np.fft.rfft(frames * np.hanning(size), axis=1))
    freqs = np.fft.rfftfreq(size, 1 / SR)
    active = rms > max(0.12 * peak, 1e-4)
    t = lambda i: round(i * hop / SR, 6)  # noqa: E731
    notes: list[dict[str, Any]] = []
    if drums:
        flux = np.maximum(np.diff(rms, prepend=0.0), 0)
        thresh = max(0.08 * peak, float(np.percentile(flux, 90)) * 0.5)
        onsets = [i for i in range(len(rms)) if flux[i] > thresh and active[i]
                  and flux[i] >= flux[max(i - 1, 0)] and flux[i] >= flux[min(i + 1, len(rms) - 1)]]
        for k, i in enumerate(onsets):
            end = min(onsets[k + 1] if k + 1 < len(onsets) else len(rms), i + 6)
            spectrum = mag[i]
            centroid = float((spectrum * freqs).sum() / max(spectrum.sum(), 1e-9))
            pitch = 36 if centroid < 300 else 38 if centroid < 3000 else 42
            notes.append({"pitch": pitch, "start_time": t(i), "end_time": t(max(end, i + 1)),
                          "velocity": round(float(min(1.0, rms[i] / peak)), 3)})
        return notes[:max_notes]
    band = (freqs >= 30) & (freqs <= 4200)
    idx = np.where(band)[0]
    sub = mag[:, idx]
    k = np.argmax(sub, axis=1)
    kk = np.clip(k, 1, sub.shape[1] - 2)
    rows = np.arange(len(sub))
    a, b, c = sub[rows, kk - 1], sub[rows, kk], sub[rows, kk + 1]
    offset = np.where(np.abs(a - 2 * b + c) > 1e-12, 0.5 * (a - c) / (a - 2 * b + c), 0.0)
    f0 = (idx[kk] + np.clip(offset, -0.5, 0.5)) * SR / size
    midi = np.clip(np.round(69 + 12 * np.log2(np.maximum(f0, 1.0) / 440.0)), 0, 127).astype(int)
    i = 0
    while i < len(rms) and len(notes) < max_notes:
        if not active[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(rms) and active[j + 1] and midi[j + 1] == midi[i]:
            j += 1
        if j - i + 1 >= 2:
            notes.append({"pitch": int(midi[i]), "start_time": t(i), "end_time": t(j + 1),
                          "velocity": round(float(min(1.0, rms[i:j + 1].max() / peak)), 3)})
        i = j + 1
    return notes


def vocal_activity(x: np.ndarray) -> np.ndarray:
    """Per STFT frame (HOP samples, starting at 0 s): energy of the sustained (harmonic) 700-3500 Hz content,
    where sung formants sit and accompaniment pads and drums carry little."""
    spec = _stft(x)
    mask_h, _ = _hpss(spec)
    freqs = np.fft.rfftfreq(N_FFT, 1 / SR)
    band = _log_steps(freqs, [700.0])[0] - _log_steps(freqs, [3500.0])[0]
    energy = np.sqrt(np.sum(np.abs(spec * mask_h * band) ** 2, axis=1))
    skip = N_FFT // HOP  # _stft pads N_FFT samples in front
    return energy[skip:skip + int(math.ceil(len(x) / HOP))]


def _melody(x: np.ndarray) -> list[tuple[float, float, int]]:
    """The source's melodic line: notes of its 120-1200 Hz content, as (start, end, midi)."""
    notes = transcribe(_bandpass(x, 120, 1200), max_notes=2000)
    return [(n["start_time"], n["end_time"], n["pitch"]) for n in notes]


# ---------------------------------------------------------------------------------------------- synthesis

SCALES = {False: [0, 2, 4, 5, 7, 9, 11], True: [0, 2, 3, 5, 7, 8, 10]}
PROGRESSIONS = [[0, 4, 5, 3], [5, 3, 0, 4], [0, 5, 3, 4], [0, 3, 4, 3], [0, 3, 0, 4]]
VOWELS = {"a": (800, 1150, 2900), "e": (400, 1600, 2700), "i": (350, 2000, 2800), "o": (450, 800, 2830),
          "u": (325, 700, 2530)}


def _hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


class Plan:
    """Tempo, key, mode and chord progression of a piece, from its seed and its style words."""

    def __init__(self, seed: bytes, style_text: str = "", root: int | None = None, minor: bool | None = None,
                 tempo: float | None = None):
        rng = _rng(_sub(seed, "plan"))
        text = (style_text or "").lower()
        lo, hi = (118, 140) if any(w in text for w in FAST_WORDS) else \
            (70, 92) if any(w in text for w in SLOW_WORDS) else (88, 124)
        self.tempo = float(tempo or rng.randint(lo, hi))
        self.minor = bool(minor) if minor is not None else (any(w in text for w in MINOR_WORDS) or rng.random() < 0.3)
        self.root = int(root) if root is not None else 36 + rng.randrange(12)
        self.prog = rng.choice(PROGRESSIONS)
        self.beat = 60.0 / self.tempo
        self.scale = SCALES[self.minor]

    def degree(self, d: int, octave: int = 0) -> int:
        return self.root + 12 * (octave + d // 7) + self.scale[d % 7]

    def chord(self, bar: int) -> list[int]:
        d = self.prog[bar % len(self.prog)]
        return [d, d + 2, d + 4]


def _add(out: np.ndarray, start: float, wave: np.ndarray, gain: float = 1.0) -> None:
    i = int(start * SR)
    if i >= len(out) or i + len(wave) <= 0:
        return
    seg = wave[: len(out) - i]
    out[i:i + len(seg)] += gain * seg


def _env(n: int, attack: float, decay: float = 0.0, release: float = 0.05) -> np.ndarray:
    t = np.arange(n, dtype=np.float32) / SR
    e = np.minimum(1.0, t / attack) if attack > 0 else np.ones(n, dtype=np.float32)
    if decay:
        e = e * np.exp(-t * decay)
    r = min(n, int(release * SR))
    if r:
        e[n - r:] *= np.linspace(1, 0, r, dtype=np.float32)
    return e.astype(np.float32)


def _tone(freq: float, seconds: float, weights: list[float], attack=0.01, decay=0.0, release=0.05) -> np.ndarray:
    n = max(1, int(seconds * SR))
    t = np.arange(n, dtype=np.float32) / SR
    out = np.zeros(n, dtype=np.float32)
    for k, w in enumerate(weights, 1):
        if k * freq >= SR * 0.45:
            break
        out += w * np.sin(2 * np.pi * k * freq * t)
    return out * _env(n, attack, decay, release)


def _voice(freq: float, seconds: float, vowel: str, breath: np.random.Generator) -> np.ndarray:
    """A sung note: vibrato, harmonics shaped by the vowel's formants, a little breath noise."""
    n = max(1, int(seconds * SR))
    t = np.arange(n, dtype=np.float32) / SR
    vib = 1 + 0.012 * np.sin(2 * np.pi * 5.5 * t) * np.minimum(1, t / 0.25)
    phase = 2 * np.pi * np.cumsum(freq * vib) / SR
    out = np.zeros(n, dtype=np.float32)
    formants = VOWELS[vowel]
    for k in range(1, 16):
        fk = k * freq
        if fk >= 5000:
            break
        w = 0.25 / k + sum(math.exp(-((fk - f) / 130.0) ** 2) * g for f, g in zip(formants, (1.0, 0.6, 0.25)))
        out += w * np.sin(k * phase)
    hiss = breath.standard_normal(n).astype(np.float32)
    out += 0.015 * np.diff(hiss, prepend=np.float32(0))  # breath: high-passed noise
    return (out * _env(n, 0.04, 0.0, min(0.12, seconds / 3))).astype(np.float32)


def _kick(seconds: float = 0.35) -> np.ndarray:
    n = int(seconds * SR)
    t = np.arange(n, dtype=np.float32) / SR
    f = 45 + 75 * np.exp(-t * 30)
    return (np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t * 9)).astype(np.float32)


def _snare(noise: np.ndarray) -> np.ndarray:
    n = len(noise)
    t = np.arange(n, dtype=np.float32) / SR
    body = 0.5 * np.sin(2 * np.pi * 185 * t) * np.exp(-t * 25)
    hiss = np.diff(noise, prepend=0.0) * np.exp(-t * 18) * 0.6
    return (body + hiss).astype(np.float32)


def _hat(noise: np.ndarray) -> np.ndarray:
    t = np.arange(len(noise), dtype=np.float32) / SR
    hp = np.diff(np.diff(noise, prepend=0.0), prepend=0.0)
    return (hp * np.exp(-t * 70) * 0.18).astype(np.float32)


def compose(seed: bytes, seconds: float, plan: Plan, layers: tuple[str, ...] = ("drums", "bass", "pad", "vocal"),
            melody: list[tuple[float, float, int]] | None = None, intro_bars: int = 2) -> dict[str, np.ndarray]:
    """An arranged piece, one array per layer (drums, bass, pad, vocal | lead), `seconds` long.

    The vocal/lead line is a random walk on the scale (higher in choruses), or follows `melody` when given
    (covers). Sections: intro bars without the voice, then alternating 4-bar verses and choruses."""
    n = max(1, int(seconds * SR))
    noise_rng = _nprng(_sub(seed, "noise"))
    rng = _rng(_sub(seed, "notes"))
    beat, bar_len = plan.beat, plan.beat * 4
    bars = int(math.ceil(seconds / bar_len)) + 1
    out = {name: np.zeros(n, dtype=np.float32) for name in layers}
    kick = _kick()
    snare_noise = noise_rng.standard_normal(int(0.2 * SR)).astype(np.float32)
    hat_noise = noise_rng.standard_normal(int(0.06 * SR)).astype(np.float32)
    snare, hat = _snare(snare_noise), _hat(hat_noise)
    degree = 7  # melody position on the scale, relative to the root two octaves up
    for bar in range(bars):
        t0 = bar * bar_len
        if t0 >= seconds:
            break
        chord = plan.chord(bar)
        section = -1 if bar < intro_bars else ((bar - intro_bars) // 4) % 2  # -1 intro, 0 verse, 1 chorus
        if "pad" in out:
            for d in chord:
                _add(out["pad"], t0, _tone(_hz(plan.degree(d, 2)), bar_len + 0.3,
                                           [1, .5, .33, .25, .2], attack=0.25, release=0.35), 0.09)
        for b in range(4):
            tb = t0 + b * beat
            if "drums" in out and (bar > 0 or b >= 2):
                if b in (0, 2):
                    _add(out["drums"], tb, kick, 0.9)
                if b in (1, 3) and section >= 0:
                    _add(out["drums"], tb, snare, 0.55)
                _add(out["drums"], tb, hat, 1.0)
                _add(out["drums"], tb + beat / 2, hat, 0.7)
            if "bass" in out:
                d = chord[0] if b != 3 or rng.random() < 0.5 else chord[2]
                _add(out["bass"], tb, _tone(_hz(plan.degree(d, 1)), beat * 0.92, [1, .45, .2],
                                            attack=0.005, decay=2.5), 0.45)
            voice_layer = "vocal" if "vocal" in out else "lead" if "lead" in out else None
            if voice_layer and section >= 0 and melody is None:
                steps = [beat] if rng.random() < 0.65 else [beat / 2, beat / 2]
                tt = tb
                for step in steps:
                    if rng.random() < 0.15:
                        tt += step
                        continue
                    target = chord[rng.randrange(3)] + 7 * (1 if section == 1 else 0) + 7
                    degree = max(3, min(16, degree + max(-2, min(2, target - degree)) + rng.choice([-1, 0, 0, 1])))
                    freq = _hz(plan.degree(degree, 1))
                    if voice_layer == "vocal":
                        wave = _voice(freq, step * 0.95, rng.choice("aeiou"), noise_rng)
                        _add(out["vocal"], tt, wave, 0.22)
                    else:
                        _add(out["lead"], tt, _tone(freq, step * 0.9, [1, .6, .4, .3, .2, .1],
                                                    attack=0.01, decay=1.5), 0.2)
                    tt += step
    if melody is not None:
        layer = "vocal" if "vocal" in out else "lead" if "lead" in out else None
        if layer:
            for start, end, pitch in melody:
                if start >= seconds:
                    break
                while pitch < 55:
                    pitch += 12
                while pitch > 79:
                    pitch -= 12
                dur = max(0.08, min(end - start, 2.0))
                if layer == "vocal":
                    _add(out["vocal"], start, _voice(_hz(pitch), dur, rng.choice("aeiou"), noise_rng), 0.22)
                else:
                    _add(out["lead"], start, _tone(_hz(pitch), dur, [1, .6, .4, .3, .2], attack=0.01,
                                                   decay=1.0), 0.2)
    return out


def mix(layers: dict[str, np.ndarray], levels: dict[str, float] | None = None) -> np.ndarray:
    levels = levels or {"drums": 0.8, "bass": 1.0, "pad": 0.7, "vocal": 1.6, "lead": 1.0}
    total = None
    for name, x in layers.items():
        total = x * levels.get(name, 1.0) if total is None else total + x * levels.get(name, 1.0)
    return _fade(_normalize(total if total is not None else np.zeros(1, np.float32)))


def _song(seed: bytes, seconds: float, style_text: str, vocals: bool) -> np.ndarray:
    plan = Plan(seed, style_text)
    layers = ("drums", "bass", "pad", "vocal" if vocals else "lead")
    return mix(compose(seed, seconds, plan, layers))


def _pitch_class_root(melody: list[tuple[float, float, int]]) -> int | None:
    if not melody:
        return None
    counts = np.zeros(12)
    for s, e, p in melody:
        counts[p % 12] += e - s
    return 36 + int(np.argmax(counts))


# ---------------------------------------------------------------------------------------------- sound design

SOUND_KEYS = {"C": 0, "C#": 1, "D": 2, "D#": 3, "E": 4, "F": 5, "F#": 6, "G": 7, "G#": 8, "A": 9, "A#": 10, "B": 11}


def _colored(rng: np.random.Generator, n: int, color: str) -> np.ndarray:
    white = rng.standard_normal(n).astype(np.float32)
    if color == "white":
        return white
    spec = np.fft.rfft(white)
    f = np.maximum(np.fft.rfftfreq(n, 1 / SR), 20.0)
    spec = spec / (np.sqrt(f) if color == "pink" else f)
    x = np.fft.irfft(spec, n=n).astype(np.float32)
    return x / (np.max(np.abs(x)) + 1e-9)


def sound(seed: bytes, prompt: str, seconds: float, loop: bool, tempo: int | None, key: str | None) -> np.ndarray:
    """Ambience / effects from the prompt's words (rain, thunder, wind, waves, fire, birds, city, ...), an optional
    pulse at the requested BPM and a drone in the requested key; loops are cross-faded end-to-start."""
    text = (prompt or "").lower()
    rng = _nprng(_sub(seed, "sound"))
    n = int(seconds * SR)
    t = np.arange(n, dtype=np.float32) / SR
    out = np.zeros(n, dtype=np.float32)
    has = lambda *words: any(w in text for w in words)  # noqa: E731
    matched = False
    if has("rain", "drizzle", "storm", "雨"):
        matched = True
        out += 0.25 * _bandpass(_colored(rng, n, "pink"), 400, 9000)
        for start in rng.uniform(0, seconds, int(seconds * 25)):
            f = float(rng.uniform(1800, 5000))
            m = int(0.03 * SR)
            tt = np.arange(m, dtype=np.float32) / SR
            _add(out, float(start), np.sin(2 * np.pi * f * tt) * np.exp(-tt * 120), float(rng.uniform(0.03, 0.1)))
    if has("thunder", "storm", "雷"):
        matched = True
        rumble = _bandpass(_colored(rng, n, "brown"), 20, 160)
        env = np.zeros(n, dtype=np.float32)
        for start in rng.uniform(0, max(seconds - 3, 0.1), max(1, int(seconds / 10))):
            i = int(start * SR)
            m = min(n - i, int(4 * SR))
            tt = np.arange(m, dtype=np.float32) / SR
            env[i:i + m] += np.minimum(1, tt / 0.15) * np.exp(-tt * 1.2)
        out += 0.9 * rumble * env
    if has("wind", "breeze", "风"):
        matched = True
        lfo = 0.55 + 0.45 * np.sin(2 * np.pi * 0.13 * t + float(rng.uniform(0, 6)))
        out += 0.35 * _bandpass(_colored(rng, n, "pink"), 150, 1500) * lfo
    if has("ocean", "wave", "sea", "beach", "海"):
        matched = True
        swell = 0.5 + 0.5 * np.sin(2 * np.pi * t / 7.0)
        out += 0.4 * _bandpass(_colored(rng, n, "pink"), 80, 6000) * swell ** 2
    if has("fire", "crackl", "campfire", "火"):
        matched = True
        out += 0.15 * _bandpass(_colored(rng, n, "brown"), 40, 400)
        for start in rng.uniform(0, seconds, int(seconds * 12)):
            _add(out, float(start), rng.standard_normal(int(0.004 * SR)).astype(np.float32), 0.3)
    if has("bird", "forest", "morning", "鸟"):
        matched = True
        for start in rng.uniform(0, seconds, int(seconds * 1.5)):
            m = int(0.12 * SR)
            tt = np.arange(m, dtype=np.float32) / SR
            f0 = float(rng.uniform(2500, 4000))
            sweep = f0 + 1500 * np.sin(2 * np.pi * 9 * tt)
            _add(out, float(start), np.sin(2 * np.pi * np.cumsum(sweep) / SR) * np.sin(np.pi * tt / tt[-1]), 0.12)
    if has("city", "traffic", "street", "cafe", "crowd", "城市"):
        matched = True
        out += 0.05 * np.sin(2 * np.pi * 60 * t) + 0.2 * _bandpass(_colored(rng, n, "brown"), 60, 2500)
    if not matched:  # an evolving ambient bed
        out += 0.2 * _bandpass(_colored(rng, n, "pink"), 200, 4000) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.07 * t))
    if key and key != "Any":
        minor = key.endswith("m")
        root = 48 + SOUND_KEYS.get(key[:-1] if minor else key, 0)
        for interval, gain in ((0, 0.08), (3 if minor else 4, 0.05), (7, 0.06)):
            out += gain * np.sin(2 * np.pi * _hz(root + interval) * t) * (0.7 + 0.3 * np.sin(2 * np.pi * 0.1 * t))
    if tempo:
        beat = 60.0 / float(tempo)
        thump = _kick(min(0.3, beat * 0.9)) * 0.35
        k = 0
        while k * beat < seconds:
            _add(out, k * beat, thump)
            k += 1
    out = _normalize(out, 0.8)
    if loop:
        m = min(int(0.5 * SR), n // 4)
        ramp = np.linspace(0, 1, m, dtype=np.float32)
        head = out[:m] * ramp + out[-m:] * (1 - ramp)
        out = np.concatenate([head, out[m:-m]]).astype(np.float32)  # the end flows into the start
        return out
    return _fade(out, 0.05, 1.0)


# ---------------------------------------------------------------------------------------------- images and video

COVER_SIDE = 512
ARTWORK_SIDE = 1024


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _draw_wave(draw: ImageDraw.ImageDraw, env: np.ndarray, box: tuple[int, int, int, int], color, gap: int = 2):
    x0, y0, x1, y1 = box
    bars = len(env)
    width = (x1 - x0) / bars
    mid = (y0 + y1) / 2
    for i, v in enumerate(env):
        h = max(1.0, float(v) * (y1 - y0) / 2)
        draw.rectangle((x0 + i * width, mid - h, x0 + (i + 1) * width - gap, mid + h), fill=color)


def cover_image(seed: bytes, title: str, side: int, env: np.ndarray | None = None, variant: int = 0) -> Image.Image:
    img = images.render(seed, side, side)
    draw = ImageDraw.Draw(img, "RGBA")
    rng = _rng(_sub(seed, "cover"))
    if env is not None and len(env):
        color = (255, 255, 255, 170) if variant == 0 else tuple(rng.randrange(256) for _ in range(3)) + (200,)
        if variant == 0:
            _draw_wave(draw, env, (side // 12, side * 5 // 8, side * 11 // 12, side * 7 // 8), color)
        else:  # radial waveform around a disc
            cx = cy = side / 2
            r0 = side * 0.22
            draw.ellipse((cx - r0, cy - r0, cx + r0, cy + r0), fill=(0, 0, 0, 120))
            for i, v in enumerate(env):
                a = 2 * math.pi * i / len(env)
                r1 = r0 + 8 + float(v) * side * 0.2
                draw.line((cx + r0 * math.cos(a), cy + r0 * math.sin(a), cx + r1 * math.cos(a),
                           cy + r1 * math.sin(a)), fill=color, width=max(2, side // 160))
    font = _font(max(14, side // 14))
    draw.rectangle((0, side // 14, side, side // 14 + side // 9), fill=(0, 0, 0, 110))
    draw.text((side // 20, side // 14 + side // 60), title[:40], fill=(255, 255, 255, 235), font=font)
    return img


def _jpeg(img: Image.Image) -> bytes:
    return images.encode(img, "jpg").data


VIDEO_W, VIDEO_H = 640, 360


def waveform_video(seed: bytes, samples: np.ndarray, title: str, author: str | None, domain: str | None) -> bytes:
    """MP4 (H.264 + AAC): the track's waveform, lit up to a moving playhead, over the track's own audio."""
    seconds = len(samples) / SR
    base = images.render(seed, VIDEO_W, VIDEO_H).convert("RGB")
    base = Image.blend(base, Image.new("RGB", base.size, (8, 8, 16)), 0.55)
    dim, bright = base.copy(), base.copy()
    env = envelope(samples, 120)
    box = (24, VIDEO_H // 4, VIDEO_W - 24, VIDEO_H * 3 // 4)
    _draw_wave(ImageDraw.Draw(dim, "RGBA"), env, box, (255, 255, 255, 80))
    _draw_wave(ImageDraw.Draw(bright, "RGBA"), env, box, (255, 214, 90, 255))
    for img in (dim, bright):
        d = ImageDraw.Draw(img, "RGBA")
        d.text((24, 18), title[:48], fill=(255, 255, 255, 240), font=_font(26))
        if author:
            d.text((24, 52), author, fill=(220, 220, 220, 220), font=_font(18))
        if domain:
            d.text((VIDEO_W - 24, VIDEO_H - 30), domain, fill=(255, 255, 255, 150), font=_font(16), anchor="ra")
    dim_a, bright_a = np.asarray(dim), np.asarray(bright)
    count = max(1, int(round(seconds * media.FPS)))
    x0, x1 = box[0], box[2]

    def frames():
        for i in range(count):
            x = x0 + int((x1 - x0) * i / max(count - 1, 1))
            frame = dim_a.copy()
            frame[:, :x] = bright_a[:, :x]
            frame[box[1] - 6:box[3] + 6, max(x - 1, 0):x + 1] = 255
            yield frame

    return media.encode_video(seed, VIDEO_W, VIDEO_H, seconds, has_audio=True, frames=frames(), audio=samples)


# ---------------------------------------------------------------------------------------------- sources


async def _stored(inputs: Inputs, ref: Any, what: str = "source audio") -> bytes:
    key = ref.get("$key") if isinstance(ref, dict) else None
    data = await inputs.storage.read(key) if key and inputs.storage else None
    if data is None:
        raise TaskFailed(f"The {what} is no longer available")
    return data


def _row_tracks(row: dict[str, Any]) -> list[dict[str, Any]]:
    extra = (row.get("result") or {}).get("extra") or {}
    tracks = [t for t in extra.get("audios") or [] if isinstance(t, dict)]
    if isinstance(extra.get("track"), dict):
        tracks.append(extra["track"])
    return tracks


def _ref(task: TaskInput, param: str = "task_id") -> dict[str, Any]:
    row = task.refs.get(param)
    if row is None:
        raise TaskFailed(f"{param} does not name a completed task of this account")
    return row


async def _track(inputs: Inputs, task: TaskInput, audio_id: str | None,
                 param: str = "task_id") -> tuple[dict[str, Any], np.ndarray, dict[str, Any]]:
    """The track `audio_id` of the task named by `param` (its first track when audio_id is None)."""
    row = _ref(task, param)
    tracks = _row_tracks(row)
    chosen = next((t for t in tracks if audio_id is None or t.get("id") == audio_id), None)
    if chosen is None:
        if not tracks:
            raise TaskFailed(f"Task {row['id']} has no audio tracks")
        raise TaskFailed(f"audio_id {audio_id} is not a track of task {row['id']}")
    data = await _stored(inputs, chosen.get("audio_url"))
    samples = await limits.run(_decode, data, "source audio")
    return chosen, samples, row


async def _upload(inputs: Inputs, url: str, what: str = "upload_url audio") -> np.ndarray:
    data = await inputs.fetch(url, what="audio")
    samples = await limits.run(_decode, data, what)
    if len(samples) > MAX_UPLOAD_SECONDS * SR:
        raise TaskFailed(f"The {what} is longer than 8 minutes")
    return samples


def _public(track: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in track.items() if k not in ("audio_url", "stream_audio_url", "image_url")}


def _index_key(task: TaskInput, audio_id: str) -> str:
    """Per account: a track id names only tracks the caller's own account produced."""
    return f"{INDEX_PREFIX}{task.account_id}/{audio_id.lower()}"


async def _index(inputs: Inputs, task: TaskInput, meta: dict[str, Any], mp3: bytes) -> None:
    """Remember a produced track under its id, so that it can later be named by audio_id alone."""
    if inputs.storage is None:
        return
    key = _index_key(task, meta["id"])
    await inputs.storage.put(key + ".mp3", mp3, "audio/mpeg")
    await inputs.storage.put(key + ".json", json.dumps(meta, ensure_ascii=False).encode(), "application/json")


async def _indexed(inputs: Inputs, task: TaskInput, audio_id: str) -> tuple[dict[str, Any], np.ndarray]:
    if not UUID_RE.match(audio_id or "") or inputs.storage is None:
        raise TaskFailed(f"Unknown audio_id {audio_id}")
    meta_raw = await inputs.storage.read(_index_key(task, audio_id) + ".json")
    audio = await inputs.storage.read(_index_key(task, audio_id) + ".mp3")
    if meta_raw is None or audio is None:
        raise TaskFailed(f"Unknown audio_id {audio_id}")
    meta = json.loads(meta_raw.decode("utf-8"))
    samples = await limits.run(_decode, audio, "source audio")
    return meta, samples


# ---------------------------------------------------------------------------------------------- track results


def _model_name(task: TaskInput, spec: dict[str, Any]) -> str:
    return str(spec.get("model_name") or (task.model.id if task.model else "chirp-v4-5"))


def _max_seconds(spec: dict[str, Any]) -> float:
    return float(spec.get("max_seconds", MAX_UPLOAD_SECONDS))


def _song_seconds(seed: bytes, spec: dict[str, Any], words: int = 0) -> float:
    """Sandbox song length: `song_seconds` [30, 45] by seed, longer for long exact lyrics (≤ `max_song`)."""
    lo, hi = spec.get("song_seconds", [30, 45])
    base = lo + (int.from_bytes(_sub(seed, "len")[:4], "big") % (int(hi - lo) * 10 + 1)) / 10
    return min(max(base, words * 0.5 + 12), float(spec.get("max_song", 120)), _max_seconds(spec))


async def _tracks_done(inputs: Inputs, task: TaskInput, spec: dict[str, Any], renders: list[dict[str, Any]],
                       text_key: str = "lyrics") -> Done:
    """Encode each rendered track (MP3 + JPEG cover) and shape Suno's `audios` list."""

    def work() -> tuple[list[Output], list[dict[str, Any]]]:
        outputs, audios = [], []
        for i, r in enumerate(renders):
            samples = r["samples"][: int(_max_seconds(spec) * SR)]
            mp3 = _mp3(samples)
            cover = _jpeg(cover_image(_sub(r["seed"], "img"), r["title"], COVER_SIDE, envelope(samples, 48)))
            outputs += [Output(None, mp3, "audio/mpeg", "mp3"), Output(None, cover, "image/jpeg", "jpg")]
            audios.append({
                "id": r["id"], "audio_url": {"$file": 2 * i}, "stream_audio_url": {"$file": 2 * i},
                "image_url": {"$file": 2 * i + 1}, text_key: r["text"], "model_name": r["model_name"],
                "title": r["title"], "tags": r["tags"], "duration": _seconds(samples),
            })
            r["mp3"] = mp3
        return outputs, audios

    outputs, audios = await limits.run(work)
    for r, audio in zip(renders, audios):
        await _index(inputs, task, _public(audio), r.pop("mp3"))
    return Done(outputs=outputs, extra={"generation_stage": "all_audios_ready", "audios": audios})


def _lyrics_for(seed: bytes, vocal_mode: str | None, p: dict[str, Any], brief: str | None) -> str:
    if vocal_mode == "instrumental":
        return "[Instrumental]"
    if vocal_mode == "exact_lyrics" and p.get("lyrics"):
        return str(p["lyrics"])
    return _write_lyrics(seed, brief, ["Verse", "Chorus"])


# ---------------------------------------------------------------------------------------------- generators


@generator("suno_music")
async def suno_music(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    """text_to_music / extend_music / cover_audio / create_mashup / add_vocals / add_instrumental (spec `mode`)."""
    mode = spec.get("mode", "generate")
    p = task.params
    handler = {"generate": _generate, "extend": _extend, "cover": _cover, "mashup": _mashup,
               "add_vocals": _add_vocals, "add_instrumental": _add_instrumental}.get(mode)
    if handler is None:
        raise TaskFailed(f"The sandbox cannot run {task.action.key}")
    renders = await handler(inputs, task, spec, p)
    return await _tracks_done(inputs, task, spec, renders)


def _render(task: TaskInput, spec: dict[str, Any], i: int, samples: np.ndarray, text: str, title: str,
            tags: list[str]) -> dict[str, Any]:
    return {"id": _audio_id(task, i), "seed": task_seed(task, i), "samples": samples, "text": text,
            "title": title, "tags": tags, "model_name": _model_name(task, spec)}


async def _generate(inputs, task, spec, p) -> list[dict[str, Any]]:
    vocal_mode = p.get("vocal_mode")
    style_text = " ".join(str(p.get(k) or "") for k in ("style", "prompt")) + _persona_traits(task)

    def work():
        renders = []
        for i in range(TRACKS_PER_TASK):
            seed = task_seed(task, i)
            rng = _rng(seed)
            lyrics = _lyrics_for(seed, vocal_mode, p, p.get("prompt"))
            seconds = _song_seconds(seed, spec, len(_lyric_words(lyrics)))
            samples = _song(seed, seconds, style_text, vocals=vocal_mode != "instrumental")
            title = _title(p.get("title"), p.get("prompt"), lyrics, rng=rng)
            renders.append(_render(task, spec, i, samples, lyrics, title, _tags(p.get("style"), p.get("prompt"), rng)))
        return renders

    return await limits.run(work)


def _persona_traits(task: TaskInput) -> str:
    """The applied persona's own traits (its description, a voice's style) steer the music like style words do;
    the persona was checked at create (task.refs holds the task that made it)."""
    row = task.refs.get("persona_id")
    if not row:
        return ""
    made = row.get("params") or {}
    return " " + " ".join(str(made.get(k) or "") for k in ("name", "description", "style", "voice_name"))


async def _extend_source(inputs, task, p) -> tuple[np.ndarray, dict[str, Any]]:
    if p.get("upload_url"):
        samples = await _upload(inputs, p["upload_url"])
        return samples, {}
    if p.get("task_id"):
        track, samples, _ = await _track(inputs, task, p.get("audio_id"))
        return samples, track
    meta, samples = await _indexed(inputs, task, str(p.get("audio_id")))
    return samples, meta


async def _extend(inputs, task, spec, p) -> list[dict[str, Any]]:
    source, meta = await _extend_source(inputs, task, p)
    custom = p.get("parameter_mode") == "custom"
    src_seconds = len(source) / SR
    cut = min(float(p["continue_at"]), src_seconds) if custom and p.get("continue_at") is not None else src_seconds
    head = source[: max(int(cut * SR), 1)]
    instrumental = bool(p.get("instrumental")) if custom else "[Instrumental]" in str(meta.get("lyrics", ""))
    style_text = " ".join(str(x or "") for x in (p.get("style"), p.get("prompt"), " ".join(meta.get("tags") or [])))
    style_text += _persona_traits(task)
    melody = _melody(head[-int(min(len(head) / SR, 20) * SR):]) if len(head) > SR else []
    root = _pitch_class_root(melody)
    max_total = _max_seconds(spec)
    if cut >= max_total:
        raise TaskFailed(f"continue_at must be below the model's maximum song length ({int(max_total)} s)")

    def work():
        renders = []
        for i in range(TRACKS_PER_TASK):
            seed = task_seed(task, i)
            rng = _rng(seed)
            extra_s = min(float(spec.get("extend_seconds", 24)) + rng.uniform(0, 6), max_total - cut)
            plan = Plan(seed, style_text, root=root)
            tail = mix(compose(seed, extra_s + 0.5, plan, ("drums", "bass", "pad", "lead" if instrumental else "vocal"),
                               intro_bars=0))
            scale = _rms(head[-SR * 4:]) / max(_rms(tail), 1e-6)
            samples = _fade(_crossfade(head, tail * min(scale, 4.0), 0.5), 0.0, 1.5)
            samples = _normalize(samples) if np.max(np.abs(samples)) > 1 else samples
            if instrumental:
                lyrics = "[Instrumental]"
            else:
                new = _write_lyrics(seed, p.get("prompt") or meta.get("title"), ["Verse"])
                lyrics = (str(meta["lyrics"]).strip() + "\n\n" + new) if meta.get("lyrics") else new
            base_title = meta.get("title")
            title = p.get("title") if custom and p.get("title") else (f"{base_title} Extended" if base_title else
                                                                       _title(None, p.get("prompt"), rng=rng))
            tags = _tags(p.get("style"), p.get("prompt"), rng) if custom or not meta.get("tags") else list(meta["tags"])
            renders.append(_render(task, spec, i, samples.astype(np.float32), lyrics, title, tags))
        return renders

    return await limits.run(work)


async def _cover(inputs, task, spec, p) -> list[dict[str, Any]]:
    source = await _upload(inputs, p["upload_url"])
    vocal_mode = p.get("vocal_mode")
    style_text = " ".join(str(p.get(k) or "") for k in ("style", "prompt")) + _persona_traits(task)

    def work():
        melody = _melody(source)
        root = _pitch_class_root(melody)
        seconds = len(source) / SR
        renders = []
        for i in range(TRACKS_PER_TASK):
            seed = task_seed(task, i)
            rng = _rng(seed)
            plan = Plan(seed, style_text, root=root)
            layers = ("drums", "bass", "pad", "lead" if vocal_mode == "instrumental" else "vocal")
            samples = mix(compose(seed, seconds, plan, layers, melody=melody, intro_bars=0))
            lyrics = _lyrics_for(seed, vocal_mode, p, p.get("prompt"))
            title = _title(p.get("title"), p.get("prompt"), lyrics, rng=rng)
            renders.append(_render(task, spec, i, samples, lyrics, f"{title} (Cover)" if not p.get("title") else title,
                                   _tags(p.get("style"), p.get("prompt"), rng)))
        return renders

    return await limits.run(work)


async def _mashup(inputs, task, spec, p) -> list[dict[str, Any]]:
    urls = list(p["upload_url_list"])
    a = await _upload(inputs, urls[0], "first upload_url_list audio")
    b = await _upload(inputs, urls[1], "second upload_url_list audio")
    vocal_mode = p.get("vocal_mode")
    style_text = " ".join(str(p.get(k) or "") for k in ("style", "prompt")) + _persona_traits(task)

    def work():
        n = min(max(len(a), len(b)), int(_max_seconds(spec) * SR))
        fa, fb = _fit(a, n), _fit(b, n)
        half = n // 2
        first = _bandpass(fa, None, 250) + _bandpass(fb, 250, None)
        second = _bandpass(fb, None, 250) + _bandpass(fa, 250, None)
        base = _crossfade(first[: half + SR // 2], second[half - SR // 2:], 1.0)[:n]
        renders = []
        for i in range(TRACKS_PER_TASK):
            seed = task_seed(task, i)
            rng = _rng(seed)
            samples = base
            if vocal_mode != "instrumental":
                plan = Plan(seed, style_text, root=_pitch_class_root(_melody(fa[: 20 * SR])))
                voice = compose(seed, n / SR, plan, ("vocal",), intro_bars=0)["vocal"]
                samples = base + voice * (0.8 * _rms(base) / max(_rms(voice), 1e-6))
            samples = _fade(_normalize(samples), 0.02, 1.0)
            lyrics = _lyrics_for(seed, vocal_mode, p, p.get("prompt"))
            renders.append(_render(task, spec, i, samples, lyrics,
                                   _title(p.get("title"), p.get("prompt"), lyrics, rng=rng),
                                   _tags(p.get("style"), p.get("prompt"), rng)))
        return renders

    return await limits.run(work)


async def _overlay(inputs, task, spec, p, parts: tuple[str, ...], style: str, lyrics: str,
                   gain: float = 0.9) -> list[dict[str, Any]]:
    """A new part (a vocal line, or drums/bass/pad) composed in the upload's key and mixed over it."""
    source = await _upload(inputs, p["upload_url"])

    def work():
        root = _pitch_class_root(_melody(source[: 30 * SR]))
        renders = []
        for i in range(TRACKS_PER_TASK):
            seed = task_seed(task, i)
            rng = _rng(seed)
            plan = Plan(seed, style, root=root)
            added = mix(compose(seed, len(source) / SR, plan, parts, intro_bars=0))
            samples = source + added * (gain * _rms(source) / max(_rms(added), 1e-6))
            renders.append(_render(task, spec, i, _normalize(samples), lyrics, str(p["title"]),
                                   _tags(style or None, None, rng)))
        return renders

    return await limits.run(work)


async def _add_vocals(inputs, task, spec, p) -> list[dict[str, Any]]:
    return await _overlay(inputs, task, spec, p, ("vocal",), str(p.get("style") or ""), str(p["lyrics"]))


async def _add_instrumental(inputs, task, spec, p) -> list[dict[str, Any]]:
    return await _overlay(inputs, task, spec, p, ("drums", "bass", "pad"), str(p.get("tags") or ""), "")


@generator("suno_sound")
async def suno_sound(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    p = task.params

    def work():
        renders = []
        for i in range(TRACKS_PER_TASK):
            seed = task_seed(task, i)
            rng = _rng(seed)
            seconds = 20 + rng.uniform(0, 12)
            tempo = p.get("sound_tempo")
            if p.get("sound_loop") and tempo:  # a whole number of bars loops cleanly
                bar = 240.0 / float(tempo)
                seconds = max(bar, round(seconds / bar) * bar) + 0.5
            samples = sound(seed, str(p.get("prompt") or ""), seconds, bool(p.get("sound_loop")), tempo,
                            p.get("sound_key"))
            tags = (_style_words(p.get("prompt")) or [])[:2] + [w for w in _keywords(p.get("prompt"))[:2]]
            tags = list(dict.fromkeys(tags + (["loopable"] if p.get("sound_loop") else ["ambient"])))
            renders.append(_render(task, spec, i, samples, str(p.get("prompt") or ""),
                                   _title(None, p.get("prompt"), rng=rng), tags))
        return renders

    renders = await limits.run(work)
    return await _tracks_done(inputs, task, spec, renders, text_key="prompt")


@generator("suno_lyrics")
async def suno_lyrics(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    prompt = str(task.params.get("prompt") or "")
    entries = []
    for i in range(int(spec.get("count", 2))):
        seed = task_seed(task, i)
        text = _write_lyrics(seed, prompt, ["Verse", "Chorus", "Verse 2", "Chorus", "Bridge", "Outro"])
        entries.append({"title": _title(None, prompt, text, rng=_rng(seed)) + ("" if i == 0 else f" ({i + 1})"),
                        "text": text})
    return Done(outputs=[], extra={"lyrics": entries})


@generator("suno_stems")
async def suno_stems(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    p = task.params
    kind = p.get("type") or "separate_vocal"
    _, source, _ = await _track(inputs, task, p.get("audio_id"))

    def work():
        stems = separate(source, kind)
        outputs, urls = [], {}
        for name, x in stems.items():
            urls[f"{name}_url"] = {"$file": len(outputs)}
            outputs.append(Output(None, _mp3(x), "audio/mpeg", "mp3"))
        return outputs, urls

    outputs, urls = await limits.run(work)
    return Done(outputs=outputs, extra={"separated_audios": urls})


@generator("suno_wav")
async def suno_wav(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    _, source, _ = await _track(inputs, task, task.params.get("audio_id"))
    wav = await limits.run(media.encode_audio, b"", len(source) / SR, "wav", source)
    return Done(outputs=[Output(None, wav, "audio/wav", "wav")], extra={"wav_url": {"$file": 0}})


@generator("suno_midi")
async def suno_midi(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    """Notes transcribed from a split_stem task's stems (or, for a music task, from its first track split the
    same way)."""
    row = _ref(task)
    stems: dict[str, np.ndarray] = {}
    if row["action"] == "separate_audio_stems":
        if (row.get("params") or {}).get("type") != "split_stem":
            raise TaskFailed("generate_midi needs a split_stem separation task (this task used separate_vocal)")
        urls = ((row.get("result") or {}).get("extra") or {}).get("separated_audios") or {}
        for key, ref in urls.items():
            data = await _stored(inputs, ref, "stem")
            stems[key.removesuffix("_url")] = await limits.run(_decode, data, "stem")
    else:
        _, source, _ = await _track(inputs, task, None)
        stems = await limits.run(separate, source, "split_stem")

    def work():
        instruments = []
        for name in STEM_ORDER:
            if name not in stems:
                continue
            notes = transcribe(stems[name], drums=name in ("drums", "percussion"))
            if notes:
                instruments.append({"name": MIDI_NAMES.get(name, name), "notes": notes})
        return instruments

    instruments = await limits.run(work)
    if not instruments:
        raise TaskFailed("MIDI generation failed: no notes were detected in the stems")
    return Done(outputs=[], extra={"instruments": instruments})


@generator("suno_artwork")
async def suno_artwork(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    track, samples, _ = await _track(inputs, task, None)
    title = str(track.get("title") or "Untitled")

    def work():
        env = envelope(samples, 96)
        return [Output("covers", images.encode(cover_image(task_seed(task, i), title, ARTWORK_SIDE, env, variant=i),
                                               "png").data, "image/png", "png")
                for i in range(int(spec.get("count", 2)))]

    return Done(outputs=await limits.run(work))


@generator("suno_video")
async def suno_video(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    p = task.params
    track, samples, _ = await _track(inputs, task, p.get("audio_id"))
    data = await limits.run(waveform_video, task_seed(task), samples, str(track.get("title") or ""),
                                   p.get("author"), p.get("domain_name"))
    return Done(outputs=[Output(None, data, "video/mp4", "mp4")], extra={"video_url": {"$file": 0}})


@generator("suno_boost_style")
async def suno_boost_style(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    description = str(task.params.get("description") or "")
    terms = [t.strip() for t in re.split(r"[,，;/]+", description) if t.strip()]
    rng = _rng(task_seed(task))
    low = description.lower()
    pool = [w for key, words in STYLE_BOOST.items() if key in low for w in words] + STYLE_GENERIC
    seen = {t.lower() for t in terms}
    added = []
    for w in pool[: len(pool) - len(STYLE_GENERIC)] + rng.sample(STYLE_GENERIC, len(STYLE_GENERIC)):
        if w.lower() not in seen:
            seen.add(w.lower())
            added.append(w)
        if len(added) == 4:
            break
    return Done(outputs=[], extra={"style": ", ".join(terms + added)})


@generator("suno_timestamped_lyrics")
async def suno_timestamped_lyrics(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    """Words of the track's lyrics placed where its vocal band carries energy, over its real duration."""
    track, samples, row = await _track(inputs, task, task.params.get("audio_id"))
    if row["action"] == "text_to_sound" and not (row.get("params") or {}).get("grab_lyrics"):
        raise TaskFailed("Timestamped lyrics are not available: the sound task was created with grab_lyrics false")
    words = _lyric_words(track.get("lyrics"))
    seed = task_seed(task)

    def work():
        seconds = len(samples) / SR
        energy = vocal_activity(samples)
        hop = HOP
        floor, top = np.percentile(energy, 10), np.percentile(energy, 95)
        active = energy > floor + 0.3 * (top - floor) if top > floor else energy > 0
        active = _box(active.astype(np.float32), 9, axis=0) > 0.5  # ignore blips shorter than ~50 ms
        idx = np.where(active)[0]
        first = idx[0] * hop / SR if len(idx) else 0.0
        last = min((idx[-1] + 1) * hop / SR, seconds) if len(idx) else seconds
        cum = np.cumsum(active.astype(np.float64))
        aligned = []
        if words and cum[-1] > 0:
            times = []
            for k in range(len(words) + 1):
                target = cum[-1] * k / len(words)
                frame = int(np.searchsorted(cum, max(target, 1e-9)))
                times.append(min(max(frame * hop / SR, first), last))
            for k, w in enumerate(words):
                start = times[k]
                end = max(min(times[k + 1], start + 0.8), start + 0.05)
                aligned.append({"word": w, "success": True, "start_time": round(start, 2),
                                "end_time": round(min(end, seconds), 2), "palign": 0})
        return aligned, [round(float(v), 3) for v in envelope(samples, 200)]

    aligned, waveform = await limits.run(work)
    hoot = 0.05 + (int.from_bytes(seed[:2], "big") / 65535) * 0.35
    return Done(outputs=[], extra={"aligned_words": aligned, "waveform_data": waveform, "hoot_cer": hoot,
                                   "is_streamed": False})


@generator("suno_persona")
async def suno_persona(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    p = task.params
    row = _ref(task)
    if not any(t.get("id") == p.get("audio_id") for t in _row_tracks(row)):
        raise TaskFailed(f"audio_id {p.get('audio_id')} is not a track of task {row['id']}")
    persona_id = uuid.UUID(_sid("persona", task_seed(task).hex())).hex
    return Done(outputs=[], extra={"persona": {"id": persona_id, "name": p["name"],
                                               "description": p["description"]}})


@generator("suno_replace_section")
async def suno_replace_section(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    p = task.params
    track, source, _ = await _track(inputs, task, p.get("audio_id"))
    seconds = len(source) / SR
    start, end = float(p["infill_start_time"]), float(p["infill_end_time"])
    if end <= start:
        raise TaskFailed("infill_end_time must be greater than infill_start_time")
    if start >= seconds:
        raise TaskFailed(f"infill_start_time is beyond the end of the track ({seconds:.2f} s)")
    end = min(end, seconds)
    seed = task_seed(task)

    def work():
        a, b = int(start * SR), int(end * SR)
        plan = Plan(seed, str(p.get("tags") or ""), root=_pitch_class_root(_melody(source[max(0, a - 10 * SR):a])))
        vocals = "[instrumental]" not in str(p.get("lyrics") or "").lower()
        new = mix(compose(seed, (b - a) / SR + 0.1, plan, ("drums", "bass", "pad", "vocal" if vocals else "lead"),
                          intro_bars=0))[: b - a]
        new = new * (_rms(source[a:b]) / max(_rms(new), 1e-6))
        out = source.copy()
        edge = min(int(0.05 * SR), (b - a) // 4)
        ramp = np.ones(b - a, dtype=np.float32)
        if edge:
            ramp[:edge] = np.linspace(0, 1, edge)
            ramp[-edge:] = np.linspace(1, 0, edge)
        out[a:b] = source[a:b] * (1 - ramp) + new * ramp
        out = _normalize(out) if np.max(np.abs(out)) > 1 else out
        mp3 = _mp3(out)
        cover = _jpeg(cover_image(_sub(seed, "img"), str(p["title"]), COVER_SIDE, envelope(out, 48)))
        return mp3, cover, _seconds(out)

    mp3, cover, duration = await limits.run(work)
    lyrics = str(p.get("full_lyrics") or p["lyrics"])
    tags = _tags(p.get("tags"), None, _rng(seed))
    result = {"id": track.get("id"), "audio_url": {"$file": 0}, "stream_audio_url": {"$file": 0},
              "image_url": {"$file": 1}, "lyrics": lyrics, "model_name": track.get("model_name"),
              "title": p["title"], "tags": tags, "duration": duration}
    return Done(outputs=[Output(None, mp3, "audio/mpeg", "mp3"), Output(None, cover, "image/jpeg", "jpg")],
                extra={"track": result})


def _phrase_language(phrase: str) -> str:
    for lang, phrases in PHRASES.items():
        if phrase in phrases:
            return lang
    return "en"


@generator("suno_validation_phrase")
async def suno_validation_phrase(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    """A phrase for the user to read: new (from a source vocal window) or regenerated (differs from the last)."""
    p = task.params
    seed = task_seed(task)
    if spec.get("mode") == "regenerate":
        row = _ref(task)
        previous = str(((row.get("result") or {}).get("extra") or {}).get("validation_phrase") or "")
        lang = (row.get("params") or {}).get("language") or _phrase_language(previous)
        choices = [ph for ph in PHRASES.get(lang, PHRASES["en"]) if ph != previous]
        return Done(outputs=[], extra={"provider_status": "wait_validating",
                                       "validation_phrase": _rng(seed).choice(choices)})
    start, end = int(p["vocal_start_seconds"]), int(p["vocal_end_seconds"])
    if end <= start:
        raise TaskFailed("vocal_end_seconds must be greater than vocal_start_seconds")
    samples = await _upload(inputs, p["voice_url"], "voice_url recording")
    if start * SR >= len(samples):
        raise TaskFailed(f"vocal_start_seconds is beyond the end of the recording ({len(samples) / SR:.2f} s)")
    window = samples[start * SR:end * SR]
    if _rms(window) < 1e-4:
        raise TaskFailed("The selected vocal window is silent")
    digest = hashlib.sha256(seed + np.round(window[:: max(1, len(window) // 4096)], 3).tobytes()).digest()
    phrases = PHRASES.get(p.get("language") or "en", PHRASES["en"])
    return Done(outputs=[], extra={"provider_status": "wait_validating",
                                   "validation_phrase": phrases[digest[0] % len(phrases)]})


@generator("suno_voice")
async def suno_voice(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    row = _ref(task)
    phrase = ((row.get("result") or {}).get("extra") or {}).get("validation_phrase")
    if not phrase:
        raise TaskFailed(f"Task {row['id']} has no validation phrase")
    recording = await _upload(inputs, task.params["verify_url"], "verify_url recording")
    if _rms(recording) < 1e-4:
        raise TaskFailed("The verification recording is silent")
    voice_id = "voice_" + uuid.UUID(_sid("voice", task_seed(task).hex())).hex[:24]
    return Done(outputs=[], extra={"provider_status": "success", "voice_id": voice_id})


@generator("suno_check_voice")
async def suno_check_voice(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    row = _ref(task)
    extra = (row.get("result") or {}).get("extra") or {}
    available = row["action"] == "generate_voice" and bool(extra.get("voice_id")) \
        and extra.get("provider_status") == "success"
    return Done(outputs=[], extra={"is_available": available})
