"""Music synthesis: a piece's plan (tempo, key, mode, chords), arranged layers (drums, bass, pad, a formant
"vocal" or a lead line) and the sound-design generator for text_to_sound."""

from __future__ import annotations

import math

import numpy as np

from .. import dsp
from ..dsp import SR
from .common import _rng, _sub
from .text import FAST_WORDS, MINOR_WORDS, SLOW_WORDS

SCALES = {False: [0, 2, 4, 5, 7, 9, 11], True: [0, 2, 3, 5, 7, 8, 10]}


PROGRESSIONS = [[0, 4, 5, 3], [5, 3, 0, 4], [0, 5, 3, 4], [0, 3, 4, 3], [0, 3, 0, 4]]


VOWELS = {
    "a": (800, 1150, 2900),
    "e": (400, 1600, 2700),
    "i": (350, 2000, 2800),
    "o": (450, 800, 2830),
    "u": (325, 700, 2530),
}


NEUTRAL_TEMPO = 106  # the middle of the no-style tempo range


class Plan:
    """Tempo, key, mode and chord progression of a piece, from its seed and its style words.

    Suno's steering parameters, when given: `style_weight` (0-1) is how far the style words move the tempo
    away from a neutral 106 BPM (0: not at all, 1: fully); `weirdness` (0-1) is the chance of a melodic leap
    (a fourth or fifth) per sung note; `vocal_shift` moves the sung line in semitones (vocal gender)."""

    def __init__(
        self,
        seed: bytes,
        style_text: str = "",
        root: int | None = None,
        minor: bool | None = None,
        tempo: float | None = None,
        style_weight: float | None = None,
        weirdness: float | None = None,
        vocal_shift: int = 0,
    ):
        rng = _rng(_sub(seed, "plan"))
        text = (style_text or "").lower()
        lo, hi = (
            (118, 140)
            if any(w in text for w in FAST_WORDS)
            else (70, 92)
            if any(w in text for w in SLOW_WORDS)
            else (88, 124)
        )
        self.tempo = float(tempo or rng.randint(lo, hi))
        if style_weight is not None and not tempo:
            self.tempo = float(round(NEUTRAL_TEMPO + float(style_weight) * (self.tempo - NEUTRAL_TEMPO)))
        self.weirdness = float(weirdness or 0.0)
        self.vocal_shift = int(vocal_shift)
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
        w = 0.25 / k + sum(math.exp(-(((fk - f) / 130.0) ** 2)) * g for f, g in zip(formants, (1.0, 0.6, 0.25)))
        out += w * np.sin(k * phase)
    hiss = breath.standard_normal(n).astype(np.float32)
    out += 0.015 * np.diff(hiss, prepend=np.float32(0))  # breath: high-passed noise
    shaped: np.ndarray = (out * dsp.adsr(n, 0.04, 0.0, min(0.12, seconds / 3))).astype(np.float32)
    return shaped


