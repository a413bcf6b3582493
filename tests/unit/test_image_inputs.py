"""Image inputs applied, without a server (issue 12, items 5 and 8): the mask decides which pixels change (inputs
fetched by a stub), character, style and reference-mask images shape the result, and sizes keep the requested
aspect ratio exactly where a size of the sandbox's 16-pixel step has it. Fetching and refusing the inputs over
HTTP is in tests/e2e/test_image_inputs.py."""

from __future__ import annotations

import asyncio
import io
import math

import numpy as np
import pytest
from PIL import Image

from runapi.catalog import get_catalog
from runapi.net.safe_http import safe_client
from runapi.providers.base import TaskInput
from runapi.providers.inputs import Inputs
from runapi.providers.sandbox import generators, image_gen, images
from tests.support.image_inputs import mask_png, png


# ----------------------------------------------------------------------------------- the mask is applied
def run_generator(family: str, action: str, model: str, params: dict, files: dict[str, bytes]):
    """The action's sandbox generator on `params`, its input URLs served from `files` (no server)."""
    act = get_catalog().action(family, action)
    spec = act.models[model].sandbox  # the action's block merged with the model's

    async def go():
        async with safe_client(allow_private=True) as http:
            inputs = Inputs(http, None, 50 << 20)

            async def fetch(url, max_bytes=None, what="file"):
                return files[url]

            inputs.fetch = fetch
            task = TaskInput(id="t", action=act, model=act.models[model], params=params, refs={})
            return await generators()[spec.generator](inputs, task, spec)

    done = asyncio.run(go())
    return [np.asarray(Image.open(io.BytesIO(o.data)).convert("RGB")).astype(int) for o in done.outputs]


def test_ideogram_mask_repaints_only_the_black_area():
    source = png(96, 64, 3)
    src = np.asarray(Image.open(io.BytesIO(source)).convert("RGB")).astype(int)
    [out] = run_generator(
        "ideogram_v3",
        "edit_image",
        "ideogram-v3-edit",
        {
            "model": "ideogram-v3-edit",
            "prompt": "a hat",
            "source_image_url": "s",
            "mask_url": "m",
            "rendering_speed": "balanced",
        },
        {"s": source, "m": mask_png(96, 64)},
    )
    assert out.shape == src.shape
    assert np.array_equal(out[:, 48:], src[:, 48:])  # white: kept exactly
    assert np.abs(out[:, :48] - src[:, :48]).mean() > 20  # black: repainted


def test_gpt4o_mask_repaints_only_the_transparent_area():
    source = png(1024, 1024, 4)  # the 1:1 output size, so kept pixels stay exactly the source's
    src = np.asarray(Image.open(io.BytesIO(source)).convert("RGB")).astype(int)
    [out] = run_generator(
        "gpt_4o_image",
        "text_to_image",
        "gpt-4o-image",
        {
            "model": "gpt-4o-image",
            "prompt": "stars",
            "aspect_ratio": "1:1",
            "source_image_urls": ["s"],
            "mask_url": "m",
        },
        {"s": source, "m": mask_png(1024, 1024, alpha=True)},
    )
    assert np.array_equal(out[:, 520:], src[:, 520:])
    assert np.abs(out[:, :500] - src[:, :500]).mean() > 20


def test_character_style_and_reference_mask_images_shape_the_result():
    """Same request, other content behind one URL: the result changes, so the content is used (the seed
    alone, which follows the request, cannot explain it)."""
    files = {"s": png(64, 64, 5), "r": png(64, 64, 6), "st": png(8, 8, 7), "rm": mask_png(64, 64)}
    params = {
        "model": "ideogram-v3-character-remix",
        "prompt": "watercolor",
        "source_image_url": "s",
        "rendering_speed": "balanced",
        "reference_image_urls": ["r"],
        "style_reference_image_urls": ["st"],
        "reference_mask_urls": ["rm"],
    }

    def remix(**swap):
        return run_generator("ideogram_v3", "remix_image", "ideogram-v3-character-remix", params, {**files, **swap})[0]

    base = remix()
    assert not np.array_equal(base, remix(r=png(64, 64, 9)))
    assert not np.array_equal(base, remix(st=png(8, 8, 10)))
    white = io.BytesIO()
    Image.new("L", (64, 64), 255).save(white, "PNG")
    assert not np.array_equal(base, remix(rm=white.getvalue()))  # the whole reference vs its right half


