"""GET /api/v1/price_schedules (public: no API key) and POST /api/v1/price_quotes (an API key, as a create).
The prices and the quote come from pricing/schedules.py; this is only their HTTP."""

from __future__ import annotations

import hashlib

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..pricing import schedules as price_schedules
from .context import authenticated
from .responses import Json, json_body


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(request: Request, etag: str) -> bool:
    """If-None-Match naming this body's tag (or `*`): the client's copy is current."""
    sent = request.headers.get("if-none-match", "")
    tags = {tag.strip().removeprefix("W/") for tag in sent.split(",")}
    return etag in tags or "*" in tags


async def list_schedules(request: Request) -> Response:
    query = request.query_params
    found = price_schedules.list_schedules(query.get("service"), query.get("action"), query.get("model"))
    body = orjson.dumps(found.as_json())
    etag = etag_of(body)
    # the SDKs revalidate with If-None-Match; prices change only with the catalog
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


async def create_quote(request: Request) -> Json:
    who = await authenticated(request)
    found = price_schedules.quote(who, await json_body(request))
    return Json({"price_quote": found.as_json()})


routes = [
    Route("/api/v1/price_schedules", list_schedules, methods=["GET"]),
    Route("/api/v1/price_quotes", create_quote, methods=["POST"]),
]
