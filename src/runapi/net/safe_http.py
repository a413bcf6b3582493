"""Outbound HTTP that cannot be pointed at our own network (SSRF).

The check sits in the connection layer: every connection, including each redirect hop, resolves the host
itself, refuses if any resolved address is not public, and connects to the address it checked (no second
DNS lookup to rebind). Numeric tricks (decimal/octal IPv4, IPv4-mapped IPv6, NAT64, 6to4) are normalised by
the resolver and by `_embedded_ipv4` before the check.

httpx timeouts are per operation (connect, each read), so a host that drips one byte at a time keeps a
download open for ever. `fetch_bytes` therefore has a total deadline (the client's `deadline`) over the whole
fetch: waiting for the tenant's share of the pool, connecting, redirects and reading the body.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Callable, Hashable, Iterable
from typing import Any

import httpcore
import httpx

from .fair import TenantLimiter, current_tenant

MAX_REDIRECTS = 5
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_6TO4 = ipaddress.ip_network("2002::/16")


class BlockedDestination(httpcore.ConnectError):
    """The URL resolves to an address we refuse to contact."""


class TooLarge(Exception):
    pass


class FetchTimeout(httpx.TimeoutException):
    """The whole fetch did not finish within its total deadline. An httpx timeout, so every caller maps it as
    it already maps a read timeout (uploads: 408 "Download timeout")."""


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour:
            return ip.sixtofour
    return None


def is_public(ip: IPAddress) -> bool:
    inner = _embedded_ipv4(ip)
    if inner is not None:
        return is_public(inner)
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def is_allowed(ip: IPAddress, allow_private: bool) -> bool:
    if is_public(ip):
        return True
    if not allow_private:
        return False
    inner = _embedded_ipv4(ip) or ip
    # Even in development, never the unspecified or multicast addresses.
    return not (inner.is_unspecified or inner.is_multicast)


async def resolve(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]  # (an IP sockaddr: host first)


AddressPolicy = Callable[[IPAddress], bool]

RESOLVE_DEADLINE_SECONDS = 2.0  # a create request waits this long at most for a host's DNS answer


async def refused_destination(url: str, allow_private: bool, deadline: float = RESOLVE_DEADLINE_SECONDS) -> bool:
    """True if `url`'s host resolves (now) to any address the connection layer would refuse, so a
    request can be told at once instead of its callback silently never arriving. The resolver runs in the
    loop's thread pool and is awaited for `deadline` seconds at most: a host that does not answer in time (or
    does not resolve) is not refused here; delivery checks it again on every attempt."""
    try:
        host = httpx.URL(url).host
    except httpx.InvalidURL:
        return False  # not ours to judge here: validation answers malformed URLs
    if not host:
        return False
    try:
        addresses = await asyncio.wait_for(resolve(host, 443), deadline)
    except (TimeoutError, OSError, UnicodeError):
        return False
    return bool(addresses) and not all(is_allowed(ip, allow_private) for ip in addresses)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: AddressPolicy):
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses or not all(self.policy(ip) for ip in addresses):
            raise BlockedDestination(f"destination {host} resolves to a private or reserved address")
        last: Exception | None = None
        for ip in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(ip), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"cannot connect to {host}")

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise BlockedDestination("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verifying context, made once and shared by every safe client: each one parses the whole CA
    bundle (~35 ms of CPU and ~1 MB), and a server starts three clients (media, files, callbacks)."""
    return httpx.create_ssl_context()


class SafeTransport(httpx.AsyncHTTPTransport):
    def __init__(self, allow_private: bool = False, policy: AddressPolicy | None = None, **kwargs: Any):
        # (the shared context also spares the parent's own pool, which _pool replaces, a CA bundle of its own)
        super().__init__(trust_env=False, verify=_tls_context(), **kwargs)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_tls_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(policy or (lambda ip: is_allowed(ip, allow_private))),
        )


async def _require_https(request: httpx.Request) -> None:
    if request.url.scheme != "https":
        raise httpx.UnsupportedProtocol("Only HTTPS URLs are allowed", request=request)


class SafeClient(httpx.AsyncClient):
    """An httpx client that also carries the limits `fetch_bytes` applies: the total `deadline` of one fetch
    and the per-tenant share (`tenants`) of its connection pool."""

    def __init__(self, *args: Any, deadline: float | None = None, tenants: TenantLimiter | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        self.tenants = tenants or TenantLimiter(0)


def safe_client(
    allow_private: bool = False,
    timeout: float = 30.0,
    policy: AddressPolicy | None = None,
    https_only: bool = False,
    deadline: float | None = None,
    per_tenant: int = 0,
    **kwargs: Any,
) -> SafeClient:
    """`https_only` refuses plain HTTP on the first request and on every redirect hop. `deadline` bounds a
    whole `fetch_bytes` (default: `timeout`); `per_tenant` > 0 caps each tenant's concurrent fetches."""
    hooks = {"request": [_require_https]} if https_only else {}
    return SafeClient(
        transport=SafeTransport(allow_private=allow_private, policy=policy),
        timeout=timeout,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        trust_env=False,
        event_hooks=hooks,
        deadline=deadline if deadline is not None else timeout,
        tenants=TenantLimiter(per_tenant),
        **kwargs,
    )


async def fetch_bytes(
    client: httpx.AsyncClient,
    url: str,
    max_bytes: int,
    *,
    deadline: float | None = None,
    tenant: Hashable | None = None,
) -> tuple[bytes, str | None]:
    """GET a URL into memory, refusing more than `max_bytes`. Returns (body, content-type).

    The whole fetch — the wait for the tenant's share of the pool included — ends by `deadline` seconds
    (default: the client's), else FetchTimeout. `tenant` defaults to the current tenant scope."""
    deadline = deadline if deadline is not None else getattr(client, "deadline", None)
    tenants = getattr(client, "tenants", None) or TenantLimiter(0)
    tenant = tenant if tenant is not None else current_tenant.get()
    try:
        async with asyncio.timeout(deadline) as budget:
            async with tenants.hold(tenant):
                return await _fetch(client, url, max_bytes)
    except TimeoutError:
        if budget.expired():
            raise FetchTimeout(f"download did not finish within {deadline:g} s") from None
        raise


async def _fetch(client: httpx.AsyncClient, url: str, max_bytes: int) -> tuple[bytes, str | None]:
    async with client.stream("GET", url) as resp:
        resp.raise_for_status()
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise TooLarge(f"file is larger than {max_bytes} bytes")
        chunks, size = [], 0
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(f"file is larger than {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks), resp.headers.get("content-type")
