"""Playground forms generated from the catalog: one `FormField` per parameter of the chosen model (its own
overrides of enums, ranges and defaults applied), and the submitted form read back into the JSON body the API
takes. The catalog's validation (catalog/validation.py) then checks that body exactly as it checks an API
request: this module only turns text into typed values and never decides what is acceptable.

    enum                       → select (an empty "default" choice unless required)
    integer / number           → number input, bounded by min / max
    boolean                    → select: default / yes / no (a checkbox cannot say "leave it to the default")
    url                        → URL input, plus a file input whose upload's URL is used instead
    array of urls              → one URL per line, plus a multiple-file input
    array of strings           → one value per line
    array of objects / object  → JSON
    long text (prompts)        → textarea
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..catalog import Action, ModelSpec, Param
from ..errors import InvalidInput

# Parameters the playground does not offer: the model is chosen above the form.
HIDDEN_PARAMS = frozenset({"model"})
# Offered last: a callback URL, to try one's own receiver (its deliveries show on the task's page).
LAST_PARAMS = ("callback_url",)
LONG_TEXT_NAMES = ("prompt", "lyrics", "text", "script", "style", "negative_prompt", "description")
LONG_TEXT_MIN_LENGTH = 300


class Kind(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    NUMBER = "number"
    SELECT = "select"
    BOOLEAN = "boolean"
    URL = "url"
    URL_LIST = "url_list"
    TEXT_LIST = "text_list"
    JSON = "json"


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: Kind
    type: str  # the catalog type: string | integer | number | boolean | array | object
    required: bool
    description: str | None = None
    hint: str | None = None  # conditions the catalog states (required when …, only for …)
    default: str = ""  # the input's initial value, as text
    options: tuple[Option, ...] = ()
    min: float | None = None
    max: float | None = None
    step: str | None = None
    max_length: int | None = None
    max_items: int | None = None
    accept: str | None = None  # file inputs: the media type the parameter takes

    @property
    def input_id(self) -> str:
        return f"param-{self.name}"

    @property
    def file_name(self) -> str:
        """The name of the file input next to a URL field (its uploads replace or extend the URLs)."""
        return f"file__{self.name}"

    @property
    def takes_files(self) -> bool:
        return self.kind in (Kind.URL, Kind.URL_LIST)


def _label(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _accept(name: str) -> str | None:
    for kind in ("image", "video", "audio"):
        if kind in name:
            return f"{kind}/*"
    return None


def _kind(p: Param) -> Kind:
    if p.type == "array":
        if p.fields is not None or p.items == "object":
            return Kind.JSON
        return Kind.URL_LIST if p.format == "url" else Kind.TEXT_LIST
    if p.type == "object":
        return Kind.JSON
    if p.enum is not None:
        return Kind.SELECT
    if p.type == "boolean":
        return Kind.BOOLEAN
    if p.type in ("integer", "number"):
        return Kind.NUMBER
    if p.format == "url":
        return Kind.URL
    long = p.max_length is None or p.max_length >= LONG_TEXT_MIN_LENGTH
    return Kind.TEXTAREA if long and any(word in p.name for word in LONG_TEXT_NAMES) else Kind.TEXT


def _hint(p: Param, model_id: str | None) -> str | None:
    notes = []
    if p.required_when:
        notes.append(f"required when {p.required_when}")
    if p.forbidden_when:
        notes.append(f"not allowed when {p.forbidden_when}")
    if p.type == "array" and p.max_items is not None:
        notes.append(f"at most {p.max_items}")
    if p.task_ref:
        notes.append("the id of an earlier task of yours")
    return "; ".join(notes) or None


def field_for(p: Param, model_id: str | None) -> FormField:
    kind = _kind(p)
    options: tuple[Option, ...] = ()
    if kind is Kind.SELECT:
        options = tuple(Option(_text(v), _text(v)) for v in p.enum or ())
    elif kind is Kind.BOOLEAN:
        options = (Option("true", "Yes"), Option("false", "No"))
    default = "" if p.default_when else _text(p.default)
    if kind in (Kind.URL_LIST, Kind.TEXT_LIST) and isinstance(p.default, list):
        default = "\n".join(_text(v) for v in p.default)
    return FormField(
        name=p.name,
        label=_label(p.name),
        kind=kind,
        type=p.type,
        required=p.required,
        description=p.description,
        hint=_hint(p, model_id),
        default=default,
        options=options,
        min=p.min,
        max=p.max,
        step=("1" if p.type == "integer" else "any") if kind is Kind.NUMBER else None,
        max_length=p.max_length if kind in (Kind.TEXT, Kind.TEXTAREA) else None,
        max_items=p.max_items,
        accept=_accept(p.name) if kind in (Kind.URL, Kind.URL_LIST) else None,
    )


def fields_for(action: Action, model: ModelSpec | None) -> list[FormField]:
    """The form of one action and model: the model's own parameters (overrides applied), those it supports,
    required ones first, in catalog order otherwise."""
    params = model.params if model else action.params
    model_id = model.id if model else None
    shown = [
        p
        for p in params.values()
        if p.name not in HIDDEN_PARAMS and (p.only_models is None or model_id in p.only_models)
    ]
    shown.sort(key=lambda p: (p.name in LAST_PARAMS, not p.required))  # (stable: catalog order within each group)
    return [field_for(p, model_id) for p in shown]


# ------------------------------------------------------------------------------------------ form → body


def _number(f: FormField, raw: str) -> int | float:
    try:
        number = float(raw)
    except ValueError:
        raise InvalidInput(
            f"Invalid type for {f.name}: expected {'an integer' if f.type == 'integer' else 'a number'}"
        ) from None
    if f.type == "integer":
        if not number.is_integer():
            raise InvalidInput(f"Invalid type for {f.name}: expected an integer")
        return int(number)
    return int(number) if number.is_integer() and "." not in raw and "e" not in raw.lower() else number


def _option(f: FormField, raw: str, enum: tuple[Any, ...] | None) -> Any:
    """The enum value whose text the select sent (enums may hold numbers); unknown text passes through for the
    catalog's validation to refuse in its own words."""
    for value in enum or ():
        if _text(value) == raw:
            return value
    return raw


