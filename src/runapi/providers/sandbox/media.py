"""Real video (MP4, H.264 + AAC) and audio (MP3 / WAV) from a seed, and real processing of input videos.

Frames are windows panning across one rendered canvas (cheap to produce, visibly moving); the encoder runs
x264 `ultrafast`, so a 5 s 720p clip takes well under a second on one core.
"""

from __future__ import annotations

import io
import math
import wave
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import OutputContainer
from PIL import Image

from ..base import InputRejected
from . import images, limits

if TYPE_CHECKING:
    from .marks import Stamp

# The codecs encode_mono writes (all audio codecs, so PyAV's add_stream gives an AudioStream).
MonoCodec = Literal["libmp3lame", "libopus", "pcm_mulaw", "pcm_alaw"]

FPS = 24
SAMPLE_RATE = 44_100
RESOLUTION_SHORT_SIDE = {
    "360p": 360,
    "480p": 480,
    "540p": 540,
    "720p": 720,
    "768p": 768,
    "1080p": 1080,
    "1440p": 1440,
    "2k": 1440,
    "4k": 2160,
    "2160p": 2160,
}


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    duration: float
    has_audio: bool
    fps: float = FPS


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def video_size(ratio: float, resolution: str) -> tuple[int, int]:
    """`720p` at 16:9 → 1280×720; at 9:16 → 720×1280 (the short side carries the resolution)."""
    short = RESOLUTION_SHORT_SIDE.get(str(resolution).lower(), 720)
    if ratio >= 1:
        return _even(short * ratio), _even(short)
    return _even(short), _even(short / ratio)


def resolution_label(width: int, height: int) -> str:
    short = min(width, height)
    if short >= 2160:
        return "4k"
    return f"{short}p"


