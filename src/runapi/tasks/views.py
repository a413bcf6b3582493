"""The status body: what GET /api/v1/<family>/<action>/<id> returns and what a callback POSTs, with the task's
billing facts and usage as the platform's typed SDKs read them."""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..catalog import get_catalog
from ..domain.task import Task, TaskState
from ..domain.times import iso
from ..storage import UrlSigner

MAX_RETRY_AFTER_SECONDS = 30  # the longest a worker waits between two polls of an upstream job (worker.backoff)


def retry_after_seconds(task: Task, now: float | None = None) -> int:
    """Retry-After for a processing task: until its next scheduled step (an upstream poll, a sandbox delay),
    at least 1 s (the header takes whole seconds); 1 while it is due or being worked on, so a task that
    finishes at once (the sandbox) is picked up at the next poll instead of the SDKs' default 2 s."""
    wait = task.next_run_at - (time.time() if now is None else now)
    return max(1, min(MAX_RETRY_AFTER_SECONDS, math.ceil(wait)))


def cost_cents(task: Task) -> int:
    """What the task costs its account: its price once completed, nothing once failed (refunded), and while it
    is processing the price reserved for it."""
    return 0 if task.state is TaskState.FAILED else task.price_cents


def status_body(
    task: Task, signer: UrlSigner, base_url: str, url_ttl: int, partial: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`partial`: files a progress stage already has (its callback shows them; the task is still processing)."""
    action = get_catalog().action(task.family, task.action)
    fields = set(action.result_fields) if action else {"url"}
    body: dict[str, Any] = {"id": task.id, "status": task.state.wire}
    if task.model:
        body["model"] = task.model
    for name in action.echo if action else ():
        if task.params.get(name) is not None:
            body[name] = task.params[name]
    shown = task.result if task.state is TaskState.COMPLETED else partial
    if shown is not None:
        result = shown or {}
        # stable URL across polls; links live 7 days
        expires = int((task.completed_at or time.time()) + url_ttl)
        link: Callable[[str, str], str] = functools.partial(signer.url, expires=expires)
        if task.outputs_expired_at is not None:
            # retention deleted the files: the same fields, but links that sign nothing (they answer 410)
            link = signer.unsigned
        for kind, items in result.get("files", {}).items():
            body[kind] = [_item(item, fields, link(base_url, item["key"])) for item in items]
        body.update(_signed(result.get("extra", {}), link, base_url))
    if task.outputs_expired_at is not None and task.state is TaskState.COMPLETED:
        body["outputs_expired_at"] = iso(task.outputs_expired_at)
    if task.state is TaskState.FAILED:
        body["error"] = task.error or "Generation failed"
    if action and action.stage_field and body["status"] == "processing" and task.stage:
        body[action.stage_field] = task.stage
    if action:
        for k, v in action.status_extra.get(body["status"], {}).items():
            body.setdefault(k, copy.deepcopy(v))  # documented placeholders such as `lyrics: []`
    body["billing"] = billing_facts(task)
    usage = usage_facts(task)
    if usage is not None:
        body["usage"] = usage
    return body


TASK_KEYS = (
    "id",
    "status",
    "model",
    "billing",
    "usage",
    "outputs_expired_at",
)  # the task envelope; a sync answer is its result


def result_only(body: Mapping[str, Any]) -> dict[str, Any]:
    """What a synchronous endpoint answers from a completed task's status body: the result, without the task."""
    return {k: v for k, v in body.items() if k not in TASK_KEYS}


MICRO_CENTS_PER_CENT = 1_000_000


def billing_facts(task: Task) -> dict[str, Any]:
    """What the task's money did, as the platform's typed SDKs read it (`billing`): the reservation made at
    create, then either its settlement (completed: the reserved price charged) or its refund (failed)."""
    facts: dict[str, Any] = {
        "reservation": {"amount_cents": task.price_cents, "reserved_at": iso(task.created_at)},
        "settlement": None,
        "refund": None,
    }
    if task.state is TaskState.COMPLETED:
        facts["settlement"] = {
            "charged_amount_cents": task.price_cents,
            "amount_micro_cents": task.price_cents * MICRO_CENTS_PER_CENT,
            "settled_at": iso(task.completed_at),
        }
    elif task.state is TaskState.FAILED:
        facts["refund"] = {"amount_cents": task.price_cents, "refunded_at": iso(task.completed_at)}
    return facts


def usage_facts(task: Task) -> dict[str, Any] | None:
    """`usage` on a completed task: its cost in US dollars (the SDKs' TaskUsage.cost, a float) and in cents,
    and for an image task how many images it made."""
    if task.state is not TaskState.COMPLETED:
        return None
    usage: dict[str, Any] = {"cost": task.price_cents / 100, "cost_cents": task.price_cents}
    images = ((task.result or {}).get("files") or {}).get("images")
    if images is not None:
        usage["generated_images"] = len(images)
    return usage


def _item(item: dict[str, Any], fields: set[str], url: str) -> dict[str, Any]:
    out = {"url": url, **{k: v for k, v in item.items() if k in fields and k not in ("url", "key")}}
    if "origin_url" in fields:
        out["origin_url"] = url  # we serve the original file itself
    return out


def _signed(value: Any, link: Callable[[str, str], str], base_url: str) -> Any:
    """Replace {"$key": storage key} references left by generators with their links (signed, expiring)."""
    if isinstance(value, dict):
        if set(value) == {"$key"}:
            return link(base_url, value["$key"])
        return {k: _signed(v, link, base_url) for k, v in value.items()}
    if isinstance(value, list):
        return [_signed(v, link, base_url) for v in value]
    return value
