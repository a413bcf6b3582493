"""An OpenAI media request → the catalog request of the action that serves its model, by the action's
`openai:` block (catalog/openai_schema.py). Pure: no I/O; input files arrive as URLs already stored.

Every refusal names the OpenAI field and the model (400: OpenAI's invalid_request_error), so a client never
has to know the catalog's parameter names: a value the model cannot take, a field it has no use for (with a
value other than the one that asks nothing), a required input left out. The catalog's own validation runs
after this (tasks/submit.py) and `explained` words what it still refuses in the same terms."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..catalog import Catalog, ModelSpec, OpenAiRoute, Param
from ..catalog.openai_schema import Choice, InputMap, SizeMap, mapped_params
from ..errors import BadRequest, InvalidInput, MissingParameter, NotFound, RunapiError
from .fields import FIELDS

PATHS = {
    "images.generations": "/v1/images/generations",
    "images.edits": "/v1/images/edits",
    "audio.speech": "/v1/audio/speech",
    "audio.transcriptions": "/v1/audio/transcriptions",
    "videos": "/v1/videos",
}
RATIO_TOLERANCE = 0.02  # a size this close to an allowed ratio takes it (1792x1024 is 16:9 within 1.6 %)


@dataclass(frozen=True)
class OpenAiRequest:
    """A parsed request to one of the endpoints: its typed fields (fields.parse_fields) and the URLs of its
    input files, per field (`image` may hold several)."""

    endpoint: str
    fields: Mapping[str, Any]
    inputs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def model(self) -> Any:
        return self.fields.get("model")


def route_for(
    catalog: Catalog, endpoint: str, model_id: Any, allowed: Collection[str] | None, with_inputs: bool = False
) -> OpenAiRoute:
    """The action serving `model_id` at `endpoint` (the one taking input files when the request has some, where
    two actions serve the model); refusals list the models this key may use there."""
    routes = catalog.openai_routes.get(endpoint, {})
    visible = [m for m in routes if allowed is None or m in allowed]
    listing = f"Models available at {PATHS[endpoint]}: {', '.join(visible) or 'none'}"
    if not isinstance(model_id, str) or not model_id.strip():
        raise BadRequest(f"Missing required parameter: model. {listing}", code="missing_model")
    route = catalog.openai_route(endpoint, model_id, with_inputs)
    if route is None:
        raise NotFound(
            f"The model `{model_id}` does not exist or you do not have access to it. {listing}",
            code="model_not_found",
        )
    if allowed is not None and model_id not in allowed:
        raise InvalidInput(f"Model {model_id} is not allowed for this API key")  # 422, as every other surface
    return route


def catalog_body(route: OpenAiRoute, request: OpenAiRequest) -> dict[str, Any]:
    """The create request for `route.action`: the mapped fields, the input URLs, then the block's defaults."""
    block, model = route.block, route.model
    body: dict[str, Any] = {}
    if route.action.model_param != "absent":
        body["model"] = model.id
    known = FIELDS[request.endpoint]
    for name, value in request.fields.items():
        spec, neutral = known[name], _neutral(route, name)
        if spec.read_by_endpoint or spec.ignored or value in neutral:
            continue
        mapping = getattr(block, name, None)
        if isinstance(mapping, SizeMap):
            body.update(size_params(mapping, model, value))
        elif isinstance(mapping, Choice) and _takes(model, mapping.param):
            body[mapping.param] = _choice(mapping, model, name, value, neutral)
        elif isinstance(mapping, str) and _takes(model, mapping):
            body[mapping] = _scalar(model.params[mapping], model.id, name, value)
        else:
            raise BadRequest(_unsupported(model.id, name, value, neutral), code="unsupported_parameter")
    for name, urls in request.inputs.items():
        if not urls:
            continue
        source = getattr(block, name, None)
        if not isinstance(source, InputMap) or not _takes(model, source.param):
            raise BadRequest(f"Model {model.id} does not take {name}", code="unsupported_parameter")
        param = model.params[source.param]
        if param.type == "array":
            body[source.param] = list(urls)
        elif len(urls) == 1:
            body[source.param] = urls[0]
        else:
            raise BadRequest(f"Model {model.id} takes one {name}, got {len(urls)}", code="unsupported_parameter")
        body.update(source.also)
    for name, value in block.defaults.items():
        if _takes(model, name):
            body.setdefault(name, value)
    return body


