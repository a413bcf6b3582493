"""Ideogram's own API (https://developer.ideogram.ai/api-reference), a synchronous upstream: header
`Api-Key: <key>`; POST /v1/ideogram-v3/{generate,edit,remix,reframe} as multipart/form-data (input images as
file parts) → `{"created", "data": [{url, is_image_safe, prompt, resolution, seed, style_type}]}`. An image
that fails Ideogram's safety check comes back without a url (is_image_safe: false); a prompt that fails it is a
422 `{"error": "..."}`, the task's error as is. Other errors: 400 (the request's fault), 401, 429.

Which endpoint serves each of our (action, model), and the fields, is data (ideogram_models.yaml). Input images
are read through the task-input reader and uploaded (multipart.py): Ideogram takes files, not links."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import errors
from .adapter import UpstreamFile
from .mapping import Table
from .multipart import MultipartUpstream

TABLE_PATH = Path(__file__).with_name("ideogram_models.yaml")


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


class Ideogram(MultipartUpstream):
    default_base_url = "https://api.ideogram.ai"
    table_path = TABLE_PATH
    file_fields = (
        "image",
        "mask",
        "character_reference_images",
        "character_reference_images_mask",
        "style_reference_images",
    )
    max_image_bytes = 10 << 20  # Ideogram's limit per input image
    path_prefix = "/v1/"

    def headers(self) -> dict[str, str]:
        return {"Api-Key": self.deployment.api_key} if self.deployment.api_key else {}

    def result_files(self, data: dict[str, Any], meta: dict[str, Any]) -> list[UpstreamFile]:
        return result_files(data, self.deployment.name, meta)
