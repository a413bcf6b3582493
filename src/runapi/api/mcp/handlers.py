"""What each MCP tool does, in process: the same services the HTTP endpoints call (the catalog, the one create
path in tasks/submit.py, the status body of tasks/views.py, the account balance), never HTTP to ourselves.

Each handler returns the JSON object the platform's tool answers with; refusals become `{"error": ...}` with
the message the HTTP API would give (the platform's tools turn an HTTP error into its message the same way,
with a friendlier text for a few statuses: `friendly_error`)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ... import accounts
from ...auth.principal import Principal
from ...domain.task import Task, TaskState
from ...errors import (
    BadRequest,
    InsufficientCredits,
    RateLimited,
    RunapiError,
    Unauthenticated,
    Unavailable,
    task_not_found,
)
from ...services import Services
from ...tasks import engine
from ...tasks.submit import submit_task, validated
from ...tasks.views import billing_facts, result_only, status_body
from ..account import balance_body
from ..media import MAX_IDEMPOTENCY_KEY, SYNC_TIMEOUT_SECONDS
from .contract import Contract, ModelEntry, action_name, family_name, input_rules, service_slug
from .pricing import price_answer
from .prompts import search
from .tools import COMPLETION_WAIT_DEADLINE_MS, COMPLETION_WAIT_POLL_INTERVAL_MS

log = logging.getLogger("runapi.mcp")

# A client may ask for any interval; below this the wait would only re-read the database for nothing (the
# wait returns as soon as the task finishes, whatever the interval: it sets the progress cadence).
MIN_POLL_SECONDS = 0.25

Progress = Callable[[float, float, str], Awaitable[None]]  # (elapsed ms, deadline ms, message)


@dataclass(frozen=True)
class Caller:
    """Who calls a tool, and with what: the services of this process, the key's principal, and the base URL
    result links are built on (as for the HTTP request the call arrived in)."""

    services: Services
    principal: Principal
    base_url: str


def friendly_error(exc: RunapiError) -> str:
    """The platform's tool text for the refusals an agent should act on rather than read; else the message."""
    if isinstance(exc, Unauthenticated):
        return "RunAPI could not authenticate the credentials attached to this MCP request. Verify them, then retry."
    if isinstance(exc, InsufficientCredits):
        return "The RunAPI account has insufficient credits. Add credits in the RunAPI dashboard, then retry."
    if isinstance(exc, RateLimited):
        return "RunAPI rate limited this request. Wait briefly, then retry."
    if isinstance(exc, Unavailable):
        return "This RunAPI service is temporarily unavailable. Retry later or choose another model."
    return exc.message


# --- discovery ---------------------------------------------------------------------------------------------


def _model_row(entry: ModelEntry) -> dict[str, Any]:
    return {
        "model": entry.model.id,
        "service": entry.service,
        "action": entry.action_name,
        "modality": entry.modality,
        "model_line": entry.model_line,
        "required_fields": entry.required_fields,
    }


def list_models(contract: Contract, args: dict[str, Any]) -> dict[str, Any]:
    entries = list(contract.entries)
    if args.get("modality"):
        entries = [e for e in entries if e.modality == args["modality"]]
    if args.get("service"):
        entries = [e for e in entries if e.service == service_slug(family_name(args["service"]))]
    if args.get("action"):
        entries = [e for e in entries if e.action_name == action_name(args["action"])]
    return {"count": len(entries), "source": "embedded catalog", "models": [_model_row(e) for e in entries]}


def _model_info(entry: ModelEntry) -> dict[str, Any]:
    info: dict[str, Any] = {
        "model": entry.model.id,
        "service": entry.service,
        "action": entry.action_name,
        "modality": entry.modality,
        "model_line": entry.model_line,
        "fields": [f.as_dict() for f in entry.fields],
    }
    rules = input_rules(entry)
    if rules:
        info["input_rules"] = [r.as_dict() for r in rules]
    info["price"] = price_answer(entry)
    return info


def get_model_info(contract: Contract, args: dict[str, Any]) -> dict[str, Any]:
    model, service, action = args["model"], args.get("service"), args.get("action")
    entry = contract.find_model_for_action(service, action, model) if service and action else contract.find_model(model)
    if entry is None:
        if service or action:
            return {
                "error": f"Unsupported RunAPI model/action combination: {service or '(missing service)'}/"
                f"{action or '(missing action)'} with model {model}",
                "hint": "Call list_models with service/action filters to find supported combinations.",
            }
        return {"error": f"Unknown RunAPI model: {model}", "hint": "Call list_models first to find valid model slugs."}
    info = _model_info(entry)
    matches = contract.find_models(model)
    if not (service or action) and len(matches) > 1:
        info.update(
            ambiguous=True,
            hint="This model supports multiple service/action pairs. Call get_model_info with service and action "
            "to inspect the exact input constraints before create_task.",
            matches=[{"service": m.service, "action": m.action_name, "modality": m.modality} for m in matches],
        )
    return info


def list_actions(contract: Contract) -> dict[str, Any]:
    return {"groups": contract.action_groups()}


def check_pricing(contract: Contract, args: dict[str, Any]) -> dict[str, Any]:
    entry = contract.find_model_for_action(args["service"], args["action"], args.get("model"))
    if entry is None:
        return {
            "supported": False,
            "message": "No matching RunAPI model/action pair in the local contract.",
            "hint": "Use list_models with service/action filters to find supported combinations.",
        }
    return {
        "supported": True,
        "model": entry.model.id,
        "service": entry.service,
        "action": entry.action_name,
        "price": price_answer(entry),
    }


def search_prompts(args: dict[str, Any]) -> dict[str, Any]:
    try:
        return search(args)
    except RunapiError as exc:  # e.g. a page past the last one the gallery pages to
        return {
            "error": f"Prompt API unavailable: {exc.message}",
            "hint": "Try again later or continue with list_models and get_model_info for model discovery.",
        }


