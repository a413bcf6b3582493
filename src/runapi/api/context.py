"""Per-request access to the services, the caller and the base URL clients see."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ..auth.principal import Principal, bearer_token
from ..services import Services
from ..settings import Settings, is_loopback
from . import ratelimits


def runtime(request: Request) -> Services:
    """The services the app owns (built in its lifespan, see app.create_app)."""
    services: Services = request.app.state.runtime
    return services


async def authenticated(request: Request) -> Principal:
    """Bearer or x-api-key everywhere; on Gemini paths also x-goog-api-key or ?key=, as Google's SDKs send.
    A request of an API key is counted against its rate limits here (429 past them)."""
    headers = request.headers
    token = bearer_token(headers.get("authorization")) or headers.get("x-api-key")
    if not token and request.url.path.startswith("/v1beta/"):
        token = headers.get("x-goog-api-key") or request.query_params.get("key")
    rt = runtime(request)
    who = await rt.authenticate(token)
    if who.kind == "api":
        await ratelimits.admit(rt, request.scope, who)
    return who


def base_url(request: Request) -> str:
    """Where links (files, upload targets, webhooks) point: RUNAPI_PUBLIC_URL; else the request's Host when it
    is an allowed one; else the address this connection arrived at, which a client cannot forge. (A 400 for
    an unknown Host would break every install reached by an address nobody listed, e.g. in a container.)"""
    settings = runtime(request).settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    scope, server = request.scope, request.scope.get("server")
    # Everything the answer depends on besides the settings: the same for every request of a client.
    key = (
        id(settings),
        request.headers.get("host", ""),
        scope.get("scheme"),
        tuple(server) if server else None,
        scope.get("root_path", ""),
        scope.get("app_root_path"),
    )
    known = _BASE_URLS.get(key)
    if known is not None and known[0] is settings:
        return known[1]
    url = _base_url(request, settings)
    if len(_BASE_URLS) >= 256:  # the Host header is the client's: bounded
        _BASE_URLS.clear()
    _BASE_URLS[key] = (settings, url)
    return url


# base_url's answers by what they depend on (each kept with its settings, so an id reused is not mistaken)
_BASE_URLS: dict[tuple[Any, ...], tuple[Settings, str]] = {}


def _base_url(request: Request, settings: Settings) -> str:
    if host_allowed(request.headers.get("host", ""), allowed_hosts(settings)):
        return str(request.base_url).rstrip("/")
    server = request.scope.get("server")
    if not server or server[1] is None:  # e.g. a unix socket
        server = (settings.host, settings.port)
    host = f"[{server[0]}]" if ":" in server[0] else server[0]
    return f"{request.url.scheme}://{host}:{server[1]}{request.scope.get('root_path', '')}".rstrip("/")


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """RUNAPI_ALLOWED_HOSTS, or the bind host (and the loopback names when bound to loopback)."""
    if settings.allowed_hosts:
        return frozenset(h.strip().lower() for h in settings.allowed_hosts)
    bind = settings.host.strip("[]").lower()
    names = {bind} if bind not in ("0.0.0.0", "::", "") else set()
    if is_loopback(bind):
        names |= {"localhost", "127.0.0.1", "::1"}
    return frozenset(names)


def host_allowed(host_header: str, allowed: frozenset[str]) -> bool:
    host = host_header.strip().lower()
    if host.startswith("["):  # [v6]:port
        host = host[1 : host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    host = host.rstrip(".")
    if not host:
        return False
    return (
        "*" in allowed
        or host in allowed
        or any(
            pattern.startswith(".")
            and (host.endswith(pattern) or host == pattern[1:])
            or pattern.startswith("*.")
            and host.endswith(pattern[1:])
            for pattern in allowed
        )
    )
