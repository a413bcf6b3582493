"""Rate limits at the edge: every request an API key authenticates is counted (rpm) and holds a slot of its
key's and account's in-flight limits until its response ends (`ReleaseSlots`, streams included); LLM calls are
also refused while a tokens-per-minute window is full, and add their billed tokens to it. Refusals are
`RateLimited` (429 with Retry-After, in each surface's error shape)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ..auth.principal import Principal
from ..llm.canonical import Usage
from ..ratelimit import Admission, RateLimits
from ..ratelimit.policy import bounds
from ..services import Services

ADMISSION = "runapi.rate_limit"  # the request scope's Admission (None: no limit applies)


def guardrail_limits(g: dict[str, Any]) -> RateLimits:
    return RateLimits(g.get("rpm_limit"), g.get("tpm_limit"), g.get("max_parallel_requests"))


async def admit(rt: Services, scope: Scope, who: Principal) -> None:
    """Count this request against every limit in force for the key (once per request), or raise RateLimited.
    The limits come with the cached principal and guardrails: no database round trip; none set, no work."""
    if ADMISSION in scope:
        return
    rules = await rt.guardrails.get(who)
    found = bounds(
        who.key_id, who.account_id, who.rate_limits, (guardrail_limits(g) for g in rules), rt.rate_limits.account
    )
    scope[ADMISSION] = await rt.rate_limits.admit(found) if found else None


def admission(request: Request) -> Admission | None:
    found: Admission | None = request.scope.get(ADMISSION)
    return found


async def check_tokens(rt: Services, request: Request) -> None:
    """Before an LLM call: refuse while a tokens-per-minute window of the key or account is at its limit."""
    held = admission(request)
    if held is not None and held.token_bounds:
        await rt.rate_limits.check_tokens(held.token_bounds)


async def record_tokens(rt: Services, held: Admission | None, usage: Usage) -> None:
    """After an LLM call: its billed input and output tokens count towards the tokens-per-minute windows."""
    if held is not None and held.token_bounds:
        await rt.rate_limits.record_tokens(held, usage.input_tokens + usage.output_tokens)


def release_slots(scope: Scope) -> Awaitable[None] | None:
    """Once the whole response is sent (a stream's last chunk, an error, a disconnect): the release of the
    in-flight slots the request took, to be awaited shielded from cancellation; None when it took none."""
    held: Admission | None = scope.get(ADMISSION)
    if held is None or not held.leases:
        return None
    rt: Services = scope["app"].state.runtime
    return rt.rate_limits.release(held)


class ReleaseSlots:
    """Pure ASGI `release_slots`, as a layer of its own (the app's stack when it has middleware of its own;
    otherwise the RequestObserver calls release_slots in its layer)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            pending = release_slots(scope)
            if pending is not None:
                with anyio.CancelScope(shield=True):  # a cancelled request must still free its slots
                    await pending
