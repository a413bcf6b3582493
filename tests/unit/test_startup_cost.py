"""Start-up leaves for later what only a rare path needs: the MCP SDK (the first /mcp request imports it),
the argon2 dummy hash (the first sign-in of an unknown email makes it), Alembic (only when the schema is
behind), Jinja2 (the console's first page), PyJWT (Kling's signed keys), aiohttp (the first LLM deployment's
client), filetype (the first upload sniffed); the heap's collection and freeze wait until after serving
starts. Each is checked in a fresh interpreter, where nothing else has imported them."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from runapi.auth import passwords
from runapi.store import Database
from runapi.store.db import MIGRATIONS, newest_revision
from tests.support.migrated_db import copy_into, migrated_template

ROOT = Path(__file__).resolve().parents[2]

# Builds the app over a data directory, runs its start-up (lifespan) and a request, and prints what it loaded.
SERVE = """
import json, sys
from starlette.testclient import TestClient
from runapi.app import create_app
from runapi.auth import passwords
from runapi.settings import Settings

LAZY = ("mcp", "alembic", "jinja2", "jwt", "aiohttp", "filetype")
with TestClient(create_app(Settings(data_dir=sys.argv[1], sqlite_synchronous="NORMAL"))) as client:
    assert client.get("/health").status_code == 200
    assert client.post("/mcp", json={}).status_code == 401  # refused before MCP is needed
    loaded = sorted(m for m in LAZY if m in sys.modules)
    signin = client.get("/console/sign-in")
    assert signin.status_code == 200 and "<form" in signin.text, signin.text  # the console's first page
    print(json.dumps({
        "loaded": loaded,
        "dummy_hashes": passwords._dummy_hash.cache_info().currsize,
        "jinja2_after_a_page": "jinja2" in sys.modules,
    }))
"""


def serve_once(data_dir: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNAPI_")}  # this data dir, SQLite
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", SERVE, str(data_dir)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_template(tmp_path_factory)


def test_a_restart_loads_no_rare_path_module_and_makes_no_hash(template: Path, tmp_path: Path):
    assert serve_once(copy_into(template, tmp_path)) == {"loaded": [], "dummy_hashes": 0, "jinja2_after_a_page": True}


def test_a_new_data_directory_is_migrated_with_alembic(tmp_path: Path):
    assert serve_once(tmp_path)["loaded"] == ["alembic"]  # and still no MCP SDK


def test_the_newest_revision_is_alembics_head():
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert newest_revision() == ScriptDirectory.from_config(cfg).get_current_head()


def test_an_older_schema_is_still_upgraded(template: Path, tmp_path: Path):
    db_file = copy_into(template, tmp_path) / "runapi.db"

    async def go() -> tuple[bool, bool]:
        db = Database(f"sqlite+aiosqlite:///{db_file}", "NORMAL")
        try:
            before = await db.schema_is_current()
            await db.create_schema()
            return before, await db.schema_is_current()
        finally:
            await db.dispose()

    with create_engine(f"sqlite:///{db_file}").begin() as conn:  # one migration behind
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "-1")
    assert asyncio.run(go()) == (False, True)


def test_an_unknown_email_is_still_checked_against_the_dummy_hash(monkeypatch: pytest.MonkeyPatch):
    real = passwords._hasher
    checked: list[str] = []

    class Spy:
        def hash(self, password: str) -> str:
            return real.hash(password)

        def verify(self, stored: str, password: str) -> bool:
            checked.append(stored)
            return real.verify(stored, password)

    passwords._dummy_hash.cache_clear()
    monkeypatch.setattr(passwords, "_hasher", Spy())
    try:
        assert not passwords.password_matches(None, "correct horse battery")
        assert not passwords.password_matches(None, "another guess here")
    finally:
        passwords._dummy_hash.cache_clear()
    assert len(checked) == 2 and checked[0] == checked[1]  # one dummy, made once, verified every time
    assert checked[0].startswith("$argon2id$")


def test_the_collector_is_off_during_start_up_and_on_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import uvicorn
    from click.testing import CliRunner

    from runapi.app import freeze_startup_heap
    from runapi.cli import server_cmds

    monkeypatch.setattr(gc, "freeze", lambda: None)  # (this test process's heap stays collectable)
    enabled: list[tuple[str, bool]] = []

    def started(app: Any, **kw: Any) -> None:  # instead of serving: what the app's start-up would do
        enabled.append(("importing and starting", gc.isenabled()))
        freeze_startup_heap()
        enabled.append(("serving", gc.isenabled()))

    monkeypatch.setattr(uvicorn, "run", started)
    monkeypatch.setattr(server_cmds, "setup_logging", lambda settings, level: None)  # (this process's logging)
    for name, value in {
        "RUNAPI_DATA_DIR": str(tmp_path),
        "RUNAPI_PORT": "9",
        server_cmds.LOG_LEVEL_ENV: "info",
    }.items():
        monkeypatch.setenv(name, value)  # (serve sets these: restored after the test)
    try:
        result = CliRunner().invoke(server_cmds.serve, ["--port", "9"])
        assert result.exit_code == 0, result.output
        assert enabled == [("importing and starting", False), ("serving", True)]

        enabled.clear()
        monkeypatch.setattr(uvicorn, "run", lambda app, **kw: enabled.append(("supervising", gc.isenabled())))
        monkeypatch.setattr(server_cmds, "share_metrics_between_processes", lambda: None)
        result = CliRunner().invoke(server_cmds.serve, ["--port", "9", "--workers", "2"])
        assert result.exit_code == 0, result.output
        assert enabled == [("supervising", True)]  # the parent of `--workers N` serves nothing: never frozen
    finally:
        gc.enable()


def test_the_heap_is_frozen_once_soon_after_serving_starts(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from starlette.testclient import TestClient

    from runapi import app as app_module
    from tests.support.servers import test_settings

    calls: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append("collect") or 0)
    monkeypatch.setattr(app_module, "FREEZE_AFTER_SECONDS", 0.0)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with TestClient(app_module.create_app(test_settings(copy_into(template, tmp_path / "a")))) as client:
        assert client.get("/health").status_code == 200
    assert calls == []  # only the server's own process freezes (a test process builds app after app)
    app = app_module.create_app(test_settings(copy_into(template, tmp_path / "b")), freeze_heap=True)
    assert calls == []  # building the app freezes nothing: the services are not up yet
    try:
        with TestClient(app) as client:
            assert client.get("/health").status_code == 200
            for _ in range(1000):  # the freeze runs on the server's loop, once start-up is over
                if calls:
                    break
                client.portal.call(asyncio.sleep, 0.01)
            assert calls == ["collect", "freeze"]
            client.get("/health")
        assert calls == ["collect", "freeze"]  # requests never freeze again
    finally:
        gc.enable()


def test_the_first_answer_does_not_wait_for_the_freeze(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from starlette.testclient import TestClient

    from runapi import app as app_module
    from tests.support.servers import test_settings

    calls: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append("collect") or 0)
    monkeypatch.setattr(app_module, "FREEZE_AFTER_SECONDS", 3600.0)
    app = app_module.create_app(test_settings(copy_into(template, tmp_path)), freeze_heap=True)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        assert calls == []  # served before the collection (it walks the whole start-up heap)
    assert calls == []  # and a server stopped before it never runs it
