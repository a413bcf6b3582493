"""Requests reaching every route of an adapter's mapping table (<kind>_models.yaml): the catalog's examples for
each mapped (action, model) and extra requests for the routes no example reaches (`table_requests`, used for
every kind); and, for the first-party job APIs (Kling, MiniMax, xAI), the bodies the tables make of them, for the
contract checks (unit) and the fakes (e2e)."""

from __future__ import annotations

from typing import Any

from runapi.catalog import get_catalog
from runapi.catalog.validation import validate
from runapi.providers.upstream.mapping import Context, Route, Table

IMG = "https://example.com/a.png"
IMG2 = "https://example.com/b.png"


def has_task_ref(action: Any) -> bool:
    return any(p.task_ref for p in action.params.values())


def table_requests(table: Table, extra: list[tuple[str, str, dict[str, Any]]]) -> list[tuple[Any, str, dict]]:
    """(action, model, request) for every catalog example of a mapped pair, then the extra requests."""
    catalog = get_catalog()
    out = []
    for action_key, model in sorted(table.entries):
        action = catalog.action(*action_key.split("/"))
        out += [
            (action, model, dict(ex)) for ex in action.examples if (ex.get("model") or action.default_model) == model
        ]
    for family, name, body in extra:
        action = catalog.action(family, name)
        out.append((action, body.get("model") or action.default_model, dict(body)))
    return out


def params_of(action: Any, model: str, body: dict[str, Any]) -> dict[str, Any]:
    """The request's parameters with the model's documented defaults filled in (as validation does)."""
    defaults = {p.name: p.default for p in action.models[model].params.values() if p.default is not None}
    return {**defaults, **body}


def routed(table: Table, action: Any, model: str, request: dict[str, Any]) -> tuple[Route, dict[str, Any]]:
    """The route the table takes for this request (validated as the API does) and the body it builds."""
    _, params = validate(action, dict(request))
    mapping = table.get(action.key, model)
    assert mapping is not None, (action.key, model)
    route = mapping.route(params, model)
    assert route is not None, (action.key, model, request)
    body = {} if route.refuse else mapping.body(route, Context(params))
    return route, body


def param_names(spec: Any, out: set[str]) -> None:
    """Adds to `out` the parameter names a mapping spec (mapping.py) reads: $name, param/task_file/each, params,
    and those inside defaults, objects and concatenations."""
    if isinstance(spec, str) and spec.startswith("$"):
        out.add(spec[1:])
    elif isinstance(spec, list):
        for s in spec:
            param_names(s, out)
    elif isinstance(spec, dict):
        for key in ("param", "task_file", "each"):
            if key in spec:
                out.add(spec[key])
        out.update(spec.get("params", []))
        if "default" in spec:
            param_names(spec["default"], out)
        for inner in (spec.get("object") or {}).values():
            param_names(inner, out)
        for part in spec.get("concat") or []:
            param_names(part, out)
