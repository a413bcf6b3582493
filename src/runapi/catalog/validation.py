"""Validate a create request against the catalog: model, required, types, enums, ranges, lengths, counts."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..errors import BadRequest, invalid, missing_parameter
from ..files_policy import is_file_id
from .conditions import evaluate
from .model import Action, ModelSpec, Param

# Integers a parameter may carry when the docs give no range: what upstreams and stores take (signed 64 bits).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

JSON_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "array": "an array",
    "object": "an object",
}


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _type_ok(kind: str | None, value: Any) -> bool:
    if kind is None:
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return (
            isinstance(value, int) and not isinstance(value, bool) or (isinstance(value, float) and value.is_integer())
        )
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return True


def _allowed(values: tuple[Any, ...]) -> str:
    return ", ".join(str(v) for v in values)


def _check_url(name: str, value: str, file_id_allowed: bool = False) -> None:
    if file_id_allowed and is_file_id(value):
        return  # resolved to the file's link when the task is submitted (tasks/file_inputs.py)
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket: "http://["
        ok = False
    if not ok:
        what = "an http(s) URL or a file id" if file_id_allowed else "an http(s) URL"
        raise invalid(f"Invalid value for {name}: must be {what}")


def _check_scalar(p: Param, name: str, value: Any, model_id: str | None) -> Any:
    kind = p.type if name == p.name else p.items
    if not _type_ok(kind, value):
        raise invalid(f"Invalid type for {name}: expected {JSON_TYPE_NAMES.get(kind or '', kind)}")
    if kind == "integer" and isinstance(value, float):
        value = int(value)
    if kind == "integer" and not INT64_MIN <= value <= INT64_MAX:  # params without a documented range
        raise invalid(
            f"{name} must be at {'most' if value > 0 else 'least'} {INT64_MAX if value > 0 else INT64_MIN}"
            f" (got {value})"
        )
    if p.enum is not None and name == p.name and value not in p.enum:
        suffix = f" for model {model_id}" if model_id and p.name != "model" else ""
        raise invalid(f"Invalid value for {name}: {value!r}. Allowed values{suffix}: {_allowed(p.enum)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if p.min is not None and value < p.min:
            raise invalid(f"{name} must be at least {_num(p.min)} (got {_num(value)})")
        if p.max is not None and value > p.max:
            raise invalid(f"{name} must be at most {_num(p.max)} (got {_num(value)})")
    if isinstance(value, str) and name == p.name:
        if p.min_length is not None and len(value) < p.min_length:
            raise invalid(f"{name} must be at least {p.min_length} characters (got {len(value)})")
        if p.max_length is not None and len(value) > p.max_length:
            suffix = f" for model {model_id}" if model_id else ""
            raise invalid(f"{name} must be at most {p.max_length} characters{suffix} (got {len(value)})")
    if p.format == "url" and isinstance(value, str):
        _check_url(name, value, p.takes_input_file)
    return value


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _check(p: Param, value: Any, model_id: str | None) -> Any:
    if p.type == "array":
        if not isinstance(value, list):
            raise invalid(f"Invalid type for {p.name}: expected an array")
        if p.min_items is not None and len(value) < p.min_items:
            raise invalid(f"{p.name} must contain at least {p.min_items} item(s) (got {len(value)})")
        if p.max_items is not None and len(value) > p.max_items:
            suffix = f" for model {model_id}" if model_id else ""
            raise invalid(f"{p.name} must contain at most {p.max_items} item(s){suffix} (got {len(value)})")
        checked = []
        for i, item in enumerate(value):
            if p.fields is not None:
                checked.append(_check_object(p, f"{p.name}[{i}]", item, model_id))
                continue
            checked.append(_check_scalar(p, f"{p.name}[{i}]", item, model_id))
            if p.enum is not None and item not in p.enum:
                raise invalid(f"Invalid value for {p.name}[{i}]: {item!r}. Allowed values: {_allowed(p.enum)}")
        if p.max_total_length:
            field, limit = p.max_total_length["field"], p.max_total_length["max"]
            total = sum(len(item.get(field) or "") for item in checked if isinstance(item, dict))
            if total > limit:
                raise invalid(f"{p.name}: the {field} of all items must total at most {limit} characters (got {total})")
        return checked
    return _check_scalar(p, p.name, value, model_id)


def _check_object(p: Param, where: str, item: Any, model_id: str | None) -> dict[str, Any]:
    """One item of an array of objects, checked field by field with the same rules as top-level params."""
    if not isinstance(item, dict):
        raise invalid(f"Invalid type for {where}: expected an object")
    out = dict(item)
    for f in p.fields or ():
        value = item.get(f.name)
        if _is_blank(value):
            if f.required:
                raise invalid(f"Missing required field: {where}.{f.name}")
            continue
        renamed = Param(**{**f.__dict__, "name": f"{where}.{f.name}"})
        out[f.name] = _check(renamed, value, model_id)
    return out


def _apply_total(p: Param, out: dict[str, Any], model_id: str | None) -> None:
    """A param that is the sum of a field over a list's items (e.g. a multi-shot video's length is the sum of its
    shots): set from the items, so length and price follow them; a different value sent is refused."""
    spec = p.total_of or {}
    if p.only_models is not None and model_id not in p.only_models:
        return
    if spec.get("when") and not evaluate(spec["when"], {**out, "model": model_id}):
        return
    items, field = spec["items"], spec["field"]
    values = [item.get(field) for item in out.get(items) or () if isinstance(item, dict)]
    if not values:
        return
    total = sum(v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool))
    where = f"the sum of {items}[].{field}"
    if p.name in out and out[p.name] != total:
        raise invalid(f"{p.name} ({_num(out[p.name])}) must equal {where} ({_num(total)}), or be left out")
    if p.min is not None and total < p.min:
        raise invalid(f"{p.name} is {where}, which must be at least {_num(p.min)} (got {_num(total)})")
    if p.max is not None and total > p.max:
        raise invalid(f"{p.name} is {where}, which must be at most {_num(p.max)} (got {_num(total)})")
    out[p.name] = total


def resolve_model(action: Action, body: dict[str, Any]) -> ModelSpec | None:
    if action.model_param == "absent" or not action.models:
        return next(iter(action.models.values()), None)
    raw = body.get("model")
    if _is_blank(raw):
        if action.model_param == "required":
            raise missing_parameter("model")
        return action.models[action.default_model or next(iter(action.models))]
    if not isinstance(raw, str):
        raise invalid("Invalid type for model: expected a string")
    if raw not in action.models:
        raise invalid(f"Invalid value for model: {raw!r}. Allowed values: {_allowed(tuple(action.models))}")
    return action.models[raw]


def validate(action: Action, body: Any) -> tuple[ModelSpec | None, dict[str, Any]]:
    """Return the model and the request's parameters with defaults applied, or raise a RunapiError."""
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    model = resolve_model(action, body)
    params = model.params if model else action.params
    model_id = model.id if model else None
    given = {k: v for k, v in body.items() if k in params and not _is_blank(v)}

    for p in params.values():
        if p.name in given or p.name == "model":
            continue
        if p.required and (p.only_models is None or model_id in p.only_models):
            raise missing_parameter(p.name)
        if p.required_when and evaluate(p.required_when, {**given, "model": model_id}):
            raise missing_parameter(p.name)

    out: dict[str, Any] = {}
    for name, value in given.items():
        p = params[name]
        if p.only_models is not None and model_id not in p.only_models:
            raise invalid(
                f"Parameter {name} is not supported by model {model_id} (supported by: {_allowed(p.only_models)})"
            )
        if p.forbidden_when and evaluate(p.forbidden_when, {**given, "model": model_id}):
            raise invalid(f"Parameter {name} is not allowed when {p.forbidden_when}")
        out[name] = _check(p, value, model_id)
    for p in params.values():
        if p.total_of:
            _apply_total(p, out, model_id)
    for p in params.values():
        if p.name not in out and p.default is not None and (p.only_models is None or model_id in p.only_models):
            if p.forbidden_when and evaluate(p.forbidden_when, {**out, "model": model_id}):
                continue
            if p.default_when and not evaluate(p.default_when, {**given, "model": model_id}):
                continue
            out[p.name] = p.default
    if model_id:
        out["model"] = model_id
    for rule in action.rules:
        if evaluate(rule.when, out) and not evaluate(rule.then, out):
            raise invalid(rule.message)
    return model, out
