"""The effects given to parameters that used to be accepted and ignored (issue 12): what the sandbox records in
its outputs (prompt, negative prompt, seed, expanded prompt), watermarks, reference images/videos/audio, style
references, colour palettes, sequential images, multi-shot videos, motion styles, edits' length/audio/subject,
and the catalog's `effect: none` entries. Here the effects that need no input; those of inputs fetched from a
host are in tests/e2e/test_param_effects_more.py."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from runapi.catalog.sandbox_schema import parse_sandbox
from runapi.domain.task import Task, TaskState
from runapi.providers.base import TaskFailed
from runapi.providers.sandbox import marks, media
from tests.support.param_effects_more import (
    CATALOG,
    CLIP,
    comment,
    first_frame_mean,
    frames,
    port_free_seeds,  # noqa: F401  (autouse)
    run,
    solid_png,
)

SMALL = {"generator": "image", "base": 64}


def description(data: bytes) -> dict:
    text = Image.open(io.BytesIO(data)).getexif().get(marks.IMAGE_DESCRIPTION)
    return json.loads(text) if text else {}


# ------------------------------------------------------------------------------------------ images


@pytest.mark.parametrize("fmt", ["png", "jpg", "webp"])
def test_images_record_prompt_negative_prompt_and_seed(fmt):
    params = {"prompt": "a quiet harbour", "negative_prompt": "people", "seed": 7, "output_format": fmt}
    out = run("image", params, SMALL).outputs[0]
    assert description(out.data) == {"prompt": "a quiet harbour", "negative_prompt": "people", "seed": "7"}
    assert description(run("image", {"output_format": fmt}, SMALL).outputs[0].data) == {}


def test_prompt_expansion_records_the_expanded_prompt():
    spec = {**SMALL, "enhance_param": "enable_prompt_expansion"}
    plain = description(run("image", {"prompt": "a fox"}, spec).outputs[0].data)["prompt"]
    expanded = description(run("image", {"prompt": "a fox", "enable_prompt_expansion": True}, spec).outputs[0].data)
    assert plain == "a fox" and expanded["prompt"] == marks.expanded_prompt("a fox") != "a fox"


@pytest.mark.parametrize("value", ["MyBrand", True])
def test_watermark_is_stamped_in_the_bottom_right_corner(value, monkeypatch):
    monkeypatch.setattr("runapi.providers.sandbox.image_gen.task_seed", lambda task, i=0: b"fixed".ljust(32, b"."))
    plain = np.asarray(Image.open(io.BytesIO(run("image", {}, SMALL).outputs[0].data)), dtype=np.int16)
    marked = np.asarray(
        Image.open(io.BytesIO(run("image", {"watermark": value}, SMALL).outputs[0].data)), dtype=np.int16
    )
    changed = np.argwhere(np.abs(marked - plain).max(axis=2) > 0)
    assert len(changed) and changed[:, 0].min() >= 64 // 2 and changed[:, 1].min() >= 0  # the lower part only
    assert (np.abs(marked - plain)[:32] == 0).all()
    assert run("image", {"watermark": False}, SMALL).outputs[0].data  # false: no stamp, no failure
    assert marks.watermark_text(parse_sandbox(SMALL, "test"), {"watermark": False}) is None


def test_colour_palette_pulls_the_picture_toward_its_weighted_colour():
    spec = {**SMALL, "palette_param": "color_palette"}
    palette = [{"hex": "#FF0000", "ratio": 0.75}, {"hex": "#0000FF", "ratio": 0.25}]
    img = np.asarray(Image.open(io.BytesIO(run("image", {"color_palette": palette}, spec).outputs[0].data)))
    base = np.asarray(Image.open(io.BytesIO(run("image", {}, spec).outputs[0].data)))
    mean, base_mean = img.reshape(-1, 3).mean(axis=0), base.reshape(-1, 3).mean(axis=0)
    assert mean[0] - mean[2] > base_mean[0] - base_mean[2] + 40  # red outweighs blue


def test_sequential_images_grow_out_of_each_other():
    spec = {**SMALL, "count": 2, "sequential_param": "enable_sequential"}

    def distance(params):
        a, b = (
            np.asarray(Image.open(io.BytesIO(o.data)), dtype=np.float32) for o in run("image", params, spec).outputs
        )
        return np.abs(a - b).mean()

    assert distance({"enable_sequential": True}) < distance({"enable_sequential": False}) * 0.6


def test_pro_mode_renders_more_pixels():
    spec = {"generator": "image", "pro_param": "enable_pro", "pro_base": 96, "base": 64}
    sizes = [
        Image.open(io.BytesIO(run("image", {"enable_pro": pro}, spec).outputs[0].data)).size for pro in (False, True)
    ]
    assert sizes == [(64, 64), (96, 96)]


def test_resolution_bases_size_by_output_quality():
    spec = {
        "generator": "image",
        "base": 32,
        "resolution_param": "output_quality",
        "resolution_bases": {"basic": 48, "high": 64},
    }
    sizes = [
        Image.open(io.BytesIO(run("image", {"output_quality": q}, spec).outputs[0].data)).size
        for q in ("basic", "high")
    ]
    assert sizes == [(48, 48), (64, 64)]


# ------------------------------------------------------------------------------------------ new videos


def test_videos_record_the_prompt_and_stamp_the_watermark(monkeypatch):
    params = {"prompt": "waves", "negative_prompt": "blur", "seed": 3, "duration_seconds": 1, "aspect_ratio": "1:1"}
    plain = run("video", params, CLIP).outputs[0].data
    assert comment(plain) == {"prompt": "waves", "negative_prompt": "blur", "seed": "3"}
    monkeypatch.setattr("runapi.providers.sandbox.video_gen.task_seed", lambda task, i=0: b"same".ljust(32, b"."))
    a = frames(run("video", params, CLIP).outputs[0].data)
    b = frames(run("video", {**params, "watermark": "MyBrand"}, CLIP).outputs[0].data)
    h, w = a[0].shape[:2]
    corner = (slice(h * 3 // 4, h), slice(w // 2, w))
    assert all(np.abs(x[corner] - y[corner]).mean() > 10 for x, y in zip(a, b))  # every frame carries it
    assert np.abs(a[0][: h // 2] - b[0][: h // 2]).mean() < 2  # and only the corner


def test_multi_shot_cuts_the_clip_into_scenes():
    spec = {**CLIP, "shots_param": "multi_shots"}

    def biggest_jump(shots: bool) -> float:
        f = frames(
            run("video", {"multi_shots": shots, "aspect_ratio": "1:1", "duration_seconds": 1.5}, spec).outputs[0].data
        )
        steps = sorted(np.abs(f[i + 1] - f[i]).mean() for i in range(len(f) - 1))
        return steps[-2] / max(steps[len(steps) // 2], 1e-3)  # the second-largest step over the median

    assert biggest_jump(True) > 5 * biggest_jump(False)


def test_motion_style_scales_the_camera_travel(monkeypatch):
    seen = []
    original = media.canvas_for
    monkeypatch.setattr(
        media, "canvas_for", lambda *a, **kw: seen.append(a[-1] if len(a) > 4 else 1.0) or original(*a, **kw)
    )
    spec = {**CLIP, "motion_param": "motion_style", "motion": {"normal": 1.0, "spicy": 2.0}}
    for style in ("normal", "spicy"):
        run("video", {"motion_style": style, "aspect_ratio": "1:1"}, spec)
    assert seen == [1.0, 2.0]
    assert media.canvas_for(b"x" * 32, 100, 100, motion=2.0).shape[0] > media.canvas_for(b"x" * 32, 100, 100).shape[0]


def test_images_from_task_open_the_video_with_that_tasks_image():
    class Storage:
        async def read(self, key):
            return solid_png(key)

    spec = {**CLIP, "images_from_task": "source_task_id", "index_param": "index"}
    ref = Task(
        id="t0",
        account_id=1,
        family="grok",
        action="text_to_image",
        params={},
        state=TaskState.COMPLETED,
        price_cents=0,
        provider="sandbox",
        next_run_at=0.0,
        created_at=0.0,
        updated_at=0.0,
        result={"files": {"images": [{"key": "red"}, {"key": "blue"}]}},
    )
    picked = first_frame_mean(
        run("video", {"source_task_id": "t0", "index": 1}, spec, refs={"source_task_id": ref}, storage=Storage())
        .outputs[0]
        .data
    )
    assert picked[2] - picked[0] > 60
    with pytest.raises(TaskFailed, match="no image at index 5"):
        run("video", {"source_task_id": "t0", "index": 5}, spec, refs={"source_task_id": ref}, storage=Storage())


# ------------------------------------------------------------------------------------------ the catalog


def test_effect_none_entries_name_their_reason():
    none = {(a.key, name) for a in CATALOG.actions() for name, p in a.params.items() if p.effect == "none"}
    assert {
        ("grok_imagine/text_to_image", "enable_safety_checker"),
        ("veo_3_1/text_to_video", "enable_translation"),
        ("wan/text_to_image", "bbox_list"),
    } <= none
    assert all(CATALOG.action(*key.split("/")).params[name].reason for key, name in none)
    v4 = CATALOG.action("seedream", "text_to_image").models["seedream-v4-text-to-image"].params["output_quality"]
    assert v4.effect == "none" and "output_resolution" in v4.reason


def test_a_resolution_param_with_other_values_maps_them_to_resolutions():
    """Kling's `mode` (std/pro) sizes the video as 720p/1080p through `resolutions`."""
    spec = {**CLIP, "resolution_param": "mode", "resolutions": {"std": "720p", "pro": "1080p"}}
    sizes = [
        run("video", {"mode": mode, "aspect_ratio": "16:9"}, spec).outputs[0].meta["height"] for mode in ("std", "pro")
    ]
    assert sizes == [720, 1080]


def test_the_last_frame_is_returned_when_its_param_asks_for_it():
    spec = {**CLIP, "last_frame_param": "return_last_frame"}
    assert "last_frame_image_url" in run("video", {"return_last_frame": True}, spec).extra
    assert "last_frame_image_url" not in run("video", {"return_last_frame": False}, spec).extra
    assert "last_frame_image_url" not in run("video", {}, spec).extra
    assert "last_frame_image_url" in run("video", {}, {**spec, "last_frame": True}).extra  # the fixed default