# --- authenticated -----------------------------------------------------------------------------------------


async def check_balance(caller: Caller) -> dict[str, Any]:
    return balance_body(await accounts.balance(caller.services.db, caller.principal.account_id))


def _body(caller: Caller, task: Task) -> dict[str, Any]:
    rt = caller.services
    return status_body(task, rt.signer, caller.base_url, rt.settings.generated_url_ttl_seconds)


async def _current(caller: Caller, task_id: str) -> Task:
    task = await engine.get_task(caller.services.db, task_id, caller.principal.account_id)
    if task is None:  # it was made by this account just now, and tasks are never deleted
        raise task_not_found()
    return task


async def create_task(
    caller: Caller, contract: Contract, args: dict[str, Any], progress: Progress | None = None
) -> dict[str, Any]:
    try:
        return await _create_task(caller, contract, args, progress)
    except RunapiError as exc:
        return {"error": friendly_error(exc)}


async def _create_task(
    caller: Caller, contract: Contract, args: dict[str, Any], progress: Progress | None
) -> dict[str, Any]:
    key = args["idempotency_key"].strip()
    if not key:
        return {
            "error": "idempotency_key is required before RunAPI can create a task.",
            "hint": "Generate one opaque key per logical task and reuse it only when retrying that same task input.",
        }
    service, endpoint, model = args["service"], args["action"], args.get("model")
    action = contract.find_action(service, endpoint)
    if action is None or contract.find_model_for_action(service, endpoint, model) is None:
        return {
            "error": "Unsupported RunAPI service/action/model combination.",
            "hint": "Call list_models first to choose a supported model.",
        }
    if len(key) > MAX_IDEMPOTENCY_KEY:  # the HTTP API's Idempotency-Key limit, with its message
        raise BadRequest(f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY} characters")
    body = {**args["params"], **({"model": model} if model else {})}
    rt = caller.services
    valid = validated(caller.principal, action, body)
    submitted = await submit_task(rt, caller.principal, valid, public_base_url=caller.base_url, idempotency_key=key)
    task = submitted.task
    if action.sync:
        return {"result": await _sync_result(caller, task.id)}
    created = (
        {"id": task.id, "status": TaskState.QUEUED.wire, "billing": billing_facts(task)}  # the HTTP 202 body
        if submitted.created
        else {**_body(caller, task), "task_replayed": True}
    )
    if not args["wait"]:
        return {"created": created, "task_id": task.id, "status": created["status"]}
    timeout_ms = min(args.get("timeout_ms") or COMPLETION_WAIT_DEADLINE_MS, COMPLETION_WAIT_DEADLINE_MS)
    interval_ms = args.get("poll_interval_ms") or COMPLETION_WAIT_POLL_INTERVAL_MS
    try:
        return await _wait(caller, task.id, timeout_ms, interval_ms, progress)
    except Exception as exc:  # the task exists and runs on: hand it over rather than fail the call
        if not isinstance(exc, RunapiError):
            log.exception("waiting for task %s failed", task.id)
        return {
            "created": created,
            "task_id": task.id,
            "status": created["status"],
            "warning": friendly_error(exc) if isinstance(exc, RunapiError) else "Waiting for the task failed.",
            "hint": "The task was created and may still be processing. Call get_task with this task_id to continue.",
        }


async def _wait(
    caller: Caller, task_id: str, timeout_ms: int, interval_ms: int, progress: Progress | None
) -> dict[str, Any]:
    """Until the task finishes or the deadline: each round waits for the task's finish signal (or a database
    check), at most one interval, then reports progress."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + timeout_ms / 1000
    while True:
        body = _body(caller, await _current(caller, task_id))
        if body["status"] != "processing":
            return {"task_id": task_id, "status": body["status"], "completed": True, "result": body}
        remaining = deadline - loop.time()
        if remaining <= 0:
            return {
                "task_id": task_id,
                "status": body["status"],
                "task": body,
                "completed": False,
                "wait_deadline_reached": True,
                "next_action": "get_task",
            }
        if progress is not None:
            elapsed_ms = min((loop.time() - started) * 1000, timeout_ms)
            await progress(elapsed_ms, timeout_ms, f"RunAPI task {task_id}: {body['status']}")
        await caller.services.wait_finished(task_id, min(max(interval_ms / 1000, MIN_POLL_SECONDS), remaining))


async def _sync_result(caller: Caller, task_id: str) -> dict[str, Any]:
    """A synchronous endpoint's result body, as its HTTP answer (api/media.sync_result) gives it."""
    await caller.services.wait_finished(task_id, SYNC_TIMEOUT_SECONDS)
    task = await _current(caller, task_id)
    body = _body(caller, task)
    if task.state is TaskState.FAILED:
        raise BadRequest(body["error"])
    if task.state is not TaskState.COMPLETED:
        raise Unavailable("The request is taking longer than expected; try again", retry_after=5)
    return result_only(body)


async def get_task(caller: Caller, contract: Contract, args: dict[str, Any]) -> dict[str, Any]:
    task_id, action = args["task_id"], args.get("action")
    try:
        canonical = str(uuid.UUID(task_id)) == task_id.lower()
    except ValueError:
        canonical = False
    if not canonical:
        return {"error": "taskId must be a canonical UUID"}
    task = await engine.get_task(caller.services.db, task_id.lower(), caller.principal.account_id)
    if (
        task is None
        or task.family != family_name(args["service"])
        or (action is not None and task.action != action_name(action))
    ):
        return {"error": task_not_found().message}
    body = _body(caller, task)
    return {"task_id": task_id, "status": body["status"], "task": body}