def _tone(seed: bytes, seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A deterministic melody: one note per beat from a pentatonic scale, with a soft envelope. float32 mono."""
    rng = np.random.default_rng(int.from_bytes(seed[:8], "big"))
    total = max(1, int(seconds * sample_rate))
    beat = int(sample_rate * 0.25)
    scale = np.array([261.63, 293.66, 329.63, 392.0, 440.0, 523.25, 587.33])
    out = np.zeros(total, dtype=np.float32)
    t = np.arange(beat, dtype=np.float32) / sample_rate
    envelope = np.minimum(1.0, t * 40) * np.exp(-t * 6)
    for start in range(0, total, beat):
        n = min(beat, total - start)
        freq = scale[rng.integers(len(scale))] * (0.5 if rng.random() < 0.3 else 1.0)
        out[start : start + n] = (
            0.3 * np.sin(2 * np.pi * freq * t[:n]) + 0.1 * np.sin(4 * np.pi * freq * t[:n])
        ) * envelope[:n]
    return out


def _encode_audio_stream(container: OutputContainer, stream: AudioStream, samples: np.ndarray) -> None:
    frame_size = stream.codec_context.frame_size or 1152
    pts = 0
    for start in range(0, len(samples), frame_size):
        chunk = samples[start : start + frame_size]
        planes = np.ascontiguousarray(np.vstack([chunk, chunk]))  # stereo
        frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = pts
        pts += len(chunk)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def encode_audio(seed: bytes, seconds: float, fmt: str = "mp3", samples: np.ndarray | None = None) -> bytes:
    samples = _tone(seed, seconds) if samples is None else samples
    buf = io.BytesIO()
    if fmt == "wav":
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes(pcm.tobytes())
        return buf.getvalue()
    with av.open(buf, mode="w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=SAMPLE_RATE, layout="stereo")
        stream.bit_rate = 128_000
        _encode_audio_stream(out, stream, samples)
    return buf.getvalue()


def _frames_from_canvas(
    canvas: np.ndarray, width: int, height: int, count: int, start: int = 0
) -> Iterator[np.ndarray]:
    """Windows sliding diagonally across `canvas` (which is larger than the frame)."""
    span_x, span_y = canvas.shape[1] - width, canvas.shape[0] - height
    for i in range(start, start + count):
        phase = (math.sin(i / max(count, 1) * math.pi) + 1) / 2 if count > 1 else 0.0
        x, y = int(span_x * phase), int(span_y * phase)
        yield canvas[y : y + height, x : x + width]


def canvas_for(
    seed: bytes, width: int, height: int, first_frame: Image.Image | None = None, motion: float = 1.0
) -> np.ndarray:
    """The picture the frames pan across: `motion` scales how much larger than the frame it is (the pan)."""
    cw, ch = _even(width * (1 + 0.15 * motion)), _even(height * (1 + 0.15 * motion))
    if first_frame is not None:
        img = images.blend_source(first_frame, seed, cw, ch)
    else:
        img = images.render(seed, cw, ch)
    return np.asarray(img.convert("RGB"))


def encode_video(
    seed: bytes,
    width: int,
    height: int,
    seconds: float,
    has_audio: bool = False,
    first_frame: Image.Image | None = None,
    frames: Iterable[np.ndarray | av.VideoFrame] | None = None,
    audio: np.ndarray | None = None,
    comment: str | None = None,
    stamp: Stamp | None = None,
    motion: float = 1.0,
) -> bytes:
    """MP4 with H.264 video (yuv420p) and, when has_audio, an AAC track of the same length. `comment` goes
    into the container's metadata; `stamp` (marks.Stamp) is drawn on every frame."""
    width, height = _even(width), _even(height)
    count = max(1, int(round(seconds * FPS)))
    if frames is None:
        frames = _frames_from_canvas(canvas_for(seed, width, height, first_frame, motion), width, height, count)
    if stamp is not None:
        frames = (stamp.array(f.to_ndarray(format="rgb24") if isinstance(f, av.VideoFrame) else f) for f in frames)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        if comment:
            out.metadata["comment"] = comment
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "32"}
        audio_stream = out.add_stream("aac", rate=SAMPLE_RATE, layout="stereo") if has_audio else None
        for i, arr in enumerate(frames):  # RGB arrays, or decoded frames at the output size (streamed through)
            if isinstance(arr, av.VideoFrame):
                frame = arr  # renumbered in the output's time base (it keeps the input's otherwise)
                frame.pts, frame.time_base = i, Fraction(1, FPS)
            else:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        if audio_stream is not None:
            _encode_audio_stream(out, audio_stream, _tone(seed, seconds) if audio is None else audio)
    return buf.getvalue()


def probe(data: bytes) -> VideoInfo:
    """Size, duration and frame rate from the container's headers (no frame is decoded)."""
    with av.open(io.BytesIO(data), mode="r") as c:
        v = c.streams.video[0]
        rate = v.average_rate or v.guessed_rate or v.base_rate
        fps = float(rate) if rate else float(FPS)
        if c.duration:
            duration = float(c.duration / av.time_base)
        elif v.duration is not None and v.time_base is not None:
            duration = float(v.duration * v.time_base)
        else:  # not declared: the frame budget is enforced while decoding
            duration = (v.frames or 0) / fps
        return VideoInfo(v.codec_context.width, v.codec_context.height, duration, bool(c.streams.audio), fps)


def _decoded(data: bytes, max_frames: int) -> Iterator[av.VideoFrame]:
    """The video's frames as decoded; a stream with more frames than allowed (its headers understated them),
    or a frame beyond 4K, stops the task instead of running on."""
    with av.open(io.BytesIO(data), mode="r") as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frame in enumerate(c.decode(stream)):
            if i >= max_frames:
                raise InputRejected(f"The source video has more than {max_frames} frames")
            if frame.width * frame.height > limits.MAX_VIDEO_PIXELS:
                raise InputRejected(
                    f"The source video has {frame.width}×{frame.height} frames; at most 4K "
                    f"({limits.MAX_VIDEO_PIXELS:,} pixels) is accepted"
                )
            yield frame


def _frame_limit(limit_seconds: float) -> int:
    return int(limit_seconds * FPS * 2)


