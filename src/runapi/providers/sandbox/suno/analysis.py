"""Analysis of real audio: stems (STFT harmonic/percussive masks times frequency bands, summing back to the
source), note transcription for MIDI, vocal activity for timestamped lyrics, and the source melody."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import dsp
from ..dsp import SR

STEM_VOCAL_BAND = (220.0, 4000.0)


# split_stem: percussive part → drums / percussion / fx by band; harmonic part → ten register bands.
PERCUSSIVE_STEMS = [("drums", 0, 3000), ("percussion", 3000, 8000), ("fx", 8000, None)]


HARMONIC_STEMS = [
    ("bass", 0, 150),
    ("piano", 150, 250),
    ("guitar", 250, 380),
    ("vocal", 380, 700),
    ("keyboard", 700, 1000),
    ("strings", 1000, 1400),
    ("backing_vocals", 1400, 2000),
    ("brass", 2000, 2800),
    ("woodwinds", 2800, 4200),
    ("synth", 4200, None),
]


STEM_ORDER = [
    "backing_vocals",
    "bass",
    "brass",
    "drums",
    "fx",
    "guitar",
    "keyboard",
    "piano",
    "percussion",
    "strings",
    "synth",
    "vocal",
    "woodwinds",
]


MIDI_NAMES = {
    "drums": "Drums",
    "percussion": "Percussion",
    "fx": "FX 1 (rain)",
    "bass": "Electric Bass (finger)",
    "piano": "Acoustic Grand Piano",
    "guitar": "Acoustic Guitar (nylon)",
    "vocal": "Voice Oohs",
    "keyboard": "Electric Piano 1",
    "strings": "String Ensemble 1",
    "backing_vocals": "Choir Aahs",
    "brass": "Brass Section",
    "woodwinds": "Flute",
    "synth": "Lead 1 (square)",
    "instrumental": "Acoustic Grand Piano",
}


def _edges(stems: Sequence[tuple[str, float, float | None]]) -> list[float]:
    return [float(lo) for _, lo, _ in stems[1:]]


def separate(x: np.ndarray, kind: str) -> dict[str, np.ndarray]:
    """Stems that sum back to the source (up to STFT round-off), each exactly as long as the source."""
    spec = dsp.stft(x)
    freqs = np.fft.rfftfreq(dsp.N_FFT, 1 / SR)
    mask_h, mask_p = dsp.hpss(spec)
    if kind == "separate_vocal":
        lo, hi = STEM_VOCAL_BAND
        band = dsp.log_steps(freqs, [lo])[0] - dsp.log_steps(freqs, [hi])[0]
        vocal = mask_h * band
        return {"vocal": dsp.istft(spec * vocal, len(x)), "instrumental": dsp.istft(spec * (1 - vocal), len(x))}
    out = {}
    for part_mask, stems in ((mask_p, PERCUSSIVE_STEMS), (mask_h, HARMONIC_STEMS)):
        for (name, _, _), band in zip(stems, dsp.band_masks(freqs, _edges(stems))):
            out[name] = dsp.istft(spec * (part_mask * band), len(x))
    return {name: out[name] for name in STEM_ORDER}


def transcribe(x: np.ndarray, drums: bool = False, max_notes: int = 400) -> list[dict[str, Any]]:
    """Notes from real content: active frames by energy, pitch from the dominant spectral peak (parabolic
    interpolation), one note per run of equal pitch; drums: one hit per energy onset, GM drum pitch by centroid."""
    size, hop = 2048, 1024
    frames = dsp.frames(x, size, hop)
    if len(frames) == 0:
        return []
    rms = np.sqrt(np.mean(np.square(frames), axis=1))
    peak = float(rms.max())
    if peak < 1e-4:
        return []
    mag = np.abs(np.fft.rfft(frames * np.hanning(size), axis=1))
    freqs = np.fft.rfftfreq(size, 1 / SR)
    active = rms > max(0.12 * peak, 1e-4)

    def t(i: int) -> float:
        return round(i * hop / SR, 6)

    notes: list[dict[str, Any]] = []
    if drums:
        flux = np.maximum(np.diff(rms, prepend=0.0), 0)
        thresh = max(0.08 * peak, float(np.percentile(flux, 90)) * 0.5)
        onsets = [
            i
            for i in range(len(rms))
            if flux[i] > thresh
            and active[i]
            and flux[i] >= flux[max(i - 1, 0)]
            and flux[i] >= flux[min(i + 1, len(rms) - 1)]
        ]
        for k, i in enumerate(onsets):
            end = min(onsets[k + 1] if k + 1 < len(onsets) else len(rms), i + 6)
            spectrum = mag[i]
            centroid = float((spectrum * freqs).sum() / max(spectrum.sum(), 1e-9))
            pitch = 36 if centroid < 300 else 38 if centroid < 3000 else 42
            notes.append(
                {
                    "pitch": pitch,
                    "start_time": t(i),
                    "end_time": t(max(end, i + 1)),
                    "velocity": round(float(min(1.0, rms[i] / peak)), 3),
                }
            )
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
            notes.append(
                {
                    "pitch": int(midi[i]),
                    "start_time": t(i),
                    "end_time": t(j + 1),
                    "velocity": round(float(min(1.0, rms[i : j + 1].max() / peak)), 3),
                }
            )
        i = j + 1
    return notes


def vocal_activity(x: np.ndarray) -> np.ndarray:
    """Per STFT frame (dsp.HOP samples, starting at 0 s): energy of the sustained (harmonic) 700-3500 Hz content,
    where sung formants sit and accompaniment pads and drums carry little."""
    spec = dsp.stft(x)
    mask_h, _ = dsp.hpss(spec)
    freqs = np.fft.rfftfreq(dsp.N_FFT, 1 / SR)
    band = dsp.log_steps(freqs, [700.0])[0] - dsp.log_steps(freqs, [3500.0])[0]
    energy: np.ndarray = np.sqrt(np.sum(np.abs(spec * mask_h * band) ** 2, axis=1))
    skip = dsp.N_FFT // dsp.HOP  # dsp.stft pads dsp.N_FFT samples in front
    return energy[skip : skip + int(math.ceil(len(x) / dsp.HOP))]


def _melody(x: np.ndarray) -> list[tuple[float, float, int]]:
    """The source's melodic line: notes of its 120-1200 Hz content, as (start, end, midi)."""
    notes = transcribe(dsp.bandpass(x, 120, 1200), max_notes=2000)
    return [(n["start_time"], n["end_time"], n["pitch"]) for n in notes]


def _pitch_class_root(melody: list[tuple[float, float, int]]) -> int | None:
    if not melody:
        return None
    counts = np.zeros(12)
    for s, e, p in melody:
        counts[p % 12] += e - s
    return 36 + int(np.argmax(counts))
