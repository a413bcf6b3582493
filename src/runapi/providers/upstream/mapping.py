"""Declarative request mapping: our validated parameters → an upstream's request body, and the upstream's
result → our outputs. The tables (e.g. fal_models.yaml) are data; this module is the one interpreter.

Table layout, per `family/action`:

    veo_3_1/text_to_video:
      outputs: {video: videos}          # upstream result field → our result list (a file object or a list)
      extra: {text: text}               # our status field ← upstream result field (non-file results)
      meta: {has_audio: true}           # fields added to every output item (value specs, below)
      input: {prompt: $prompt}          # body fields shared by every route (value specs)
      models:
        veo-3.1:                        # our model id → an app id, one route {app, input, when} or a list
          - {when: "first_frame_image_url is set", app: fal-ai/veo3.1/image-to-video,
             input: {image_url: $first_frame_image_url}}
          - fal-ai/veo3.1

A route's `when` uses the catalog's condition syntax (FORMAT.md); the first route that holds is used. Route
input is merged over the shared input; a field set to null is dropped. A route `{when, refuse: message}`
fails the task with that message: for inputs the upstream has no way to honour (a length or aspect it does
not make), which must not be sent anyway (the upstream would refuse them) nor quietly changed.

Value specs: `$name` (the parameter, left out when not set); a plain scalar or list (a literal);
`{param: name, first: true, at: n, map: {ours: theirs}, as: int|float|str|upper|lower|percent, format: "{}s",
default: x}` (applied in that order; unmapped values pass through; `at` picks a list's n-th element, left
out when the list is shorter); `{params: [a, b], map: {"a b": x}, default: x}` (the values joined with a
space, looked up; a combination the map lacks takes the default or is left out, never sent joined);
any dict spec may carry `when: condition` (left out unless it holds, e.g. a prompt that must not travel
with a multi-shot prompt list); `{task_file: param, kind: videos, index: param_or_int}` (a
signed link to a file a referenced task produced); `{object: {field: spec}}` (a nested object, left out when
empty); `{each: param, item: {field: spec}}` (a list built from a list of objects, `$field` naming the
item's own fields; over a list of plain values, e.g. URLs, `$item` names the value; `$_number` is the
item's position from 1, e.g. Kling's multi_prompt[].index); `{const: value}` (a
literal object); `{concat: [spec, ...]}` (one list from several specs: a spec giving a list adds its items, any
other value is added as one item, a left-out one adds nothing; left out when the result is empty — e.g. an
upstream's list of content parts built from a prompt, a first frame and lists of reference URLs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ...catalog.conditions import evaluate, is_set, shown
from ...domain.task import Task
from ...yamlload import load_yaml
from ..base import TaskInput
from .errors import UpstreamError

MISSING: Any = object()
_SPEC_KEYS = ({"param"}, {"params"}, {"task_file"}, {"object"}, {"each"}, {"const"}, {"concat"})
_PARAM_OPTIONS = {"param", "first", "at", "map", "as", "format", "default", "when"}
_CASTS: dict[str, Callable[[Any], Any]] = {
    "int": lambda v: int(float(v)),
    "float": float,
    "str": shown,
    "upper": lambda v: str(v).upper(),
    "lower": lambda v: str(v).lower(),
    "percent": lambda v: round(float(v) * 100),  # a fraction (0.8) as a whole percentage (80)
}

FileLink = Callable[[Task, str, int], str]  # (referenced task, kind, index) → URL


@dataclass(frozen=True)
class Context:
    params: dict[str, Any]
    refs: dict[str, Task] = field(default_factory=dict)
    file_link: FileLink | None = None
    webhook_url: str | None = None  # where the upstream may report the job's end (a signed wake-up link)

    def get(self, name: str) -> Any:
        value = self.params.get(name)
        return value if is_set(value) else MISSING


def _lookup(table: dict[Any, Any], value: Any) -> Any:
    wanted = shown(value)
    for key, mapped in table.items():
        if shown(key) == wanted:
            return mapped
    return value


def resolve(spec: Any, ctx: Context) -> Any:
    """The value a spec stands for, or MISSING (the field is then left out of the body)."""
    if isinstance(spec, str) and spec.startswith("$"):
        return ctx.get(spec[1:])
    if isinstance(spec, list):
        return [v for v in (resolve(s, ctx) for s in spec) if v is not MISSING]
    if not isinstance(spec, dict):
        return spec
    if "when" in spec and not evaluate(spec["when"], ctx.params):
        return MISSING
    if "param" in spec:
        value = ctx.get(spec["param"])
        if value is not MISSING and "at" in spec:
            items = value if isinstance(value, list) else [value]
            value = items[spec["at"]] if spec["at"] < len(items) else MISSING
        return _param(spec, value) if value is not MISSING else _default(spec, ctx)
    if "params" in spec:
        values = [ctx.get(p) for p in spec["params"]]
        if any(v is MISSING for v in values):
            return _default(spec, ctx)
        key = " ".join(shown(v) or "" for v in values)
        found = _lookup(spec["map"], key)
        # a combination the table lacks (e.g. "auto 1k") is no upstream value: never send it joined
        return _default(spec, ctx) if found is key else found
    if "task_file" in spec:
        return _task_file(spec, ctx)
    if "object" in spec:
        built = build(spec["object"], ctx)
        return built if built else MISSING
    if "each" in spec:
        items = ctx.get(spec["each"])
        if items is MISSING:
            return MISSING
        return [build(spec["item"], _item_context(item, n, ctx)) for n, item in enumerate(items, 1)]
    if "concat" in spec:
        return _concat(spec["concat"], ctx)
    return spec["const"]


def _item_context(item: Any, number: int, ctx: Context) -> Context:
    """An `each` item's own fields, or a plain value (e.g. a URL) as `$item`; `$_number` counts from 1."""
    own = item if isinstance(item, dict) else {"item": item}
    return Context({**own, "_number": number}, ctx.refs, ctx.file_link)