def compose(
    seed: bytes,
    seconds: float,
    plan: Plan,
    layers: tuple[str, ...] = ("drums", "bass", "pad", "vocal"),
    melody: list[tuple[float, float, int]] | None = None,
    intro_bars: int = 2,
) -> dict[str, np.ndarray]:
    """An arranged piece, one array per layer (drums, bass, pad, vocal | lead), `seconds` long.

    The vocal/lead line is a random walk on the scale (higher in choruses), or follows `melody` when given
    (covers). Sections: intro bars without the voice, then alternating 4-bar verses and choruses."""
    n = max(1, int(seconds * SR))
    noise_rng = dsp.hashed_rng(_sub(seed, "noise"))
    rng = _rng(_sub(seed, "notes"))
    beat, bar_len = plan.beat, plan.beat * 4
    bars = int(math.ceil(seconds / bar_len)) + 1
    out = {name: np.zeros(n, dtype=np.float32) for name in layers}
    kick = dsp.kick()
    snare_noise = noise_rng.standard_normal(int(0.2 * SR)).astype(np.float32)
    hat_noise = noise_rng.standard_normal(int(0.06 * SR)).astype(np.float32)
    snare, hat = dsp.snare(snare_noise), dsp.hat(hat_noise)
    degree = 7  # melody position on the scale, relative to the root two octaves up
    for bar in range(bars):
        t0 = bar * bar_len
        if t0 >= seconds:
            break
        chord = plan.chord(bar)
        section = -1 if bar < intro_bars else ((bar - intro_bars) // 4) % 2  # -1 intro, 0 verse, 1 chorus
        if "pad" in out:
            for d in chord:
                dsp.place(
                    out["pad"],
                    t0,
                    dsp.harmonic_tone(
                        dsp.midi_hz(plan.degree(d, 2)),
                        bar_len + 0.3,
                        [1, 0.5, 0.33, 0.25, 0.2],
                        attack=0.25,
                        release=0.35,
                    ),
                    0.09,
                )
        for b in range(4):
            tb = t0 + b * beat
            if "drums" in out and (bar > 0 or b >= 2):
                if b in (0, 2):
                    dsp.place(out["drums"], tb, kick, 0.9)
                if b in (1, 3) and section >= 0:
                    dsp.place(out["drums"], tb, snare, 0.55)
                dsp.place(out["drums"], tb, hat, 1.0)
                dsp.place(out["drums"], tb + beat / 2, hat, 0.7)
            if "bass" in out:
                d = chord[0] if b != 3 or rng.random() < 0.5 else chord[2]
                dsp.place(
                    out["bass"],
                    tb,
                    dsp.harmonic_tone(
                        dsp.midi_hz(plan.degree(d, 1)), beat * 0.92, [1, 0.45, 0.2], attack=0.005, decay=2.5
                    ),
                    0.45,
                )
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
                    if plan.weirdness and rng.random() < plan.weirdness:  # an unexpected leap
                        degree = max(3, min(16, degree + rng.choice([-4, -3, 3, 4])))
                    freq = dsp.midi_hz(plan.degree(degree, 1) + (plan.vocal_shift if voice_layer == "vocal" else 0))
                    if voice_layer == "vocal":
                        wave = _voice(freq, step * 0.95, rng.choice("aeiou"), noise_rng)
                        dsp.place(out["vocal"], tt, wave, 0.22)
                    else:
                        dsp.place(
                            out["lead"],
                            tt,
                            dsp.harmonic_tone(freq, step * 0.9, [1, 0.6, 0.4, 0.3, 0.2, 0.1], attack=0.01, decay=1.5),
                            0.2,
                        )
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
                    dsp.place(
                        out["vocal"],
                        start,
                        _voice(dsp.midi_hz(pitch + plan.vocal_shift), dur, rng.choice("aeiou"), noise_rng),
                        0.22,
                    )
                else:
                    dsp.place(
                        out["lead"],
                        start,
                        dsp.harmonic_tone(dsp.midi_hz(pitch), dur, [1, 0.6, 0.4, 0.3, 0.2], attack=0.01, decay=1.0),
                        0.2,
                    )
    return out


def mix(layers: dict[str, np.ndarray], levels: dict[str, float] | None = None) -> np.ndarray:
    levels = levels or {"drums": 0.8, "bass": 1.0, "pad": 0.7, "vocal": 1.6, "lead": 1.0}
    total = None
    for name, x in layers.items():
        total = x * levels.get(name, 1.0) if total is None else total + x * levels.get(name, 1.0)
    return dsp.fade(dsp.normalize(total if total is not None else np.zeros(1, np.float32)))


SOUND_KEYS = {"C": 0, "C#": 1, "D": 2, "D#": 3, "E": 4, "F": 5, "F#": 6, "G": 7, "G#": 8, "A": 9, "A#": 10, "B": 11}


def sound(seed: bytes, prompt: str, seconds: float, loop: bool, tempo: int | None, key: str | None) -> np.ndarray:
    """Ambience / effects from the prompt's words (rain, thunder, wind, waves, fire, birds, city, ...), an optional
    pulse at the requested BPM and a drone in the requested key; loops are cross-faded end-to-start."""
    text = (prompt or "").lower()
    rng = dsp.hashed_rng(_sub(seed, "sound"))
    n = int(seconds * SR)
    t = np.arange(n, dtype=np.float32) / SR
    out = np.zeros(n, dtype=np.float32)

    def has(*words: str) -> bool:
        return any(w in text for w in words)

    matched = False
    if has("rain", "drizzle", "storm", "雨"):
        matched = True
        out += 0.25 * dsp.bandpass(dsp.colored_noise(rng, n, "pink"), 400, 9000)
        for start in rng.uniform(0, seconds, int(seconds * 25)):
            f = float(rng.uniform(1800, 5000))
            m = int(0.03 * SR)
            tt = np.arange(m, dtype=np.float32) / SR
            dsp.place(out, float(start), np.sin(2 * np.pi * f * tt) * np.exp(-tt * 120), float(rng.uniform(0.03, 0.1)))
    if has("thunder", "storm", "雷"):
        matched = True
        rumble = dsp.bandpass(dsp.colored_noise(rng, n, "brown"), 20, 160)
        env = np.zeros(n, dtype=np.float32)
        for start in rng.uniform(0, max(seconds - 3, 0.1), max(1, int(seconds / 10))):
            i = int(start * SR)
            m = min(n - i, int(4 * SR))
            tt = np.arange(m, dtype=np.float32) / SR
            env[i : i + m] += np.minimum(1, tt / 0.15) * np.exp(-tt * 1.2)
        out += 0.9 * rumble * env
    if has("wind", "breeze", "风"):
        matched = True
        lfo = 0.55 + 0.45 * np.sin(2 * np.pi * 0.13 * t + float(rng.uniform(0, 6)))
        out += 0.35 * dsp.bandpass(dsp.colored_noise(rng, n, "pink"), 150, 1500) * lfo
    if has("ocean", "wave", "sea", "beach", "海"):
        matched = True
        swell = 0.5 + 0.5 * np.sin(2 * np.pi * t / 7.0)
        out += 0.4 * dsp.bandpass(dsp.colored_noise(rng, n, "pink"), 80, 6000) * swell**2
    if has("fire", "crackl", "campfire", "火"):
        matched = True
        out += 0.15 * dsp.bandpass(dsp.colored_noise(rng, n, "brown"), 40, 400)
        for start in rng.uniform(0, seconds, int(seconds * 12)):
            dsp.place(out, float(start), rng.standard_normal(int(0.004 * SR)).astype(np.float32), 0.3)
    if has("bird", "forest", "morning", "鸟"):
        matched = True
        for start in rng.uniform(0, seconds, int(seconds * 1.5)):
            m = int(0.12 * SR)
            tt = np.arange(m, dtype=np.float32) / SR
            f0 = float(rng.uniform(2500, 4000))
            sweep = f0 + 1500 * np.sin(2 * np.pi * 9 * tt)
            dsp.place(out, float(start), np.sin(2 * np.pi * np.cumsum(sweep) / SR) * np.sin(np.pi * tt / tt[-1]), 0.12)
    if has("city", "traffic", "street", "cafe", "crowd", "城市"):
        matched = True
        out += 0.05 * np.sin(2 * np.pi * 60 * t) + 0.2 * dsp.bandpass(dsp.colored_noise(rng, n, "brown"), 60, 2500)
    if not matched:  # an evolving ambient bed
        out += (
            0.2
            * dsp.bandpass(dsp.colored_noise(rng, n, "pink"), 200, 4000)
            * (0.6 + 0.4 * np.sin(2 * np.pi * 0.07 * t))
        )
    if key and key != "Any":
        minor = key.endswith("m")
        root = 48 + SOUND_KEYS.get(key[:-1] if minor else key, 0)
        for interval, gain in ((0, 0.08), (3 if minor else 4, 0.05), (7, 0.06)):
            out += (
                gain * np.sin(2 * np.pi * dsp.midi_hz(root + interval) * t) * (0.7 + 0.3 * np.sin(2 * np.pi * 0.1 * t))
            )
    if tempo:
        beat = 60.0 / float(tempo)
        thump = dsp.kick(min(0.3, beat * 0.9)) * 0.35
        k = 0
        while k * beat < seconds:
            dsp.place(out, k * beat, thump)
            k += 1
    out = dsp.normalize(out, 0.8)
    if loop:
        m = min(int(0.5 * SR), n // 4)
        ramp = np.linspace(0, 1, m, dtype=np.float32)
        head = out[:m] * ramp + out[-m:] * (1 - ramp)
        out = np.concatenate([head, out[m:-m]]).astype(np.float32)  # the end flows into the start
        return out
    return dsp.fade(out, 0.05, 1.0)
