"""The effects given to parameters that used to be accepted and ignored (issue 12): what the sandbox records in
its outputs (prompt, negative prompt, seed, expanded prompt), watermarks, reference images/videos/audio, style
references, colour palettes, sequential images, multi-shot videos, motion styles, edits' length/audio/subject,
and the catalog's `effect: none` entries."""

from __future__ import annotations

import asyncio
import io
import json
import re

import av
import numpy as np
import pytest
from PIL import Image

from runapi.catalog import get_catalog
from runapi.catalog.sandbox_schema import parse_sandbox
from runapi.net.safe_http import safe_client
from runapi.providers.base import TaskFailed, TaskInput
from runapi.providers.sandbox import GENERATORS, images, marks, media
from runapi.providers.sandbox.base import Inputs
from runapi.tasks.model import Task, TaskState

CATALOG = get_catalog()
ACTION = CATALOG.action("wan", "text_to_video")  # generators read `spec` and params only
COLOURS = {"red": (230, 20, 20), "green": (20, 200, 40), "blue": (20, 40, 230)}
SMALL = {"generator": "image", "base": 64}
CLIP = {"generator": "video", "default_resolution": "480p", "default_duration": 1}


def run(generator, params, spec, refs=None, storage=None):
    async def go():
        async with safe_client(allow_private=True) as http:
            task = TaskInput(id="t", action=ACTION, model=None, params=params, refs=refs or {})
            typed = parse_sandbox({"generator": generator, **spec}, "test")
            return await GENERATORS[generator](Inputs(http, storage, 50 << 20), task, typed)
    return asyncio.run(go())


def solid_png(colour: str, size: tuple[int, int] = (64, 64)) -> bytes:
    return images.encode(Image.new("RGB", size, COLOURS[colour]), "png").data


def tiny_video(seconds: float = 1.0, audio: bool = False) -> bytes:
    return media.encode_video(b"effects".ljust(32, b"."), 64, 36, seconds, has_audio=audio)


@pytest.fixture(autouse=True)
def port_free_seeds(monkeypatch):
    """A task's seed hashes its params, and these hold the test server's random port: seed as if the port were
    fixed, so each comparison here sees the same colour grade on every run."""
    seed_bytes = images.seed_bytes

    def stable(*parts: object) -> bytes:
        return seed_bytes(*(re.sub(r"http://127\.0\.0\.1:\d+", "http://inputs", p) if isinstance(p, str) else p
                            for p in parts))
    monkeypatch.setattr(images, "seed_bytes", stable)


@pytest.fixture
def host(recorder):
    """Solid-colour PNGs (/red.png ...), a short clip (/clip.mp4, /voiced.mp4) and a tone (/tone.mp3)."""
    def serve(m, path, h, b):
        name = path.rsplit("/", 1)[-1]
        if name.endswith(".png"):
            return 200, {}, solid_png(name[:-4])
        if name == "tone.mp3":
            return 200, {}, media.encode_audio(b"tone".ljust(32, b"."), 0.4, "mp3")
        return 200, {}, tiny_video(1.0, audio=name == "voiced.mp4")
    return recorder(serve)


def description(data: bytes) -> dict:
    text = Image.open(io.BytesIO(data)).getexif().get(marks.IMAGE_DESCRIPTION)
    return json.loads(text) if text else {}


def comment(data: bytes) -> dict:
    with av.open(io.BytesIO(data)) as c:
        text = c.metadata.get(marks.VIDEO_COMMENT)
    return json.loads(text) if text else {}


