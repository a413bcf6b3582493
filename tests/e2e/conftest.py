"""Fixtures of the end-to-end tier: a real server per test module (tests/support/servers.py), local HTTP servers
standing in for customers' callback receivers and image hosts, PostgreSQL + Redis for the tests that need them,
and the database backend as a parameter (`db_backend`, `db_server`)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support.conformance import inputs_host  # noqa: F401  (a fixture: the catalog examples' inputs)
from tests.support.logs import captured_logs  # noqa: F401  (a fixture, for the tests of logging)
from tests.support.servers import Recorder, free_port, start_server
from tests.support.services import DatabaseBackend, Services, unavailable


@pytest.fixture(scope="session")
def services():
    """PostgreSQL + Redis: from the environment, else a throwaway pair, else skip (fail in CI)."""
    found = Services.from_env()
    if found is not None:
        yield found
        return
    # Not pytest's tmp dir: that one is private to us, and PostgreSQL may run as another user (we are root).
    directory = Path(tempfile.mkdtemp(prefix="runapi-services-"))
    directory.chmod(0o755)
    started = Services.start_local(directory / "s", free_port(), free_port())
    if started is None:
        shutil.rmtree(directory, ignore_errors=True)
        unavailable("PostgreSQL/Redis")
    yield started
    started.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("srv"))
    yield srv
    srv.stop()


@pytest.fixture
def strict_server(tmp_path):
    """A server with production outbound rules: no loopback/private targets, HTTPS-only file URLs."""
    srv = start_server(tmp_path, allow_private_network=False)
    yield srv
    srv.stop()


@pytest.fixture
def api(server):
    with server.client() as c:
        yield c


@pytest.fixture
def recorder():
    made: list[Recorder] = []

    def make(responder=None) -> Recorder:
        r = Recorder(responder)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_backend(request) -> DatabaseBackend:
    """Each test that takes this runs once per database: on SQLite, and on PostgreSQL + Redis from `services`
    (skipped without them, failed in CI). A test for one backend only says so with
    `@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)`."""
    if request.param == "postgresql":
        return DatabaseBackend("postgresql", request.getfixturevalue("services"))
    return DatabaseBackend("sqlite")


@pytest.fixture(scope="module")
def db_server(db_backend, tmp_path_factory):
    """A server on a fresh database of `db_backend`'s kind, shared by the module's tests on that backend."""
    data_dir = tmp_path_factory.mktemp(db_backend.name)
    srv = start_server(data_dir, **db_backend.server_settings(data_dir))
    yield srv
    srv.stop()
