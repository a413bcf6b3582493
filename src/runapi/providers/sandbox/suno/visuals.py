"""Cover art (the track's waveform on a seeded image), artwork variants and the waveform music video."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ....catalog.sandbox_schema import PlainSpec, SunoArtworkSpec
from ...base import Done, Output, TaskInput
from .. import dsp, images, limits, media
from ..base import Inputs, generator, task_seed
from ..dsp import SR
from .common import _rng, _sub, _track

COVER_SIDE = 512


ARTWORK_SIDE = 1024


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _draw_wave(
    draw: ImageDraw.ImageDraw, env: np.ndarray, box: tuple[int, int, int, int], color: tuple[int, ...], gap: int = 2
) -> None:
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
                draw.line(
                    (cx + r0 * math.cos(a), cy + r0 * math.sin(a), cx + r1 * math.cos(a), cy + r1 * math.sin(a)),
                    fill=color,
                    width=max(2, side // 160),
                )
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
    env = dsp.envelope(samples, 120)
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

    def frames() -> Iterator[np.ndarray]:
        for i in range(count):
            x = x0 + int((x1 - x0) * i / max(count - 1, 1))
            frame = dim_a.copy()
            frame[:, :x] = bright_a[:, :x]
            frame[box[1] - 6 : box[3] + 6, max(x - 1, 0) : x + 1] = 255
            yield frame

    return media.encode_video(seed, VIDEO_W, VIDEO_H, seconds, has_audio=True, frames=frames(), audio=samples)


@generator("suno_artwork")
async def suno_artwork(inputs: Inputs, task: TaskInput, spec: SunoArtworkSpec) -> Done:
    track, samples, _ = await _track(inputs, task, None)
    title = str(track.get("title") or "Untitled")

    def work() -> list[Output]:
        env = dsp.envelope(samples, 96)
        return [
            Output(
                "covers",
                images.encode(cover_image(task_seed(task, i), title, ARTWORK_SIDE, env, variant=i), "png").data,
                "image/png",
                "png",
            )
            for i in range(spec.count)
        ]

    return Done(outputs=await limits.run(work))


@generator("suno_video")
async def suno_video(inputs: Inputs, task: TaskInput, spec: PlainSpec) -> Done:
    p = task.params
    track, samples, _ = await _track(inputs, task, p.get("audio_id"))
    data = await limits.run(
        waveform_video, task_seed(task), samples, str(track.get("title") or ""), p.get("author"), p.get("domain_name")
    )
    return Done(outputs=[Output(None, data, "video/mp4", "mp4")], extra={"video_url": {"$file": 0}})
