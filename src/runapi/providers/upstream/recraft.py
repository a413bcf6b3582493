"""Recraft's own API (https://www.recraft.ai/docs/api-reference), a synchronous upstream:
`Authorization: Bearer <key>`; POST /v1/images/removeBackground and /v1/images/crispUpscale as
multipart/form-data (the input image as the `image` file part, response_format, image_format) →
`{"created", "credits", "image": {"image_id", "url" | "b64_json"}}`. Errors are `{"code", "message"}`-style
JSON; a 4xx other than auth/rate limits is the request's fault and becomes the task's error.

Which endpoint serves each of our (action, model) is data (recraft_models.yaml); the upload is multipart.py's."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from . import errors
from .adapter import UpstreamFile
from .mapping import Table
from .multipart import MultipartUpstream

TABLE_PATH = Path(__file__).with_name("recraft_models.yaml")


def recraft_table() -> Table:
    return Table.bundled(TABLE_PATH)


def result_files(data: dict[str, Any], name: str, meta: dict[str, Any]) -> list[UpstreamFile]:
    """The one processed image: a link to download, or the bytes when Recraft sent them inline."""
    image = data.get("image")
    if isinstance(image, dict) and isinstance(image.get("url"), str) and image["url"]:
        return [UpstreamFile("images", url=image["url"], meta=dict(meta))]
    if isinstance(image, dict) and isinstance(image.get("b64_json"), str) and image["b64_json"]:
        try:
            data_bytes = base64.b64decode(image["b64_json"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise errors.UpstreamError(f"{name} sent an unreadable image") from exc
        return [UpstreamFile("images", data=data_bytes, meta=dict(meta))]
    raise errors.UpstreamError(f"{name} returned no image")


class Recraft(MultipartUpstream):
    default_base_url = "https://external.api.recraft.ai"
    table_path = TABLE_PATH
    file_fields = ("image",)
    max_image_bytes = 10 << 20  # Recraft's documented input limit (10 MB, 16 MP)
    path_prefix = "/v1/"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.deployment.api_key}"} if self.deployment.api_key else {}

    def result_files(self, data: dict[str, Any], meta: dict[str, Any]) -> list[UpstreamFile]:
        return result_files(data, self.deployment.name, meta)
