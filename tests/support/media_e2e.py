"""Small helpers of the first-party media adapters' e2e tests (tests/e2e/test_upstream_<kind>.py): create a task
through the public API, wait for it, read the balance, the task row and the files we serve."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from runapi.store.schema import tasks
from tests.support.servers import wait_done


def balance(srv: Any, key: str) -> int:
    resp = httpx.get(srv.url + "/api/v1/me/balance", headers={"Authorization": f"Bearer {key}"})
    return int(resp.json()["balance_cents"])


def create(client: httpx.Client, family: str, action: str, body: dict[str, Any]) -> str:
    r = client.post(f"/api/v1/{family}/{action}", json=body)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def finish(client: httpx.Client, family: str, action: str, task_id: str) -> dict[str, Any]:
    return dict(wait_done(client, f"/api/v1/{family}/{action}", task_id, timeout=60))


def run(client: httpx.Client, family: str, action: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    task_id = create(client, family, action, body)
    return task_id, finish(client, family, action, task_id)


def task_row(srv: Any, task_id: str) -> dict[str, Any]:
    async def go(db: Any) -> dict[str, Any]:
        async with db.read() as conn:
            return dict((await conn.execute(select(tasks).where(tasks.c.id == task_id))).mappings().first())

    return dict(srv.db_call(go))


def downloads(srv: Any, body: dict[str, Any], kind: str) -> list[bytes]:
    """The result files, read through our own signed links (never the upstream's)."""
    urls = [item["url"] for item in body[kind]]
    assert urls and all(u.startswith(srv.url + "/files/generated/") and "signature=" in u for u in urls)
    return [httpx.get(u).content for u in urls]
