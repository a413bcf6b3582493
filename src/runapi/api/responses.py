"""JSON responses (orjson) and error rendering."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import ApiError
from ..llm.anthropic import surface as anthropic
from ..llm.gemini import surface as gemini
from ..llm.openai_chat import surface as openai_chat


class Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(exc: ApiError, structured: bool = False) -> Response:
    body: Any = (
        {"error": {"code": exc.code or "error", "message": exc.message}} if structured else {"error": exc.message}
    )
    return Json(body, status_code=exc.status, headers=exc.headers)


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "Invalid JSON in request body") from None


def llm_error_response(path: str, exc: ApiError) -> Response:
    """Errors in the shape each official SDK parses, with the documented messages."""
    if path.startswith("/v1beta/"):
        body = gemini.error_body(exc.status, exc.message)
    elif path.startswith("/v1/messages"):
        body = anthropic.error_body(exc.status, exc.message)
    else:
        body = openai_chat.error_body(exc.status, exc.message, exc.code)
    return Json(body, status_code=exc.status, headers=exc.headers)
