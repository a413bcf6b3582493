"""JSON responses (orjson) and error rendering."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import ApiError


class Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(exc: ApiError, structured: bool = False) -> Response:
    body: Any = {"error": {"code": exc.code or "error", "message": exc.message}} if structured else {"error": exc.message}
    return Json(body, status_code=exc.status, headers=exc.headers)


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "Invalid JSON in request body") from None


OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota",
                403: "permission_error", 404: "invalid_request_error", 422: "invalid_request_error",
                429: "rate_limit_error"}
ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                   403: "permission_error", 404: "not_found_error", 422: "invalid_request_error",
                   429: "rate_limit_error", 529: "overloaded_error"}
GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 402: "RESOURCE_EXHAUSTED",
                 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 422: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED"}


def llm_error_response(path: str, exc: ApiError) -> Response:
    """Errors in the shape each official SDK parses, with the documented messages."""
    if path.startswith("/v1beta/"):
        body: Any = {"error": {"code": exc.status, "message": exc.message,
                               "status": GOOGLE_STATUS.get(exc.status, "INTERNAL")}}
    elif path.startswith("/v1/messages"):
        body = {"type": "error", "error": {"type": ANTHROPIC_TYPES.get(exc.status, "api_error"),
                                           "message": exc.message}}
    else:
        body = {"error": {"message": exc.message, "type": OPENAI_TYPES.get(exc.status, "api_error"),
                          "param": None, "code": exc.code}}
    return Json(body, status_code=exc.status, headers=exc.headers)
