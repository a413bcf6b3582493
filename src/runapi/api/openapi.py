"""OpenAPI 3.1 document generated from the catalog, and Swagger UI served from the bundled assets."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..catalog import Action, Param, get_catalog
from ..version import version
from .openapi_openai_media import openai_media_paths
from .openapi_platform import SCHEMAS, platform_paths
from .responses import Json

_ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}


def _schema(p: Param) -> dict[str, Any]:
    s: dict[str, Any] = {"type": p.type}
    if p.type == "array":
        s["items"] = {"type": p.items or "string"}
        if p.fields:
            s["items"]["properties"] = {f.name: _schema(f) for f in p.fields}
            s["items"]["required"] = [f.name for f in p.fields if f.required]
    for src, dst in (
        ("enum", "enum"),
        ("default", "default"),
        ("min", "minimum"),
        ("max", "maximum"),
        ("min_length", "minLength"),
        ("max_length", "maxLength"),
        ("min_items", "minItems"),
        ("max_items", "maxItems"),
        ("description", "description"),
    ):
        value = getattr(p, src)
        if value is not None and not (src == "default" and p.default_when):
            s[dst] = list(value) if isinstance(value, tuple) else value
    if p.format == "url":
        (s["items"] if p.type == "array" else s)["format"] = "uri"
    notes = []
    if p.takes_input_file:
        notes.append("Also takes a stored file's id (file_...) from /v1/files or /v1/uploads.")
    if p.only_models:
        notes.append(f"Only for models: {', '.join(p.only_models)}.")
    if p.required_when:
        notes.append(f"Required when {p.required_when}.")
    if p.default_when:
        notes.append(f"Defaults to {orjson.dumps(p.default).decode()} when {p.default_when}.")
    if notes:
        s["description"] = " ".join([s.get("description", ""), *notes]).strip()
    return s


LIST_RESULTS = ("images", "videos", "audios", "covers")


def _result_schema(action: Action) -> dict[str, Any]:
    """Lists of files carry the declared per-item fields; other results (text, objects) are free-form."""
    if action.result not in LIST_RESULTS:
        return {}
    props = {name: {"type": "string"} if name in ("url", "id", "origin_url") else {} for name in action.result_fields}
    return {"type": "array", "items": {"type": "object", "properties": props}}


def _operations(action: Action) -> dict[str, Any]:
    required = [p.name for p in action.params.values() if p.required and not p.only_models]
    per_model = {
        m.id: {n: _schema(p) for n, p in m.params.items() if p != action.params[n]} for m in action.models.values()
    }
    request_schema: dict[str, Any] = {
        "type": "object",
        "required": required,
        "properties": {name: _schema(p) for name, p in action.params.items()},
    }
    if any(per_model.values()):
        request_schema["x-per-model"] = {k: v for k, v in per_model.items() if v}
    errors = {
        code: {"description": text, "content": {"application/json": {"schema": _ERROR}}}
        for code, text in (
            ("400", "Missing required parameter"),
            ("401", "Unauthorized"),
            ("402", "Insufficient credits"),
            ("403", "Forbidden"),
            ("422", "Invalid parameter value"),
        )
    }
    task_schema = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": {"type": "string", "enum": ["processing", "completed", "failed"]},
            "model": {"type": "string"},
            action.result: _result_schema(action),
            "error": {"type": "string"},
            "outputs_expired_at": {
                "type": "string",
                "format": "date-time",
                "description": "When retention deleted the generated files (RUNAPI_GENERATED_MEDIA_RETENTION_DAYS "
                "after the task finished). The result's fields stay; their links are unsigned and answer 410.",
            },
        },
        "required": ["id", "status"],
    }
    tag = action.family
    return {
        action.path: {
            "post": {
                "tags": [tag],
                "summary": action.summary or f"Create {action.name} task",
                "operationId": f"{action.family}_{action.name}_create",
                "requestBody": {"required": True, "content": {"application/json": {"schema": request_schema}}},
                "responses": {
                    "202": {
                        "description": "Task accepted",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"id": {"type": "string"}, "status": {"type": "string"}},
                                }
                            }
                        },
                    },
                    **errors,
                },
            }
        },
        action.path + "/{id}": {
            "get": {
                "tags": [tag],
                "summary": f"Get {action.name} task status",
                "operationId": f"{action.family}_{action.name}_status",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "Task status", "content": {"application/json": {"schema": task_schema}}},
                    "401": errors["401"],
                    "404": {"description": "Task not found", "content": {"application/json": {"schema": _ERROR}}},
                },
            }
        },
        action.path + "/{id}/cancel": {
            "post": {
                "tags": [tag],
                "summary": f"Cancel a processing {action.name} task (it fails, refunded)",
                "operationId": f"{action.family}_{action.name}_cancel",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {
                        "description": 'The task\'s status, now failed with "Canceled by the client"',
                        "content": {"application/json": {"schema": task_schema}},
                    },
                    "401": errors["401"],
                    "403": errors["403"],
                    "404": {"description": "Task not found", "content": {"application/json": {"schema": _ERROR}}},
                    "409": {
                        "description": "The task has already finished",
                        "content": {"application/json": {"schema": _ERROR}},
                    },
                },
            }
        },
    }


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for action in get_catalog().actions():
        paths.update(_operations(action))
    paths.update(platform_paths())
    paths.update(openai_media_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "runapi",
            "version": version(),
            "description": "Self-hosted RunAPI: asynchronous media generation tasks, platform APIs and "
            "the OpenAI, Anthropic and Gemini LLM surfaces.",
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": SCHEMAS},
        "security": [{"bearer": []}],
        "paths": paths,
    }


async def openapi_json(request: Request) -> Json:
    return Json(document())


DOCS_HTML = """<!doctype html><html><head><title>runapi API</title><meta charset="utf-8">
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script></body></html>"""


async def docs(request: Request) -> HTMLResponse:
    return HTMLResponse(DOCS_HTML)


ROOT = {
    "service": "runapi",
    "docs": "/docs",
    "openapi": "/openapi.json",
    "tasks": "POST /api/v1/<family>/<action>, then GET /api/v1/<family>/<action>/<id>",
}
ROOT_HTML = """<!doctype html><html><head><title>runapi</title><meta charset="utf-8"></head><body>
<p>runapi is running. The API is described at <a href="/docs">/docs</a> (OpenAPI document:
<a href="/openapi.json">/openapi.json</a>).</p></body></html>"""


async def root(request: Request) -> Json | HTMLResponse:
    """`GET /`: a pointer to the docs rather than a bare 404 (browsers get a page, clients JSON)."""
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(ROOT_HTML)
    return Json(ROOT)


def routes() -> list[BaseRoute]:
    from swagger_ui_bundle import swagger_ui_path

    return [
        Route("/", root, methods=["GET"], include_in_schema=False),
        Route("/openapi.json", openapi_json, methods=["GET"], include_in_schema=False),
        Route("/docs", docs, methods=["GET"], include_in_schema=False),
        Mount("/docs/static", StaticFiles(directory=swagger_ui_path), name="swagger-static"),
    ]
