"""The shape of a synchronous multipart upstream (Ideogram, Recraft): the table (mapping.py) gives the endpoint
and the fields; the fields that hold image links are read through the task-input reader (SSRF-safe, bounded)
and uploaded as file parts, every other field travels as a plain part (so the body is multipart/form-data even
without a file); the JSON answer becomes result files. A subclass names its table, file fields, size limit,
auth header and how to read its answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import httpx

from ...files_policy import extension_for, sniff
from ..base import TaskFailed, TaskInput
from ..inputs import Inputs
from . import errors
from .adapter import Finished, Synchronous, TableAdapter, UpstreamFile
from .config import MediaDeployment
from .http_call import call
from .mapping import Context, Table

# A multipart part: (field, (file name, content, type)), or (field, (None, text)) for a plain field
Part = tuple[str, tuple[str | None, bytes | str] | tuple[str, bytes, str]]


class MultipartUpstream(Synchronous, TableAdapter):
    table_path: ClassVar[Path]
    file_fields: ClassVar[tuple[str, ...]]  # body fields holding image links (a list: one part per link)
    max_image_bytes: ClassVar[int]
    path_prefix: ClassVar[str] = "/"  # POST {base_url}{path_prefix}{route app}

    def __init__(
        self, deployment: MediaDeployment, http: httpx.AsyncClient, inputs: Inputs, table: Table | None = None
    ):
        super().__init__(deployment, http, inputs, table)
        self.inputs: Inputs = inputs  # the image links are read here and uploaded as files

    def headers(self) -> dict[str, str]:
        raise NotImplementedError

    def result_files(self, data: dict[str, Any], meta: dict[str, Any]) -> list[UpstreamFile]:
        raise NotImplementedError

    async def start(self, task: TaskInput, ctx: Context) -> Finished:
        mapping, route = self.table.route_for(task, self.deployment.name)
        endpoint = self.deployment.model_map.get(route.app, route.app)
        body = mapping.body(route, ctx)
        files: list[Part] = []
        for field in self.file_fields:
            links = body.pop(field, None)
            for i, link in enumerate(links if isinstance(links, list) else [links] if links else []):
                files.append((field, await self._upload(str(link), f"{field}{i}")))
        parts: list[Part] = [(k, (None, _text(v))) for k, v in body.items()] + files
        path = f"{self.path_prefix}{endpoint}"
        url = f"{self.deployment.base_url}{path}"  # our key goes to the configured base only
        resp = await call(self.http, self.deployment, "POST", url, headers=self.headers(), files=parts)
        data = errors.json_object(resp, self.deployment.name)
        return Finished(self.result_files(data, mapping.item_meta(ctx)))

    async def _upload(self, url: str, stem: str) -> tuple[str, bytes, str]:
        data = await self.inputs.fetch(url, self.max_image_bytes, what="image")
        mime = sniff(data)
        if mime is None or not mime.startswith("image/"):
            raise TaskFailed("Failed to fetch the image: not a supported image")
        return f"{stem}.{extension_for(mime)}", data, mime


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
