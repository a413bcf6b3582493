"""The bounded media pool all decoding and encoding runs in (why threads and how it is sized: limits.py). Kept
apart from limits.py, which imports Pillow, so the provider can size the pool at start-up without loading
the media libraries (an LLM-only install has none, README "Installing from a wheel")."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_pool: ThreadPoolExecutor | None = None
_workers = max(1, os.cpu_count() or 1)
_lock = threading.Lock()


def configure(workers: int | None) -> None:
    """Size the media pool (0 or None: one thread per core). Work already queued finishes where it is."""
    global _pool, _workers
    wanted = workers or max(1, os.cpu_count() or 1)
    with _lock:
        if wanted != _workers:
            _workers = wanted
            if _pool is not None:
                _pool.shutdown(wait=False)
                _pool = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_workers, thread_name_prefix="media")
        return _pool


async def run(fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) in the media pool (like asyncio.to_thread, but bounded: at most one decode/encode per core
    runs at a time, the rest wait their turn without holding memory)."""
    ctx = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_executor(), functools.partial(ctx.run, fn, *args))
