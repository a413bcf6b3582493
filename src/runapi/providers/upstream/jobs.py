"""What the first-party job APIs (Kling, MiniMax, xAI) share: a route table read by mapping.py, one HTTP call
path that turns failures into UpstreamErrors, and polls that treat a 429 as "still running"."""

from __future__ import annotations

from typing import Any

import httpx

from ..base import TaskInput
from . import errors, http_call
from .adapter import Running, TableAdapter
from .mapping import Mapping

DEFAULT_POLL_SECONDS = 5.0  # video jobs take minutes: no use asking more often unless the deployment says so
RATE_LIMITED_POLL_SECONDS = 10.0


class JobApi(TableAdapter):
    """Base of an adapter for an upstream with its own async job API. Subclasses set `default_base_url`,
    `table_path`, `_headers` and the job protocol (start/check)."""

    def pick(self, data: Any) -> str | None:
        """The upstream's own message in an error body."""
        return errors.first_message(data)

    def _headers(self) -> dict[str, str]:
        return http_call.bearer(self.deployment.api_key)

    def poll_in(self) -> float:
        return self.deployment.poll_seconds or DEFAULT_POLL_SECONDS

    def mapping(self, task: TaskInput) -> Mapping:
        model = task.model.id if task.model else ""
        found = self.table.get(task.action.key, model)
        if found is None:
            raise errors.UpstreamError(f"{self.deployment.name} has no mapping for {task.action.key}/{model}")
        return found

    async def call(self, method: str, path: str, job_failed: bool = False, **kw: Any) -> httpx.Response:
        """One request under the configured base URL (the key goes nowhere else)."""
        url, headers = f"{self.deployment.base_url}{path}", self._headers()
        return await http_call.call(
            self.http, self.deployment, method, url, headers=headers, pick=self.pick, job_failed=job_failed, **kw
        )

    async def poll(self, path: str, **kw: Any) -> dict[str, Any] | Running:
        """A status request's JSON, or Running when the upstream asks us to slow down (not a failure)."""
        resp = await http_call.or_running(self.call("GET", path, **kw), RATE_LIMITED_POLL_SECONDS)
        return resp if isinstance(resp, Running) else errors.json_object(resp, self.deployment.name)

    async def cancel(self, handle: dict[str, Any]) -> None:
        return None  # none of these job APIs documents a cancel call


def object_at(data: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested JSON object, or {} when the answer has none there."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def policy_words(message: str) -> bool:
    """Whether a job's failure message is a content-policy refusal (final: another deployment would refuse
    too), as the job APIs word them."""
    text = message.lower()
    return any(w in text for w in ("policy", "risk control", "sensitive", "moderat", "safety", "inappropriate"))