def explained(exc: RunapiError, route: OpenAiRoute) -> RunapiError:
    """A refusal of the catalog's validation in the request's own terms: a missing parameter one of its
    fields sets is that field missing; any other refusal of a value names the field that set it. 400."""
    by_param: dict[str, str] = {}
    for name, param in mapped_params(route.block).items():
        by_param.setdefault(param, name.split(":")[0])  # size:aspect_ratio → size
    model = route.model.id
    if isinstance(exc, MissingParameter):
        sets = by_param.get(exc.parameter)
        if sets is not None:
            return BadRequest(f"Missing required parameter: {sets} (model {model} requires it)", code="missing")
        return BadRequest(f"{exc.message} (model {model} needs it, and no OpenAI field sets it)")
    if isinstance(exc, InvalidInput):
        named = [f"{name} sets {param}" for param, name in by_param.items() if param in exc.message]
        suffix = f"; {', '.join(named)}" if named else ""
        return BadRequest(f"{exc.message} (model {model}{suffix})")
    return exc


# ------------------------------------------------------------------------------------------- one field


def _neutral(route: OpenAiRoute, name: str) -> tuple[Any, ...]:
    neutral = FIELDS[route.block.endpoint][name].neutral
    if name == "response_format" and route.block.endpoint == "audio.speech":
        return (*neutral, getattr(route.block, "format", "mp3"))
    return neutral


def _takes(model: ModelSpec, param: str) -> bool:
    """Does this model take the param at all (an `only_models` param may exclude it)?"""
    p = model.params.get(param)
    return p is not None and (p.only_models is None or model.id in p.only_models)


def _unsupported(model_id: str, name: str, value: Any, neutral: tuple[Any, ...]) -> str:
    if name == "n":
        return f"Model {model_id} makes one image per request: n must be 1 (got {value!r})"
    accepted = f" (accepted: {', '.join(_shown(v) for v in neutral)})" if neutral else ""
    return f"Model {model_id} does not support {name}={_shown(value)}{accepted}"


def _shown(value: Any) -> str:
    return f"{value!r}" if isinstance(value, str) else str(value)


def _choice(mapping: Choice, model: ModelSpec, name: str, value: Any, neutral: tuple[Any, ...]) -> Any:
    param = model.params[mapping.param]
    if mapping.values is None:
        return _allowed(param, model.id, name, value)
    options = {k: v for k, v in mapping.values.items() if param.enum is None or v in param.enum}
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(_shown(v) for v in (*options, *neutral))
        raise BadRequest(
            f"Invalid value for {name}: {_shown(value)}. Model {model.id} supports: {listed}", code="invalid_value"
        )
    return options[value]


def _scalar(param: Param, model_id: str, name: str, value: Any) -> Any:
    """A value as sent, cast to the param's type and held to its enum and range (in the field's name)."""
    if param.type in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadRequest(f"Invalid type for {name}: expected a number", code="invalid_type")
        if param.type == "integer":
            if not float(value).is_integer():
                raise BadRequest(f"Invalid value for {name}: {value}. Model {model_id} takes whole numbers")
            value = int(value)
    elif param.type == "string":
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            value = value["id"]  # a custom voice: {"id": "voice_1234"}
        if not isinstance(value, str):
            raise BadRequest(f"Invalid type for {name}: expected a string", code="invalid_type")
    return _allowed(param, model_id, name, value)


