"""Effects of parameters that need inputs fetched from a host (issue 12): reference images, videos and audio,
Kling elements, edits' style reference, length, audio and shots, motion control's sources. Effects that need no
input are in tests/unit/test_param_effects_more.py."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from runapi.providers.sandbox import media
from tests.support.param_effects_more import (
    CLIP,
    COLOURS,
    comment,
    first_frame_mean,
    frames,
    port_free_seeds,  # noqa: F401  (autouse)
    run,
    solid_png,
)


def tiny_video(seconds: float = 1.0, audio: bool = False) -> bytes:
    return media.encode_video(b"effects".ljust(32, b"."), 64, 36, seconds, has_audio=audio)


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


def test_reference_image_is_blended_in_without_a_first_frame(host):
    spec = {**CLIP, "reference_images": "reference_image_urls", "images": "first_frame_image_url"}
    red = first_frame_mean(run("video", {"reference_image_urls": [f"{host.url}/red.png"]}, spec).outputs[0].data)
    blue = first_frame_mean(run("video", {"reference_image_urls": [f"{host.url}/blue.png"]}, spec).outputs[0].data)
    assert red[0] - red[2] > 60 and blue[2] - blue[0] > 60
    with_frame = first_frame_mean(
        run(
            "video",
            {"reference_image_urls": [f"{host.url}/red.png"], "first_frame_image_url": f"{host.url}/green.png"},
            spec,
        )
        .outputs[0]
        .data
    )
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
    got = np.asarray(
        Image.fromarray(frames(done.outputs[0].data)[0].astype(np.uint8)).resize((64, 36)), dtype=np.float32
    )
    unrelated = np.asarray(
        Image.fromarray(
            frames(run("video", {"aspect_ratio": "16:9"}, CLIP).outputs[0].data)[0].astype(np.uint8)
        ).resize((64, 36)),
        dtype=np.float32,
    )
    assert np.abs(got - ref).mean() < np.abs(unrelated - ref).mean()


def test_kling_elements_named_in_the_prompt_are_blended_in(host):
    spec = {**CLIP, "elements_param": "kling_elements"}
    elements = [
        {"name": "alice", "description": "x", "element_input_urls": [f"{host.url}/red.png"] * 2},
        {"name": "bob", "description": "y", "element_input_urls": [f"{host.url}/blue.png"] * 2},
    ]
    bob = first_frame_mean(run("video", {"prompt": "@bob waves", "kling_elements": elements}, spec).outputs[0].data)
    assert bob[2] - bob[0] > 60


def test_background_audio_becomes_the_soundtrack(host):
    spec = {**CLIP, "background_audio": ["background_audio_url"]}
    out = run("video", {"background_audio_url": f"{host.url}/tone.mp3", "duration_seconds": 1}, spec).outputs[0]
    info = media.probe(out.data)
    assert info.has_audio and out.meta["has_audio"] and abs(info.duration - 1.0) < 0.15
    assert not media.probe(run("video", {"duration_seconds": 1}, spec).outputs[0].data).has_audio


EDIT = {"generator": "video_from_source", "mode": "edit", "sources": "source_video_url"}


def test_edit_style_reference_tints_every_frame(host):
    spec = {**EDIT, "style_references": "reference_image_url"}
    params = {"source_video_url": f"{host.url}/clip.mp4"}
    red = frames(
        run("video_from_source", {**params, "reference_image_url": f"{host.url}/red.png"}, spec).outputs[0].data
    )
    blue = frames(
        run("video_from_source", {**params, "reference_image_url": f"{host.url}/blue.png"}, spec).outputs[0].data
    )
    assert all((r[..., 0] - r[..., 2]).mean() > (b[..., 0] - b[..., 2]).mean() + 50 for r, b in zip(red, blue))


def test_edit_keeps_the_first_seconds_and_records_the_prompt(host):
    spec = {**EDIT, "duration_param": "duration_seconds"}
    out = run(
        "video_from_source",
        {"source_video_url": f"{host.url}/voiced.mp4", "duration_seconds": 0.5, "prompt": "snow"},
        spec,
    ).outputs[0]
    info = media.probe(out.data)
    assert abs(info.duration - 0.5) < 0.1 and info.has_audio
    assert comment(out.data) == {"prompt": "snow"}


@pytest.mark.parametrize(
    ("source", "audio", "has_audio"),
    [("clip.mp4", True, True), ("voiced.mp4", False, False), ("voiced.mp4", None, True), ("clip.mp4", None, False)],
)
def test_edit_audio_switch(host, source, audio, has_audio):
    spec = {**EDIT, "audio_param": "audio"}
    params = {"source_video_url": f"{host.url}/{source}", **({} if audio is None else {"audio": audio})}
    assert media.probe(run("video_from_source", params, spec).outputs[0].data).has_audio is has_audio


def test_edit_multi_shot_grades_each_shot_differently(host):
    spec = {**EDIT, "shots_param": "multi_shots"}

    def grades(shots: bool) -> set:
        f = frames(
            run("video_from_source", {"source_video_url": f"{host.url}/clip.mp4", "multi_shots": shots}, spec)
            .outputs[0]
            .data
        )
        return {tuple(np.round(x.reshape(-1, 3).mean(axis=0) / 8)) for x in (f[0], f[len(f) // 2], f[-1])}

    assert len(grades(True)) > len(grades(False))


def test_motion_control_subject_and_background_source(host):
    spec = {
        **EDIT,
        "sources": "reference_video_url",
        "subject_image": "source_first_frame_image_url",
        "background_param": "background_source",
    }
    green = np.array(COLOURS["green"], dtype=np.float32)

    def distance_to_subject(background: str) -> float:
        params = {
            "reference_video_url": f"{host.url}/clip.mp4",
            "source_first_frame_image_url": f"{host.url}/green.png",
            "background_source": background,
        }
        out = run("video_from_source", params, spec)
        return float(np.abs(frames(out.outputs[0].data)[0] - green).mean())

    # the subject weighs 0.7 against 0.3; the task's colour grade is seeded by its params, which hold the test
    # server's random port, so only the order is asserted, not a fixed gap
    assert distance_to_subject("image") < distance_to_subject("video")
