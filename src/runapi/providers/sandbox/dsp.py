"""Audio DSP shared by the sandbox's audio generators (audio_gen, suno): seeded noise, levels and fades,
envelopes and simple instruments, filters, STFT and moving averages, and MP3 / WAV encoding. Mono float32 at
SR unless a function says otherwise; every function is deterministic for its inputs."""

from __future__ import annotations

import hashlib
import io
import math
import wave

import numpy as np

from . import media

SR = media.SAMPLE_RATE


def seed_rng(seed: bytes) -> np.random.Generator:
    """A generator seeded by the seed's first 8 bytes."""
    return np.random.default_rng(int.from_bytes(seed[:8], "big"))


def hashed_rng(seed: bytes) -> np.random.Generator:
    """A generator seeded by the seed's SHA-256 (any length of seed counts)."""
    return np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest()[:8], "big"))


def mp3(samples: np.ndarray, rate: int = SR, kbps: int = 128) -> bytes:
    return media.encode_mono("libmp3lame", "mp3", samples, rate, kbps)


def wav(samples: np.ndarray, rate: int = SR) -> bytes:
    """16-bit mono PCM WAV."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def normalize(x: np.ndarray, peak: float = 0.89) -> np.ndarray:
    m = float(np.max(np.abs(x))) if len(x) else 0.0
    return (x * (peak / m)).astype(np.float32) if m > 1e-9 else x.astype(np.float32)


def fade(x: np.ndarray, fade_in: float = 0.02, fade_out: float = 1.5) -> np.ndarray:
    x = x.copy()
    n_in, n_out = min(len(x), int(fade_in * SR)), min(len(x), int(fade_out * SR))
    if n_in:
        x[:n_in] *= np.linspace(0, 1, n_in, dtype=np.float32)
    if n_out:
        x[-n_out:] *= np.linspace(1, 0, n_out, dtype=np.float32)
    return x


def crossfade(a: np.ndarray, b: np.ndarray, seconds: float = 0.5) -> np.ndarray:
    n = min(int(seconds * SR), len(a), len(b))
    if n == 0:
        return np.concatenate([a, b]).astype(np.float32)
    ramp = np.linspace(0, 1, n, dtype=np.float32)
    mid = a[-n:] * (1 - ramp) + b[:n] * ramp
    return np.concatenate([a[:-n], mid, b[n:]]).astype(np.float32)


def fit(x: np.ndarray, n: int) -> np.ndarray:
    """Loop or trim `x` to exactly n samples."""
    if len(x) >= n:
        return x[:n]
    return np.tile(x, int(math.ceil(n / max(len(x), 1))))[:n]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def log_steps(freqs: np.ndarray, edges: list[float], width: float = 0.12) -> list[np.ndarray]:
    """Smooth high-pass steps at each edge (logistic in log-frequency); consecutive differences partition 1."""
    lf = np.log(np.maximum(freqs, 1.0))
    return [1.0 / (1.0 + np.exp(-(lf - math.log(e)) / width)) for e in edges]


def band_masks(freqs: np.ndarray, edges: list[float]) -> list[np.ndarray]:
    steps = [np.ones_like(freqs)] + log_steps(freqs, edges) + [np.zeros_like(freqs)]
    return [steps[i] - steps[i + 1] for i in range(len(steps) - 1)]


def bandpass(x: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
    spec = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    mask = np.ones_like(freqs)
    if lo:
        mask *= log_steps(freqs, [lo])[0]
    if hi:
        mask *= 1 - log_steps(freqs, [hi])[0]
    return np.fft.irfft(spec * mask, n=len(x)).astype(np.float32)


N_FFT, HOP = 2048, 512


_WINDOW = np.hanning(N_FFT + 1)[:-1].astype(np.float32)


def stft(x: np.ndarray) -> np.ndarray:
    padded = np.pad(x, (N_FFT, N_FFT + HOP))
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    return np.fft.rfft(frames * _WINDOW, axis=1)


def istft(spec: np.ndarray, n: int) -> np.ndarray:
    frames = np.fft.irfft(spec, n=N_FFT, axis=1).astype(np.float32) * _WINDOW
    total = (len(frames) - 1) * HOP + N_FFT
    out = np.zeros(total, dtype=np.float32)
    norm = np.zeros(total, dtype=np.float32)
    w2 = _WINDOW**2
    for i, frame in enumerate(frames):
        out[i * HOP : i * HOP + N_FFT] += frame
        norm[i * HOP : i * HOP + N_FFT] += w2
    out /= np.maximum(norm, 1e-3)
    return out[N_FFT : N_FFT + n]


def box(a: np.ndarray, width: int, axis: int) -> np.ndarray:
    """Moving average along an axis (cumulative sums; edges use the available neighbours)."""
    a = np.moveaxis(a, axis, 0)
    c = np.cumsum(np.concatenate([np.zeros((1,) + a.shape[1:], a.dtype), a]), axis=0)
    half = width // 2
    idx = np.arange(a.shape[0])
    lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, a.shape[0])
    out = (c[hi] - c[lo]) / (hi - lo).reshape((-1,) + (1,) * (a.ndim - 1))
    return np.moveaxis(out, 0, axis)


def hpss(spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Soft harmonic / percussive masks: smooth along time (sustained tones) vs along frequency (hits)."""
    mag = np.abs(spec).astype(np.float32)
    harm = box(mag, 17, axis=0)
    perc = box(mag, 17, axis=1)
    h2, p2 = harm**2, perc**2
    mask_h = h2 / (h2 + p2 + 1e-12)
    return mask_h, 1.0 - mask_h


