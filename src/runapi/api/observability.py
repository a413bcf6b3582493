"""GET /health (liveness: the process answers), /health/ready (database and storage answer), /metrics."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..auth.principal import bearer_token
from ..observability import exposition
from ..observability.health import readiness
from ..settings import is_loopback


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})  # no I/O: a liveness probe must not fail because a dependency did


async def ready(request: Request) -> Response:
    rt = request.app.state.runtime
    ok, body = await readiness(rt.db, rt.storage)
    return JSONResponse(body, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    rt = request.app.state.runtime
    required = rt.settings.metrics_token
    if not required and not is_loopback(rt.settings.host):
        # per-model usage is nobody else's business: on a reachable bind, /metrics needs a token
        return JSONResponse(
            {"error": "Set RUNAPI_METRICS_TOKEN to serve /metrics on a non-loopback address"}, status_code=403
        )
    if required:
        given = bearer_token(request.headers.get("authorization")) or ""
        if not hmac.compare_digest(given.encode(), required.encode()):
            return JSONResponse(
                {"error": "Unauthorized"}, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
            )
    return Response(await exposition.render(rt.db), media_type=exposition.CONTENT_TYPE)


def routes() -> list[Route]:
    return [
        Route("/health", health, methods=["GET"]),
        Route("/health/ready", ready, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
