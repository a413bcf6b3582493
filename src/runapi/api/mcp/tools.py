"""The MCP tools: names, descriptions and input schemas as the platform's own MCP server (`@runapi.ai/mcp`)
declares them, so an agent prompt or host configuration written for the platform works here unchanged; and
the check of a call's arguments against its schema (what the platform's schema library does before a tool
runs: unknown keys dropped, defaults filled in, the first violation reported).

The schemas are JSON Schema draft-07 in the shape the platform's TypeScript SDK publishes for them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

JSON_SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"
COMPLETION_WAIT_DEADLINE_MS = 300_000  # the longest create_task waits for a task (timeout_ms is capped here)
COMPLETION_WAIT_POLL_INTERVAL_MS = 5_000
MAX_IDEMPOTENCY_KEY_CHARS = 512  # the tool's own bound; the create path then applies the API's header limit
LIST_MODALITIES = ("image", "video", "audio", "utility")
PROMPT_MODALITIES = ("image", "image_edit", "video", "audio", "music")


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(self.input_schema.get("required", ()))


class ToolArgumentError(Exception):
    """A call's arguments do not match the tool's schema; the message names the first mismatch."""


def _object(properties: dict[str, dict[str, Any]], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return {**schema, "additionalProperties": False, "$schema": JSON_SCHEMA_DIALECT}


def _text(description: str | None = None, **constraints: Any) -> dict[str, Any]:
    return {"type": "string", **constraints, **({"description": description} if description else {})}


SERVICE = "RunAPI service slug returned by list_models"

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "list_models",
        "List RunAPI models from the embedded catalog. Optional filters: modality, service, or action.",
        _object(
            {
                "modality": {"type": "string", "enum": list(LIST_MODALITIES)},
                "service": _text(),
                "action": _text(),
            }
        ),
    ),
    ToolSpec(
        "get_model_info",
        "Get supported endpoint, current runtime pricing, and input constraints for a RunAPI model slug. Add "
        "service and action when the model supports multiple endpoints.",
        _object(
            {
                "model": _text("RunAPI model slug returned by list_models"),
                "service": _text(f"{SERVICE}; use with action to disambiguate multi-endpoint models"),
                "action": _text(
                    "RunAPI endpoint name returned by list_models; use with service to disambiguate "
                    "multi-endpoint models"
                ),
            },
            required=("model",),
        ),
    ),
    ToolSpec("list_actions", "List RunAPI endpoint names grouped by output modality.", _object({})),
    ToolSpec(
        "check_pricing",
        "Return current runtime pricing for a RunAPI model/action pair.",
        _object(
            {
                "service": _text(SERVICE),
                "action": _text("RunAPI endpoint name, for example text_to_image or text_to_music"),
                "model": _text("RunAPI model slug"),
            },
            required=("service", "action"),
        ),
    ),
    ToolSpec(
        "search_prompts",
        "Search RunAPI prompt examples by modality, category, tags, text query, model, or featured status. "
        "Free, no API key required.",
        _object(
            {
                "modality": {"type": "string", "enum": list(PROMPT_MODALITIES)},
                "category": _text(),
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Tags to match. All provided tags must be present.",
                },
                "q": _text("Text query matched against prompt title and prompt text."),
                "model": _text("RunAPI model slug, for example flux-kontext-pro or suno-v5."),
                "featured": {"type": "boolean"},
                "page": {"type": "integer", "exclusiveMinimum": 0},
                "per_page": {"type": "integer", "exclusiveMinimum": 0, "maximum": 100},
            }
        ),
    ),
    ToolSpec("check_balance", "Return the authenticated RunAPI account balance and spending metrics.", _object({})),
    ToolSpec(
        "create_task",
        "Run a RunAPI operation with a caller-generated idempotency key. Asynchronous operations can optionally "
        "poll until completion.",
        _object(
            {
                "service": _text(SERVICE),
                "action": _text("RunAPI endpoint name, for example text_to_image"),
                "model": _text("RunAPI model slug"),
                "params": {
                    "type": "object",
                    "additionalProperties": {},
                    "default": {},
                    "description": "Endpoint parameters validated against the catalog where constrained.",
                },
                "idempotency_key": _text(
                    "Opaque caller-generated key for safely replaying one logical task creation.",
                    minLength=1,
                    maxLength=MAX_IDEMPOTENCY_KEY_CHARS,
                ),
                "wait": {
                    "type": "boolean",
                    "default": True,
                    "description": "For asynchronous endpoints, poll until the task reaches a terminal status.",
                },
                "timeout_ms": {
                    "type": "integer",
                    "exclusiveMinimum": 0,
                    "description": "Requested Completion Wait deadline for asynchronous endpoints; values above "
                    f"{COMPLETION_WAIT_DEADLINE_MS} milliseconds are capped.",
                },
                "poll_interval_ms": {
                    "type": "integer",
                    "exclusiveMinimum": 0,
                    "description": "Polling interval for asynchronous endpoints.",
                },
            },
            required=("service", "action", "idempotency_key"),
        ),
    ),
    ToolSpec(
        "get_task",
        "Fetch the current status and latest payload for an existing RunAPI task.",
        _object(
            {
                "service": _text(),
                "action": _text("RunAPI endpoint name. Provide this when using media task routes."),
                "task_id": _text(),
            },
            required=("service", "task_id"),
        ),
    ),
)
TOOLS_BY_NAME = {tool.name: tool for tool in TOOLS}


def checked_arguments(tool: ToolSpec, arguments: dict[str, Any] | None) -> dict[str, Any]:
    """The arguments the tool runs with: the schema's properties only, defaults filled in; raises
    ToolArgumentError naming the first property that does not match."""
    given = arguments or {}
    properties: dict[str, dict[str, Any]] = tool.input_schema["properties"]
    for name in tool.required:
        if given.get(name) is None:
            raise ToolArgumentError(f"{name}: Required")
    out: dict[str, Any] = {}
    for name, schema in properties.items():
        if given.get(name) is not None:
            _check(name, schema, given[name])
            out[name] = given[name]
        elif "default" in schema:
            out[name] = schema["default"]
    return out


def _check(where: str, schema: dict[str, Any], value: Any) -> None:
    kind = schema.get("type")
    if not _is_kind(kind, value):
        raise ToolArgumentError(f"{where}: Expected {kind}, received {_kind_of(value)}")
    if "enum" in schema and value not in schema["enum"]:
        raise ToolArgumentError(f"{where}: Invalid enum value. Expected {' | '.join(map(repr, schema['enum']))}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise ToolArgumentError(f"{where}: String must contain at least {schema['minLength']} character(s)")
        if len(value) > schema.get("maxLength", math.inf):
            raise ToolArgumentError(f"{where}: String must contain at most {schema['maxLength']} character(s)")
    if kind in ("integer", "number"):
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            raise ToolArgumentError(f"{where}: Number must be greater than {schema['exclusiveMinimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise ToolArgumentError(f"{where}: Number must be less than or equal to {schema['maximum']}")
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            _check(f"{where}.{i}", schema["items"], item)


def _is_kind(kind: str | None, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return True


def _kind_of(value: Any) -> str:
    names = {bool: "boolean", str: "string", int: "number", float: "number", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)
