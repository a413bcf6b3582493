"""OpenAI's Images API, a synchronous upstream: `POST {base}/images/generations` (JSON) or
`POST {base}/images/edits` (multipart, the input images as `image[]`, optional `mask`), answering
`{"data": [{"b64_json": ...} | {"url": ...}]}`. Errors are `{"error": {"message", "code"}}`; a 400 such as
`moderation_blocked` is the upstream's verdict and becomes the task's error as is.

Which OpenAI model serves which of ours, and the size/quality mapping, is data (openai_images.yaml)."""

from __future__ import annotations

from pathlib import Path

import httpx

from ...files_policy import extension_for, sniff
from ..base import TaskFailed, TaskInput
from ..inputs import Inputs
from . import errors
from .adapter import Finished, Synchronous, UpstreamFile
from .config import MediaDeployment
from .http_call import b64_bytes, bearer, send
from .mapping import Context, Table

TABLE_PATH = Path(__file__).with_name("openai_images.yaml")


def openai_table() -> Table:
    return Table.bundled(TABLE_PATH)


class OpenAIImages(Synchronous):
    default_base_url = "https://api.openai.com/v1"

    def __init__(
        self, deployment: MediaDeployment, http: httpx.AsyncClient, inputs: Inputs, table: Table | None = None
    ):
        self.deployment = deployment
        self.http = http
        self.inputs = inputs
        self.table = table or openai_table()

    @classmethod
    def pairs(cls) -> frozenset[tuple[str, str]]:
        return openai_table().pairs()

    def supports(self, action_key: str, model: str | None) -> bool:
        return self.table.get(action_key, model) is not None

    async def start(self, task: TaskInput, ctx: Context) -> Finished:
        mapping, route = self.table.route_for(task, self.deployment.name)
        body = {**mapping.body(route, ctx), "model": self.deployment.model_map.get(route.app, route.app)}
        images, mask = body.pop("image", None), body.pop("mask", None)
        headers = bearer(self.deployment.api_key)
        try:
            if images:
                files = [("image[]", await self._upload(url, f"image{i}")) for i, url in enumerate(images)]
                if mask:
                    files.append(("mask", await self._upload(mask, "mask")))
                resp = await send(
                    self.http,
                    self.deployment,
                    "POST",
                    f"{self.deployment.base_url}/images/edits",
                    headers=headers,
                    data={k: str(v) for k, v in body.items()},
                    files=files,
                )
            else:
                resp = await send(
                    self.http,
                    self.deployment,
                    "POST",
                    f"{self.deployment.base_url}/images/generations",
                    headers=headers,
                    json=body,
                )
        except httpx.HTTPError as exc:
            raise errors.from_transport(exc, self.deployment.name) from exc
        if resp.status_code >= 400:
            raise errors.from_response(resp, self.deployment.name, errors.first_message)
        return Finished(self._files(resp))

    async def _upload(self, url: str, stem: str) -> tuple[str, bytes, str]:
        data = await self.inputs.fetch(url, what="image")
        mime = sniff(data)
        if mime is None or not mime.startswith("image/"):
            raise TaskFailed("Failed to fetch the image: not a supported image")
        return f"{stem}.{extension_for(mime)}", data, mime

    def _files(self, resp: httpx.Response) -> list[UpstreamFile]:
        try:
            items = resp.json().get("data") or []
        except (ValueError, AttributeError) as exc:
            raise errors.UpstreamError(f"{self.deployment.name} answered with invalid JSON") from exc
        files = []
        for item in items:
            if item.get("b64_json"):
                unreadable = f"{self.deployment.name} sent an unreadable image"
                files.append(UpstreamFile("images", data=b64_bytes(item["b64_json"], unreadable)))
            elif item.get("url"):
                files.append(UpstreamFile("images", url=item["url"]))
        if not files:
            raise errors.UpstreamError(f"{self.deployment.name} returned no image")
        return files