def decode_frames(
    data: bytes,
    width: int | None = None,
    height: int | None = None,
    limit_seconds: float = 120,
    max_frames: int | None = None,
) -> Iterator[np.ndarray]:
    """RGB frames of an input video, resized when width/height are given (real resampling for upscale)."""
    for frame in _decoded(data, max_frames or _frame_limit(limit_seconds)):
        if width and height:
            yield frame.reformat(width=width, height=height, format="rgb24", interpolation="BICUBIC").to_ndarray()
        else:
            yield frame.to_ndarray(format="rgb24")


def resized_frames(data: bytes, width: int, height: int, max_frames: int) -> Iterator[av.VideoFrame]:
    """Frames resampled straight into the encoder's format: one frame in memory at a time, no RGB round trip
    (upscaling streams: decode, resample, encode)."""
    for frame in _decoded(data, max_frames):
        yield frame.reformat(width=width, height=height, format="yuv420p", interpolation="BICUBIC")


def first_and_last_frames(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """RGB first and last frames, decoding the video once without keeping the others."""
    first = last = None
    for frame in _decoded(data, _frame_limit(limits.MAX_VIDEO_SECONDS)):
        last = frame
        if first is None:
            first = frame.to_ndarray(format="rgb24")
    if first is None or last is None:
        raise ValueError("video has no frames")
    return first, last.to_ndarray(format="rgb24")


def decode_audio(data: bytes, limit_seconds: float = 600) -> np.ndarray:
    """Mono float32 samples at SAMPLE_RATE of an input file's first audio track (empty when it has none)."""
    out: list[np.ndarray] = []
    with av.open(io.BytesIO(data), mode="r") as c:
        if not c.streams.audio:
            return np.zeros(0, dtype=np.float32)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        total = 0
        for frame in c.decode(c.streams.audio[0]):
            for rf in resampler.resample(frame):
                arr = rf.to_ndarray().reshape(-1)
                out.append(arr)
                total += len(arr)
            if total > limit_seconds * SAMPLE_RATE:
                break
    return np.concatenate(out).astype(np.float32) if out else np.zeros(0, dtype=np.float32)


def last_frame(data: bytes, max_frames: int | None = None) -> Image.Image:
    frame = None
    for frame in _decoded(data, max_frames or _frame_limit(120)):
        pass
    if frame is None:
        raise ValueError("video has no frames")
    return Image.fromarray(frame.to_ndarray(format="rgb24"))


_SAMPLE_FORMATS = {"libmp3lame": "fltp", "libopus": "flt", "pcm_mulaw": "s16", "pcm_alaw": "s16"}


def encode_mono(codec: MonoCodec, container_format: str, samples: np.ndarray, rate: int, kbps: int | None) -> bytes:
    """Mono audio (mp3, opus, mu-law, a-law) with PyAV; LAME at a fast setting keeps a 6-minute file near two
    seconds of CPU."""
    buf = io.BytesIO()
    fmt = _SAMPLE_FORMATS[codec]
    with av.open(buf, mode="w", format=container_format) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        stream.format = fmt
        if kbps:
            stream.bit_rate = kbps * 1000
        if codec == "libmp3lame":
            stream.options = {"compression_level": "7"}
        step = (stream.codec_context.frame_size or 1024) * 16
        clipped = np.clip(samples, -1, 1)
        pcm = (clipped * 32767).astype(np.int16) if fmt == "s16" else clipped.astype(np.float32)
        pts = 0
        for start in range(0, len(pcm), step):
            chunk = np.ascontiguousarray(pcm[start : start + step].reshape(1, -1))
            frame = av.AudioFrame.from_ndarray(chunk, format=fmt, layout="mono")
            frame.sample_rate, frame.pts = rate, pts
            pts += chunk.shape[1]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


__all__ = [
    "Fraction",
    "VideoInfo",
    "decode_audio",
    "decode_frames",
    "encode_audio",
    "encode_mono",
    "encode_video",
    "first_and_last_frames",
    "last_frame",
    "probe",
    "resized_frames",
    "resolution_label",
    "video_size",
]
