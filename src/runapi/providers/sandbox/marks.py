"""What a request writes into a sandbox image or video besides its pattern: the generation parameters recorded
in the file's metadata (as real generators record theirs: the prompt, the negative prompt, the seed) and a
visible watermark stamped into the pixels.

Spec keys (any image or video generator; declared with their defaults in catalog/sandbox_schema.MarkedSpec):
`prompt_param` [prompt], `negative_prompt_param` [negative_prompt], `seed_param` [seed], `watermark_param`
[watermark] (a string is the watermark's text, `true` stamps `watermark_text` [AI generated]), `enhance_param`
(boolean: the recorded prompt is the expanded one, see `expanded_prompt`).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ...catalog.sandbox_schema import MarkedSpec

IMAGE_DESCRIPTION = 0x010E  # EXIF ImageDescription: where images carry their generation parameters
VIDEO_COMMENT = "comment"  # MP4 metadata key (©cmt) for videos


def expanded_prompt(prompt: str) -> str:
    """Prompt expansion (enable_prompt_expansion / MagicPrompt): the deterministic stand-in for a rewrite."""
    return f"{prompt.rstrip('. ')}. Detailed, well composed, natural lighting, high quality."


def generation_info(spec: MarkedSpec, params: dict[str, Any]) -> dict[str, str]:
    """The parameters recorded in the output's metadata (only those the request set)."""
    info: dict[str, str] = {}
    for name, label in (
        (spec.prompt_param, "prompt"),
        (spec.negative_prompt_param, "negative_prompt"),
        (spec.seed_param, "seed"),
    ):
        value = params.get(name) if name else None
        if value is not None and value != "":
            info[label] = str(value)
    enhance = spec.enhance_param
    if enhance and params.get(enhance) and "prompt" in info:
        info["prompt"] = expanded_prompt(info["prompt"])
    return info


def metadata_text(info: dict[str, str]) -> str | None:
    return json.dumps(info, ensure_ascii=False, sort_keys=True) if info else None


def watermark_text(spec: MarkedSpec, params: dict[str, Any]) -> str | None:
    name = spec.watermark_param
    value = params.get(name) if name else None
    if value is True:
        return spec.watermark_text
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


class Stamp:
    """A watermark: its text drawn white on a darkened band in the bottom-right corner."""

    def __init__(self, text: str, width: int, height: int):
        size = max(10, min(width, height) // 20)
        font = ImageFont.load_default(size)
        # whole pixels (FreeType's box already is; the stubs allow fractions)
        left, top, right, bottom = map(int, ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font))
        pad = max(2, size // 4)
        band = Image.new("L", (min(width, right - left + 2 * pad), min(height, bottom - top + 2 * pad)), 0)
        ImageDraw.Draw(band).text((pad - left, pad - top), text, fill=255, font=font)
        self.ink = np.asarray(band) > 127  # where the letters are, inside the band

    def array(self, frame: np.ndarray) -> np.ndarray:
        """The frame (H×W×3, uint8) with the mark in its bottom-right corner."""
        h, w = min(self.ink.shape[0], frame.shape[0]), min(self.ink.shape[1], frame.shape[1])
        out = np.array(frame, copy=True)
        region = out[out.shape[0] - h :, out.shape[1] - w :]
        region[...] = (region.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken the band
        region[self.ink[:h, :w]] = 255
        return out

    def image(self, img: Image.Image) -> Image.Image:
        mode = "RGBA" if img.mode in ("RGBA", "LA") else "RGB"
        arr = np.asarray(img.convert(mode))
        stamped = arr.copy()
        stamped[..., :3] = self.array(arr[..., :3])
        return Image.fromarray(stamped, mode)


def stamp_for(spec: MarkedSpec, params: dict[str, Any], width: int, height: int) -> Stamp | None:
    text = watermark_text(spec, params)
    return Stamp(text, width, height) if text else None
