"""OpenAPI paths for everything that is not a catalog media action: probes and metrics, account, usage, prices,
keys, members, guardrails, files and uploads, task results, the Suno resources of the platform's SDK, and the
three LLM surfaces (OpenAI, Anthropic, Gemini).

Request schemas state what the handlers accept; response schemas are declared where the body is ours and
stable (they are checked against real answers by tests/e2e/test_fuzz_openapi.py). LLM answers are declared by
their top-level shape only: the SDKs' own types are the full contract."""

from __future__ import annotations

from typing import Any

from ..catalog import get_catalog
from ..files_policy import LOCAL_MAX_BYTES
from ..llm.models import llm_models
from ..prompts import MAX_PAGE, MAX_PER_PAGE, MODALITIES
from ..ratelimit.policy import FIELDS as RATE_FIELDS
from ..ratelimit.policy import MAX_LIMIT
from ..storage.upload_rules import PURPOSES
from ..store.schema import BIGINT_MAX
from ..tasks.surfaces import Answer

JSON = "application/json"
OPEN: dict[str, Any] = {"security": []}  # no API key


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema if schema is not None else {}}}}


def _errors(shape: str, *codes: int) -> dict[str, Any]:
    text = {
        400: "Invalid request",
        401: "Unauthorized",
        402: "Insufficient credits",
        403: "Forbidden",
        404: "Not found",
        409: "Conflict",
        408: "Download timeout",
        413: "Too large",
        415: "Unsupported file type",
        416: "Range not satisfiable (Content-Range: bytes */size)",
        422: "Invalid parameter value",
        429: "Too many requests (see Retry-After)",
        503: "Unavailable",
        507: "Insufficient storage (try again later)",
    }
    return {str(code): _json(text[code], _ref(shape)) for code in codes}


def _body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _op(tag: str, summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"tags": [tag], "summary": summary, "responses": responses, **extra}


SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": {"type": "string"}}, ("error",)),
    "FilesError": _obj(
        {"error": _obj({"code": {"type": "string"}, "message": {"type": "string"}}, ("code", "message"))}, ("error",)
    ),
    "OpenAIError": _obj(
        {"error": _obj({"message": {"type": "string"}, "type": {"type": "string"}}, ("message", "type"))}, ("error",)
    ),
    "AnthropicError": _obj(
        {
            "type": {"const": "error"},
            "error": _obj({"type": {"type": "string"}, "message": {"type": "string"}}, ("type", "message")),
        },
        ("type", "error"),
    ),
    "GoogleError": _obj(
        {
            "error": _obj(
                {"code": {"type": "integer"}, "message": {"type": "string"}, "status": {"type": "string"}},
                ("code", "message", "status"),
            )
        },
        ("error",),
    ),
}

# ----------------------------------------------------------------------------------------------- platform

INTERVAL = {"type": "string", "enum": ["daily", "weekly", "monthly"]}
CENTS = {"type": "integer", "minimum": 0, "maximum": BIGINT_MAX}
STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
TIME = _nullable({"type": "string"})
# rpm_limit, tpm_limit, max_parallel_requests: null is no limit (README "Rate limits")
RATES = {name: _nullable({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}) for name in RATE_FIELDS}
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens")

KEY_FIELDS = _obj(
    {
        "name": _nullable({"type": "string", "maxLength": 200}),
        "credit_limit_cents": _nullable(CENTS),
        "credit_limit_reset_interval": _nullable(INTERVAL),
        "allowed_models": _nullable(STRINGS),
        "enabled": {"type": "boolean"},
        **RATES,
    }
)
KEY = _obj(
    {
        "id": {"type": "string"},
        "name": _nullable({"type": "string"}),
        "masked_token": {"type": "string"},
        "enabled": {"type": "boolean"},
        "credit_limit_cents": _nullable({"type": "integer"}),
        "credit_limit_reset_interval": _nullable({"type": "string"}),
        "allowed_models": _nullable(STRINGS),
        "guardrail_id": _nullable({"type": "string"}),
        **RATES,
        "created_at": TIME,
        "last_used_at": TIME,
    },
    ("id", "masked_token", "enabled"),
)