def _lines(raw: str) -> list[str]:
    return [line.strip() for line in raw.splitlines() if line.strip()]


def body_from_form(
    fields: list[FormField],
    form: Mapping[str, Any],
    uploaded: Mapping[str, list[str]],
    enums: Mapping[str, tuple[Any, ...] | None],
) -> dict[str, Any]:
    """The JSON body the form stands for. Blank fields are left out (the catalog's defaults apply); `uploaded`
    holds, per parameter, the URLs of the files uploaded for it; `enums` each parameter's allowed values."""
    body: dict[str, Any] = {}
    for f in fields:
        raw = form.get(f.name)
        text = raw.strip() if isinstance(raw, str) else ""
        files = list(uploaded.get(f.name, ()))
        if f.kind is Kind.URL:
            if files:
                body[f.name] = files[0]
            elif text:
                body[f.name] = text
        elif f.kind is Kind.URL_LIST:
            items = _lines(text) + files
            if items:
                body[f.name] = items
        elif not text:
            continue
        elif f.kind is Kind.TEXT_LIST:
            body[f.name] = _lines(text)
        elif f.kind is Kind.JSON:
            try:
                body[f.name] = json.loads(text)
            except ValueError:
                raise InvalidInput(f"{f.name} must be valid JSON") from None
        elif f.kind is Kind.NUMBER:
            body[f.name] = _number(f, text)
        elif f.kind is Kind.BOOLEAN:
            body[f.name] = text == "true" if text in ("true", "false") else text
        elif f.kind is Kind.SELECT:
            body[f.name] = _option(f, text, enums.get(f.name))
        else:
            body[f.name] = raw if f.kind is Kind.TEXTAREA and isinstance(raw, str) else text
    return body
