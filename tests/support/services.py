"""PostgreSQL and Redis for the tests.

Two uses, two sets of variables:
- `RUNAPI_TEST_DATABASE_URL` (an admin URL, e.g. postgresql+asyncpg://runapi@127.0.0.1:55432/postgres) and
  `RUNAPI_TEST_REDIS_URL` run the whole suite on them: every test server gets a fresh database of its own.
- `RUNAPI_SERVICES_PG_URL` / `RUNAPI_SERVICES_REDIS_URL` (printed by `scripts/ci-services.sh start`) only say
  where they are, for the tests that need them whatever the suite runs on (the `services` fixture).
Without either, those tests start a throwaway pair with the same script when the binaries are installed, and
skip otherwise — except in CI (`RUNAPI_CI=1`), where a missing service is a failure, not a skip.
A test that takes the `db_backend` fixture runs once per `DatabaseBackend`: on SQLite, and on PostgreSQL from the
`services` fixture (so under the same rule: skipped locally without the binaries, failed in CI).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ci-services.sh"
IN_CI = os.environ.get("RUNAPI_CI") == "1"


def env_database_url() -> str | None:
    return os.environ.get("RUNAPI_TEST_DATABASE_URL") or None


def env_redis_url() -> str | None:
    return os.environ.get("RUNAPI_TEST_REDIS_URL") or None


def _run_async(coro):
    """Run a coroutine to completion from sync code, even when the caller is inside an event loop."""
    out: dict = {}

    def go() -> None:
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            out["error"] = exc

    t = threading.Thread(target=go)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


def create_database(admin_url: str) -> str:
    """CREATE DATABASE with a fresh name on the admin URL's server; returns the new database's URL."""
    import asyncpg
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    name = f"runapi_t_{uuid.uuid4().hex[:16]}"

    async def go() -> None:
        conn = await asyncpg.connect(
            host=admin.host,
            port=admin.port,
            user=admin.username,
            password=admin.password,
            database=admin.database or "postgres",
        )
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    _run_async(go())
    return admin.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """DROP DATABASE (even with sessions still open on it) a database create_database made."""
    import asyncpg
    from sqlalchemy.engine import make_url

    db = make_url(url)

    async def go() -> None:
        conn = await asyncpg.connect(
            host=db.host, port=db.port, user=db.username, password=db.password, database="postgres"
        )
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{db.database}" WITH (FORCE)')
        finally:
            await conn.close()

    _run_async(go())


def unavailable(what: str) -> None:
    """Skip locally; fail in CI, where every service must be there."""
    message = (
        f"{what} not available (set RUNAPI_TEST_DATABASE_URL / RUNAPI_TEST_REDIS_URL or install "
        f"postgresql and redis-server; scripts/ci-services.sh starts them)"
    )
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


class Services:
    """Where the tests' PostgreSQL (admin URL) and Redis are, and how to restart PostgreSQL if we can."""

    def __init__(self, database_url: str, redis_url: str, script_env: dict[str, str] | None):
        self.database_url = database_url
        self.redis_url = redis_url
        self.script_env = script_env  # None: not started by scripts/ci-services.sh, so no restart

    @classmethod
    def from_env(cls) -> Services | None:
        """Services that scripts/ci-services.sh started (RUNAPI_SERVICES_*), else the ones the whole suite
        runs on (RUNAPI_TEST_*)."""
        db = os.environ.get("RUNAPI_SERVICES_PG_URL") or env_database_url()
        redis = os.environ.get("RUNAPI_SERVICES_REDIS_URL") or env_redis_url()
        if not (db and redis):
            return None
        return cls(db, redis, dict(os.environ) if os.environ.get("RUNAPI_SERVICES_DIR") else None)

    @classmethod
    def start_local(cls, directory: Path, pg_port: int, redis_port: int) -> Services | None:
        """Start a throwaway pair with scripts/ci-services.sh in `directory`; None if that is impossible."""
        has_postgres = shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not (shutil.which("redis-server") and has_postgres):
            return None
        env = {
            **os.environ,
            "RUNAPI_SERVICES_DIR": str(directory),
            "RUNAPI_PG_PORT": str(pg_port),
            "RUNAPI_REDIS_PORT": str(redis_port),
        }
        if subprocess.run([str(SCRIPT), "start"], env=env, check=False, capture_output=True).returncode != 0:
            return None
        return cls(
            f"postgresql+asyncpg://runapi@127.0.0.1:{pg_port}/postgres", f"redis://127.0.0.1:{redis_port}/0", env
        )

    def stop(self) -> None:
        if self.script_env is not None:
            subprocess.run([str(SCRIPT), "stop"], env=self.script_env, check=False, capture_output=True)

    def restart_postgres(self, seconds_down: float) -> bool:
        if self.script_env is None:
            return False
        res = subprocess.run(
            [str(SCRIPT), "restart-postgres", str(seconds_down)],
            env=self.script_env,
            check=False,
            capture_output=True,
            text=True,
        )
        return res.returncode == 0


@dataclass(frozen=True)
class DatabaseBackend:
    """The database a test server runs on, for tests parametrised over backends (the `db_backend` fixture in
    tests/e2e/conftest.py): SQLite, or PostgreSQL (with Redis, as deployed at scale) from `services`."""

    name: str  # "sqlite" | "postgresql", the test id's suffix
    services: Services | None = None  # where PostgreSQL and Redis are; None for SQLite

    def server_settings(self, data_dir: Path) -> dict[str, Any]:
        """start_server's overrides for a fresh database of this kind. SQLite is named explicitly, so that a
        suite run on PostgreSQL (RUNAPI_TEST_DATABASE_URL) still tests SQLite here."""
        if self.services is None:
            return {"database_url": f"sqlite+aiosqlite:///{(data_dir / 'runapi.db').resolve()}"}
        return {
            "database_url": create_database(self.services.database_url),
            "redis_url": self.services.redis_url,
            "redis_channel_prefix": f"db{uuid.uuid4().hex[:8]}",
        }