MODEL_BUDGET = _obj(
    {
        "match_mode": {"type": "string", "enum": ["include", "exclude"]},
        "models": {**STRINGS, "minItems": 1},
        "credit_limit_cents": CENTS,
        "credit_limit_reset_interval": _nullable(INTERVAL),
    },
    ("match_mode", "models", "credit_limit_cents"),
)
LISTS = ("allowed_models", "blocked_models", "allowed_providers", "blocked_providers")
GUARDRAIL_FIELDS = _obj(
    {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": _nullable({"type": "string", "maxLength": 2000}),
        "enabled": {"type": "boolean"},
        "credit_limit_cents": _nullable(CENTS),
        "credit_limit_reset_interval": _nullable(INTERVAL),
        "model_budgets": _nullable({"type": "array", "items": MODEL_BUDGET}),
        **{name: _nullable(STRINGS) for name in LISTS},
        **RATES,
    }
)
GUARDRAIL = _obj(
    {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "enabled": {"type": "boolean"},
        "description": _nullable({"type": "string"}),
        "credit_limit_cents": _nullable({"type": "integer"}),
        "credit_limit_reset_interval": _nullable({"type": "string"}),
        "model_budgets": _nullable({"type": "array"}),
        **{name: _nullable(STRINGS) for name in LISTS},
        **RATES,
        "created_at": TIME,
        "updated_at": TIME,
    },
    ("id", "name", "enabled"),
)
ASSIGNMENT = _obj(
    {
        "id": {"type": "string"},
        "guardrail_id": {"type": "string"},
        "api_token_id": _nullable({"type": "string"}),
        "account_user_id": _nullable({"type": "string"}),
        "created_at": TIME,
    },
    ("id", "guardrail_id"),
)
FILE = _obj(
    {
        "file_name": {"type": "string"},
        "url": {"type": "string"},
        "size_bytes": {"type": "integer"},
        "mime_type": {"type": "string"},
        "created_at": {"type": "string"},
        "expires_at": {"type": "string"},
    },
    ("file_name", "url", "size_bytes", "mime_type"),
)
FILE_SOURCE = {
    "oneOf": [
        _obj({"type": {"const": "url"}, "url": {"type": "string"}}, ("type", "url")),
        _obj({"type": {"const": "base64"}, "data": {"type": "string"}}, ("type", "data")),
    ]
}
SIGNED_QUERY = [
    {"name": name, "in": "query", "required": True, "schema": {"type": "string"}} for name in ("expires", "signature")
]
# Served objects (api/serving.py): one byte range, validators and conditional requests.
OBJECT_HEADERS = [
    {"name": name, "in": "header", "required": False, "schema": {"type": "string", "pattern": "^[ -~]{0,200}$"}}
    for name in ("Range", "If-Range", "If-None-Match", "If-Modified-Since")
]
OBJECT_ANSWERS: dict[str, Any] = {
    "206": {
        "description": "One byte range of the file (Content-Range)",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    "304": {"description": "Not modified (If-None-Match / If-Modified-Since)"},
}


def probe_paths() -> dict[str, Any]:
    check = _obj({"status": {"type": "string", "enum": ["ok", "error"]}, "error": {"type": "string"}}, ("status",))
    readiness = _obj(
        {
            "status": {"type": "string", "enum": ["ready", "unavailable"]},
            "checks": _obj({"database": check, "storage": check}, ("database", "storage")),
        },
        ("status", "checks"),
    )
    return {
        "/health": {
            "get": _op(
                "operations",
                "Liveness: the process answers",
                {"200": _json("Alive", _obj({"status": {"const": "ok"}}, ("status",)))},
                **OPEN,
            )
        },
        "/health/ready": {
            "get": _op(
                "operations",
                "Readiness: the database and the storage answer",
                {"200": _json("Ready", readiness), "503": _json("Not ready", readiness)},
                **OPEN,
            )
        },
        "/metrics": {
            "get": _op(
                "operations",
                "Prometheus metrics (bearer token when RUNAPI_METRICS_TOKEN is set)",
                {
                    "200": {
                        "description": "Text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "401": _json("Metrics token required", _ref("Error")),
                },
                security=[{}, {"bearer": []}],
            )
        },
    }


def account_paths() -> dict[str, Any]:
    me = _obj(
        {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "email": {"type": "string"},
            "role": {"type": "string"},
            "account": _obj({"id": {"type": "integer"}, "name": {"type": "string"}}, ("id", "name")),
        },
        ("id", "email", "account", "role"),
    )
    balance = _obj(
        {
            name: {"type": "integer"}
            for name in (
                "balance_cents",
                "spent_cents_today",
                "spent_cents_total",
                "paid_balance_cents",
                "bonus_balance_cents",
            )
        },
        ("balance_cents", "spent_cents_today", "spent_cents_total"),
    )
    allowlist = _obj(
        {
            "callback_url_allowlist": {
                "type": "array",
                "maxItems": 100,
                "items": {"type": "string", "maxLength": 300},
            }
        },
        ("callback_url_allowlist",),
    )
    return {
        "/api/v1/me": {
            "get": _op("account", "Current user and account", {"200": _json("OK", me), **_errors("Error", 401)})
        },
        "/api/v1/me/balance": {
            "get": _op("account", "Balance and spend in cents", {"200": _json("OK", balance), **_errors("Error", 401)})
        },
        "/api/v1/me/callback_url_allowlist": {
            "get": _op(
                "account",
                "The hosts and URL prefixes a task's callback_url must match (empty: any public URL)",
                {"200": _json("OK", allowlist), **_errors("Error", 401)},
            ),
            "put": _op(
                "account",
                "Replace the callback URL allow-list (an admin's management key); [] allows any URL again. Entries: "
                "a host (hooks.example.com, *.example.com for its subdomains) or an http(s) URL prefix",
                {"200": _json("The list as stored", allowlist), **_errors("Error", 400, 401, 403, 422)},
                requestBody=_body(allowlist),
            ),
        },
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def usage_paths() -> dict[str, Any]:
    text = {"type": "string", "maxLength": 200}
    count = {"type": "integer", "minimum": 0}
    unix = {"type": "integer", "minimum": 0, "maximum": 253_402_300_799}
    filters = [
        _query("api_key_id", text, "Only this API key's requests"),
        _query("model", text, "Only this model's requests"),
        _query("kind", {"type": "string", "enum": ["llm", "task"]}, "LLM calls or media tasks"),
        _query("created_after", unix, "From this unix time (seconds, inclusive)"),
        _query("created_before", unix, "Until this unix time (seconds, exclusive)"),
    ]
    paging = [
        _query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Rows per page"),
        _query("after", text, "The page after this row id (in list order)"),
        _query("before", text, "The page before this row id (in list order)"),
        _query("order", {"type": "string", "enum": ["asc", "desc"], "default": "desc"}, "By creation time"),
    ]
    nullable_text = _nullable({"type": "string"})
    event = _obj(
        {
            "id": {"type": "string"},
            "object": {"const": "usage"},
            "created": {"type": "number"},
            "created_at": TIME,
            "kind": {"type": "string", "enum": ["llm", "task"]},
            "api_key_id": nullable_text,
            "model": nullable_text,
            "family": nullable_text,
            "action": nullable_text,
            "provider": nullable_text,
            "status": {"type": "string", "enum": ["completed", "failed"]},
            "task_id": nullable_text,
            "request_id": nullable_text,
            **{name: count for name in TOKEN_FIELDS},
            "unit": nullable_text,
            "units": _nullable({"type": "number"}),
            "cost_cents": {"type": "number", "minimum": 0},
            "cost_micro_cents": count,
            "charged_cents": count,
            "latency_ms": count,
        },
        ("id", "object", "created", "kind", "status", "cost_cents", "cost_micro_cents", "charged_cents"),
    )
    group = _obj(
        {
            "key": nullable_text,
            "requests": count,
            "failed": count,
            **{name: count for name in TOKEN_FIELDS},
            "cost_cents": {"type": "number", "minimum": 0},
            "cost_micro_cents": count,
            "charged_cents": count,
        },
        ("key", "requests", "cost_cents", "cost_micro_cents", "charged_cents"),
    )
    nullable_id = _nullable({"type": "string"})
    page = _obj(
        {
            "object": {"const": "list"},
            "data": {"type": "array", "items": event},
            "first_id": nullable_id,
            "last_id": nullable_id,
            "has_more": {"type": "boolean"},
        },
        ("object", "data", "first_id", "last_id", "has_more"),
    )
    summary = _obj(
        {
            "object": {"const": "list"},
            "group_by": {"type": "string", "enum": ["day", "model", "api_key"]},
            "data": {"type": "array", "items": group},
        },
        ("object", "group_by", "data"),
    )
    group_by = _query(
        "group_by",
        {"type": "string", "enum": ["day", "model", "api_key"], "default": "day"},
        "Totals per UTC day, per model or per API key",
    )
    return {
        "/api/v1/usage": {
            "get": _op(
                "usage",
                "The usage log: one row per billed request (API key: its own; management key: the account's "
                "for an admin, the member's keys' otherwise)",
                {"200": _json("A page of rows, newest first unless order=asc", page), **_errors("Error", 401, 422)},
                parameters=[*filters, *paging],
            )
        },
        "/api/v1/usage/summary": {
            "get": _op(
                "usage",
                "Usage totals per day, model or API key",
                {"200": _json("Totals", summary), **_errors("Error", 401, 422)},
                parameters=[group_by, *filters],
            )
        },
    }


def prompt_paths() -> dict[str, Any]:
    text = {"type": "string", "maxLength": 200}
    prompt = _obj(
        {
            "id": {"type": "integer"},
            "title": _nullable({"type": "string"}),
            "prompt": {"type": "string"},
            "modality": {"type": "string", "enum": list(MODALITIES)},
            "service": {"type": "string"},
            "action": {"type": "string"},
            "runapi_model": _nullable({"type": "string"}),
            "category": _nullable({"type": "string"}),
            "tags": {"type": "array", "items": {"type": "string"}},
            "params": {"type": "object"},
            "featured": {"type": "boolean"},
        },
        ("id", "prompt", "modality"),
    )
    pagination = _obj(
        {name: {"type": "integer"} for name in ("page", "per_page", "total", "pages")},
        ("page", "per_page", "total", "pages"),
    )
    answer = _obj({"prompts": {"type": "array", "items": prompt}, "pagination": pagination}, ("prompts", "pagination"))
    parameters = [
        _query("modality", {"type": "string", "enum": list(MODALITIES)}, "What the prompt makes"),
        _query("category", text, "A category, e.g. landscape or text_to_video"),
        _query("tags", text, "Comma-separated tags, all of which a prompt must have"),
        _query("q", text, "Words, all of which must appear"),
        _query("model", text, "A model id"),
        _query("featured", {"type": "string", "enum": ["true", "false", "1", "0"]}, "Only featured (or only not)"),
        _query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "Page number, from 1"),
        _query("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}, "Prompts per page"),
    ]
    return {
        "/api/v1/prompts": {
            "get": _op(
                "prompts",
                "The prompt gallery: curated prompts and the catalog's examples, featured first (no API key)",
                {"200": _json("A page of prompts", answer), **_errors("Error", 422)},
                parameters=parameters,
                **OPEN,
            )
        }
    }


TASK_STATUS = _obj(
    {
        "id": {"type": "string"},
        "status": {"type": "string", "enum": ["processing", "completed", "failed"]},
        "model": {"type": "string"},
        "error": {"type": "string"},
    },
    ("id", "status"),
)


def task_paths() -> dict[str, Any]:
    """The task routes that are not per catalog action (those are in api/openapi.py)."""
    text = {"type": "string", "maxLength": 200}
    unix = {"type": "integer", "minimum": 0, "maximum": 253_402_300_799}
    filters = [
        _query("family", text, "Only tasks of this family"),
        _query("action", text, "Only tasks of this action"),
        _query("model", text, "Only tasks of this model"),
        _query("status", {"type": "string", "enum": ["processing", "completed", "failed"]}, "Only this status"),
        _query("api_key_id", text, "Only this API key's tasks"),
        _query("created_after", unix, "From this unix time (seconds, inclusive)"),
        _query("created_before", unix, "Until this unix time (seconds, exclusive)"),
    ]
    paging = [
        _query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Tasks per page"),
        _query("after", text, "The page after this task id (in list order)"),
        _query("before", text, "The page before this task id (in list order)"),
        _query("order", {"type": "string", "enum": ["asc", "desc"], "default": "desc"}, "By creation time"),
    ]
    item = {
        **TASK_STATUS,
        "properties": {
            **TASK_STATUS["properties"],
            "family": {"type": "string"},
            "action": {"type": "string"},
            "created": {"type": "number"},
            "created_at": TIME,
            "completed_at": TIME,
            "cost_cents": {"type": "integer", "minimum": 0},
        },
        "required": ["id", "status", "family", "action", "created", "created_at", "completed_at", "cost_cents"],
    }
    nullable_id = _nullable({"type": "string"})
    page = _obj(
        {
            "object": {"const": "list"},
            "data": {"type": "array", "items": item},
            "first_id": nullable_id,
            "last_id": nullable_id,
            "has_more": {"type": "boolean"},
        },
        ("object", "data", "first_id", "last_id", "has_more"),
    )
    families = sorted({action.family for action in get_catalog().actions()})
    by_family = {
        f"/api/v1/{family}/{{id}}": {
            "get": _op(
                family,
                f"Get a {family} task's status, whichever action made it",
                {"200": _json("Task status", TASK_STATUS), **_errors("Error", 401, 404)},
                parameters=[{**_path_param("id"), "schema": {"type": "string", "format": "uuid"}}],
            )
        }
        for family in families
    }
    nullable_int = _nullable({"type": "integer"})
    attempt = _obj(
        {
            "attempt": {"type": "integer", "minimum": 1},
            "started": {"type": "number"},
            "started_at": TIME,
            "status_code": nullable_int,
            "latency_ms": {"type": "integer", "minimum": 0},
            "error": _nullable({"type": "string"}),
        },
        ("attempt", "started", "started_at", "status_code", "latency_ms", "error"),
    )
    delivery = _obj(
        {
            "id": {"type": "string"},
            "object": {"const": "callback_delivery"},
            "final": {"type": "boolean"},
            "seq": {"type": "integer"},
            "url": {"type": "string"},
            "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
            "created_at": TIME,
            "delivered_at": TIME,
            "last_status": nullable_int,
            "last_error": _nullable({"type": "string"}),
            "attempts": {"type": "array", "items": attempt},
        },
        ("id", "object", "final", "seq", "url", "state", "attempts"),
    )
    deliveries = _obj({"object": {"const": "list"}, "data": {"type": "array", "items": delivery}}, ("object", "data"))
    return {
        "/api/v1/tasks/{id}/callbacks": {
            "get": _op(
                "tasks",
                "The task's callback deliveries (stages, then the final one), each with every attempt: time, "
                "status code, latency and error",
                {"200": _json("Deliveries", deliveries), **_errors("Error", 401, 404)},
                parameters=[_path_param("id")],
            )
        },
        "/api/v1/tasks/{id}/callbacks/replay": {
            "post": _op(
                "tasks",
                "Send the finished task's final callback again: the same X-Callback-Id, signed afresh, a new round "
                "of attempts (409 without a callback_url, before the task finished, or while it is being delivered)",
                {"202": _json("The delivery, pending again", delivery), **_errors("Error", 401, 404, 409)},
                parameters=[_path_param("id")],
            )
        },
        "/api/v1/tasks": {
            "get": _op(
                "tasks",
                "The account's tasks, newest first (who sees which as in the usage log); each item is the task's "
                "status body plus family, action, times and cost_cents (the price once completed, 0 once failed, "
                "the reserved price while processing)",
                {"200": _json("A page of tasks", page), **_errors("Error", 401, 422)},
                parameters=[*filters, *paging],
            )
        },
        **by_family,
        "/api/v1/tasks/{id}/cancel": {
            "post": _op(
                "tasks",
                'Cancel a processing task of any kind: it fails with "Canceled by the client", fully refunded',
                {
                    "200": _json("The task's status body, now failed", TASK_STATUS),
                    **_errors("Error", 401, 403, 404, 409),
                },
                parameters=[_path_param("id")],
            )
        },
    }


TASK_RESULT = _obj(
    {
        "id": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "processing", "completed", "failed"]},
        "error": {"type": "string"},
        "response": _obj(
            {
                "status": {"type": "integer"},
                "content_type": {"type": "string"},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "body": {},
            },
            ("status", "content_type", "body"),
        ),
    },
    ("id", "status"),
)
ACCEPTED = _obj(
    {"id": {"type": "string"}, "status": {"type": "string"}, "billing": {"type": "object"}}, ("id", "status")
)
RECORD = _obj({"id": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"}}, ("id",))
PREFER = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "enum": ["respond-async"]},
    "description": "respond-async: answer 202 + Location at once instead of waiting a few seconds for the result",
}


def task_result_paths() -> dict[str, Any]:
    return {
        "/api/v1/task_results/{id}": {
            "get": _op(
                "tasks",
                "A task's result resource (where a hybrid create's 202 Location points): its status and, once "
                "finished, the answer its synchronous call gives, {status, content_type, headers, body}",
                {"200": _json("Task result", TASK_RESULT), **_errors("Error", 401, 404)},
                parameters=[{**_path_param("id"), "schema": {"type": "string", "format": "uuid"}}],
            )
        }
    }


def suno_resource_paths() -> dict[str, Any]:
    """The platform SDK's Suno resources (api/suno_resources.py), from their table: each field documented as the
    catalog param it carries."""
    from .openapi import _schema  # here, not at the top: api/openapi.py imports this module
    from .suno_resources import SURFACES

    paths: dict[str, Any] = {}
    for surface in SURFACES:
        action = surface.catalog_action
        optional = {"task_id"} if surface.find_track else set()
        request = _obj(
            {name: _schema(action.params[param]) for name, param in surface.fields.items()},
            tuple(n for n, p in surface.fields.items() if action.params[p].required and p not in optional),
        )
        key = surface.record.envelope if surface.record else action.result
        result = _obj({key: RECORD if surface.record else {}}, (key,))
        name = surface.path.rsplit("/", 1)[-1]
        codes = (400, 401, 402, 403, 404, 409, 422)
        if surface.answer is Answer.TASK:
            responses = {"202": _json("Task accepted", ACCEPTED), **_errors("Error", *codes)}
        else:
            responses = {"200": _json("The result", result), **_errors("Error", *codes, 503)}
        if surface.answer is Answer.HYBRID:
            responses["202"] = _json("Still running: its result will be at Location (a task result)", ACCEPTED)
        post = _op(
            "suno",
            f"{name}: {action.summary} (as suno/{action.name}, with these field names)",
            responses,
            requestBody=_body(request),
            parameters=[PREFER] if surface.answer is Answer.HYBRID else [],
        )
        paths[surface.path] = {"post": post}
        if surface.answer is Answer.TASK:
            paths[surface.path + "/{id}"] = {
                "get": _op(
                    "suno",
                    f"Get a {name} task's status",
                    {"200": _json("Task status", TASK_STATUS), **_errors("Error", 401, 404)},
                    parameters=[_path_param("id")],
                )
            }
        if surface.record is not None:
            record = _obj({key: RECORD, "status": {"type": "string", "enum": ["available", "failed"]}}, (key, "status"))
            paths[surface.path + "/{id}"] = {
                "get": _op(
                    "suno",
                    f"Get a {surface.record.envelope} of this account by its id, and whether it can be used",
                    {"200": _json(surface.record.envelope, record), **_errors("Error", 401, 404)},
                    parameters=[_path_param("id")],
                )
            }
    return paths


# valid quotes, so the fuzz also checks the 200 answer against its schema
QUOTE_EXAMPLES = {
    "image": {
        "value": {
            "service": "nano_banana",
            "action": "text_to_image",
            "model": "nano-banana-pro",
            "params": {"prompt": "a cat", "output_resolution": "4k"},
        }
    },
    "video": {
        "value": {"service": "veo-3-1", "action": "text_to_video", "params": {"model": "veo-3.1", "prompt": "a lake"}}
    },
    "llm": {
        "value": {"service": "llm", "action": "chat", "model": "claude-opus-4-6", "params": {"input_tokens": 1000}}
    },
}


def pricing_paths() -> dict[str, Any]:
    """Price schedules (public) and quotes (an API key): pricing/schedules.py."""
    services = sorted({action.family for action in get_catalog().actions()}) + ["llm"]
    actions = sorted({action.name for action in get_catalog().actions()} | {m.kind for m in llm_models().values()})
    service = {
        "type": "string",
        "enum": services,
        "description": "A catalog family, or llm for the LLM models; hyphens are read as underscores (nano-banana)",
    }
    action = {
        "type": "string",
        "enum": actions,
        "description": "The family's action, or for llm the model's kind (chat, embedding); hyphens as underscores",
    }
    price = _nullable({"type": "integer", "minimum": 0})
    schedule = _obj(
        {
            "service": {"type": "string"},
            "action": {"type": "string"},
            "model": _nullable({"type": "string"}),
            "pricing_status": {"type": "string", "enum": ["available", "pending"]},
            "catalog_status": {"type": "string", "enum": ["active", "maintenance", "disabled"]},
            "currency": {"type": "string"},
            "billing_unit": {"type": "string"},
            "billing_strategy": {
                "type": "string",
                "enum": ["flat", "tiered", "per_unit", "tiered_per_unit", "per_token"],
            },
            "unit_price_cents": price,
            **{
                f"{kind}_price_per_1m_cents": price
                for kind in ("input", "output", "cache_read", "cache_write", "cache_write_5m", "cache_write_1h")
            },
            "billing_config": {"type": "object"},
        },
        ("service", "action", "model", "pricing_status", "catalog_status", "currency", "billing_unit"),
    )
    schedules = _obj(
        {"as_of": {"type": "string", "format": "date-time"}, "price_schedules": {"type": "array", "items": schedule}},
        ("as_of", "price_schedules"),
    )
    quote = _obj(
        {
            "service": {"type": "string"},
            "action": {"type": "string"},
            "model": _nullable({"type": "string"}),
            "pricing_status": {"type": "string"},
            "currency": {"type": "string"},
            "reservation_amount_cents": {"type": "integer", "minimum": 0},
            "estimate_basis": {"type": "string", "enum": ["exact", "maximum"]},
            "as_of": {"type": "string", "format": "date-time"},
        },
        ("service", "action", "model", "pricing_status", "currency", "reservation_amount_cents", "estimate_basis"),
    )
    quote_request = _obj(
        {
            "service": service,
            "action": action,
            "model": _nullable({"type": "string"}),
            "params": _nullable(
                {
                    "type": "object",
                    "description": "The create request's parameters; for llm: input_tokens (required), "
                    "max_tokens, caching (the request has cache breakpoints)",
                }
            ),
        },
        ("service", "action"),
    )
    return {
        "/api/v1/price_schedules": {
            "get": _op(
                "pricing",
                "Current prices of every endpoint and model (media: unit price, tiers and the quantity it counts; "
                "LLM: cents per million input, output, cache-read and cache-write tokens). ETag / If-None-Match.",
                {
                    "200": _json("Schedules matching every filter given", schedules),
                    "304": {"description": "Not modified (If-None-Match names the current ETag)"},
                    **_errors("Error", 422),
                },
                parameters=[
                    _query("service", service, "Only this service"),
                    _query("action", action, "Only this action"),
                    _query("model", {"type": "string"}, "Only this model"),
                ],
                **OPEN,
            )
        },
        "/api/v1/price_quotes": {
            "post": _op(
                "pricing",
                "What a create with these parameters reserves, checked as that create would be; nothing is "
                "reserved or charged (media: exact, charged on completion; llm: the most the call can cost)",
                {
                    "200": _json("The quote", _obj({"price_quote": quote}, ("price_quote",))),
                    **_errors("Error", 400, 401, 403, 422),
                },
                requestBody={
                    "required": True,
                    "content": {JSON: {"schema": quote_request, "examples": QUOTE_EXAMPLES}},
                },
            )
        },
    }


def key_paths() -> dict[str, Any]:
    usage = {f"credit_usage_cents_{w}": {"type": "integer"} for w in ("total", "today", "this_week", "this_month")}
    by_id = [_path_param("id")]
    return {
        "/api/v1/keys": {
            "get": _op(
                "keys",
                "List API keys (management key)",
                {"200": _json("Keys", {"type": "array", "items": KEY}), **_errors("Error", 401, 403)},
            ),
            "post": _op(
                "keys",
                "Create an API key; the token is shown once",
                {
                    "201": _json(
                        "Created",
                        {
                            **KEY,
                            "properties": {**KEY["properties"], "key": {"type": "string"}},
                            "required": [*KEY["required"], "key"],
                        },
                    ),
                    **_errors("Error", 400, 401, 403, 422),
                },
                requestBody=_body(KEY_FIELDS),
            ),
        },
        "/api/v1/keys/{id}": {
            "get": _op(
                "keys",
                "Get an API key with its usage",
                {
                    "200": _json("Key", {**KEY, "properties": {**KEY["properties"], **usage}}),
                    **_errors("Error", 401, 403, 404),
                },
                parameters=by_id,
            ),
            "patch": _op(
                "keys",
                "Update an API key",
                {"200": _json("Key", KEY), **_errors("Error", 400, 401, 403, 404, 422)},
                parameters=by_id,
                requestBody=_body(KEY_FIELDS),
            ),
            "delete": _op(
                "keys",
                "Delete an API key",
                {"204": {"description": "Deleted"}, **_errors("Error", 401, 403, 404)},
                parameters=by_id,
            ),
        },
    }


def member_paths() -> dict[str, Any]:
    member = _obj(
        {
            "id": {"type": "string"},
            "user_id": {"type": "integer"},
            "name": {"type": "string"},
            "email": {"type": "string"},
            "role": {"type": "string", "enum": ["admin", "member"]},
            "created_at": TIME,
        },
        ("id", "email", "role"),
    )
    key = _obj(
        {"id": {"type": "string"}, "key": {"type": "string"}, "masked_token": {"type": "string"}},
        ("id", "key", "masked_token"),
    )
    body = _obj(
        {
            "email": {"type": "string", "minLength": 3, "maxLength": 320},
            "name": {"type": "string", "maxLength": 200},
            "role": {"type": "string", "enum": ["admin", "member"]},
        },
        ("email",),
    )
    return {
        "/api/v1/members": {
            "get": _op(
                "members",
                "Account members (admins: all; members: themselves)",
                {
                    "200": _json("Members", _obj({"members": {"type": "array", "items": member}}, ("members",))),
                    **_errors("Error", 401, 403),
                },
            ),
            "post": _op(
                "members",
                "Add a member (admin); their first management key is shown once",
                {
                    "201": _json(
                        "Added", _obj({"member": member, "management_key": key}, ("member", "management_key"))
                    ),
                    **_errors("Error", 400, 401, 403, 422),
                },
                requestBody=_body(body),
            ),
        }
    }


def guardrail_paths() -> dict[str, Any]:
    one = _obj({"guardrail": GUARDRAIL}, ("guardrail",))
    by_id = [_path_param("id")]
    assignment_body = _obj(
        {
            "guardrail_id": {"type": "string", "maxLength": 40},
            "api_token_id": {"type": "string", "maxLength": 40},
            "account_user_id": {"type": "string", "maxLength": 40},
        },
        ("guardrail_id",),
    )
    return {
        "/api/v1/guardrails": {
            "get": _op(
                "guardrails",
                "List guardrails (management key)",
                {
                    "200": _json(
                        "Guardrails", _obj({"guardrails": {"type": "array", "items": GUARDRAIL}}, ("guardrails",))
                    ),
                    **_errors("Error", 401, 403),
                },
            ),
            "post": _op(
                "guardrails",
                "Create a guardrail",
                {"201": _json("Created", one), **_errors("Error", 400, 401, 403, 422)},
                requestBody=_body({**GUARDRAIL_FIELDS, "required": ["name"]}),
            ),
        },
        "/api/v1/guardrails/{id}": {
            "get": _op(
                "guardrails",
                "Get a guardrail",
                {"200": _json("Guardrail", one), **_errors("Error", 401, 403, 404)},
                parameters=by_id,
            ),
            "patch": _op(
                "guardrails",
                "Update a guardrail",
                {"200": _json("Guardrail", one), **_errors("Error", 400, 401, 403, 404, 422)},
                parameters=by_id,
                requestBody=_body(GUARDRAIL_FIELDS),
            ),
            "delete": _op(
                "guardrails",
                "Delete a guardrail and its assignments",
                {"204": {"description": "Deleted"}, **_errors("Error", 401, 403, 404)},
                parameters=by_id,
            ),
        },
        "/api/v1/guardrail_assignments": {
            "get": _op(
                "guardrails",
                "List guardrail assignments",
                {
                    "200": _json(
                        "Assignments",
                        _obj(
                            {"guardrail_assignments": {"type": "array", "items": ASSIGNMENT}},
                            ("guardrail_assignments",),
                        ),
                    ),
                    **_errors("Error", 401, 403),
                },
            ),
            "post": _op(
                "guardrails",
                "Bind a guardrail to one API key or one member",
                {
                    "201": _json("Created", _obj({"guardrail_assignment": ASSIGNMENT}, ("guardrail_assignment",))),
                    **_errors("Error", 400, 401, 403, 404, 422),
                },
                requestBody=_body(assignment_body),
            ),
        },
        "/api/v1/guardrail_assignments/{id}": {
            "delete": _op(
                "guardrails",
                "Delete a guardrail assignment",
                {"204": {"description": "Deleted"}, **_errors("Error", 401, 403, 404)},
                parameters=by_id,
            ),
        },
    }


def file_paths() -> dict[str, Any]:
    multipart = _obj({"file": {"type": "string", "format": "binary"}, "file_name": {"type": "string"}}, ("file",))
    json_source = _obj({"source": FILE_SOURCE, "file_name": {"type": "string"}}, ("source",))
    prepared = _obj(
        {"upload_url": {"type": "string"}, "headers": {"type": "object"}, "signed_id": {"type": "string"}},
        ("upload_url", "headers", "signed_id"),
    )
    return {
        "/api/v1/files": {
            "post": _op(
                "files",
                "Upload a file (multipart, URL or base64); link valid one hour",
                {"201": _json("Stored", FILE), **_errors("FilesError", 400, 401, 403, 408, 413, 415, 429, 507)},
                requestBody={
                    "required": True,
                    "content": {"multipart/form-data": {"schema": multipart}, JSON: {"schema": json_source}},
                },
            )
        },
        "/api/v1/files/prepare": {
            "post": _op(
                "files",
                "Start a direct upload: a pre-signed PUT URL",
                {"200": _json("Prepared", prepared), **_errors("FilesError", 400, 401, 403, 413, 429)},
                requestBody=_body(
                    _obj(
                        {
                            "byte_size": {"type": "integer", "minimum": 1},
                            "filename": {"type": "string"},
                            "checksum": {"type": "string", "maxLength": 40},
                        },
                        ("byte_size",),
                    )
                ),
            )
        },
        "/api/v1/files/confirm": {
            "post": _op(
                "files",
                "Finish a direct upload",
                {"201": _json("Stored", FILE), **_errors("FilesError", 400, 401, 403, 404, 415, 507)},
                requestBody=_body(_obj({"signed_id": {"type": "string"}}, ("signed_id",))),
            )
        },
        "/uploads/{file_id}": {
            "put": _op(
                "files",
                "The pre-signed upload target (the URL is the credential)",
                {"204": {"description": "Received"}, **_errors("FilesError", 403, 404, 413, 422, 507)},
                parameters=[_path_param("file_id"), *SIGNED_QUERY],
                requestBody={
                    "required": True,
                    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                },
                **OPEN,
            )
        },
        "/files/{key}": {
            "get": _op(
                "files",
                "A stored file behind a signed, expiring link",
                {
                    "200": {
                        "description": "The file",
                        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **OBJECT_ANSWERS,
                    "307": {"description": "To a pre-signed S3 URL for the file (with s3_presigned_redirect)"},
                    **_errors("Error", 403, 404, 416),
                },
                parameters=[_path_param("key"), *SIGNED_QUERY, *OBJECT_HEADERS],
                **OPEN,
            )
        },
    }


# ------------------------------------------------------------------------------------ files, OpenAI style

FILE_OBJECT = _obj(
    {
        "id": {"type": "string"},
        "object": {"const": "file"},
        "bytes": {"type": "integer"},
        "created_at": {"type": "integer"},
        "expires_at": {"type": "integer"},
        "filename": {"type": "string"},
        "purpose": {"type": "string"},
        "status": {"const": "processed"},
        "status_details": {"type": "null"},
        "mime_type": {"type": "string"},
        "url": {"type": "string", "description": "Signed link, valid until expires_at; usable as a task input"},
    },
    ("id", "object", "bytes", "created_at", "expires_at", "filename", "purpose", "status"),
)
UPLOAD_OBJECT = _obj(
    {
        "id": {"type": "string"},
        "object": {"const": "upload"},
        "bytes": {"type": "integer"},
        "created_at": {"type": "integer"},
        "expires_at": {"type": "integer"},
        "filename": {"type": "string"},
        "purpose": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "completed", "cancelled", "expired"]},
        "file": _nullable(FILE_OBJECT),
    },
    ("id", "object", "bytes", "created_at", "expires_at", "filename", "purpose", "status"),
)
PURPOSE = {"type": "string", "enum": list(PURPOSES)}


