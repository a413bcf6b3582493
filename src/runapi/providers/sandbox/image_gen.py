"""Image generators: new images, edits, upscales, background removal."""

from __future__ import annotations

import re
from typing import Any

from PIL import Image, ImageOps

from ..base import Done, Output, TaskFailed, TaskInput
from . import images, limits
from .base import Inputs, as_list, generator, task_seed

_SIZE = re.compile(r"^\s*(\d+)\s*[x*×]\s*(\d+)\s*$", re.IGNORECASE)
_NAMED_RATIOS = {"square": 1.0, "square_hd": 1.0, "portrait": 3 / 4, "landscape": 4 / 3,
                 "portrait_4_3": 3 / 4, "portrait_16_9": 9 / 16, "landscape_4_3": 4 / 3, "landscape_16_9": 16 / 9}


def _count(spec: dict[str, Any], params: dict[str, Any]) -> int:
    count_param = spec.get("count_param")
    if count_param and params.get(count_param) is not None:
        return max(1, int(params[count_param]))
    return int(spec.get("count", 1))


def target_size(spec: dict[str, Any], params: dict[str, Any], first: Image.Image | None) -> tuple[int, int]:
    """Output size from an explicit WxH, else from aspect ratio × resolution base, capped at max_side."""
    size_value = params.get(spec["size_param"]) if spec.get("size_param") else None
    if isinstance(size_value, str):
        m = _SIZE.match(size_value)
        if m:
            w, h = int(m.group(1)), int(m.group(2))
            return images.dimensions(w / h, int((w * h) ** 0.5), spec.get("max_side"), multiple=1) \
                if spec.get("max_side") and max(w, h) > spec["max_side"] else (w, h)
    ratio_text = params.get(spec.get("aspect_param", "aspect_ratio"))
    if size_value is not None and ratio_text is None:
        ratio_text = size_value
    ratio = images.parse_ratio(ratio_text) if isinstance(ratio_text, str) else None
    if ratio is None and isinstance(ratio_text, str):
        ratio = _NAMED_RATIOS.get(ratio_text)
    if ratio is None:  # "auto" or not given: follow the first input image, else square
        ratio = first.width / first.height if first is not None else 1.0
    base = images.RESOLUTION_BASE.get(str(params.get(spec.get("resolution_param", "output_resolution"))),
                                      int(spec.get("base", 1024)))
    return images.dimensions(ratio, base, spec.get("max_side"))


def _format(spec: dict[str, Any], params: dict[str, Any]) -> str:
    return str(params.get(spec.get("format_param", "output_format")) or spec.get("default_format", "png"))


async def _fetch_all(inputs: Inputs, task: TaskInput, spec: dict[str, Any], key: str) -> list[Image.Image]:
    """The input images; only the first is used, so the others are checked (header, size) but not decoded."""
    urls = [u for name in as_list(spec.get(key)) for u in as_list(task.params.get(name))]
    return [await inputs.image(u, spec.get("max_source_bytes"), load=i == 0) for i, u in enumerate(urls)]


async def _images(task: TaskInput, spec: dict[str, Any], fetched: list[Image.Image]) -> Done:
    p = task.params
    width, height = target_size(spec, p, fetched[0] if fetched else None)
    limits.check_output_image(width, height)
    fmt = _format(spec, p)

    def work() -> list[Output]:
        outs = []
        for i in range(_count(spec, p)):
            seed = task_seed(task, i)
            img = images.blend_source(fetched[0], seed, width, height) if fetched else images.render(seed, width, height)
            enc = images.encode(img, fmt)
            outs.append(Output("images", enc.data, enc.content_type, enc.extension))
        return outs

    return Done(outputs=await limits.run(work))


@generator("image")
async def generate_image(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    return await _images(task, spec, await _fetch_all(inputs, task, spec, "references"))


@generator("image_edit")
async def edit_image(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    fetched = await _fetch_all(inputs, task, spec, "sources")
    if not fetched:
        raise TaskFailed("No source image given")
    return await _images(task, spec, fetched)


def _factor(spec: dict[str, Any], params: dict[str, Any]) -> float:
    raw = params.get(spec["factor_param"]) if spec.get("factor_param") else None
    if raw is None:
        return float(spec.get("factor", 2))
    text = str(raw).lower().rstrip("x")
    try:
        return float(text)
    except ValueError:
        return float(spec.get("factor", 2))


def upscaled_size(spec: dict[str, Any], params: dict[str, Any], width: int, height: int) -> tuple[int, int]:
    """The input's size times the requested factor, the long side capped at the spec's max_side."""
    factor = _factor(spec, params)
    w, h = round(width * factor), round(height * factor)
    if spec.get("max_side") and max(w, h) > spec["max_side"]:
        scale = spec["max_side"] / max(w, h)
        w, h = round(w * scale), round(h * scale)
    return max(1, w), max(1, h)


@generator("image_upscale")
async def upscale_image(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    """Real resampling (Lanczos) of the input by the requested factor."""
    fetched = await _fetch_all(inputs, task, spec, "sources")
    if not fetched:
        raise TaskFailed("No source image given")
    w, h = upscaled_size(spec, task.params, fetched[0].width, fetched[0].height)
    limits.check_output_image(w, h)
    fmt = _format(spec, task.params)

    def work() -> Output:
        src = ImageOps.exif_transpose(fetched[0]).convert("RGB")
        if (src.width, src.height) != (fetched[0].width, fetched[0].height):  # EXIF rotated it
            w2, h2 = h, w
        else:
            w2, h2 = w, h
        enc = images.encode(src.resize((w2, h2), Image.LANCZOS), fmt)
        return Output("images", enc.data, enc.content_type, enc.extension)

    return Done(outputs=[await limits.run(work)])


@generator("remove_background")
async def remove_background(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    """Transparent background: pixels close to the border's dominant colour become transparent."""
    fetched = await _fetch_all(inputs, task, spec, "sources")
    if not fetched:
        raise TaskFailed("No source image given")

    def work() -> Output:
        img = ImageOps.exif_transpose(fetched[0]).convert("RGBA")
        return Output("images", images.encode(images.cut_background(img), "png").data, "image/png", "png")

    return Done(outputs=[await limits.run(work)])
