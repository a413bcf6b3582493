"""Helpers for e2e tests of media upstreams against local fakes (a running server from
tests/support/servers.start_server): create a task through the public API and wait for it, read its row and
the account's balance, download the files we serve for it, reset the deployments' cool-downs between tests."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from runapi.store.schema import tasks
from tests.support.servers import new_account, start_server, wait_done

FAST = 0.05  # the fakes answer at once: poll them quickly


def deployment(name: str, kind: str, base_url: str, key: str | None, **more: Any) -> dict[str, Any]:
    """One RUNAPI_MEDIA_UPSTREAMS entry for a fake, polled every FAST seconds (no api_key when `key` is None)."""
    entry = {"name": name, "kind": kind, "base_url": base_url, "poll_seconds": FAST, **more}
    return {**entry, "api_key": key} if key else entry


def serve(tmp_path_factory: Any, label: str, deployments: list[dict[str, Any]]) -> Any:
    """A server (servers.start_server) sending media tasks to these deployments, 3 attempts per task."""
    return start_server(tmp_path_factory.mktemp(label), max_task_attempts=3, media_upstreams=deployments)


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
        return run_on(c, family, action, body)


def run_on(client: httpx.Client, family: str, action: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """`run` on a client already open (its key): (task id, its final body)."""
    task_id = create(client, family, action, body)
    return task_id, finish(client, family, action, task_id)


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


# --- the failover stories every upstream's e2e file tells, against two fakes of it (`fakes.primary` and
# `fakes.backup`, each with a `mode`, `slow_polls` and the `calls(method, path)` it received); each file adds
# its provider's own facts (messages, which request was polled, headers) to what these return.


def completed(srv: Any, family: str, action: str, body: dict[str, Any], key: str | None = None) -> str:
    task_id, result = run(srv, family, action, body, key)
    assert result["status"] == "completed", (family, action, result)
    return task_id


def handed_over(
    srv: Any, fakes: Any, failure: str, family: str, action: str, body: dict[str, Any], names: tuple[str, str]
) -> dict[str, Any]:
    """The primary fails the submission (or, `lost`, the accepted job): the backup runs it; its provider_job."""
    primary, backup = names
    fakes.primary.mode = failure
    before = len(fakes.backup.calls("POST"))
    job = dict(task_row(srv, completed(srv, family, action, body))["provider_job"])
    assert job["deployment"] == backup and len(fakes.backup.calls("POST")) == before + 1
    assert job["tried"] == ([primary, backup] if failure == "lost" else [backup])
    return job


def lost_job_moves_on(srv: Any, fakes: Any, family: str, action: str, body: dict[str, Any], tried: list[str]) -> str:
    """A job the primary accepted and then lost is submitted again to the next deployment; the task id."""
    fakes.primary.mode = "lost"
    task_id = completed(srv, family, action, body)
    assert task_row(srv, task_id)["provider_job"]["tried"] == tried
    return task_id


def cooled_down(
    srv: Any, fakes: Any, family: str, action: str, first: dict[str, Any], second: dict[str, Any] | None = None
) -> str:
    """A 429 with Retry-After keeps the primary aside: the next task is not offered to it either, though it
    would accept now; that second task's id."""
    fakes.primary.mode = "429"
    completed(srv, family, action, first)
    refused = len(fakes.primary.calls("POST"))
    fakes.primary.mode = "ok"  # Retry-After: 30 has not passed: it is not asked again yet
    task_id = completed(srv, family, action, second or first)
    assert len(fakes.primary.calls("POST")) == refused
    return task_id


def policy_refusal(srv: Any, fakes: Any, family: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """The primary refuses the content: the task fails (with the upstream's message, which the caller checks),
    the backup is not asked, and the account is refunded; the task's final body."""
    fakes.primary.mode = "policy"
    _, key = new_account(srv, credits=1000)
    before = len(fakes.backup.calls("POST"))
    _, result = run(srv, family, action, body, key)
    assert result["status"] == "failed", result
    assert len(fakes.backup.calls("POST")) == before  # a refusal is not shopped around
    assert balance(srv, key) == 1000
    return result


def slow_job(srv: Any, fakes: Any, family: str, action: str, body: dict[str, Any]) -> str:
    """A job the primary keeps running for 4 status checks is polled until it completes; the task id (the caller
    counts the polls its upstream received)."""
    fakes.primary.mode, fakes.primary.slow_polls = "slow", 4
    return completed(srv, family, action, body)
