"""The request fields of OpenAI's media endpoints, as OpenAI documents them (the official SDK's types/): each
field's type, the values that ask for nothing (accepted from any model), and whether the endpoint reads it
itself or accepts and ignores it. A field not listed is refused, as OpenAI refuses it ("Unrecognized request
argument supplied"). Parsing here turns JSON or multipart values into typed ones; refusals are domain errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import BadRequest

Kind = Literal["str", "int", "float", "bool", "list", "any"]


@dataclass(frozen=True)
class Field:
    kind: Kind = "str"
    neutral: tuple[Any, ...] = ()  # values that ask nothing of the model: accepted even where nothing maps them
    read_by_endpoint: bool = False  # model, response_format, files: the endpoint reads them, not the mapping
    ignored: bool = False  # accepted and without effect here (an end-user id, a moderation level)


_IMAGE_FIELDS = {
    "model": Field(read_by_endpoint=True),
    "prompt": Field(),
    "n": Field("int", neutral=(1,)),
    "size": Field(neutral=("auto",)),
    "quality": Field(neutral=("auto",)),
    "output_format": Field(),
    "response_format": Field(read_by_endpoint=True),
    "background": Field(neutral=("auto",)),
    "moderation": Field(ignored=True),  # we run no moderation of our own to tune
    "output_compression": Field("int", neutral=(100,)),
    "partial_images": Field("int", neutral=(0,)),
    "stream": Field("bool", neutral=(False,)),
    "style": Field(),
    "user": Field(ignored=True),
    "safety_identifier": Field(ignored=True),
}

FIELDS: dict[str, dict[str, Field]] = {
    "images.generations": _IMAGE_FIELDS,
    "images.edits": {
        **_IMAGE_FIELDS,
        "image": Field("any", read_by_endpoint=True),  # (files: multipart parts)
        "images": Field("any", read_by_endpoint=True),  # OpenAI's JSON form: [{image_url}]
        "mask": Field("any", read_by_endpoint=True),
        "input_fidelity": Field(ignored=True),  # how closely to follow the inputs: a hint no catalog model takes
    },
    "audio.speech": {
        "model": Field(read_by_endpoint=True),
        "input": Field(),
        "voice": Field("any"),
        "instructions": Field(neutral=("",)),
        "response_format": Field(),  # its neutral value is the format the action makes (the block's `format`)
        "speed": Field("float", neutral=(1.0,)),
        "stream_format": Field(neutral=("audio",)),
    },
    "audio.transcriptions": {
        "model": Field(read_by_endpoint=True),
        "file": Field("any", read_by_endpoint=True),
        "language": Field(),
        "prompt": Field(neutral=("",)),
        "response_format": Field(read_by_endpoint=True),
        "temperature": Field("float", ignored=True),  # sampling of a decoder the catalog's models do not expose
        "timestamp_granularities": Field("list", read_by_endpoint=True),
        "chunking_strategy": Field("any", neutral=("auto",)),
        "include": Field("list", neutral=((),)),
        "stream": Field("bool", neutral=(False,)),
    },
    "videos": {
        "model": Field(read_by_endpoint=True),
        "prompt": Field(),
        "seconds": Field("float"),  # the SDK sends "4" | "8" | "12"
        "size": Field(),
        "input_reference": Field("any", read_by_endpoint=True),
    },
}

_TRUE, _FALSE = ("true", "1"), ("false", "0")
_KIND_NAMES = {"str": "a string", "int": "an integer", "float": "a number", "bool": "a boolean", "list": "an array"}


def parse_fields(endpoint: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The request's fields, typed (a multipart form sends every value as text). Null values count as absent."""
    known = FIELDS[endpoint]
    out: dict[str, Any] = {}
    for name, value in raw.items():
        field = known.get(name)
        if field is None:
            raise BadRequest(f"Unrecognized request argument supplied: {name}")
        if value is None:
            continue
        out[name] = _typed(name, field.kind, value)
    return out


def _typed(name: str, kind: Kind, value: Any) -> Any:
    try:
        if kind == "str" and isinstance(value, str):
            return value
        if kind == "int":
            if isinstance(value, str):
                return int(value.strip())
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
        if kind == "float":
            if isinstance(value, str):
                number = float(value.strip())
                return int(number) if number.is_integer() else number
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return value
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
                return value.strip().lower() in _TRUE
        if kind == "list":
            if isinstance(value, (list, tuple)):
                return tuple(value)
            if isinstance(value, str):
                return (value,)
        if kind == "any":
            return value
    except ValueError:
        pass
    raise BadRequest(f"Invalid type for {name}: expected {_KIND_NAMES.get(kind, kind)}")