# ------------------------------------------------------------------------------------------ exact ratios
def exact_sizes_exist(ratio: tuple[int, int], area: float, max_side: int | None, step: int = 16) -> bool:
    """Brute force: is there a size of exactly this ratio, sides multiples of `step`, in the area band?"""
    p, q = ratio
    for h in range(step, 20000, step):
        if (h * p) % q or (h * p // q) % step:
            continue
        w = h * p // q
        if max_side and max(w, h) > max_side:
            break
        if abs(math.log(w * h / area)) <= math.log(images.EXACT_AREA_BAND):
            return True
    return False


def image_actions():
    for action in get_catalog().actions():
        if action.sandbox is None or action.sandbox.generator not in ("image", "image_edit"):
            continue
        for model in action.models.values() or [None]:
            yield action, model


def test_every_documented_ratio_is_exact_where_a_size_exists():
    checked = exact = 0
    for action, model in image_actions():
        spec = model.sandbox if model else action.sandbox
        params = {**action.params, **(model.params if model else {})}
        aspect = params.get(spec.aspect_param)
        resolution = params.get(spec.resolution_param)
        ratios = [r for r in (aspect.enum or ()) if isinstance(r, str) and ":" in r] if aspect else []
        for ratio_text in ratios:
            for res in resolution.enum if resolution and resolution.enum else [None]:
                req = {spec.aspect_param: ratio_text}
                if res is not None:
                    req[spec.resolution_param] = res
                w, h = image_gen.target_size(spec, req, None)
                p, q = (int(x) for x in ratio_text.split(":"))
                base = images.RESOLUTION_BASE.get(str(res), spec.base)
                ideal_w, ideal_h = base * math.sqrt(p / q), base / math.sqrt(p / q)
                cap = spec.max_side
                if cap and max(ideal_w, ideal_h) > cap:
                    s = cap / max(ideal_w, ideal_h)
                    ideal_w, ideal_h = ideal_w * s, ideal_h * s
                where = f"{action.key} {model.id if model else ''} {ratio_text} {res}: {w}×{h}"
                checked += 1
                assert w % 16 == 0 and h % 16 == 0, where
                assert not cap or max(w, h) <= cap, where
                if exact_sizes_exist((p, q), ideal_w * ideal_h, cap):
                    exact += 1
                    assert w * q == h * p, where
                else:
                    assert abs(w / h - p / q) / (p / q) < 0.05, where
    assert checked > 100 and exact == checked, (checked, exact)


@pytest.mark.parametrize(
    "model,ratio,res,size",
    [
        ("nano-banana", "21:9", None, (1008, 432)),  # was 1024×432 (1.6 % off)
        ("nano-banana-2", "8:1", "1k", (2944, 368)),  # was 2896×368 (1.6 % off)
        ("nano-banana-2", "1:8", "1k", (368, 2944)),
        ("nano-banana", "16:9", None, (1024, 576)),
        ("nano-banana-pro", "1:1", "4k", (4096, 4096)),
    ],
)
def test_nano_banana_sizes(model, ratio, res, size):
    action = get_catalog().action("nano_banana", "text_to_image")
    spec = action.models[model].sandbox
    params = {"aspect_ratio": ratio, **({"output_resolution": res} if res else {})}
    assert image_gen.target_size(spec, params, None) == size


def test_ratios_without_a_small_exact_size_get_the_closest():
    assert images.dimensions(1000 / 667, 1024) == (1248, 832)  # a source photo's odd ratio: rounded
    assert images.dimensions(21 / 9, 1024, 1024) == (1008, 432)