def openai_file_paths() -> dict[str, Any]:
    """/v1/files and /v1/uploads: OpenAI's Files and Uploads APIs over the files above (same limits, same
    hour); errors in OpenAI's shape."""
    listing = _obj(
        {
            "object": {"const": "list"},
            "data": {"type": "array", "items": FILE_OBJECT},
            "first_id": _nullable({"type": "string"}),
            "last_id": _nullable({"type": "string"}),
            "has_more": {"type": "boolean"},
        },
        ("object", "data", "has_more"),
    )
    upload_body = _obj(
        {
            "bytes": {"type": "integer", "minimum": 1, "maximum": LOCAL_MAX_BYTES},
            "filename": {"type": "string", "minLength": 1, "maxLength": 255},
            "mime_type": {"type": "string"},
            "purpose": PURPOSE,
            "expires_after": _obj({"anchor": {"const": "created_at"}, "seconds": {"type": "integer"}}),
        },
        ("bytes", "filename", "mime_type", "purpose"),
    )
    part = _obj(
        {
            "id": {"type": "string"},
            "object": {"const": "upload.part"},
            "created_at": {"type": "integer"},
            "upload_id": {"type": "string"},
        },
        ("id", "object", "created_at", "upload_id"),
    )
    file_id, upload_id = [_path_param("file_id")], [_path_param("upload_id")]

    def query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "query", "schema": schema}

    def op(summary: str, ok: dict[str, Any], *codes: int, **extra: Any) -> dict[str, Any]:
        return _op("files", summary, {"200": _json("OK", ok), **_errors("OpenAIError", 401, 403, *codes)}, **extra)

    return {
        "/v1/files": {
            "post": op(
                "Upload a file (OpenAI Files API); it expires an hour after upload",
                FILE_OBJECT,
                400,
                413,
                415,
                429,
                507,
                requestBody={
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": _obj(
                                {"file": {"type": "string", "format": "binary"}, "purpose": PURPOSE},
                                ("file", "purpose"),
                            )
                        }
                    },
                },
            ),
            "get": op(
                "This account's files, a page at a time",
                listing,
                422,
                parameters=[
                    query("after", {"type": "string"}),
                    query("before", {"type": "string"}),
                    query("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                    query("order", {"type": "string", "enum": ["asc", "desc"]}),
                    query("purpose", {"type": "string"}),
                ],
            ),
        },
        "/v1/files/{file_id}": {
            "get": op("One file", FILE_OBJECT, 404, parameters=file_id),
            "delete": op(
                "Delete a file",
                _obj(
                    {"id": {"type": "string"}, "object": {"const": "file"}, "deleted": {"const": True}},
                    ("id", "object", "deleted"),
                ),
                404,
                parameters=file_id,
            ),
        },
        "/v1/files/{file_id}/content": {
            "get": _op(
                "files",
                "A file's bytes (as the type sniffed when it was stored)",
                {
                    "200": {
                        "description": "The file",
                        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **OBJECT_ANSWERS,
                    **_errors("OpenAIError", 401, 403, 404, 416),
                },
                parameters=[*file_id, *OBJECT_HEADERS],
            )
        },
        "/v1/uploads": {
            "post": op(
                "Start a multipart upload (OpenAI Uploads API); it expires after an hour",
                UPLOAD_OBJECT,
                400,
                413,
                429,
                requestBody=_body(upload_body),
            )
        },
        "/v1/uploads/{upload_id}/parts": {
            "post": op(
                "Add a part",
                part,
                400,
                404,
                409,
                413,
                507,
                parameters=upload_id,
                requestBody={
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": _obj({"data": {"type": "string", "format": "binary"}}, ("data",))
                        }
                    },
                },
            )
        },
        "/v1/uploads/{upload_id}/complete": {
            "post": op(
                "Assemble the parts, in the order given, into a file",
                UPLOAD_OBJECT,
                400,
                404,
                409,
                415,
                507,
                parameters=upload_id,
                requestBody=_body(
                    _obj(
                        {"part_ids": {"type": "array", "items": {"type": "string"}}, "md5": {"type": "string"}},
                        ("part_ids",),
                    )
                ),
            )
        },
        "/v1/uploads/{upload_id}/cancel": {
            "post": op("Cancel an upload (its parts are discarded)", UPLOAD_OBJECT, 400, 404, 409, parameters=upload_id)
        },
    }