def _concat(specs: list[Any], ctx: Context) -> Any:
    out: list[Any] = []
    for spec in specs:
        value = resolve(spec, ctx)
        if isinstance(value, list):
            out.extend(value)
        elif value is not MISSING and value is not None:
            out.append(value)
    return out if out else MISSING


def _default(spec: dict[str, Any], ctx: Context) -> Any:
    return resolve(spec["default"], ctx) if "default" in spec else MISSING


def _param(spec: dict[str, Any], value: Any) -> Any:
    if spec.get("first") and isinstance(value, list):
        value = value[0]
    if "map" in spec:
        value = _lookup(spec["map"], value)
    if "as" in spec:
        value = _CASTS[spec["as"]](value)
    if "format" in spec:
        value = spec["format"].format(value)
    return value


def _task_file(spec: dict[str, Any], ctx: Context) -> Any:
    row = ctx.refs.get(spec["task_file"])
    if row is None or ctx.file_link is None:
        return MISSING
    index = spec.get("index", 0)
    if isinstance(index, str):
        index = ctx.get(index)
        index = 0 if index is MISSING else int(index)
    return ctx.file_link(row, spec.get("kind", "videos"), index)


def build(fields: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out = {}
    for name, spec in fields.items():
        value = resolve(spec, ctx)
        if value is not MISSING and value is not None:
            out[name] = value
    return out


def check_spec(spec: Any, where: str) -> None:
    """Refuse malformed specs when the table loads, not when a task hits them."""
    if isinstance(spec, list):
        for s in spec:
            check_spec(s, where)
    if not isinstance(spec, dict):
        return
    keys = set(spec)
    kind = next((k for k in _SPEC_KEYS if k <= keys), None)
    if kind is None:
        raise ValueError(f"{where}: a value spec needs one of param/params/task_file/object/each/const: {spec}")
    if kind == {"param"} and keys - _PARAM_OPTIONS:
        raise ValueError(f"{where}: unknown options {sorted(keys - _PARAM_OPTIONS)}")
    if "default" in spec:
        check_spec(spec["default"], f"{where}.default")
    if "when" in spec:
        evaluate(spec["when"], {})  # parses: a typo fails at load
    if "at" in spec and (not isinstance(spec["at"], int) or spec["at"] < 0):
        raise ValueError(f"{where}: at must be a list index, got {spec['at']!r}")
    if "as" in spec and spec["as"] not in _CASTS:
        raise ValueError(f"{where}: unknown cast {spec['as']!r}")
    if kind == {"object"}:
        for name, inner in spec["object"].items():
            check_spec(inner, f"{where}.{name}")
    if kind == {"each"}:
        for name, inner in spec["item"].items():
            check_spec(inner, f"{where}[].{name}")
    if kind == {"concat"}:
        if not isinstance(spec["concat"], list):
            raise ValueError(f"{where}: concat takes a list of specs, got {spec['concat']!r}")
        for i, inner in enumerate(spec["concat"]):
            check_spec(inner, f"{where}.concat[{i}]")


@dataclass(frozen=True)
class Route:
    app: str
    input: dict[str, Any]
    when: str | None = None
    refuse: str | None = None  # this input cannot run here: the task fails with this message


@dataclass(frozen=True)
class Mapping:
    """How one (action, model) runs upstream."""

    routes: tuple[Route, ...]
    outputs: dict[str, str]
    extra: dict[str, str]
    meta: dict[str, Any]

    def route(self, params: dict[str, Any], model: str) -> Route | None:
        values = {**params, "model": model}
        for route in self.routes:
            if route.when is None or evaluate(route.when, values):
                return route
        return None

    def body(self, route: Route, ctx: Context) -> dict[str, Any]:
        return build(route.input, ctx)

    def item_meta(self, ctx: Context) -> dict[str, Any]:
        return build(self.meta, ctx)


def _routes(raw: Any, shared: dict[str, Any], where: str) -> tuple[Route, ...]:
    entries = raw if isinstance(raw, list) else [raw]
    routes = []
    for i, entry in enumerate(entries):
        if isinstance(entry, str):
            entry = {"app": entry}
        if "refuse" in entry:
            if set(entry) != {"when", "refuse"}:
                raise ValueError(f"{where}[{i}]: a refusal is {{when, refuse}}, got {sorted(entry)}")
            evaluate(entry["when"], {})
            routes.append(Route(app="", input={}, when=entry["when"], refuse=str(entry["refuse"])))
            continue
        unknown = set(entry) - {"app", "input", "when"}
        if unknown or "app" not in entry:
            raise ValueError(f"{where}[{i}]: a route is {{app, input, when}}, got {sorted(entry)}")
        merged = {**shared, **(entry.get("input") or {})}
        merged = {k: v for k, v in merged.items() if v is not None}
        for name, spec in merged.items():
            check_spec(spec, f"{where}[{i}].{name}")
        if entry.get("when"):
            evaluate(entry["when"], {})  # parses: a typo fails at load
        routes.append(Route(app=entry["app"], input=merged, when=entry.get("when")))
    if routes[-1].when is not None:
        raise ValueError(f"{where}: the last route needs no `when` (it is the fallback)")
    return tuple(routes)


class Table:
    """(action key, model id) → Mapping, loaded from a YAML file."""

    def __init__(self, raw: dict[str, Any]):
        self.entries: dict[tuple[str, str], Mapping] = {}
        for action_key, spec in raw.items():
            if action_key.startswith("_"):
                continue  # holds YAML anchors only
            unknown = set(spec) - {"outputs", "extra", "meta", "input", "models"}
            if unknown:
                raise ValueError(f"{action_key}: unknown keys {sorted(unknown)}")
            shared = spec.get("input") or {}
            meta = spec.get("meta") or {}
            for name, m in meta.items():
                check_spec(m, f"{action_key}.meta.{name}")
            for model, routes in spec["models"].items():
                self.entries[(action_key, model)] = Mapping(
                    routes=_routes(routes, shared, f"{action_key}/{model}"),
                    outputs=spec.get("outputs") or {},
                    extra=spec.get("extra") or {},
                    meta=meta,
                )

    @classmethod
    def load(cls, path: Path) -> Table:
        return cls(load_yaml(path))

    @classmethod
    @cache
    def bundled(cls, path: Path) -> Table:
        """A table shipped with the package, read once per process."""
        return cls.load(path)

    def get(self, action_key: str, model: str | None) -> Mapping | None:
        return self.entries.get((action_key, model or ""))

    def pairs(self) -> frozenset[tuple[str, str]]:
        """Every (action key, model id) this table maps (what `runapi providers` reports as servable)."""
        return frozenset(self.entries)

    def route_for(self, task: TaskInput, upstream: str) -> tuple[Mapping, Route]:
        """The mapping and the route (upstream app/model) that run this task; UpstreamError if none does."""
        model = task.model.id if task.model else ""
        mapping = self.get(task.action.key, model)
        route = mapping.route(task.params, model) if mapping else None
        if mapping is None or route is None:
            raise UpstreamError(f"{upstream} cannot run {task.action.key} with {model}")
        if route.refuse is not None:  # out of this upstream's reach: another deployment may take it
            raise UpstreamError(route.refuse, retryable=False, out_of_reach=True)
        return mapping, route
