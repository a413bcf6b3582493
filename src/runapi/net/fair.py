"""Per-tenant shares of shared outbound resources.

One account must not be able to hold every connection of a shared outbound pool (100 per client) with slow
URLs, so that another account's fetch waits for a connection and times out. `TenantLimiter` gives each
account at most `per_tenant` concurrent fetches through one client; the rest of that account's fetches wait
for one of its own slots (inside their total deadline), never for another account's.

Who the tenant is travels in a context variable: the task worker sets it for the duration of a step (so
every input fetch and result copy a provider makes deep inside is counted against the task's account),
and callers that know the account may also pass it explicitly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar

current_tenant: ContextVar[Hashable | None] = ContextVar("runapi_current_tenant", default=None)


@contextmanager
def tenant_scope(tenant: Hashable | None) -> Iterator[None]:
    """Outbound fetches made inside count against `tenant` (an account id)."""
    token = current_tenant.set(tenant)
    try:
        yield
    finally:
        current_tenant.reset(token)


class _Slot:
    __slots__ = ("semaphore", "users")

    def __init__(self, size: int):
        self.semaphore = asyncio.Semaphore(size)
        self.users = 0  # holders + waiters; the entry goes when this drops to 0


class TenantLimiter:
    """At most `per_tenant` concurrent holders per tenant key; `per_tenant <= 0` or no tenant: unlimited.

    Memory is bounded by what is in use: a key's entry exists only while someone holds or waits for it."""

    def __init__(self, per_tenant: int):
        self.per_tenant = per_tenant
        self._slots: dict[Hashable, _Slot] = {}

    @asynccontextmanager
    async def hold(self, tenant: Hashable | None) -> AsyncIterator[None]:
        if tenant is None or self.per_tenant <= 0:
            yield
            return
        slot = self._slots.get(tenant)
        if slot is None:
            slot = self._slots[tenant] = _Slot(self.per_tenant)
        slot.users += 1
        try:
            async with slot.semaphore:
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                self._slots.pop(tenant, None)