def _allowed(param: Param, model_id: str, name: str, value: Any) -> Any:
    if param.enum is not None and value not in param.enum:
        listed = ", ".join(_shown(v) for v in param.enum)
        raise BadRequest(
            f"Invalid value for {name}: {_shown(value)}. Model {model_id} supports: {listed}", code="invalid_value"
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = param.min, param.max
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"between {_num(low)} and {_num(high)}" if low is not None and high is not None else ""
            span = span or (f"at least {_num(low)}" if low is not None else f"at most {_num(high)}")
            raise BadRequest(f"{name} must be {span} for model {model_id} (got {_num(value)})", code="invalid_value")
    return value


def _num(x: float | None) -> str:
    return "" if x is None else str(int(x)) if float(x).is_integer() else str(x)


# ------------------------------------------------------------------------------------------------- size


def parse_size(value: Any) -> tuple[int, int]:
    """ "1024x1536" → (1024, 1536); anything else is refused."""
    if isinstance(value, str):
        parts = value.lower().split("x")
        if len(parts) == 2 and all(p.isdigit() and 0 < int(p) <= 100_000 for p in parts):
            return int(parts[0]), int(parts[1])
    raise BadRequest(
        f"Invalid value for size: {_shown(value)}. Expected WIDTHxHEIGHT (e.g. 1024x1024) or auto",
        code="invalid_value",
    )


def size_params(mapping: SizeMap, model: ModelSpec, value: Any) -> dict[str, Any]:
    """The ratio and resolution params a size asks for (each only where the model takes that param)."""
    width, height = parse_size(value)
    out: dict[str, Any] = {}
    aspect = mapping.aspect_ratio if mapping.aspect_ratio and _takes(model, mapping.aspect_ratio) else None
    resolution = mapping.resolution if mapping.resolution and _takes(model, mapping.resolution) else None
    if aspect is None and resolution is None:
        raise BadRequest(
            f"Model {model.id} does not support size={value!r}: leave size out or use auto",
            code="unsupported_parameter",
        )
    if aspect is not None:
        out[aspect] = _ratio(model.params[aspect], model.id, width, height, value)
    tier = _tier(model.params[resolution], mapping.tiers or {}, min(width, height)) if resolution else None
    if resolution is not None and tier is not None:
        out[resolution] = tier
    return out


def _ratio(param: Param, model_id: str, width: int, height: int, size: str) -> str:
    g = math.gcd(width, height)
    exact = f"{width // g}:{height // g}"
    choices = [str(v) for v in param.enum or () if _ratio_value(str(v)) is not None]
    if not choices or exact in choices:
        return exact
    wanted = width / height
    nearest = min(choices, key=lambda r: abs(math.log((_ratio_value(r) or 1.0) / wanted)))
    if abs(math.log((_ratio_value(nearest) or 1.0) / wanted)) <= RATIO_TOLERANCE:
        return nearest
    examples = ", ".join(_example_size(r) for r in choices)
    raise BadRequest(
        f"Invalid value for size: {size!r} (aspect ratio {exact}) is not supported by model {model_id}. "
        f"Supported aspect ratios: {', '.join(choices)} (e.g. {examples})",
        code="invalid_value",
    )


def _ratio_value(ratio: str) -> float | None:
    parts = ratio.split(":")
    if len(parts) == 2 and all(p.isdigit() and int(p) > 0 for p in parts):
        return int(parts[0]) / int(parts[1])
    return None  # e.g. "auto"


def _example_size(ratio: str, short: int = 1024) -> str:
    w, h = (int(p) for p in ratio.split(":"))
    scale = short / min(w, h)
    return f"{round(w * scale / 16) * 16}x{round(h * scale / 16) * 16}"


def _tier(param: Param, tiers: Mapping[str, int], short_side: int) -> str | None:
    """The tier whose short side is nearest the size's (on a log scale), among those the model allows."""
    allowed = {k: v for k, v in tiers.items() if param.enum is None or k in param.enum}
    if not allowed:
        return None
    return min(allowed, key=lambda k: (abs(math.log(allowed[k] / short_side)), allowed[k]))
