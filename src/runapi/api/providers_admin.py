"""GET /api/v1/admin/providers: for the instance's operator, the configured media deployments with how they
have been doing lately in this process (calls, error rate, latency, cool-down, jobs held), and which
deployments serve each catalog (action, model). `runapi providers --health` reads it.

Operator-only: a management key of a user flagged as the instance's operator (`runapi admin set-password
--operator`, the console's operator view). Never shows keys or base URLs. The health window is the answering
process's own: with `runapi worker` in other processes, their calls show in /metrics, not here."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..auth.passwords import is_operator
from ..catalog import get_catalog
from ..errors import ApiError
from ..providers.upstream import MediaRouter
from ..providers.upstream.coverage import as_json, coverage
from .context import runtime
from .management import manager
from .responses import Json

PATH = "/api/v1/admin/providers"


def deployments(router: MediaRouter | None) -> list[dict[str, Any]]:
    if router is None:
        return []
    found = []
    for adapter in router.adapters:
        d = adapter.deployment
        health = router.health.snapshot(d.name)
        health["cooling_seconds"] = round(router.admission.cooling(d.name), 3)
        health["in_flight"] = router.admission.held(d.name)
        found.append(
            {
                "name": d.name,
                "kind": d.kind,
                "models": list(d.models),
                "max_concurrency": d.max_concurrency,
                "health": health,
            }
        )
    return found


async def providers(request: Request) -> Json:
    who = await manager(request)
    rt = runtime(request)
    if not await is_operator(rt.db, who.user_id):
        raise ApiError(403, "This endpoint is for the instance's operator")
    router = rt.providers.upstreams
    return Json({"deployments": deployments(router), "coverage": as_json(coverage(get_catalog(), router))})


routes = [Route(PATH, providers, methods=["GET"])]
