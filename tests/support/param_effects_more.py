"""Running the sandbox's image and video generators directly and reading what they recorded (tests of the
parameters' effects, unit and e2e)."""

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
from runapi.providers.base import TaskInput
from runapi.providers.sandbox import generators, images, marks
from runapi.providers.sandbox.base import Inputs

CATALOG = get_catalog()
ACTION = CATALOG.action("wan", "text_to_video")  # generators read `spec` and params only
COLOURS = {"red": (230, 20, 20), "green": (20, 200, 40), "blue": (20, 40, 230)}
CLIP = {"generator": "video", "default_resolution": "480p", "default_duration": 1}


def run(generator, params, spec, refs=None, storage=None):
    async def go():
        async with safe_client(allow_private=True) as http:
            task = TaskInput(id="t", action=ACTION, model=None, params=params, refs=refs or {})
            typed = parse_sandbox({"generator": generator, **spec}, "test")
            return await generators()[generator](Inputs(http, storage, 50 << 20), task, typed)

    return asyncio.run(go())


def solid_png(colour: str, size: tuple[int, int] = (64, 64)) -> bytes:
    return images.encode(Image.new("RGB", size, COLOURS[colour]), "png").data


def comment(data: bytes) -> dict:
    with av.open(io.BytesIO(data)) as c:
        text = c.metadata.get(marks.VIDEO_COMMENT)
    return json.loads(text) if text else {}


def frames(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as c:
        return [f.to_ndarray(format="rgb24").astype(np.float32) for f in c.decode(video=0)]


def first_frame_mean(data: bytes) -> np.ndarray:
    return frames(data)[0].reshape(-1, 3).mean(axis=0)


@pytest.fixture(autouse=True)
def port_free_seeds(monkeypatch):
    """A task's seed hashes its params, and these hold the test server's random port: seed as if the port were
    fixed, so each comparison here sees the same colour grade on every run."""
    seed_bytes = images.seed_bytes

    def stable(*parts: object) -> bytes:
        return seed_bytes(
            *(re.sub(r"http://127\.0\.0\.1:\d+", "http://inputs", p) if isinstance(p, str) else p for p in parts)
        )

    monkeypatch.setattr(images, "seed_bytes", stable)
