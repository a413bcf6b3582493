"""Parts of the task contract that need no server: the idempotency fingerprint takes integers past 64 bits, and
the docs' examples that omit a conditionally required parameter validate. The contract over HTTP is in
tests/e2e/test_task_contract.py."""

from __future__ import annotations

from runapi.catalog import get_catalog
from runapi.catalog.validation import validate
from runapi.tasks import engine


def test_the_fingerprint_takes_integers_past_64_bits():
    # the fingerprint must never be what fails (orjson cannot encode integers past 64 bits)
    a = engine.request_fingerprint("grok", "extend_video", None, {"start_seconds": 10**30})
    b = engine.request_fingerprint("grok", "extend_video", None, {"start_seconds": 10**30 + 1})
    assert a != b and len(a) == 64


def test_the_docs_examples_that_omit_a_conditionally_required_param_validate():
    catalog = get_catalog()
    # Suno "上传并续写": custom mode without `instrumental` (its table says required in custom mode)
    upload_extend = {
        "upload_url": "https://cdn.runapi.ai/public/samples/music.mp3",
        "parameter_mode": "custom",
        "prompt": "Extend the music with more relaxing piano notes",
        "style": "Classical",
        "title": "Peaceful Piano Extended",
        "continue_at": 60,
        "model": "suno-v5",
        "callback_url": "https://your-app.com/callbacks/suno",
    }
    _, params = validate(catalog.action("suno", "extend_music"), upload_extend)
    assert params["instrumental"] is False  # the example sends a prompt for a vocal extension
    _, params = validate(catalog.action("suno", "extend_music"), {**upload_extend, "instrumental": True})
    assert params["instrumental"] is True
    _, params = validate(
        catalog.action("suno", "extend_music"),
        {"parameter_mode": "source", "audio_id": "95e4f61a-8d35-5f8c-aeb0-033312c35cab", "model": "suno-v5"},
    )
    assert "instrumental" not in params  # only where the table requires it
    # Kling 3.0 element reference example: no aspect_ratio (required unless first_frame_image_url is given)
    kling = catalog.action("kling", "text_to_video")
    elements = {
        "model": "kling-3.0",
        "prompt": "@alice 和 @bob 在雨中背靠背站立",
        "kling_elements": [
            {
                "name": "alice",
                "description": "一个穿红色外套、短黑发的年轻女性",
                "element_input_urls": ["https://cdn.runapi.ai/public/samples/portrait.jpg"] * 2,
            },
            {
                "name": "bob",
                "description": "一个穿皮大衣的高个男性",
                "element_input_urls": ["https://cdn.runapi.ai/public/samples/portrait-2.jpg"] * 2,
            },
        ],
    }
    _, params = validate(kling, elements)
    assert params["aspect_ratio"] == "16:9"
    _, params = validate(
        kling, {"model": "kling-3.0", "prompt": "x", "first_frame_image_url": "https://example.com/f.png"}
    )
    assert "aspect_ratio" not in params  # it follows the first frame
