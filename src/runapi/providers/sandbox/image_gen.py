"""Image generators: new images, edits, upscales, background removal."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps

from ...catalog.sandbox_schema import ImageEditSpec, ImageOptions, ImageSpec, ImageUpscaleSpec, RemoveBackgroundSpec
from ..base import Done, InputRejected, Output, TaskFailed, TaskInput
from ..inputs import Inputs
from . import images, limits, marks
from .base import as_list, generator, task_seed

_SIZE = re.compile(r"^\s*(\d+)\s*[x*×]\s*(\d+)\s*$", re.IGNORECASE)
_NAMED_RATIOS = {
    "square": 1.0,
    "square_hd": 1.0,
    "portrait": 3 / 4,
    "landscape": 4 / 3,
    "portrait_4_3": 3 / 4,
    "portrait_16_9": 9 / 16,
    "landscape_4_3": 4 / 3,
    "landscape_16_9": 16 / 9,
}


def _count(spec: ImageOptions, params: dict[str, Any]) -> int:
    count_param = spec.count_param
    if count_param and params.get(count_param) is not None:
        return max(1, int(params[count_param]))
    return spec.count


def target_size(spec: ImageOptions, params: dict[str, Any], first: Image.Image | None) -> tuple[int, int]:
    """Output size from an explicit WxH, else from aspect ratio × resolution base, capped at max_side."""
    size_value = params.get(spec.size_param) if spec.size_param else None
    if isinstance(size_value, str):
        m = _SIZE.match(size_value)
        if m:
            w, h = int(m.group(1)), int(m.group(2))
            return (
                images.dimensions(w / h, int((w * h) ** 0.5), spec.max_side, multiple=1)
                if spec.max_side and max(w, h) > spec.max_side
                else (w, h)
            )
    ratio_text = params.get(spec.aspect_param)
    if size_value is not None and ratio_text is None:
        ratio_text = size_value
    ratio = images.parse_ratio(ratio_text) if isinstance(ratio_text, str) else None
    if ratio is None and isinstance(ratio_text, str):
        ratio = _NAMED_RATIOS.get(ratio_text)
    if ratio is None:  # "auto" or not given: follow the first input image, else square
        ratio = first.width / first.height if first is not None else 1.0
    bases = {**images.RESOLUTION_BASE, **spec.resolution_bases}
    base = bases.get(str(params.get(spec.resolution_param)), spec.base)
    if spec.pro_param and params.get(spec.pro_param):  # a high-quality mode: `pro_base` pixels
        base = spec.pro_base if spec.pro_base is not None else base
    return images.dimensions(ratio, base, spec.max_side)


def _palette_tone(spec: ImageOptions, params: dict[str, Any]) -> tuple[int, int, int] | None:
    """`palette_param`: a list of {hex, ratio}; their ratio-weighted mean colour (None without a usable one)."""
    items = params.get(spec.palette_param) if spec.palette_param else None
    total, acc = 0.0, [0.0, 0.0, 0.0]
    for item in items if isinstance(items, list) else []:
        text = str((item or {}).get("hex", "")).lstrip("#") if isinstance(item, dict) else ""
        if not re.fullmatch(r"[0-9a-fA-F]{6}", text):
            continue
        weight = item.get("ratio")
        weight = float(weight) if isinstance(weight, (int, float)) and weight > 0 else 1.0
        total += weight
        for k in range(3):
            acc[k] += int(text[2 * k : 2 * k + 2], 16) * weight
    return (round(acc[0] / total), round(acc[1] / total), round(acc[2] / total)) if total else None


def _format(spec: ImageOptions | ImageUpscaleSpec, params: dict[str, Any]) -> str:
    return str(params.get(spec.format_param) or spec.default_format)


async def _fetch_all(
    inputs: Inputs, task: TaskInput, names: tuple[str, ...], max_bytes: int | None, what: str = "image"
) -> list[Image.Image]:
    """The input images the params `names` hold; only the first is used, so the others are checked (header,
    size) but not decoded."""
    urls = [u for name in names for u in as_list(task.params.get(name))]
    return [await inputs.image(u, max_bytes, load=i == 0, what=what) for i, u in enumerate(urls)]


@dataclass
class Guides:
    """What steers an edit besides its source: the mask of the area to repaint, a character reference (with
    its own mask) and a style reference. Each is fetched and checked like the source; a failure fails the task."""

    mask: Image.Image | None = None
    reference: Image.Image | None = None
    reference_mask: Image.Image | None = None
    style: Image.Image | None = None


def check_mask(mask_size: tuple[int, int], source_size: tuple[int, int]) -> None:
    """The docs: the mask must have the same dimensions as the original image (遮罩需与原图尺寸一致)."""
    if tuple(mask_size) != tuple(source_size):
        raise InputRejected(
            f"The mask must have the same dimensions as the source image: the mask is "
            f"{mask_size[0]}×{mask_size[1]}, the source {source_size[0]}×{source_size[1]}"
        )


async def _guides(inputs: Inputs, task: TaskInput, spec: ImageOptions) -> Guides:
    async def first(names: tuple[str, ...], what: str) -> Image.Image | None:
        fetched = await _fetch_all(inputs, task, names, spec.max_source_bytes, what)
        return fetched[0] if fetched else None

    return Guides(
        mask=await first(spec.mask, "mask"),
        reference=await first(spec.character_references, "reference image"),
        reference_mask=await first(spec.reference_masks, "reference mask"),
        style=await first(spec.style_references, "style reference image"),
    )


def _shown_size(img: Image.Image) -> tuple[int, int]:
    """The size as displayed (EXIF orientations 5-8 swap the sides)."""
    return (img.height, img.width) if img.getexif().get(0x0112, 1) in (5, 6, 7, 8) else (img.width, img.height)


def _names_a_size(spec: ImageOptions, params: dict[str, Any]) -> bool:
    keys = [spec.size_param, spec.aspect_param]
    return any(k and params.get(k) not in (None, "auto") for k in keys)


async def _images(
    task: TaskInput, spec: ImageOptions, fetched: list[Image.Image], guides: Guides | None = None
) -> Done:
    p = task.params
    guides = guides or Guides()
    if guides.mask is not None and not fetched:
        raise TaskFailed("A mask needs a source image to edit")
    if guides.mask is not None:
        check_mask(guides.mask.size, fetched[0].size)
    if guides.mask is not None and not _names_a_size(spec, p):
        width, height = _shown_size(fetched[0])  # inpainting keeps the source's frame
    else:
        width, height = target_size(spec, p, fetched[0] if fetched else None)
    limits.check_output_image(width, height)
    fmt = _format(spec, p)
    description = marks.metadata_text(marks.generation_info(spec, p))
    stamp = marks.stamp_for(spec, p, width, height)
    tone = _palette_tone(spec, p)
    sequential = bool(spec.sequential_param and p.get(spec.sequential_param))

    def work() -> list[Output]:
        region = images.edit_region(guides.mask, fetched[0], alpha=spec.mask_alpha) if guides.mask is not None else None
        keep = guides.reference_mask.convert("L") if guides.reference_mask is not None else None
        outs: list[Output] = []
        previous: Image.Image | None = None
        for i in range(_count(spec, p)):
            seed = task_seed(task, i)
            if region is not None:
                img = images.inpaint(fetched[0], region, seed, width, height, guides.reference, guides.style, keep)
            elif fetched:
                img = images.blend_source(fetched[0], seed, width, height, guides.reference, guides.style, keep)
            elif sequential and previous is not None:  # a sequence: each image grows out of the one before
                img = images.blend_source(previous, seed, width, height)
            else:
                img = images.render(seed, width, height)
            if tone is not None:  # a colour palette: the picture leans toward its weighted colour
                img = Image.blend(img.convert("RGB"), Image.new("RGB", img.size, tone), 0.35)
            previous = img
            if stamp is not None:
                img = stamp.image(img)
            enc = images.encode(img, fmt, description)
            outs.append(Output("images", enc.data, enc.content_type, enc.extension))
        return outs

    return Done(outputs=await limits.run(work))


@generator("image")
async def generate_image(inputs: Inputs, task: TaskInput, spec: ImageSpec) -> Done:
    fetched = await _fetch_all(inputs, task, spec.references, spec.max_source_bytes)
    return await _images(task, spec, fetched, await _guides(inputs, task, spec))


@generator("image_edit")
async def edit_image(inputs: Inputs, task: TaskInput, spec: ImageEditSpec) -> Done:
    fetched = await _fetch_all(inputs, task, spec.sources, spec.max_source_bytes)
    if not fetched:
        raise TaskFailed("No source image given")
    return await _images(task, spec, fetched, await _guides(inputs, task, spec))


def _factor(spec: ImageUpscaleSpec, params: dict[str, Any]) -> float:
    raw = params.get(spec.factor_param) if spec.factor_param else None
    if raw is None:
        return spec.factor
    text = str(raw).lower().rstrip("x")
    try:
        return float(text)
    except ValueError:
        return spec.factor


def upscaled_size(spec: ImageUpscaleSpec, params: dict[str, Any], width: int, height: int) -> tuple[int, int]:
    """The input's size times the requested factor, the long side capped at the spec's max_side."""
    factor = _factor(spec, params)
    w, h = round(width * factor), round(height * factor)
    if spec.max_side and max(w, h) > spec.max_side:
        scale = spec.max_side / max(w, h)
        w, h = round(w * scale), round(h * scale)
    return max(1, w), max(1, h)


@generator("image_upscale")
async def upscale_image(inputs: Inputs, task: TaskInput, spec: ImageUpscaleSpec) -> Done:
    """Real resampling (Lanczos) of the input by the requested factor."""
    fetched = await _fetch_all(inputs, task, spec.sources, spec.max_source_bytes)
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
        enc = images.encode(src.resize((w2, h2), Image.Resampling.LANCZOS), fmt)
        return Output("images", enc.data, enc.content_type, enc.extension)

    return Done(outputs=[await limits.run(work)])


@generator("remove_background")
async def remove_background(inputs: Inputs, task: TaskInput, spec: RemoveBackgroundSpec) -> Done:
    """Transparent background: pixels close to the border's dominant colour become transparent."""
    fetched = await _fetch_all(inputs, task, spec.sources, spec.max_source_bytes)
    if not fetched:
        raise TaskFailed("No source image given")

    def work() -> Output:
        img = ImageOps.exif_transpose(fetched[0]).convert("RGBA")
        return Output("images", images.encode(images.cut_background(img), "png").data, "image/png", "png")

    return Done(outputs=[await limits.run(work)])
