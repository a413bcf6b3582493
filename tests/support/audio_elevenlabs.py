"""Running ElevenLabs' sandbox generators directly and measuring the audio they make (tests of ElevenLabs on
the sandbox, unit and e2e)."""

from __future__ import annotations

import asyncio

import numpy as np

from runapi.catalog import get_catalog
from runapi.catalog.validation import validate
from runapi.net.safe_http import safe_client
from runapi.providers.base import TaskInput
from runapi.providers.inputs import Inputs
from runapi.providers.sandbox import generators, media

SR = media.SAMPLE_RATE


CATALOG = get_catalog()


def action(name):
    return CATALOG.action("elevenlabs", name)


def run(action_name, body):
    """Validate `body` like the API does (defaults applied), then run the action's sandbox generator."""
    act = action(action_name)
    model, params = validate(act, body)
    spec = model.sandbox

    async def go():
        async with safe_client(allow_private=True) as http:
            task = TaskInput(id="t", action=act, model=model, params=params)
            return await generators()[spec.generator](Inputs(http, None, 50 << 20), task, spec)

    return asyncio.run(go())


def seconds_of(data: bytes) -> float:
    return len(media.decode_audio(data)) / SR


def band_energy(x: np.ndarray, lo: float, hi: float) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    return float(spectrum[(freqs >= lo) & (freqs < hi)].sum())
