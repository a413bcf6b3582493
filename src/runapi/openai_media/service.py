"""An OpenAI media request run as a task: the model's route in the catalog, the mapped request, the input files
stored as uploads, then the one create path (tasks/submit.py: validation, the key's allowed models, price,
guardrails, limits, the reservation), so a call here is checked, charged and refunded exactly as the native
endpoint's. The synchronous endpoints then wait for the task in-process, up to a deadline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..auth.principal import Principal, require_api_key
from ..catalog import OpenAiRoute, get_catalog
from ..domain.task import Task, TaskState
from ..errors import BadRequest, InvalidInput, NotFound, task_not_found
from ..services import Services
from ..storage import quota
from ..storage.uploads import store_input
from ..tasks import engine
from ..tasks.submit import submit_task, validated
from .mapping import OpenAiRequest, catalog_body, explained, route_for


class StillRunning(Exception):
    """The task did not finish within the wait: it runs on and is billed when it completes."""

    def __init__(self, task: Task):
        super().__init__(task.id)
        self.task = task


class GenerationFailed(Exception):
    """The task failed (and was refunded): its error is what the client reads."""

    def __init__(self, task: Task):
        super().__init__(task.error or "Generation failed")
        self.task = task


@dataclass(frozen=True)
class Upload:
    """A file sent in a multipart request."""

    data: bytes
    filename: str | None


@dataclass(frozen=True)
class Created:
    route: OpenAiRoute
    task: Task


async def create(
    rt: Services,
    who: Principal,
    request: OpenAiRequest,
    uploads: Mapping[str, Sequence[Upload]],
    *,
    public_base_url: str,
    idempotency_key: str | None = None,
    client_request_id: str | None = None,
) -> Created:
    """Map, store the uploads, validate and submit. `request.inputs` may already hold URLs (an input given by
    URL); uploads are added to them."""
    require_api_key(who)
    with_inputs = any(request.inputs.values()) or any(uploads.values())
    route = route_for(get_catalog(), request.endpoint, request.model, who.allowed_models, with_inputs)
    catalog_body(route, replace(request, inputs={}))  # the fields' refusals come before anything is stored
    inputs = {name: tuple(urls) for name, urls in request.inputs.items()}
    for name, files in uploads.items():
        stored = [await _stored_url(rt, who, public_base_url, name, i, f, len(files)) for i, f in enumerate(files)]
        inputs[name] = (*inputs.get(name, ()), *stored)
    body = catalog_body(route, replace(request, inputs=inputs))
    try:
        valid = validated(who, route.action, body)
    except (BadRequest, InvalidInput) as exc:
        raise explained(exc, route) from None
    submitted = await submit_task(
        rt,
        who,
        valid,
        public_base_url=public_base_url,
        idempotency_key=idempotency_key,
        client_request_id=client_request_id,
    )
    return Created(route, submitted.task)


async def _stored_url(rt: Services, who: Principal, base: str, name: str, index: int, f: Upload, count: int) -> str:
    label = f"{name}[{index}]" if count > 1 else name
    limits = quota.UploadLimits.from_settings(rt.settings)
    stored = await store_input(rt.db, rt.storage, limits, who.account_id, who.key_id, f.data, f.filename, label)
    assert stored.key is not None  # (a stored file has its key)
    return rt.signer.url(base, stored.key, int(stored.expires_at))


async def finished(rt: Services, task: Task, timeout: float) -> Task:
    """The task once finished and completed. GenerationFailed if it failed, StillRunning past `timeout`."""
    await rt.wait_finished(task.id, timeout)
    now = await engine.get_task(rt.db, task.id, task.account_id)
    if now is None:  # created by this account just now, and tasks are never deleted
        raise task_not_found()
    if now.state is TaskState.FAILED:
        raise GenerationFailed(now)
    if now.state is not TaskState.COMPLETED:
        raise StillRunning(now)
    return now


def files_of(task: Task, kind: str) -> list[dict[str, Any]]:
    """The result's files of one kind ("images", "audios", "videos"): each {key, content_type, **meta}."""
    files = ((task.result or {}).get("files") or {}).get(kind) or []
    return [f for f in files if isinstance(f, dict) and isinstance(f.get("key"), str)]


async def file_bytes(rt: Services, item: Mapping[str, Any]) -> bytes:
    data = await rt.storage.read(str(item["key"]))
    if data is None:
        raise NotFound("The generated file is no longer available")
    return data
