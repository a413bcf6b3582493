"""Media bombs refused from their headers and media work in a bounded pool, without a server (issue 11, item 3);
the refusals over HTTP are in tests/e2e/test_abuse_bombs.py."""

from __future__ import annotations

import threading
import time

import pytest

from runapi.providers.sandbox import limits
from tests.support.abuse_bombs import bomb_png


def test_open_image_checks_the_header_before_decoding():
    with pytest.raises(limits.InputRejected, match="pixels"):
        limits.open_image(bomb_png(6000))
    img = limits.open_image(bomb_png(64))
    assert img.size == (64, 64)


def test_media_work_runs_in_a_bounded_pool():
    """At most `media_workers` decodes/encodes at once; the event loop is never the one doing them."""
    import asyncio

    limits.configure(2)
    running, peak, lock = [0], [0], threading.Lock()

    def work():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return threading.current_thread().name

    async def go():
        return await asyncio.gather(*(limits.run(work) for _ in range(6)))

    try:
        names = asyncio.run(go())
    finally:
        limits.configure(0)
    assert peak[0] == 2
    assert all(n.startswith("media") for n in names)
