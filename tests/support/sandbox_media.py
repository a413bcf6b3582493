"""Running one sandbox generator directly, without a server (tests of the sandbox's media, unit and e2e)."""

from __future__ import annotations

import asyncio

from runapi.catalog import get_catalog
from runapi.catalog.sandbox_schema import parse_sandbox
from runapi.net.safe_http import safe_client
from runapi.providers.base import TaskInput
from runapi.providers.inputs import Inputs
from runapi.providers.sandbox import generators

ACTION = get_catalog().action("nano_banana", "text_to_image")  # any action: generators read `spec` and params


def run(generator, params, spec, refs=None, storage=None):
    async def go():
        async with safe_client(allow_private=True) as http:
            task = TaskInput(id="t", action=ACTION, model=None, params=params, refs=refs or {})
            typed = parse_sandbox({"generator": generator, **spec}, "test")
            return await generators()[generator](Inputs(http, storage, 50 << 20), task, typed)

    return asyncio.run(go())
