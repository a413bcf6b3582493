"""PNG sources and masks for the tests of image inputs (unit and e2e)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def png(width: int, height: int, seed: int = 0, mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(seed)
    channels = 4 if mode == "RGBA" else 3
    img = Image.fromarray(rng.integers(0, 256, (height, width, channels), dtype=np.uint8), mode)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def mask_png(width: int, height: int, *, alpha: bool = False) -> bytes:
    """The left half marked for repainting: black (Ideogram), or transparent (OpenAI) when alpha."""
    if alpha:
        img = Image.new("RGBA", (width, height), (0, 0, 0, 255))
        img.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    else:
        img = Image.new("L", (width, height), 255)
        img.paste(0, (0, 0, width // 2, height))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
