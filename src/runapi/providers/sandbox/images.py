"""Real, deterministic images: size from aspect ratio and resolution, content from a seed.

Drawn on a small canvas and resampled to the target size, so even 4K frames take milliseconds to draw;
encoding dominates (PNG at a fast compression level).
"""

from __future__ import annotations

import hashlib
import io
import math
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageOps

FORMATS = {
    "png": ("PNG", "image/png", "png"),
    "jpg": ("JPEG", "image/jpeg", "jpg"),
    "jpeg": ("JPEG", "image/jpeg", "jpg"),
    "webp": ("WEBP", "image/webp", "webp"),
}
RESOLUTION_BASE = {"0.5k": 512, "1k": 1024, "2k": 2048, "4k": 4096, "1K": 1024, "2K": 2048, "4K": 4096}


@dataclass(frozen=True)
class Encoded:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def seed_bytes(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()


def parse_ratio(ratio: str | None) -> float | None:
    if not ratio or ":" not in ratio:
        return None
    w, _, h = ratio.partition(":")
    try:
        value = float(w) / float(h)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def dimensions(ratio: float, base: int, max_side: int | None = None, multiple: int = 16) -> tuple[int, int]:
    """Area-preserving size for `ratio` around base×base, rounded to `multiple`, long side capped at max_side."""
    w = base * math.sqrt(ratio)
    h = base / math.sqrt(ratio)
    if max_side and max(w, h) > max_side:
        scale = max_side / max(w, h)
        w, h = w * scale, h * scale
    return max(multiple, round(w / multiple) * multiple), max(multiple, round(h / multiple) * multiple)


def _palette(rng: random.Random) -> list[tuple[int, int, int]]:
    return [tuple(rng.randrange(256) for _ in range(3)) for _ in range(6)]  # type: ignore[misc]


def render(seed: bytes, width: int, height: int) -> Image.Image:
    rng = random.Random(seed)
    colors = _palette(rng)
    scale = 256 / max(width, height)
    sw, sh = max(8, round(width * scale)), max(8, round(height * scale))
    grad = Image.linear_gradient("L").rotate(rng.choice([0, 45, 90, 135]), expand=False).resize((sw, sh))
    canvas = ImageOps.colorize(grad, colors[0], colors[1]).convert("RGB")
    draw = ImageDraw.Draw(canvas, "RGBA")
    for i in range(rng.randint(4, 9)):
        x, y = rng.uniform(-0.2, 1.0) * sw, rng.uniform(-0.2, 1.0) * sh
        r = rng.uniform(0.08, 0.45) * max(sw, sh)
        color = (*colors[2 + i % 4], rng.randint(90, 200))
        box = (x, y, x + r, y + r * rng.uniform(0.5, 1.5))
        (draw.ellipse if rng.random() < 0.6 else draw.rectangle)(box, fill=color)
    return canvas.resize((width, height), Image.BICUBIC)


def blend_source(source: Image.Image, seed: bytes, width: int, height: int) -> Image.Image:
    """An 'edit': the source fitted to the target frame, tinted by a seeded pattern."""
    fitted = ImageOps.fit(ImageOps.exif_transpose(source).convert("RGB"), (width, height), Image.BICUBIC)
    return Image.blend(fitted, render(seed, width, height), 0.3)


def encode(image: Image.Image, fmt: str) -> Encoded:
    pil_format, content_type, ext = FORMATS.get(fmt, FORMATS["png"])
    buf = io.BytesIO()
    if pil_format == "PNG":
        image.save(buf, "PNG", compress_level=1)
    elif pil_format == "JPEG":
        image.convert("RGB").save(buf, "JPEG", quality=90)
    else:
        image.save(buf, pil_format, quality=90)
    return Encoded(buf.getvalue(), content_type, ext, image.width, image.height)


def cut_background(img: Image.Image, tolerance: int = 48) -> Image.Image:
    """Make the colour that dominates the border transparent (soft edge), keep everything else."""
    import numpy as np

    arr = np.asarray(img.convert("RGBA")).copy()
    border = np.concatenate([arr[0, :, :3], arr[-1, :, :3], arr[:, 0, :3], arr[:, -1, :3]])
    background = np.median(border, axis=0)
    distance = np.abs(arr[:, :, :3].astype(np.int16) - background.astype(np.int16)).max(axis=2)
    alpha = np.clip((distance - tolerance / 2) * (255 / max(tolerance, 1)), 0, 255).astype(np.uint8)
    arr[:, :, 3] = np.minimum(arr[:, :, 3], alpha)
    return Image.fromarray(arr, "RGBA")
