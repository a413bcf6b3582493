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