# ----------------------------------------------------------------------------------------------------- LLM


def _model_ids(kind: str) -> list[str]:
    return sorted(m.id for m in llm_models().values() if m.kind == kind)


# One server-sent event (each `data:` is the surface's own JSON chunk).
SSE_EVENT = _obj({"event": {"type": "string"}, "data": {"type": "string"}}, ("data",))


def _llm_op(
    tag: str,
    summary: str,
    error: str,
    ok: dict[str, Any],
    body: dict[str, Any] | None = None,
    stream: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """An LLM operation: 200 as JSON (and as an SSE stream when `stream`), errors in the surface's shape."""
    content = {JSON: {"schema": ok}}
    if stream:
        content["text/event-stream"] = {"schema": SSE_EVENT}
    responses = {"200": {"description": "OK", "content": content}, **_errors(error, 400, 401, 402, 403, 404, 422)}
    if body is not None:
        extra["requestBody"] = _body(body)
    return _op(tag, summary, responses, **extra)


def openai_paths() -> dict[str, Any]:
    chat, embedding = _model_ids("chat"), _model_ids("embedding")
    message = _obj(
        {
            "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
            "content": _nullable({"type": "string"}),
            "tool_call_id": {"type": "string"},
        },
        ("role",),
    )
    completion_body = _obj(
        {
            "model": {"type": "string", "enum": chat},
            "messages": {"type": "array", "items": message, "minItems": 1},
            "max_tokens": {"type": "integer", "minimum": 1, "maximum": 4096},
            "max_completion_tokens": {"type": "integer", "minimum": 1, "maximum": 4096},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "stream": {"type": "boolean"},
            "stream_options": _obj({"include_usage": {"type": "boolean"}}),
            "tools": {"type": "array", "items": {"type": "object"}},
            "tool_choice": {},
            "response_format": {"type": "object"},
            "reasoning_effort": {"type": "string", "enum": ["minimal", "low", "medium", "high"]},
        },
        ("model", "messages"),
    )
    completion = _obj(
        {
            "id": {"type": "string"},
            "object": {"const": "chat.completion"},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {"type": "array", "items": {"type": "object"}},
            "usage": {"type": "object"},
        },
        ("id", "object", "created", "model", "choices"),
    )
    model = _obj({"id": {"type": "string"}}, ("id",))
    embed_body = _obj(
        {
            "model": {"type": "string", "enum": embedding},
            "input": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]},
            "dimensions": {"type": "integer", "minimum": 1},
            "encoding_format": {"type": "string", "enum": ["float", "base64"]},
        },
        ("model", "input"),
    )
    embeddings = _obj(
        {
            "object": {"const": "list"},
            "data": {"type": "array", "items": {"type": "object"}},
            "model": {"type": "string"},
            "usage": {"type": "object"},
        },
        ("object", "data", "model"),
    )
    response_body = _obj(
        {
            "model": {"type": "string", "enum": chat},
            "input": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
            "instructions": {"type": "string"},
            "max_output_tokens": {"type": "integer", "minimum": 16, "maximum": 4096},
            "stream": {"type": "boolean"},
            "previous_response_id": {"type": "string"},
            "store": {"type": "boolean"},
            "tools": {"type": "array", "items": {"type": "object"}},
            "reasoning": {"type": "object"},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        },
        ("model", "input"),
    )
    response = _obj(
        {
            "id": {"type": "string"},
            "object": {"const": "response"},
            "status": {"type": "string"},
            "model": {"type": "string"},
            "output": {"type": "array"},
        },
        ("id", "object", "status", "model"),
    )
    by_id = [_path_param("response_id")]
    return {
        "/v1/chat/completions": {
            "post": _llm_op(
                "openai", "Chat completion (JSON or SSE)", "OpenAIError", completion, completion_body, stream=True
            )
        },
        "/v1/models": {
            "get": _llm_op(
                "openai",
                "Models this key may use",
                "OpenAIError",
                _obj({"data": {"type": "array", "items": model}}, ("data",)),
            )
        },
        "/v1/models/{model}": {
            "get": _llm_op("openai", "One model", "OpenAIError", model, parameters=[_path_param("model")])
        },
        "/v1/embeddings": {"post": _llm_op("openai", "Embeddings", "OpenAIError", embeddings, embed_body)},
        "/v1/responses": {
            "post": _llm_op(
                "openai", "Responses API (JSON or SSE)", "OpenAIError", response, response_body, stream=True
            )
        },
        "/v1/responses/{response_id}": {
            "get": _llm_op("openai", "A stored response", "OpenAIError", response, parameters=by_id),
            "delete": _llm_op(
                "openai",
                "Delete a stored response",
                "OpenAIError",
                _obj({"id": {"type": "string"}, "deleted": {"const": True}}, ("id", "deleted")),
                parameters=by_id,
            ),
        },
    }


