"""What a newcomer hits on a fresh clone (issue 12, "Newcomer frictions"): each one answered clearly."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fake_media import FakeFal
from tests.support.servers import start_server, wait_done

ROOT = Path(__file__).resolve().parents[2]
T2I = "/api/v1/nano_banana/text_to_image"


def cli(*args, cwd=None, env=None, timeout=60):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    for name in ("RUNAPI_DATA_DIR", "RUNAPI_DATABASE_URL"):
        if env.get(name) == "":
            env.pop(name)
    return subprocess.run(
        [sys.executable, "-m", "runapi.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
        check=False,
    )


# ------------------------------------------------------------------ callbacks that would never be delivered


def test_a_loopback_callback_url_is_refused_at_create_naming_the_setting(strict_server, recorder):
    host = recorder()
    with strict_server.client() as api:
        for url in (f"{host.url}/cb", "http://localhost:9/cb", "http://10.1.2.3/cb", "http://[::1]:9/cb"):
            resp = api.post(T2I, json={"model": "nano-banana", "prompt": "x", "callback_url": url})
            assert resp.status_code == 422, (url, resp.text)
            assert "RUNAPI_ALLOW_PRIVATE_NETWORK" in resp.json()["error"]
        # a public address is fine; nothing was charged for the refused ones
        ok = api.post(T2I, json={"model": "nano-banana", "prompt": "x", "callback_url": "https://93.184.216.34/cb"})
        assert ok.status_code == 202, ok.text
    assert host.requests == []


def test_a_private_callback_url_is_accepted_when_the_setting_allows_it(api, recorder):
    host = recorder()
    resp = api.post(T2I, json={"model": "nano-banana", "prompt": "x", "callback_url": f"{host.url}/cb"})
    assert resp.status_code == 202, resp.text


# ------------------------------------------------------------------ GET /


def test_the_root_points_to_the_docs(server):
    with server.client() as anonymous:
        resp = anonymous.get("/", headers={"Authorization": ""})
        assert resp.status_code == 200 and resp.json()["docs"] == "/docs"
        page = anonymous.get("/", headers={"Accept": "text/html,application/xhtml+xml", "Authorization": ""})
        assert page.status_code == 200 and 'href="/docs"' in page.text


# ------------------------------------------------------------------ a bad RUNAPI_*_UPSTREAMS


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("RUNAPI_MEDIA_UPSTREAMS", '[{"name": "fal-main", "kind": "fall"}]', "fal-main"),
        ("RUNAPI_MEDIA_UPSTREAMS", '[{"name": "fal-main"', None),
        ("RUNAPI_LLM_UPSTREAMS", '[{"name": "openai", "base_url": "https://x", "protocol": "grpc"}]', "openai"),
        ("RUNAPI_LLM_UPSTREAMS", '[{"name": "openai"}]', "openai"),
    ],
)
def test_a_bad_upstreams_setting_is_one_line_and_exit_2(tmp_path, variable, value, named):
    out = cli("serve", "--port", "9", cwd=tmp_path, env={variable: value, "RUNAPI_DATA_DIR": str(tmp_path / "d")})
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert variable in lines[0] and (named is None or repr(named) in lines[0]), lines[0]


# ------------------------------------------------------------------ runapi admin: which database


def test_admin_names_its_database_and_will_not_create_one_unasked(tmp_path):
    env = {"RUNAPI_DATA_DIR": "", "RUNAPI_DATABASE_URL": ""}
    out = cli("admin", "list-accounts", cwd=tmp_path, env=env)
    db = (tmp_path / "runapi-data" / "runapi.db").resolve()
    assert out.returncode != 0 and "--create" in out.stderr and str(db) in out.stderr, out.stderr
    assert not db.exists()

    created = cli("admin", "--create", "create-account", "--name", "A", "--email", "a@a.test", cwd=tmp_path, env=env)
    assert created.returncode == 0, created.stderr
    assert db.exists() and str(db) in created.stderr
    listed = cli("admin", "list-accounts", cwd=tmp_path, env=env)
    assert listed.returncode == 0 and f"database sqlite+aiosqlite:///{db}" in listed.stderr, listed.stderr
    assert '"name": "A"' in listed.stdout


# ------------------------------------------------------------------ retried upstream failures


@pytest.fixture
def outage(tmp_path):
    fal = FakeFal("down")
    fal.mode = "status500"
    srv = start_server(
        tmp_path,
        max_task_attempts=2,
        media_upstreams=[
            {"name": "fal-down", "kind": "fal", "base_url": fal.url, "api_key": "k", "poll_seconds": 0.05}
        ],
    )
    yield srv
    srv.stop()
    fal.stop()


def test_an_expected_upstream_failure_logs_one_line_without_a_traceback(outage, caplog):
    caplog.set_level(logging.WARNING, logger="runapi")
    with outage.client() as api:
        task_id = api.post(
            "/api/v1/imagen_4/text_to_image", json={"model": "imagen-4-ultra", "prompt": "a fox"}
        ).json()["id"]
        done = wait_done(api, "/api/v1/imagen_4/text_to_image", task_id, timeout=30)
    assert done["status"] == "failed" and "HTTP 500" in done["error"]
    steps = [r for r in caplog.records if r.name == "runapi.worker" and "step failed" in r.getMessage()]
    assert steps, [r.getMessage() for r in caplog.records]
    for record in steps:
        assert record.exc_info is None and "HTTP 500" in record.getMessage(), record.getMessage()
