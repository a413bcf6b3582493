"""Ideogram's own API (https://developer.ideogram.ai/api-reference), a synchronous upstream: header
`Api-Key: <key>`; POST /v1/ideogram-v3/{generate,edit,remix,reframe} as multipart/form-data (input images as
file parts) → `{"created", "data": [{url, is_image_safe, prompt, resolution, seed, style_type}]}`. An image
that fails Ideogram's safety check comes back without a url (is_image_safe: false); a prompt that fails it is a
422 `{"error": "..."}`, the task's error as is. Other errors: 400 (the request's fault), 401, 429.

Which endpoint serves each of our (action, model), and the fields, is data (ideogram_models.yaml). Input images
are read through the task-input reader (SSRF-safe, bounded) and uploaded: Ideogram takes files, not links."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from ...files_policy import extension_for, sniff
from ..base import TaskFailed, TaskInput
from ..inputs import Inputs
from . import errors
from .adapter import Finished, Synchronous, UpstreamFile
from .calls import call
from .config import MediaDeployment
from .mapping import Context, Table

TABLE_PATH = Path(__file__).with_name("ideogram_models.yaml")
# Body fields that hold image links, uploaded as file parts (repeated for a list)
FILE_FIELDS = (
    "image",
    "mask",
    "character_reference_images",
    "character_reference_images_mask",
    "style_reference_images",
)
MAX_IMAGE_BYTES = 10 << 20  # Ideogram's limit per input image

# A multipart part: (field, (file name, content, type)), or (field, (None, text)) for a plain field
Part = tuple[str, tuple[str | None, bytes | str] | tuple[str, bytes, str]]


def ideogram_table() -> Table:
    return Table.bundled(TABLE_PATH)


def result_files(data: dict[str, Any], name: str, meta: dict[str, Any]) -> list[UpstreamFile]:
    """The images Ideogram made; UpstreamError when its safety check withheld every one, or there are none."""
    items = [item for item in data.get("data") or [] if isinstance(item, dict)]
    files = [
        UpstreamFile("images", url=item["url"], meta=dict(meta))
        for item in items
        if item.get("is_image_safe") is not False and isinstance(item.get("url"), str) and item["url"]
    ]
    if not files and items:
        raise errors.UpstreamError("The generated images failed Ideogram's safety check", retryable=False)
    if not files:
        raise errors.UpstreamError(f"{name} returned no image")
    return files


class Ideogram(Synchronous):
    default_base_url = "https://api.ideogram.ai"

    def __init__(
        self, deployment: MediaDeployment, http: httpx.AsyncClient, inputs: Inputs, table: Table | None = None
    ):
        self.deployment = deployment
        self.http = http
        self.inputs = inputs
        self.table = table or ideogram_table()

    @classmethod
    def pairs(cls) -> frozenset[tuple[str, str]]:
        return ideogram_table().pairs()

    def supports(self, action_key: str, model: str | None) -> bool:
        return self.table.get(action_key, model) is not None

    async def start(self, task: TaskInput, ctx: Context) -> Finished:
        mapping, route = self.table.route_for(task, self.deployment.name)
        endpoint = self.deployment.model_map.get(route.app, route.app)
        body = mapping.body(route, ctx)
        files: list[Part] = []
        for field in FILE_FIELDS:
            links = body.pop(field, None)
            for i, link in enumerate(links if isinstance(links, list) else [links] if links else []):
                files.append((field, await self._upload(str(link), f"{field}{i}")))
        # text fields as file-less parts: the body is multipart/form-data even without an image
        parts: list[Part] = [(k, (None, str(v))) for k, v in body.items()] + files
        headers = {"Api-Key": self.deployment.api_key} if self.deployment.api_key else {}
        resp = await call(self.http, self.deployment, "POST", f"/v1/{endpoint}", headers, files=parts)
        data = errors.json_object(resp, self.deployment.name)
        return Finished(result_files(data, self.deployment.name, mapping.item_meta(ctx)))

    async def _upload(self, url: str, stem: str) -> tuple[str, bytes, str]:
        data = await self.inputs.fetch(url, MAX_IMAGE_BYTES, what="image")
        mime = sniff(data)
        if mime is None or not mime.startswith("image/"):
            raise TaskFailed("Failed to fetch the image: not a supported image")
        return f"{stem}.{extension_for(mime)}", data, mime