def anthropic_paths() -> dict[str, Any]:
    chat = _model_ids("chat")
    message = _obj(
        {
            "role": {"type": "string", "enum": ["user", "assistant"]},
            "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
        },
        ("role", "content"),
    )
    common = {
        "model": {"type": "string", "enum": chat},
        "messages": {"type": "array", "items": message, "minItems": 1},
        "system": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
        "tools": {"type": "array", "items": {"type": "object"}},
        "tool_choice": {"type": "object"},
        "thinking": {"type": "object"},
    }
    body = _obj(
        {
            **common,
            "max_tokens": {"type": "integer", "minimum": 1, "maximum": 4096},
            "stream": {"type": "boolean"},
            "stop_sequences": {"type": "array", "items": {"type": "string"}},
            "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        },
        ("model", "max_tokens", "messages"),
    )
    reply = _obj(
        {
            "id": {"type": "string"},
            "type": {"const": "message"},
            "role": {"const": "assistant"},
            "content": {"type": "array"},
            "model": {"type": "string"},
            "usage": {"type": "object"},
        },
        ("id", "type", "role", "content", "model"),
    )
    return {
        "/v1/messages": {
            "post": _llm_op(
                "anthropic", "Anthropic Messages (JSON or SSE events)", "AnthropicError", reply, body, stream=True
            )
        },
        "/v1/messages/count_tokens": {
            "post": _llm_op(
                "anthropic",
                "Input tokens a Messages request would be billed for",
                "AnthropicError",
                _obj({"input_tokens": {"type": "integer"}}, ("input_tokens",)),
                _obj(common, ("model", "messages")),
            )
        },
    }


def gemini_paths() -> dict[str, Any]:
    parts = {"type": "array", "items": _obj({"text": {"type": "string"}}), "minItems": 1}
    content = _obj({"role": {"type": "string", "enum": ["user", "model"]}, "parts": parts}, ("parts",))
    generate = _obj(
        {
            "contents": {"type": "array", "items": content, "minItems": 1},
            "systemInstruction": content,
            "tools": {"type": "array", "items": {"type": "object"}},
            "generationConfig": _obj(
                {
                    "maxOutputTokens": {"type": "integer", "minimum": 1, "maximum": 4096},
                    "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                    "stopSequences": {"type": "array", "items": {"type": "string"}},
                }
            ),
        },
        ("contents",),
    )
    embed = _obj({"content": content, "outputDimensionality": {"type": "integer", "minimum": 1}}, ("content",))
    answer = _obj({"candidates": {"type": "array"}, "usageMetadata": {"type": "object"}}, ("candidates",))
    model = [
        {
            "name": "model",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": _model_ids("chat") + _model_ids("embedding")},
        }
    ]

    def action(
        summary: str,
        ok: dict[str, Any],
        body: dict[str, Any],
        stream: bool = False,
        query: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        return {
            "post": _llm_op(
                "gemini", summary, "GoogleError", ok, body, stream=stream, parameters=[*model, *(query or [])]
            )
        }

    return {
        "/v1beta/models": {
            "get": _llm_op(
                "gemini",
                "Models this key may use",
                "GoogleError",
                _obj({"models": {"type": "array"}}, ("models",)),
                parameters=[
                    {"name": "pageSize", "in": "query", "schema": {"type": "integer"}},
                    {"name": "pageToken", "in": "query", "schema": {"type": "string"}},
                ],
            )
        },
        "/v1beta/models/{model}": {
            "get": _llm_op(
                "gemini",
                "One model",
                "GoogleError",
                _obj({"name": {"type": "string"}}, ("name",)),
                parameters=[_path_param("model")],
            )
        },
        "/v1beta/models/{model}:generateContent": action("Generate content", answer, generate),
        "/v1beta/models/{model}:streamGenerateContent": action(
            "Generate content as a stream (a JSON array, or SSE with alt=sse)",
            {"type": "array"},
            generate,
            stream=True,
            query=[{"name": "alt", "in": "query", "schema": {"type": "string", "enum": ["sse"]}}],
        ),
        "/v1beta/models/{model}:countTokens": action(
            "Count tokens", _obj({"totalTokens": {"type": "integer"}}, ("totalTokens",)), generate
        ),
        "/v1beta/models/{model}:embedContent": action(
            "Embed one content",
            _obj({"embedding": _obj({"values": {"type": "array"}}, ("values",))}, ("embedding",)),
            embed,
        ),
        "/v1beta/models/{model}:batchEmbedContents": action(
            "Embed up to 100 contents",
            _obj({"embeddings": {"type": "array"}}, ("embeddings",)),
            _obj({"requests": {"type": "array", "items": embed, "minItems": 1, "maxItems": 100}}, ("requests",)),
        ),
    }


def admin_paths() -> dict[str, Any]:
    number = _nullable({"type": "number"})
    health = _obj(
        {
            "window_seconds": {"type": "number"},
            "calls": {"type": "integer"},
            "errors": {"type": "integer"},
            "error_rate": number,
            "outcomes": {"type": "object", "additionalProperties": {"type": "integer"}},
            "latency_p50_seconds": number,
            "latency_p95_seconds": number,
            "last_error": _nullable({"type": "string"}),
            "last_error_seconds_ago": number,
            "cooling_seconds": {"type": "number"},
            "in_flight": {"type": "integer"},
        },
        ("calls", "errors", "error_rate", "cooling_seconds", "in_flight"),
    )
    deployment = _obj(
        {
            "name": {"type": "string"},
            "kind": {"type": "string"},
            "models": STRINGS,
            "max_concurrency": _nullable({"type": "integer"}),
            "health": health,
        },
        ("name", "kind", "models", "health"),
    )
    pair = _obj(
        {name: {"type": "string"} for name in ("family", "action", "model")}
        | {"available": STRINGS, "configured": STRINGS},
        ("family", "action", "model", "available", "configured"),
    )
    summary = _obj(
        {
            "pairs": {"type": "integer"},
            "servable": {"type": "integer"},
            "configured": {"type": "integer"},
            "by_kind": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
        ("pairs", "servable", "by_kind"),
    )
    body = _obj(
        {
            "deployments": {"type": "array", "items": deployment},
            "coverage": _obj({"pairs": {"type": "array", "items": pair}, "summary": summary}, ("pairs", "summary")),
        },
        ("deployments", "coverage"),
    )
    return {
        "/api/v1/admin/providers": {
            "get": _op(
                "operations",
                "Media upstreams: each deployment's recent calls, error rate, latency and cool-down in this "
                "process, and which deployments serve each catalog (action, model). The instance operator's "
                "management key only",
                {"200": _json("Upstreams", body), **_errors("Error", 401, 403)},
            )
        }
    }


def platform_paths() -> dict[str, Any]:
    return {
        **probe_paths(),
        **admin_paths(),
        **account_paths(),
        **usage_paths(),
        **prompt_paths(),
        **task_paths(),
        **task_result_paths(),
        **suno_resource_paths(),
        **pricing_paths(),
        **key_paths(),
        **member_paths(),
        **guardrail_paths(),
        **file_paths(),
        **openai_file_paths(),
        **openai_paths(),
        **anthropic_paths(),
        **gemini_paths(),
    }
