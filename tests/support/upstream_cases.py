"""Shared pieces of the first-party media adapters' unit tests: the requests a table's routes are reached by
(the catalog's examples plus extra ones), an adapter run against an in-memory transport (no socket) that
records what it would send, and a stand-in for the task-input reader."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from runapi.catalog import get_catalog
from runapi.providers.base import TaskFailed, TaskInput
from runapi.providers.upstream.config import MediaDeployment
from runapi.providers.upstream.mapping import Context, Route, Table
from tests.support.fake_media import MP4, PNG
from tests.support.first_party import param_names, params_of


def unknown_names(table: Table) -> dict[tuple[str, str, str], set[str]]:
    """Per (action, model, app): parameters a route reads that the action does not have (should be empty), or
    {"<no such action/model>"} when the table names a pair the catalog lacks."""
    catalog = get_catalog()
    found: dict[tuple[str, str, str], set[str]] = {}
    for (action_key, model), mapping in table.entries.items():
        action = catalog.action(*action_key.split("/"))
        if action is None or model not in action.models:
            found[(action_key, model, "")] = {"<no such action/model>"}
            continue
        for route in mapping.routes:
            names: set[str] = set()
            for spec in route.input.values():
                param_names(spec, names)
            if names - set(action.params):
                found[(action_key, model, route.app)] = names - set(action.params)
    return found


def params_for(action: Any, model: str, body: dict[str, Any]) -> dict[str, Any]:
    """The parameters a task of this request holds: the model's defaults under the request's own values."""
    return {k: v for k, v in params_of(action, model, body).items() if k != "model"}


def model_of(action: Any, body: dict[str, Any]) -> str | None:
    """The model a request runs: its own, the action's default, or the action's only model."""
    only = next(iter(action.models)) if len(action.models) == 1 else None
    return body.get("model") or action.default_model or only


def cases(table: Table, extra: list[tuple[str, dict[str, Any]]]) -> list[tuple[Any, str, dict[str, Any]]]:
    """(action, model, request) for every catalog example of a pair the table maps, and `extra`
    ((action key, request) with the request's model or the action's default)."""
    catalog = get_catalog()
    out = []
    for action_key, model in sorted(table.entries):
        action = catalog.action(*action_key.split("/"))
        out += [(action, model, dict(ex)) for ex in action.examples if model_of(action, ex) == model]
    for action_key, body in extra:
        action = catalog.action(*action_key.split("/"))
        out.append((action, model_of(action, body), body))
    return out


def route_of(table: Table, action: Any, model: str, body: dict[str, Any]) -> Route:
    route = table.get(action.key, model).route(params_for(action, model, body), model)
    assert route is not None, (action.key, model, body)
    return route


class StubInputs:
    """The task-input reader, without a network: links ending .mp4 are a tiny MP4, anything else a tiny PNG (or
    `images[url]`); records what was asked."""

    def __init__(self, images: dict[str, bytes] | None = None):
        self.images = images or {}
        self.fetched: list[tuple[str, int | None, str]] = []

    async def fetch(self, url: str, max_bytes: int | None = None, what: str = "file") -> bytes:
        self.fetched.append((url, max_bytes, what))
        data = self.images.get(url) or (MP4 if url.endswith(".mp4") else PNG)
        if max_bytes is not None and len(data) > max_bytes:
            raise TaskFailed(f"Failed to fetch the {what}: file is larger than {max_bytes} bytes")
        return data


@dataclass
class Sent:
    method: str
    url: str
    headers: dict[str, str]
    content: bytes
    json: Any = None
    form: dict[str, Any] = field(default_factory=dict)


Responder = Callable[[httpx.Request], httpx.Response]


def run_adapter(
    adapter_class: Any,
    action: Any,
    model: str,
    body: dict[str, Any],
    respond: Responder,
    inputs: StubInputs | None = None,
    step: str = "start",
    handle: dict[str, Any] | None = None,
    **deployment: Any,
) -> tuple[Any, list[Sent]]:
    """Run the adapter's `step` (start, check or cancel) for this request over an in-memory transport; returns
    its outcome (or the exception it raised) and the requests it made."""
    sent: list[Sent] = []

    def handler(request: httpx.Request) -> httpx.Response:
        content = request.read()
        kind = request.headers.get("content-type", "")
        parsed = json.loads(content) if kind.startswith("application/json") and content else None
        sent.append(Sent(request.method, str(request.url), dict(request.headers), content, parsed))
        return respond(request)

    settings = {"name": "up", "kind": "test", "base_url": "https://up.example/v1", "api_key": "key-1", **deployment}

    async def go() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            adapter = adapter_class(MediaDeployment(**settings), http, inputs or StubInputs())
            task = TaskInput(id="t1", action=action, model=action.models[model], params=params_for(action, model, body))
            try:
                if step == "start":
                    return await adapter.start(task, Context(params=task.params))
                if step == "check":
                    return await adapter.check(task, handle or {})
                return await adapter.cancel(handle or {})
            except Exception as exc:  # the outcome under test may be a refusal
                return exc

    return asyncio.run(go()), sent


def extra_cases(table: Table, extra: list[tuple[str, dict[str, Any]]]) -> list[tuple[Any, str, dict[str, Any]]]:
    """Only the `extra` requests, as (action, model, request)."""
    return cases(table, extra)[len(cases(table, [])) :]
