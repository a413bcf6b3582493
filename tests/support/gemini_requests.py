"""Requests that reach every route of the Gemini media table (gemini_models.yaml): the catalog's examples of the
mapped models, extra ones for the routes no example reaches, and the ones Google cannot make (refused before
any call). Used by the unit and e2e tests of the gemini adapter."""

from __future__ import annotations

from typing import Any

from runapi.providers.upstream.gemini import Gemini
from tests.support.first_party import table_requests

IMG = "https://example.com/a.png"

# Requests reaching the routes the catalog's own examples do not reach, and the refusals.
ROUTE_EXAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    ("nano_banana", "text_to_image", {"model": "nano-banana", "prompt": "a fox", "reference_image_urls": [IMG]}),
    (
        "nano_banana",
        "text_to_image",
        {"model": "nano-banana-pro", "prompt": "a fox", "reference_image_urls": [IMG], "output_resolution": "4k"},
    ),
    ("nano_banana", "text_to_image", {"model": "nano-banana-2", "prompt": "a fox", "aspect_ratio": "8:1"}),
    ("nano_banana", "text_to_image", {"model": "nano-banana-2-lite", "prompt": "a fox", "aspect_ratio": "1:4"}),
    ("nano_banana", "edit_image", {"model": "nano-banana-edit", "prompt": "snow", "source_image_urls": [IMG, IMG]}),
    ("veo_3_1", "text_to_video", {"model": "veo-3.1", "prompt": "a fox", "first_frame_image_url": IMG}),
    ("veo_3_1", "text_to_video", {"model": "veo-3.1-fast", "prompt": "a fox", "duration_seconds": 4}),
    (
        "veo_3_1",
        "text_to_video",
        {
            "model": "veo-3.1-lite",
            "prompt": "a fox",
            "input_mode": "first_and_last_frames",
            "first_frame_image_url": IMG,
        },
    ),
]
REFUSALS = [
    (
        "veo_3_1",
        "text_to_video",
        {
            "model": "veo-3.1-fast",
            "prompt": "a fox",
            "input_mode": "reference",
            "reference_image_urls": [IMG],
            "duration_seconds": 6,
        },
        "Veo 3.1 on the Gemini API makes 8-second videos only from reference images",
    ),
    (
        "veo_3_1",
        "text_to_video",
        {"model": "veo-3.1-lite", "prompt": "a fox", "input_mode": "reference", "reference_image_urls": [IMG]},
        "Veo 3.1 Lite on the Gemini API takes no reference images",
    ),
]


def requests() -> list[tuple[Any, str, dict[str, Any]]]:
    return table_requests(Gemini.bundled(), ROUTE_EXAMPLES)
