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
from fractions import Fraction

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


# An exact-ratio size may differ from the requested area by at most this factor (either way); beyond it the
# closest rounded size is used instead (e.g. a source image's odd ratio whose smallest exact size is huge).
EXACT_AREA_BAND = 1.25


def dimensions(ratio: float, base: int, max_side: int | None = None, multiple: int = 16) -> tuple[int, int]:
    """Size for `ratio` with about base×base pixels, sides multiples of `multiple`, long side at most max_side.
    The ratio is exact whenever such a size exists near that area (21:9 → 1008×432, not 1024×432); else the
    area-preserving size rounded to `multiple`."""
    w = base * math.sqrt(ratio)
    h = base / math.sqrt(ratio)
    if max_side and max(w, h) > max_side:
        scale = max_side / max(w, h)
        w, h = w * scale, h * scale
    exact = exact_dimensions(ratio, w * h, max_side, multiple)
    if exact is not None:
        return exact
    return max(multiple, round(w / multiple) * multiple), max(multiple, round(h / multiple) * multiple)


def exact_dimensions(ratio: float, area: float, max_side: int | None, multiple: int) -> tuple[int, int] | None:
    """The size of exactly `ratio` (a ratio of small integers), sides multiples of `multiple`, whose area is
    closest to `area` within EXACT_AREA_BAND and whose long side fits max_side; None when there is none."""
    frac = Fraction(ratio).limit_denominator(1000)
    if frac <= 0 or abs(float(frac) - ratio) > 1e-9 * ratio:
        return None
    p, q = frac.numerator, frac.denominator
    # every exact size is n × (p·k, q·k), with k the least factor making both sides multiples of `multiple`
    k = math.lcm(multiple // math.gcd(multiple, p), multiple // math.gcd(multiple, q))
    unit_w, unit_h = p * k, q * k
    n_max = max_side // max(unit_w, unit_h) if max_side else math.inf
    ideal = math.sqrt(area / (unit_w * unit_h))
    candidates = [n for n in (math.floor(ideal), math.ceil(ideal), n_max) if 1 <= n <= n_max]
    if not candidates:
        return None
    n = min(candidates, key=lambda c: abs(math.log(c * c * unit_w * unit_h / area)))
    if abs(math.log(n * n * unit_w * unit_h / area)) > math.log(EXACT_AREA_BAND):
        return None
    return int(n * unit_w), int(n * unit_h)


def _palette(rng: random.Random) -> list[tuple[int, int, int]]:
    return [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(6)]


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
    return canvas.resize((width, height), Image.Resampling.BICUBIC)


def blend_source(
    source: Image.Image,
    seed: bytes,
    width: int,
    height: int,
    reference: Image.Image | None = None,
    style: Image.Image | None = None,
    reference_region: Image.Image | None = None,
) -> Image.Image:
    """An 'edit': the source fitted to the target frame, tinted by a seeded pattern (carrying the references)."""
    fitted = ImageOps.fit(ImageOps.exif_transpose(source).convert("RGB"), (width, height), Image.Resampling.BICUBIC)
    return Image.blend(fitted, styled(render(seed, width, height), reference, style, reference_region), 0.3)


_EXIF_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def edit_region(mask: Image.Image, source: Image.Image, alpha: bool = False) -> Image.Image:
    """The mask as an 'L' weight (255 = repaint), oriented like the source is shown. Black marks the area to
    repaint (Ideogram); with alpha=True a mask with transparency marks it by its transparent pixels (OpenAI)."""
    has_alpha = mask.mode in ("RGBA", "LA", "PA") or "transparency" in mask.info
    if alpha and has_alpha:
        region = mask.convert("RGBA").getchannel("A")
    else:
        region = mask.convert("L")
    region = ImageOps.invert(region)
    method = _EXIF_TRANSPOSE.get(source.getexif().get(0x0112, 1))  # the same turn exif_transpose gives the source
    return region.transpose(method) if method is not None else region


def inpaint(
    source: Image.Image,
    region: Image.Image,
    seed: bytes,
    width: int,
    height: int,
    reference: Image.Image | None = None,
    style: Image.Image | None = None,
    reference_region: Image.Image | None = None,
) -> Image.Image:
    """A masked edit: the source fitted to the frame, repainted only where `region` says (fitted alike); the
    repaint is the seeded pattern, carrying the reference (where its own mask allows) and the style's tone."""
    fitted = ImageOps.fit(ImageOps.exif_transpose(source).convert("RGB"), (width, height), Image.Resampling.BICUBIC)
    weight = ImageOps.fit(region, (width, height), Image.Resampling.BILINEAR)
    paint = styled(render(seed, width, height), reference, style, reference_region)
    return Image.composite(paint, fitted, weight)


def styled(
    paint: Image.Image,
    reference: Image.Image | None,
    style: Image.Image | None,
    reference_region: Image.Image | None = None,
) -> Image.Image:
    """The pattern with a character reference blended in (only its masked part when a reference mask is given)
    and tinted toward a style reference's mean colour."""
    size = paint.size
    if reference is not None:
        ref = ImageOps.fit(ImageOps.exif_transpose(reference).convert("RGB"), size, Image.Resampling.BICUBIC)
        if reference_region is not None:
            keep = ImageOps.fit(reference_region, size, Image.Resampling.BILINEAR)
            ref = Image.composite(ref, paint, keep)
        paint = Image.blend(paint, ref, 0.5)
    if style is not None:
        tone = ImageOps.exif_transpose(style).convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
        paint = Image.blend(paint, Image.new("RGB", size, tone), 0.35)
    return paint


def encode(image: Image.Image, fmt: str, description: str | None = None) -> Encoded:
    """`description` goes into EXIF ImageDescription (the generation parameters, see marks.py)."""
    pil_format, content_type, ext = FORMATS.get(fmt, FORMATS["png"])
    buf = io.BytesIO()
    extra = {}
    if description:
        exif = Image.Exif()
        exif[0x010E] = description
        extra["exif"] = exif
    if pil_format == "PNG":
        image.save(buf, "PNG", compress_level=1, **extra)
    elif pil_format == "JPEG":
        image.convert("RGB").save(buf, "JPEG", quality=90, **extra)
    else:
        image.save(buf, pil_format, quality=90, **extra)
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