def frames(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as c:
        return [f.to_ndarray(format="rgb24").astype(np.float32) for f in c.decode(video=0)]


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
    marked = np.asarray(Image.open(io.BytesIO(run("image", {"watermark": value}, SMALL).outputs[0].data)),
                        dtype=np.int16)
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
        a, b = (np.asarray(Image.open(io.BytesIO(o.data)), dtype=np.float32) for o in run("image", params, spec).outputs)
        return np.abs(a - b).mean()
    assert distance({"enable_sequential": True}) < distance({"enable_sequential": False}) * 0.6


def test_pro_mode_renders_more_pixels():
    spec = {"generator": "image", "pro_param": "enable_pro", "pro_base": 96, "base": 64}
    sizes = [Image.open(io.BytesIO(run("image", {"enable_pro": pro}, spec).outputs[0].data)).size
             for pro in (False, True)]
    assert sizes == [(64, 64), (96, 96)]


def test_resolution_bases_size_by_output_quality():
    spec = {"generator": "image", "base": 32, "resolution_param": "output_quality",
            "resolution_bases": {"basic": 48, "high": 64}}
    sizes = [Image.open(io.BytesIO(run("image", {"output_quality": q}, spec).outputs[0].data)).size
             for q in ("basic", "high")]
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
        f = frames(run("video", {"multi_shots": shots, "aspect_ratio": "1:1", "duration_seconds": 1.5}, spec)
                   .outputs[0].data)
        steps = sorted(np.abs(f[i + 1] - f[i]).mean() for i in range(len(f) - 1))
        return steps[-2] / max(steps[len(steps) // 2], 1e-3)  # the second-largest step over the median
    assert biggest_jump(True) > 5 * biggest_jump(False)


def test_motion_style_scales_the_camera_travel(monkeypatch):
    seen = []
    original = media.canvas_for
    monkeypatch.setattr(media, "canvas_for", lambda *a, **kw: seen.append(a[-1] if len(a) > 4 else 1.0)
                        or original(*a, **kw))
    spec = {**CLIP, "motion_param": "motion_style", "motion": {"normal": 1.0, "spicy": 2.0}}
    for style in ("normal", "spicy"):
        run("video", {"motion_style": style, "aspect_ratio": "1:1"}, spec)
    assert seen == [1.0, 2.0]
    assert media.canvas_for(b"x" * 32, 100, 100, motion=2.0).shape[0] > media.canvas_for(b"x" * 32, 100, 100).shape[0]


def first_frame_mean(data: bytes) -> np.ndarray:
    return frames(data)[0].reshape(-1, 3).mean(axis=0)


def test_reference_image_is_blended_in_without_a_first_frame(host):
    spec = {**CLIP, "reference_images": "reference_image_urls", "images": "first_frame_image_url"}
    red = first_frame_mean(run("video", {"reference_image_urls": [f"{host.url}/red.png"]}, spec).outputs[0].data)
    blue = first_frame_mean(run("video", {"reference_image_urls": [f"{host.url}/blue.png"]}, spec).outputs[0].data)
    assert red[0] - red[2] > 60 and blue[2] - blue[0] > 60
    with_frame = first_frame_mean(run("video", {"reference_image_urls": [f"{host.url}/red.png"],
                                                "first_frame_image_url": f"{host.url}/green.png"}, spec).outputs[0].data)
    assert with_frame[1] > with_frame[0] + 60  # the first frame wins


def test_reference_images_count_only_in_their_mode(host):
    spec = {**CLIP, "reference_images": "reference_image_urls", "reference_mode": ["input_mode", "reference"]}
    refs = {"reference_image_urls": [f"{host.url}/red.png"]}
    on = first_frame_mean(run("video", {**refs, "input_mode": "reference"}, spec).outputs[0].data)
    off = first_frame_mean(run("video", {**refs, "input_mode": "text"}, spec).outputs[0].data)
    assert (on[0] - on[2]) - (off[0] - off[2]) > 60


def test_reference_video_first_frame_is_blended_in(host):
    spec = {**CLIP, "reference_videos": "reference_video_urls"}
    done = run("video", {"reference_video_urls": [f"{host.url}/clip.mp4"], "aspect_ratio": "16:9"}, spec)
    ref = frames(tiny_video())[0]
    got = np.asarray(Image.fromarray(frames(done.outputs[0].data)[0].astype(np.uint8)).resize((64, 36)),
                     dtype=np.float32)
    unrelated = np.asarray(Image.fromarray(frames(run("video", {"aspect_ratio": "16:9"}, CLIP).outputs[0].data)[0]
                                           .astype(np.uint8)).resize((64, 36)), dtype=np.float32)
    assert np.abs(got - ref).mean() < np.abs(unrelated - ref).mean()


def test_kling_elements_named_in_the_prompt_are_blended_in(host):
    spec = {**CLIP, "elements_param": "kling_elements"}
    elements = [{"name": "alice", "description": "x", "element_input_urls": [f"{host.url}/red.png"] * 2},
                {"name": "bob", "description": "y", "element_input_urls": [f"{host.url}/blue.png"] * 2}]
    bob = first_frame_mean(run("video", {"prompt": "@bob waves", "kling_elements": elements}, spec).outputs[0].data)
    assert bob[2] - bob[0] > 60


def test_background_audio_becomes_the_soundtrack(host):
    spec = {**CLIP, "background_audio": ["background_audio_url"]}
    out = run("video", {"background_audio_url": f"{host.url}/tone.mp3", "duration_seconds": 1}, spec).outputs[0]
    info = media.probe(out.data)
    assert info.has_audio and out.meta["has_audio"] and abs(info.duration - 1.0) < 0.15
    assert not media.probe(run("video", {"duration_seconds": 1}, spec).outputs[0].data).has_audio


def test_images_from_task_open_the_video_with_that_tasks_image():
    class Storage:
        async def read(self, key):
            return solid_png(key)

    spec = {**CLIP, "images_from_task": "source_task_id", "index_param": "index"}
    ref = Task(id="t0", account_id=1, family="grok", action="text_to_image", params={}, state=TaskState.COMPLETED,
               price_cents=0, provider="sandbox", next_run_at=0.0, created_at=0.0, updated_at=0.0,
               result={"files": {"images": [{"key": "red"}, {"key": "blue"}]}})
    picked = first_frame_mean(run("video", {"source_task_id": "t0", "index": 1}, spec,
                                  refs={"source_task_id": ref}, storage=Storage()).outputs[0].data)
    assert picked[2] - picked[0] > 60
    with pytest.raises(TaskFailed, match="no image at index 5"):
        run("video", {"source_task_id": "t0", "index": 5}, spec, refs={"source_task_id": ref}, storage=Storage())


# ------------------------------------------------------------------------------------------ edits of a video


EDIT = {"generator": "video_from_source", "mode": "edit", "sources": "source_video_url"}


def test_edit_style_reference_tints_every_frame(host):
    spec = {**EDIT, "style_references": "reference_image_url"}
    params = {"source_video_url": f"{host.url}/clip.mp4"}
    red = frames(run("video_from_source", {**params, "reference_image_url": f"{host.url}/red.png"}, spec)
                 .outputs[0].data)
    blue = frames(run("video_from_source", {**params, "reference_image_url": f"{host.url}/blue.png"}, spec)
                  .outputs[0].data)
    assert all((r[..., 0] - r[..., 2]).mean() > (b[..., 0] - b[..., 2]).mean() + 50 for r, b in zip(red, blue))


def test_edit_keeps_the_first_seconds_and_records_the_prompt(host):
    spec = {**EDIT, "duration_param": "duration_seconds"}
    out = run("video_from_source", {"source_video_url": f"{host.url}/voiced.mp4", "duration_seconds": 0.5,
                                    "prompt": "snow"}, spec).outputs[0]
    info = media.probe(out.data)
    assert abs(info.duration - 0.5) < 0.1 and info.has_audio
    assert comment(out.data) == {"prompt": "snow"}


@pytest.mark.parametrize(("source", "audio", "has_audio"), [
    ("clip.mp4", True, True), ("voiced.mp4", False, False), ("voiced.mp4", None, True), ("clip.mp4", None, False)])
def test_edit_audio_switch(host, source, audio, has_audio):
    spec = {**EDIT, "audio_param": "audio"}
    params = {"source_video_url": f"{host.url}/{source}", **({} if audio is None else {"audio": audio})}
    assert media.probe(run("video_from_source", params, spec).outputs[0].data).has_audio is has_audio


def test_edit_multi_shot_grades_each_shot_differently(host):
    spec = {**EDIT, "shots_param": "multi_shots"}

    def grades(shots: bool) -> set:
        f = frames(run("video_from_source", {"source_video_url": f"{host.url}/clip.mp4", "multi_shots": shots},
                       spec).outputs[0].data)
        return {tuple(np.round(x.reshape(-1, 3).mean(axis=0) / 8)) for x in (f[0], f[len(f) // 2], f[-1])}
    assert len(grades(True)) > len(grades(False))


def test_motion_control_subject_and_background_source(host):
    spec = {**EDIT, "sources": "reference_video_url", "subject_image": "source_first_frame_image_url",
            "background_param": "background_source"}
    green = np.array(COLOURS["green"], dtype=np.float32)

    def distance_to_subject(background: str) -> float:
        params = {"reference_video_url": f"{host.url}/clip.mp4", "source_first_frame_image_url": f"{host.url}/green.png",
                  "background_source": background}
        out = run("video_from_source", params, spec)
        return float(np.abs(frames(out.outputs[0].data)[0] - green).mean())

    # the subject weighs 0.7 against 0.3; the task's colour grade is seeded by its params, which hold the test
    # server's random port, so only the order is asserted, not a fixed gap
    assert distance_to_subject("image") < distance_to_subject("video")


# ------------------------------------------------------------------------------------------ the catalog


def test_effect_none_entries_name_their_reason():
    none = {(a.key, name) for a in CATALOG.actions() for name, p in a.params.items() if p.effect == "none"}
    assert {("grok_imagine/text_to_image", "enable_safety_checker"), ("veo_3_1/text_to_video", "enable_translation"),
            ("wan/text_to_image", "bbox_list"), ("kling/motion_control", "character_orientation")} <= none
    assert all(CATALOG.action(*key.split("/")).params[name].reason for key, name in none)
    v4 = CATALOG.action("seedream", "text_to_image").models["seedream-v4-text-to-image"].params["output_quality"]
    assert v4.effect == "none" and "output_resolution" in v4.reason
