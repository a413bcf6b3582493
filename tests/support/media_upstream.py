"""Requests that reach every fal route the mapping table declares: the catalog's examples of fal-mapped models
and extra ones for the routes no example reaches (tests of the media upstreams, unit and e2e)."""

from __future__ import annotations

from runapi.providers.upstream.fal import fal_table
from tests.support.first_party import params_of, table_requests

# Requests reaching the fal routes the catalog's own examples do not reach (each route is run at least once).
IMG = "https://example.com/a.png"
VIDEO = "https://example.com/a.mp4"
ROUTE_EXAMPLES = [
    (
        "veo_3_1",
        "text_to_video",
        {
            "model": "veo-3.1-fast",
            "prompt": "a fox",
            "input_mode": "reference",
            "reference_image_urls": [IMG],
            "aspect_ratio": "16:9",
            "seeds": 12345,
        },
    ),
    ("veo_3_1", "text_to_video", {"model": "veo-3.1", "prompt": "a fox", "first_frame_image_url": IMG}),
    (
        "kling",
        "text_to_video",
        {"model": "kling-3.0", "prompt": "a fox", "first_frame_image_url": IMG, "output_resolution": "4k"},
    ),
    (
        "kling",
        "text_to_video",
        {
            "model": "kling-3.0",
            "prompt": "a fox",
            "first_frame_image_url": IMG,
            "output_resolution": "1080p",
            "duration_seconds": 5,
        },
    ),
    (
        "kling",
        "text_to_video",
        {"model": "kling-3.0", "prompt": "a fox", "aspect_ratio": "9:16", "output_resolution": "720p"},
    ),
    (
        "kling",
        "text_to_video",
        {
            "model": "kling-3.0",
            "aspect_ratio": "1:1",
            "output_resolution": "4k",
            "multi_shots": True,
            "enable_sound": True,
            "prompt": "a fox",
            "multi_prompt": [
                {"prompt": "a fox runs", "duration_seconds": 3},
                {"prompt": "a fox sleeps", "duration_seconds": 2},
            ],
        },
    ),
    (
        "seedance",
        "text_to_video",
        {
            "model": "seedance-2.0-fast",
            "prompt": "a fox runs",
            "first_frame_image_url": IMG,
            "enable_safety_checker": True,
        },
    ),
    ("nano_banana", "text_to_image", {"model": "nano-banana", "prompt": "a fox", "reference_image_urls": [IMG]}),
    (
        "nano_banana",
        "text_to_image",
        {"model": "nano-banana-pro", "prompt": "a fox", "reference_image_urls": [IMG], "output_resolution": "2k"},
    ),
    ("nano_banana", "text_to_image", {"model": "nano-banana-2", "prompt": "a fox", "aspect_ratio": "16:9"}),
    ("flux_kontext", "text_to_image", {"model": "flux-kontext-max", "prompt": "a fox", "source_image_url": IMG}),
    (
        "flux_2",
        "remix_image",
        {
            "model": "flux-2-flex-remix-image",
            "prompt": "a fox",
            "source_image_urls": [IMG],
            "aspect_ratio": "auto",
            "output_resolution": "2k",
        },
    ),
    (
        "wan",
        "speech_to_video",
        {
            "model": "wan-2.2-a14b-speech-to-video-turbo",
            "source_image_url": IMG,
            "source_audio_url": "https://example.com/a.mp3",
        },
    ),
    # routes of the newer models no catalog example reaches
    ("veo_3_1", "text_to_video", {"model": "veo-3.1-lite", "prompt": "a fox", "first_frame_image_url": IMG}),
    (
        "kling",
        "text_to_video",
        {"model": "kling-v3-turbo-text-to-video", "prompt": "a fox", "output_resolution": "1080p"},
    ),
    (
        "kling",
        "image_to_video",
        {
            "model": "kling-v3-turbo-image-to-video",
            "prompt": "a fox",
            "first_frame_image_url": IMG,
            "output_resolution": "1080p",
        },
    ),
    ("kling", "image_to_video", {"model": "kling-o1", "prompt": "a fox", "first_frame_image_url": IMG, "mode": "pro"}),
    (
        "kling",
        "motion_control",
        {
            "model": "kling-v2.6",
            "source_first_frame_image_url": IMG,
            "reference_video_url": VIDEO,
            "output_resolution": "1080p",
            "character_orientation": "image",
        },
    ),
    (
        "kling",
        "motion_control",
        {
            "model": "kling-3.0",
            "source_first_frame_image_url": IMG,
            "reference_video_url": VIDEO,
            "output_resolution": "720p",
        },
    ),
    ("seedance", "text_to_video", {"model": "seedance-2.0", "prompt": "a fox", "reference_image_urls": [IMG]}),
    ("seedance", "text_to_video", {"model": "seedance-2-mini", "prompt": "a fox", "first_frame_image_url": IMG}),
    ("seedance", "text_to_video", {"model": "seedance-2-mini", "prompt": "a fox", "aspect_ratio": "16:9"}),
    (
        "wan",
        "edit_video",
        {"model": "wan-2.7-edit-video", "source_video_url": VIDEO, "prompt": "snow", "duration_seconds": 5},
    ),
    ("wan", "text_to_image", {"model": "wan-2.7-image-pro", "prompt": "a fox", "source_image_urls": [IMG]}),
    ("wan", "text_to_image", {"model": "wan-2.7-image-pro", "prompt": "a fox", "aspect_ratio": "16:9"}),
]


def fal_requests() -> list[tuple[object, str, dict]]:
    """(action, model, request) for every catalog example of a fal-mapped model, and ROUTE_EXAMPLES, that fal
    runs (not refused by the table)."""
    out = table_requests(fal_table(), ROUTE_EXAMPLES)
    # an example a refuse route turns away runs elsewhere (the refusal tests cover those routes)
    return [(action, model, body) for action, model, body in out if route_of(action, model, body).refuse is None]


def route_of(action, model: str, body: dict):
    return fal_table().get(action.key, model).route(params_of(action, model, body), model)
