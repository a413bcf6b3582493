"""Black Forest Labs' own API (header `x-key`): `POST {base}/{endpoint}` (e.g. /v1/flux-2-pro) → {id, polling_url};
`GET polling_url` (or `{base}/get_result?id=`) → {status: Pending | Ready | Error | Failed | Request Moderated |
Content Moderated | Task not found, result: {sample: signed URL}}. BFL has no cancel call.

The polling URL may name a regional host (e.g. api.eu.bfl.ai): our key is sent to it only when it is the
configured base's origin or a host under the base's parent domain (*.bfl.ai for api.bfl.ai); any other host is
ignored and the base's own get_result is polled instead.

Errors: 422 `{"detail": [{loc, msg, type}]}` (the request is wrong: the task fails with BFL's message), 402
(insufficient credits: this deployment cannot pay, the next one may), 429 (too many active tasks), 5xx.

Source: https://api.bfl.ai/openapi.json (docs.bfl.ai/api-reference; 2026-05 copy in tryAGI/BlackForestLabs).
Which endpoint runs each of our (action, model), and the bodies, is data: bfl_models.yaml."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from ..base import TaskInput
from . import errors
from .adapter import Finished, Running, Started, TableAdapter
from .http_call import or_running, raise_for_status, send
from .mapping import Context, Table
from .outputs import result_files

TABLE_PATH = Path(__file__).with_name("bfl_models.yaml")
DEFAULT_POLL_SECONDS = 1.0  # BFL's examples poll every half second; images take seconds
MODERATED = frozenset({"Request Moderated", "Content Moderated"})
LOST = frozenset({"Error", "Failed", "Task not found"})


def bfl_table() -> Table:
    return Table.bundled(TABLE_PATH)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def polling_allowed(base_url: str, url: Any) -> bool:
    """Whether `url` may receive our key: the base's own origin, or (same scheme and port, no credentials) a host
    under the base host's parent domain — api.eu.bfl.ai for api.bfl.ai. The parent must keep two labels (bfl.ai,
    not a bare suffix like `ai` or `co.uk` for a two-label base), and an IP base allows its own origin only."""
    if not isinstance(url, str):
        return False
    ours, theirs = urlsplit(base_url), urlsplit(url)
    if (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc):
        return True
    host, their_host = (ours.hostname or "").lower(), (theirs.hostname or "").lower()
    if theirs.scheme != ours.scheme or theirs.port != ours.port or theirs.username or theirs.password:
        return False
    labels = host.split(".")
    if _is_ip(host) or len(labels) < 3:
        return False
    return their_host.endswith("." + ".".join(labels[1:]))


def _detail_message(data: Any) -> str | None:
    """BFL's 422 `{"detail": [{loc, msg}]}` as "field: msg; ...", other bodies by the common reader."""
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, list) and detail and all(isinstance(d, dict) for d in detail):
        parts = []
        for d in detail[:5]:
            loc = [str(x) for x in d.get("loc") or [] if x != "body"]
            parts.append(f"{'.'.join(loc)}: {d.get('msg')}" if loc else str(d.get("msg")))
        return "; ".join(parts)
    return errors.first_message(data)


class BlackForestLabs(TableAdapter):
    default_base_url = "https://api.bfl.ai/v1"
    table_path = TABLE_PATH

    def _headers(self) -> dict[str, str]:
        return {"x-key": self.deployment.api_key} if self.deployment.api_key else {}

    async def _call(self, method: str, url: str, **kw: Any) -> httpx.Response:
        name = self.deployment.name
        resp = await send(self.http, self.deployment, method, url, headers=self._headers(), **kw)
        if resp.status_code == 402:  # out of credits here: another deployment may still pay for it
            message = errors.body_message(resp, _detail_message)
            raise errors.UpstreamError(f"{name} answered HTTP 402: {message}", 402)
        return raise_for_status(resp, name, _detail_message)

    async def start(self, task: TaskInput, ctx: Context) -> Started:
        mapping, route = self.table.route_for(task, self.deployment.name)
        endpoint = self.deployment.model_map.get(route.app, route.app)
        resp = await self._call("POST", f"{self.deployment.base_url}/{endpoint}", json=mapping.body(route, ctx))
        answer = errors.json_object(resp, self.deployment.name)
        task_id = answer.get("id")
        if not isinstance(task_id, str) or not task_id:
            raise errors.UpstreamError(f"{self.deployment.name} answered without a task id")
        polling = answer.get("polling_url")
        if not polling_allowed(self.deployment.base_url, polling):
            polling = f"{self.deployment.base_url}/get_result?{urlencode({'id': task_id})}"
        handle = {"id": task_id, "polling_url": polling, "meta": mapping.item_meta(ctx)}
        return Started(handle, poll_in=self.deployment.poll_seconds or DEFAULT_POLL_SECONDS)

    async def check(self, task: TaskInput, handle: dict[str, Any]) -> Running | Finished:
        url = handle["polling_url"]
        if not polling_allowed(self.deployment.base_url, url):  # a handle from another configuration
            url = f"{self.deployment.base_url}/get_result?{urlencode({'id': handle['id']})}"
        resp = await or_running(self._call("GET", url), 5.0)
        if isinstance(resp, Running):
            return resp
        answer = errors.json_object(resp, self.deployment.name)
        status = answer.get("status")
        if status == "Pending":
            return Running(poll_in=self.deployment.poll_seconds)
        if status in MODERATED:
            raise errors.UpstreamError(
                f"{status}: the request or its result was refused by BFL's moderation", retryable=False
            )
        if status in LOST:
            raise errors.UpstreamError(f"{self.deployment.name}: task ended {status}", job_failed=True)
        if status != "Ready":
            raise errors.UpstreamError(f"{self.deployment.name} answered an unknown status {status!r}")
        mapping = self.table.get(task.action.key, task.model.id if task.model else "")
        if mapping is None:
            raise errors.UpstreamError(f"no BFL mapping for {task.action.key}", retryable=False)
        files = result_files(answer.get("result"), mapping.outputs, handle.get("meta") or {})
        if not files:
            raise errors.UpstreamError(f"{self.deployment.name} returned no image", job_failed=True)
        return Finished(files)

    async def cancel(self, handle: dict[str, Any]) -> None:
        return None  # BFL offers no way to stop a task; it ends on its own within seconds