def frames(x: np.ndarray, size: int = 2048, hop: int = 1024) -> np.ndarray:
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
    env: np.ndarray = np.sqrt((sq[edges[1:]] - sq[edges[:-1]]) / counts)
    m = env.max()
    return (env / m).astype(np.float32) if m > 0 else env.astype(np.float32)


def midi_hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def place(out: np.ndarray, start: float, wave: np.ndarray, gain: float = 1.0) -> None:
    i = int(start * SR)
    if i >= len(out) or i + len(wave) <= 0:
        return
    seg = wave[: len(out) - i]
    out[i : i + len(seg)] += gain * seg


def adsr(n: int, attack: float, decay: float = 0.0, release: float = 0.05) -> np.ndarray:
    t = np.arange(n, dtype=np.float32) / SR
    e = np.minimum(1.0, t / attack) if attack > 0 else np.ones(n, dtype=np.float32)
    if decay:
        e = e * np.exp(-t * decay)
    r = min(n, int(release * SR))
    if r:
        e[n - r :] *= np.linspace(1, 0, r, dtype=np.float32)
    return e.astype(np.float32)


def harmonic_tone(
    freq: float, seconds: float, weights: list[float], attack: float = 0.01, decay: float = 0.0, release: float = 0.05
) -> np.ndarray:
    n = max(1, int(seconds * SR))
    t = np.arange(n, dtype=np.float32) / SR
    out = np.zeros(n, dtype=np.float32)
    for k, w in enumerate(weights, 1):
        if k * freq >= SR * 0.45:
            break
        out += w * np.sin(2 * np.pi * k * freq * t)
    shaped: np.ndarray = out * adsr(n, attack, decay, release)
    return shaped


def kick(seconds: float = 0.35) -> np.ndarray:
    n = int(seconds * SR)
    t = np.arange(n, dtype=np.float32) / SR
    f = 45 + 75 * np.exp(-t * 30)
    return (np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t * 9)).astype(np.float32)


def snare(noise: np.ndarray) -> np.ndarray:
    n = len(noise)
    t = np.arange(n, dtype=np.float32) / SR
    body = 0.5 * np.sin(2 * np.pi * 185 * t) * np.exp(-t * 25)
    hiss = np.diff(noise, prepend=0.0) * np.exp(-t * 18) * 0.6
    return (body + hiss).astype(np.float32)


def hat(noise: np.ndarray) -> np.ndarray:
    t = np.arange(len(noise), dtype=np.float32) / SR
    hp = np.diff(np.diff(noise, prepend=0.0), prepend=0.0)
    return (hp * np.exp(-t * 70) * 0.18).astype(np.float32)


def colored_noise(rng: np.random.Generator, n: int, color: str) -> np.ndarray:
    white = rng.standard_normal(n).astype(np.float32)
    if color == "white":
        return white
    spec = np.fft.rfft(white)
    f = np.maximum(np.fft.rfftfreq(n, 1 / SR), 20.0)
    spec = spec / (np.sqrt(f) if color == "pink" else f)
    x = np.fft.irfft(spec, n=n).astype(np.float32)
    normalised: np.ndarray = x / (np.max(np.abs(x)) + 1e-9)
    return normalised


def smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Causal moving average over `width` samples (a cheap low-pass)."""
    if width <= 1:
        return x
    c = np.cumsum(np.concatenate([np.zeros(width), x]))
    averaged: np.ndarray = (c[width:] - c[:-width]) / width
    return averaged


def fft_convolve(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    size = len(x) + len(kernel) - 1
    n = 1 << (size - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(kernel, n), n)[: len(x)]
