"""Requests reaching every route of the ark and bfl mapping tables (ark_models.yaml, bfl_models.yaml): the catalog's
examples of the models a table maps, and extra ones for the routes (and refusals) no example reaches. Used by the
unit tests (bodies against the providers' schemas) and the e2e tests (through the public API to the fakes)."""

from __future__ import annotations

from typing import Any

from runapi.providers.upstream.ark import ark_table
from runapi.providers.upstream.bfl import bfl_table
from runapi.providers.upstream.mapping import Route, Table
from tests.support.first_party import params_of, table_requests

IMG = "https://example.com/a.png"
IMG2 = "https://example.com/b.png"

ARK_ROUTE_EXAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "seedance",
        "text_to_video",
        {
            "model": "seedance-v1-lite",
            "prompt": "A kite over a beach",
            "aspect_ratio": "16:9",
            "duration_seconds": 5,
            "lock_camera": True,
            "seed": 7,
        },
    ),
    (
        "seedance",
        "text_to_video",
        {
            "model": "seedance-2.0",
            "prompt": "The character dances in the rain",
            "reference_image_urls": [IMG, IMG2],
            "reference_video_urls": ["https://example.com/d.mp4"],
            "reference_audio_urls": ["https://example.com/s.mp3"],
            "generate_audio": True,
            "output_resolution": "1080p",
            "aspect_ratio": "auto",
        },
    ),
    (
        "seedance",
        "text_to_video",
        {
            "model": "seedance-2-mini",
            "prompt": "A paper boat on a rainy street",
            "first_frame_image_url": IMG,
            "last_frame_image_url": IMG2,
            "duration_seconds": 4,
        },
    ),
    (
        "seedream",
        "text_to_image",
        {"model": "seedream-v4-text-to-image", "prompt": "A glass teapot", "output_resolution": "4k"},
    ),
    (
        "seedream",
        "text_to_image",
        {
            "model": "seedream-v4-text-to-image",
            "prompt": "A glass teapot",
            "aspect_ratio": "21:9",
            "output_resolution": "1k",
            "output_count": 1,
        },
    ),
]
# Requests a route of the ark table refuses (out of ModelArk's reach), with the refusal's opening words.
ARK_REFUSALS: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "seedance",
        "text_to_video",
        {"model": "seedance-v1-lite", "prompt": "A kite over a beach", "aspect_ratio": "9:21", "duration_seconds": 5},
        "seedance-v1-lite supports aspect_ratio",
    ),
    (
        "seedance",
        "text_to_video",
        {
            "model": "seedance-2.0",
            "prompt": "A kite over a beach",
            "first_frame_image_url": IMG,
            "reference_image_urls": [IMG2],
        },
        "ModelArk takes first/last frames or reference media",
    ),
    (
        "seedance",
        "text_to_video",
        {"model": "seedance-2.0-fast", "prompt": "A kite over a beach", "reference_image_urls": [IMG] * 10},
        "ModelArk takes at most 9 reference images",
    ),
    (
        "seedream",
        "text_to_image",
        {"model": "seedream-v4-text-to-image", "prompt": "A teapot", "output_count": 3},
        "seedream-v4-text-to-image makes one image per request",
    ),
    (
        "seedream",
        "edit_image",
        {"model": "seedream-v4-edit", "prompt": "A teapot", "source_image_urls": [IMG], "output_count": 2},
        "seedream-v4-edit makes one image per request",
    ),
    (
        "seedance",
        "text_to_video",
        {
            "model": "seedance-2.0-fast",
            "prompt": "A kite",
            "first_frame_image_url": IMG,
            "reference_video_urls": ["https://example.com/d.mp4"],
        },
        "ModelArk takes first/last frames or reference media",
    ),
    (
        "seedance",
        "text_to_video",
        {
            "model": "seedance-2-mini",
            "prompt": "A kite",
            "first_frame_image_url": IMG,
            "reference_audio_urls": ["https://example.com/s.mp3"],
            "reference_image_urls": [IMG2],
        },
        "ModelArk takes first/last frames or reference media",
    ),
    (
        "seedance",
        "text_to_video",
        {
            "model": "seedance-2.0",
            "prompt": "A kite",
            "reference_image_urls": [IMG],
            "reference_audio_urls": ["https://example.com/s.mp3"] * 4,
        },
        "ModelArk takes at most 9 reference images",
    ),
    # the catalog already bounds 2-mini's references (9 images, 3 videos, 3 audios): only the table's own rule
    (
        "seedance",
        "text_to_video",
        {"model": "seedance-2-mini", "prompt": "A kite", "reference_image_urls": [IMG] * 10},
        "ModelArk takes at most 9 reference images",
    ),
]

BFL_ROUTE_EXAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "flux_kontext",
        "text_to_image",
        {
            "model": "flux-kontext-max",
            "prompt": "Make it night",
            "source_image_url": IMG,
            "aspect_ratio": "21:9",
            "output_format": "png",
            "safety_tolerance": 0,
        },
    ),
    ("flux_2", "text_to_image", {"model": "flux-2-pro-text-to-image", "prompt": "A fox in the snow"}),
    (
        "flux_2",
        "remix_image",
        {
            "model": "flux-2-flex-remix-image",
            "prompt": "Blend all of them",
            "source_image_urls": [f"https://example.com/{i}.png" for i in range(8)],
            "aspect_ratio": "2:3",
            "output_resolution": "1k",
        },
    ),
]


def requests(table: Table, extra: list[tuple[str, str, dict[str, Any]]]) -> list[tuple[Any, str, dict[str, Any]]]:
    """(action, model, request) for every catalog example of a model the table maps, and the extra ones."""
    return table_requests(table, extra)


def ark_requests() -> list[tuple[Any, str, dict[str, Any]]]:
    return requests(ark_table(), ARK_ROUTE_EXAMPLES)


def bfl_requests() -> list[tuple[Any, str, dict[str, Any]]]:
    return requests(bfl_table(), BFL_ROUTE_EXAMPLES)


def route_of(table: Table, action: Any, model: str, body: dict[str, Any]) -> Route:
    mapping = table.get(action.key, model)
    assert mapping is not None, (action.key, model)
    route = mapping.route(params_of(action, model, body), model)
    assert route is not None
    return route
