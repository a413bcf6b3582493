"""The catalog's `openai:` block: which OpenAI-compatible media endpoint an action serves and how that
endpoint's request fields become the action's parameters (the service in runapi/openai_media/ applies it).

One block names its `endpoint` and, per OpenAI request field, the parameter that takes it:

    openai:
      endpoint: images.generations
      n: output_count                                  # a plain param name: the value as sent (numbers cast)
      size: {aspect_ratio: aspect_ratio, resolution: output_resolution, tiers: {1k: 1024, 2k: 2048}}
      quality: {param: quality, values: {medium: medium, high: high, auto: medium}}
      defaults: {quality: medium}                      # set when the request leaves the param out

An action may carry a list of blocks (one per endpoint it serves). Every model of the action is served under
its own id. A field the block maps to nothing is accepted only with the value that asks for nothing (n=1,
size=auto, ...); anything else is refused naming the field and the model. The block is checked when the
catalog loads, against the action's parameters (`check_openai`): a param that does not exist, a mapped value
its enum refuses or an unknown key fails the load naming family/action, as a bad `sandbox:` block does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

if TYPE_CHECKING:
    from .model import Param

__all__ = [
    "ENDPOINTS",
    "AudioSpeechMap",
    "AudioTranscriptionsMap",
    "Choice",
    "ImagesEditsMap",
    "ImagesGenerationsMap",
    "InputMap",
    "OpenAiMap",
    "SizeMap",
    "VideosMap",
    "check_openai",
    "parse_openai",
]

Endpoint = Literal["images.generations", "images.edits", "audio.speech", "audio.transcriptions", "videos"]
AudioFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
Scalar = str | int | float | bool


def _param_object(value: Any) -> Any:
    """A plain param name is shorthand for {param: name}."""
    return {"param": value} if isinstance(value, str) else value


class _Spec(BaseModel):
    # strict: YAML gives native types, so "5" for a number is a typo, not something to coerce
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Choice(_Spec):
    """An OpenAI field with named values (quality, output_format, response_format) → a param. `values`
    translates each accepted OpenAI value; a value not listed is refused. Without `values` the value passes
    as sent (and the param's own enum decides)."""

    param: str
    values: dict[str, Scalar] | None = None


class SizeMap(_Spec):
    """`size` ("WIDTHxHEIGHT") → the ratio param (the size reduced to W:H; the nearest allowed ratio within
    2 %) and/or the resolution param: the tier whose short side (pixels, `tiers`) is nearest the size's."""

    aspect_ratio: str | None = None
    resolution: str | None = None
    tiers: dict[str, int] | None = None


class InputMap(_Spec):
    """An input file (uploaded, or a URL where the endpoint takes one) → the param that takes its URL (an
    array param takes them all, a string param exactly one); `also`: params set whenever it is given (e.g. the
    mode that reads it)."""

    param: str
    also: dict[str, Scalar] = Field(default_factory=dict)


ChoiceField = Annotated[Choice, BeforeValidator(_param_object)]
InputField = Annotated[InputMap, BeforeValidator(_param_object)]


class _Map(_Spec):
    # the action's models served at the endpoint (default: all; leave out one the endpoint cannot feed, e.g. a
    # character model that needs reference images no OpenAI field carries)
    models: list[str] | None = None
    # params the request never carries but the action requires (e.g. gpt-image's quality), or that differ
    # from the catalog's own default for OpenAI clients; set only where the mapped request leaves them out
    defaults: dict[str, Scalar] = Field(default_factory=dict)


class _ImagesMap(_Map):
    prompt: str = "prompt"
    n: str | None = None  # the param with the number of images (none: one image per request)
    size: SizeMap | None = None
    quality: ChoiceField | None = None
    output_format: ChoiceField | None = None


class ImagesGenerationsMap(_ImagesMap):
    endpoint: Literal["images.generations"]


class ImagesEditsMap(_ImagesMap):
    endpoint: Literal["images.edits"]
    image: InputField  # image / image[]
    mask: InputField | None = None


class AudioSpeechMap(_Map):
    endpoint: Literal["audio.speech"]
    input: str = "text"
    voice: str | None = None
    speed: str | None = None
    response_format: ChoiceField | None = None
    format: AudioFormat = "mp3"  # what the action makes when no response_format param chooses


class AudioTranscriptionsMap(_Map):
    endpoint: Literal["audio.transcriptions"]
    file: InputField
    language: str | None = None


class VideosMap(_Map):
    endpoint: Literal["videos"]
    prompt: str = "prompt"
    seconds: str | None = None
    size: SizeMap | None = None
    input_reference: InputField | None = None


OpenAiMap = Annotated[
    ImagesGenerationsMap | ImagesEditsMap | AudioSpeechMap | AudioTranscriptionsMap | VideosMap,
    Field(discriminator="endpoint"),
]
_ADAPTER: TypeAdapter[OpenAiMap] = TypeAdapter(OpenAiMap)
ENDPOINTS: tuple[str, ...] = (
    "images.generations",
    "images.edits",
    "audio.speech",
    "audio.transcriptions",
    "videos",
)
NOT_FIELDS = ("endpoint", "models", "defaults", "format")  # block keys that name no OpenAI request field


def parse_openai(raw: Any, where: str) -> tuple[OpenAiMap, ...]:
    """The typed blocks (a single block or a list of them; none for an absent key). ValueError naming `where`."""
    if raw is None:
        return ()
    blocks = raw if isinstance(raw, list) else [raw]
    out = []
    for block in blocks:
        try:
            out.append(_ADAPTER.validate_python(block))
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                key = ".".join(str(part) for part in error["loc"][1:]) or "endpoint"
                if error["type"] in ("union_tag_not_found", "union_tag_invalid"):
                    problems.append(f"endpoint must be one of {', '.join(ENDPOINTS)}")
                elif error["type"] == "extra_forbidden":
                    problems.append(f"unknown key {key!r}")
                else:
                    problems.append(f"{key}: {error['msg']}, got {error['input']!r}")
            raise ValueError(f"{where}: openai: {'; '.join(problems)}") from None
    endpoints = [b.endpoint for b in out]
    if len(set(endpoints)) != len(endpoints):
        raise ValueError(f"{where}: openai: one block per endpoint (got {', '.join(endpoints)})")
    return tuple(out)


def mapped_params(block: OpenAiMap) -> dict[str, str]:
    """OpenAI field → the param it sets, for every field the block maps (size may set two; `also` params and
    `defaults` are not the client's fields)."""
    out: dict[str, str] = {}
    for name in type(block).model_fields:
        value = getattr(block, name)
        if name in NOT_FIELDS or value is None:
            continue
        if isinstance(value, str):
            out[name] = value
        elif isinstance(value, (Choice, InputMap)):
            out[name] = value.param
        elif isinstance(value, SizeMap):
            for param in (value.aspect_ratio, value.resolution):
                if param:
                    out[f"size:{param}"] = param
    return out


def check_openai(block: OpenAiMap, params: Mapping[str, Param], where: str, fixed_only: bool = False) -> None:
    """The block against the action's parameters. ValueError naming `where` and the first problem.
    `fixed_only`: a model's parameters, which may narrow an enum; only the values the block always sets
    (`defaults`, `also`) must suit every model: a request asking for another value is refused at run time."""
    prefix = f"{where}: openai ({block.endpoint})"
    if not fixed_only and block.models is not None:
        served = set(params["model"].enum or ()) if "model" in params else set()
        unknown = [m for m in block.models if m not in served] if served else []
        if unknown:
            raise ValueError(f"{prefix}: models names unknown models {unknown}")

    def param(name: str, field: str) -> Param:
        if name not in params:
            raise ValueError(f"{prefix}: {field} names unknown param {name!r}")
        return params[name]

    def allowed(name: str, value: Any, field: str) -> None:
        p = param(name, field)
        if p.enum is not None and value not in p.enum:
            raise ValueError(f"{prefix}: {field} sets {name} to {value!r}, which its enum refuses ({list(p.enum)})")

    for name, value in block.defaults.items():
        allowed(name, value, "defaults")
    for field in ("image", "mask", "file", "input_reference"):
        source = getattr(block, field, None)
        if isinstance(source, InputMap):
            for name, value in source.also.items():
                allowed(name, value, f"{field}.also")
    if fixed_only:
        return
    for field, name in mapped_params(block).items():
        param(name, field)
    for field in ("quality", "output_format", "response_format"):
        choice = getattr(block, field, None)
        if isinstance(choice, Choice) and choice.values:
            for value in choice.values.values():
                allowed(choice.param, value, field)
    for field in ("image", "mask", "file", "input_reference"):
        source = getattr(block, field, None)
        if isinstance(source, InputMap):
            if param(source.param, field).type not in ("string", "array"):
                raise ValueError(f"{prefix}: {field} must name a URL param (a string or an array of them)")
    for field in ("n", "seconds", "speed"):
        number = getattr(block, field, None)
        if isinstance(number, str) and param(number, field).type not in ("integer", "number"):
            raise ValueError(f"{prefix}: {field} must name a number param, not {number!r}")
    size = getattr(block, "size", None)
    if isinstance(size, SizeMap):
        if size.resolution and not size.tiers:
            raise ValueError(f"{prefix}: size.resolution needs tiers (each value's short side in pixels)")
        if size.tiers and not size.resolution:
            raise ValueError(f"{prefix}: size.tiers without size.resolution")
        for value in size.tiers or {}:
            allowed(size.resolution or "", value, "size.tiers")


INPUT_FIELDS = ("image", "mask", "file", "input_reference")


def takes_inputs(block: Any, model: Any) -> bool:
    """Whether the block maps an input file (an image to edit, a video's first frame) onto a param this model
    takes (an `only_models` param may leave it out)."""
    for f in INPUT_FIELDS:
        source = getattr(block, f, None)
        if isinstance(source, InputMap):
            p = model.params.get(source.param)
            if p is not None and (p.only_models is None or model.id in p.only_models):
                return True
    return False
