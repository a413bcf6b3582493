"""The operator view (the instance's operator only: a user flagged by `runapi admin set-password --operator`):
every account with its balance, adding credits, the configured upstream deployments (names, kinds and the
models they serve — never their keys or URLs' credentials) with how their recent tasks went, and the queue."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from ...auth import admin
from ...errors import InvalidInput
from ...services import Services
from ...tasks.queue_stats import queue_depth
from .. import inputs
from ..context import services
from ..session import Viewer
from ..web import form, redirect, render


@dataclass(frozen=True)
class Deployment:
    name: str
    surface: str  # media | llm
    kind: str  # the adapter kind (media) or protocol (llm)
    models: str


def deployments(rt: Services) -> list[Deployment]:
    """The configured upstreams as the running server built them (RUNAPI_MEDIA_UPSTREAMS, RUNAPI_LLM_UPSTREAMS)."""
    found = []
    if rt.providers.upstreams is not None:
        for adapter in rt.providers.upstreams.adapters:
            d = adapter.deployment
            found.append(Deployment(d.name, "media", d.kind, ", ".join(d.models)))
    for upstream in rt.llm.chain:
        found.append(Deployment(upstream.d.name, "llm", upstream.d.protocol, ", ".join(upstream.d.models)))
    return found


async def operator(request: Request, viewer: Viewer, status: int = 200, error: str | None = None) -> Response:
    rt = services(request)
    credited = request.query_params.get("credited")
    return await render(
        request,
        "operator.html",
        viewer,
        status=status,
        accounts=await admin.list_accounts(rt.db),
        deployments=deployments(rt),
        queue=await queue_depth(rt.db),
        sandbox_fallback=rt.settings.sandbox_fallback,
        error=error,
        credited=credited,
    )


async def operator_page(request: Request, viewer: Viewer) -> Response:
    return await operator(request, viewer)


async def add_credits(request: Request, viewer: Viewer) -> Response:
    data = await form(request)
    try:
        raw_account = inputs.text(data, "account_id", 12) or ""
        if not raw_account.isascii() or not raw_account.isdigit():
            raise InvalidInput("Choose an account")
        cents = inputs.cents(data, "cents", positive=True)
        if cents is None:
            raise InvalidInput("Missing required parameter: cents")
        await admin.add_credits(
            services(request).db,
            int(raw_account),
            cents,
            inputs.text(data, "note", 500) or f"console credit by {viewer.session.email}",
        )
    except InvalidInput as exc:
        return await operator(request, viewer, 422, exc.message)
    except (LookupError, ValueError) as exc:
        return await operator(request, viewer, 422, str(exc.args[0] if exc.args else exc))
    return redirect(f"/console/operator?credited={int(raw_account)}")
