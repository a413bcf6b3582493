"""Documented video parameters checked without a server (issue 12, item 6): Kling 3.0 multi-shot length, price and
totals, an extend start beyond an unknown source, Wan r2v's 1-5 references. The results over HTTP are in
tests/e2e/test_video_params.py."""

from __future__ import annotations

import pytest

from runapi.api.errors import http_status
from runapi.catalog import get_catalog
from runapi.catalog.sandbox_schema import parse_sandbox
from runapi.catalog.validation import validate
from runapi.errors import RunapiError
from runapi.providers.base import TaskFailed
from runapi.providers.sandbox import media, video_gen

CATALOG = get_catalog()


SHOTS = [
    {"prompt": "a lander", "duration_seconds": 4},
    {"prompt": "a flag", "duration_seconds": 5},
    {"prompt": "a visor", "duration_seconds": 3},
]


def error_of(family: str, action: str, body: dict) -> str | None:
    try:
        validate(CATALOG.action(family, action), body)
    except RunapiError as exc:
        assert http_status(exc) == 422
        return exc.message
    return None


def multi_shot(**extra) -> dict:
    return {
        "model": "kling-3.0",
        "multi_shots": True,
        "enable_sound": True,
        "aspect_ratio": "16:9",
        "output_resolution": "1080p",
        "multi_prompt": SHOTS,
        **extra,
    }


def test_kling_multi_shot_length_and_price_follow_the_shots():
    model, params = validate(CATALOG.action("kling", "text_to_video"), multi_shot())  # the docs' 4+5+3 s example
    assert params["duration_seconds"] == 12
    assert model.quote(params) == 120  # 10 cents a second, as a 12 s single shot
    single = validate(
        CATALOG.action("kling", "text_to_video"),
        {"model": "kling-3.0", "prompt": "x", "aspect_ratio": "16:9", "duration_seconds": 12},
    )
    assert single[0].quote(single[1]) == 120
    assert (
        validate(CATALOG.action("kling", "text_to_video"), multi_shot(duration_seconds=12))[1]["duration_seconds"] == 12
    )


def test_kling_inconsistent_totals_are_refused():
    assert error_of("kling", "text_to_video", multi_shot(duration_seconds=15)) == (
        "duration_seconds (15) must equal the sum of multi_prompt[].duration_seconds (12), or be left out"
    )
    too_long = multi_shot(multi_prompt=SHOTS + [{"prompt": "more", "duration_seconds": 4}])
    assert error_of("kling", "text_to_video", too_long) == (
        "duration_seconds is the sum of multi_prompt[].duration_seconds, which must be at most 15 (got 16)"
    )
    too_short = multi_shot(multi_prompt=[{"prompt": "one", "duration_seconds": 2}])
    assert "must be at least 3 (got 2)" in error_of("kling", "text_to_video", too_short)


def test_extend_start_beyond_an_unknown_source_fails_the_task():
    """Where the source is only known when the task runs, the generator refuses it (the task fails, refunded)."""
    spec = parse_sandbox({"generator": "video_from_source", "mode": "extend", "start_param": "start_seconds"}, "test")
    info = media.VideoInfo(64, 36, 6.0, False)
    assert video_gen.kept_seconds(spec, {"start_seconds": 6}, info) == 6.0
    assert video_gen.kept_seconds(spec, {"start_seconds": 2}, info) == 2.0
    with pytest.raises(TaskFailed, match="beyond the end of the source video"):
        video_gen.kept_seconds(spec, {"start_seconds": 7}, info)


def test_wan_r2v_takes_one_to_five_references_in_total():
    def body(images: int, videos: int) -> dict:
        return {
            "model": "wan-2.7-r2v",
            "prompt": "a dancer",
            "reference_image_urls": [f"https://example.com/{i}.png" for i in range(images)],
            "reference_video_urls": [f"https://example.com/{i}.mp4" for i in range(videos)],
        }

    message = "reference_image_urls and reference_video_urls together must contain 1 to 5 URLs"
    assert error_of("wan", "text_to_video", body(3, 3)) == message
    assert error_of("wan", "text_to_video", body(0, 0)) == message
    assert error_of("wan", "text_to_video", body(2, 3)) is None
    assert error_of("wan", "text_to_video", body(0, 5)) is None
