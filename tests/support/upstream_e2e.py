"""Helpers for e2e tests of media upstreams against local fakes (a running server from
tests/support/servers.start_server): create a task through the public API and wait for it, read its row and
the account's balance, download the files we serve for it, reset the deployments' cool-downs between tests."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from runapi.store.schema import tasks
from tests.support.servers import wait_done


def admission(srv: Any) -> Any:
    """The running server's per-deployment admission state (same process, server thread)."""
    return srv.uv.config.app.state.runtime.providers.upstreams.admission


def reset_cooldowns(srv: Any) -> None:
    """A test's 429 cool-down must not leak into the next test."""
    admission(srv)._cool_until.clear()


def balance(srv: Any, key: str) -> int:
    r = httpx.get(srv.url + "/api/v1/me/balance", headers={"Authorization": f"Bearer {key}"})
    return int(r.json()["balance_cents"])


def create(client: httpx.Client, family: str, action: str, body: dict[str, Any]) -> str:
    r = client.post(f"/api/v1/{family}/{action}", json=body)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def finish(client: httpx.Client, family: str, action: str, task_id: str) -> dict[str, Any]:
    return dict(wait_done(client, f"/api/v1/{family}/{action}", task_id, timeout=60))


def run(srv: Any, family: str, action: str, body: dict[str, Any], key: str | None = None) -> tuple[str, dict[str, Any]]:
    """Create a task (with the server's own key, or `key`) and wait for it to end: (task id, its final body)."""
    with srv.client(key) as c:
        task_id = create(c, family, action, body)
        return task_id, finish(c, family, action, task_id)


def task_row(srv: Any, task_id: str) -> dict[str, Any]:
    async def go(db: Any) -> dict[str, Any]:
        async with db.read() as conn:
            return dict((await conn.execute(select(tasks).where(tasks.c.id == task_id))).mappings().first())

    return dict(srv.db_call(go))


def downloads(srv: Any, body: dict[str, Any], kind: str) -> list[bytes]:
    """The bytes behind a finished task's result links, which must be our own signed /files/generated links."""
    urls = [item["url"] for item in body[kind]]
    assert urls and all(u.startswith(srv.url + "/files/generated/") and "signature=" in u for u in urls)
    return [httpx.get(u).content for u in urls]
