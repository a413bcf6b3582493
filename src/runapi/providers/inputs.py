"""A task's input files, for every provider that reads them (the sandbox's generators, upstreams that upload
inputs themselves): URLs through the SSRF-safe client with a size cap, links we signed and the results of
referenced tasks straight from our storage."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from ..domain.task import Task
from ..net.safe_http import BlockedDestination, TooLarge, fetch_bytes
from ..storage import FILES_PREFIX, Storage, UrlSigner
from .base import TaskFailed

if TYPE_CHECKING:
    from PIL import Image


class Inputs:
    """Fetches a task's input files: URLs through the SSRF-safe client, referenced tasks from our storage."""

    def __init__(
        self, http: httpx.AsyncClient, storage: Storage | None, max_bytes: int, signer: UrlSigner | None = None
    ):
        self.http = http
        self.storage = storage
        self.max_bytes = max_bytes
        self.signer = signer

    async def own_file(self, url: str) -> bytes | None:
        """Links we signed (uploads, earlier results) are read from storage: no network, and they work even
        when our public address is private or not reachable from here."""
        if self.signer is None or self.storage is None:
            return None
        parts = urlsplit(url)
        if not parts.path.startswith(FILES_PREFIX):
            return None
        key = unquote(parts.path[len(FILES_PREFIX) :])
        query = dict(parse_qsl(parts.query))
        if not self.signer.verify(key, query.get("expires"), query.get("signature")):
            return None
        return await self.storage.read(key)

    async def fetch(self, url: str, max_bytes: int | None = None, what: str = "file") -> bytes:
        own = await self.own_file(url)
        if own is not None:
            if len(own) > (max_bytes or self.max_bytes):
                raise TaskFailed(f"Failed to fetch the {what}: file is larger than {max_bytes or self.max_bytes} bytes")
            return own
        try:
            data, _ = await fetch_bytes(self.http, url, max_bytes or self.max_bytes)
            return data
        except TooLarge as exc:
            raise TaskFailed(f"Failed to fetch the {what}: {exc}") from exc
        except (httpx.HTTPError, httpx.InvalidURL, BlockedDestination) as exc:
            raise TaskFailed(f"Failed to fetch the {what}") from exc

    async def image(
        self, url: str, max_bytes: int | None = None, load: bool = True, what: str = "image"
    ) -> Image.Image:
        """The decoded image (load=False: its header only, checked), decoded in the media pool after its
        declared size is checked against the pixel budget. `what` names the input in failure messages."""
        from .sandbox import (
            limits,  # the media pool and pixel budgets (imported here: sandbox imports us)
        )

        data = await self.fetch(url, max_bytes, what)
        return await limits.run(limits.open_image, data, load, what)

    async def task_file(self, task: Task, kind: str, index: int = 0) -> bytes:
        """A file produced by a referenced task (e.g. its first video)."""
        files = ((task.result or {}).get("files") or {}).get(kind) or []
        if not 0 <= index < len(files):
            raise TaskFailed(f"Source task {task.id} has no {kind[:-1]} at index {index}")
        data = await self.storage.read(files[index]["key"]) if self.storage else None
        if data is None:
            raise TaskFailed(f"The source {kind[:-1]} of task {task.id} is no longer available")
        return data
