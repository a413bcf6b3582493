"""`runapi admin migrate`: a SQLite deployment that has served traffic (accounts, keys, media tasks, a failed
and refunded task, billed LLM calls, uploads, callbacks) moves to a new PostgreSQL database to the cent and the
server then runs on it; its files move to S3 when asked; refusals are clear. `runapi admin backup`: a
consistent online copy while writes go on."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select, text

from runapi.providers.sandbox import samples
from runapi.store import Database
from runapi.store.schema import accounts, callback_deliveries, files, ledger, metadata, tasks
from tests.support.cli import cli
from tests.support.servers import free_port, new_account, start_server, wait_done, wait_for
from tests.support.services import create_database, drop_database

T2I = "/api/v1/nano_banana/text_to_image"
EDIT = "/api/v1/nano_banana/edit_image"
CHAT = "/v1/chat/completions"
PNG = samples.sample_bytes("png")


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'runapi.db').resolve()}"


def env_for(data_dir: Path) -> dict[str, str]:
    return {"RUNAPI_DATA_DIR": str(data_dir), "RUNAPI_DATABASE_URL": sqlite_url(data_dir)}


def facts(url: str) -> dict:
    """Everything the migration must keep, read from one database."""

    async def go():
        db = Database(url)
        try:
            async with db.read() as conn:

                async def rows(stmt):
                    return sorted(tuple(r) for r in (await conn.execute(stmt)).all())

                return {
                    "counts": {
                        t.name: (await conn.execute(select(func.count()).select_from(t))).scalar_one()
                        for t in metadata.sorted_tables
                    },
                    "ledger": await rows(
                        select(ledger.c.account_id, func.sum(ledger.c.amount_cents)).group_by(ledger.c.account_id)
                    ),
                    "balances": await rows(
                        select(accounts.c.id, accounts.c.balance_cents, accounts.c.carry_micro_cents)
                    ),
                    "task_states": await rows(select(tasks.c.state, func.count()).group_by(tasks.c.state)),
                    "tasks": await rows(select(tasks.c.id, tasks.c.state, tasks.c.price_cents, tasks.c.result)),
                    "files": await rows(select(files.c.id, files.c.key, files.c.size_bytes, files.c.state)),
                    "callbacks": await rows(select(callback_deliveries.c.id, callback_deliveries.c.state)),
                }
        finally:
            await db.dispose()

    return asyncio.run(go())


def on(server, url: str) -> str:
    """A link the old server signed, asked of the new one (a real cut-over keeps the host name)."""
    parts = urlsplit(url)
    return f"{server.url}{parts.path}?{parts.query}"


def table_names(url: str) -> set[str]:
    async def go():
        db = Database(url)
        try:
            async with db.read() as conn:
                found = await conn.execute(
                    text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
                )
                return set(found.scalars().all())
        finally:
            await db.dispose()

    return asyncio.run(go())


def traffic(srv, receiver) -> dict:
    """A bit of everything a deployment records; returns what the later checks need."""
    account_id, key = new_account(srv, credits=5_000)
    with srv.client(key) as api:
        made = api.post(T2I, json={"model": "nano-banana", "prompt": "before", "callback_url": f"{receiver.url}/cb"})
        assert made.status_code == 202, made.text
        done = wait_done(api, T2I, made.json()["id"])
        assert done["status"] == "completed"
        bad = api.post(
            EDIT, json={"model": "nano-banana-edit", "prompt": "x", "source_image_urls": [f"{receiver.url}/404.png"]}
        )
        failed = wait_done(api, EDIT, bad.json()["id"])
        assert failed["status"] == "failed"
        for i in range(3):
            chat = api.post(CHAT, json={"model": "gpt-5.2", "messages": [{"role": "user", "content": f"hi {i}"}]})
            assert chat.status_code == 200, chat.text
        up = api.post("/api/v1/files", files={"file": ("a.png", PNG)})
        assert up.status_code in (200, 201), up.text
        wait_for(lambda: any(r["path"] == "/cb" for r in receiver.requests))
    with srv.client() as boot:  # the bootstrap account's traffic too
        wait_done(boot, T2I, boot.post(T2I, json={"model": "nano-banana", "prompt": "boot"}).json()["id"])
    return {"account_id": account_id, "key": key, "task": done["id"], "failed": failed["id"], "upload": up.json()}


def receiver_404(recorder):
    return recorder(lambda m, p, h, b: (404, {}, b"missing") if p.endswith(".png") else (200, {}, b"ok"))


def test_a_deployment_with_traffic_moves_to_postgresql_to_the_cent(pg_target, services, tmp_path, recorder):
    data_dir = tmp_path / "deploy"
    srv = start_server(data_dir, database_url=sqlite_url(data_dir))
    try:
        made = traffic(srv, receiver_404(recorder))
    finally:
        srv.stop()  # the documented way: no writes during the copy
    target = pg_target()
    before = facts(sqlite_url(data_dir))
    assert before["counts"]["ledger"] > 5 and before["counts"]["usage_events"] >= 3
    assert before["counts"]["callback_deliveries"] >= 1 and before["counts"]["files"] >= 1
    assert ("failed", 1) in before["task_states"]

    dry = cli("admin", "migrate", "--to", target, "--dry-run", env=env_for(data_dir))
    assert dry.returncode == 0, dry.stderr
    assert '"target": null' in dry.stdout
    assert table_names(target) == set()  # a dry run writes nothing, not even the schema

    out = cli("admin", "migrate", "--to", target, "--batch-size", "2", env=env_for(data_dir))
    assert out.returncode == 0, out.stderr
    assert "verified" in out.stderr and '"mismatches": []' in out.stdout
    assert facts(target) == before  # every table's rows, money per account, tasks per state, files, callbacks

    # the server on PostgreSQL: the old key works, the old task reads, its file still downloads, new rows get ids
    pg = start_server(data_dir, database_url=target, redis_url=services.redis_url, redis_channel_prefix="mig")
    try:
        with pg.client(made["key"]) as api:
            old = api.get(f"{T2I}/{made['task']}")
            assert old.status_code == 200 and old.json()["status"] == "completed"
            assert httpx.get(on(pg, old.json()["images"][0]["url"])).status_code == 200
            assert api.get(f"{EDIT}/{made['failed']}").json()["status"] == "failed"
            assert httpx.get(on(pg, made["upload"]["url"])).content == PNG
            balance = api.get("/api/v1/me/balance").json()["balance_cents"]
            assert (made["account_id"], balance) in [(a, b) for a, b, _ in before["balances"]]
            new = api.post(T2I, json={"model": "nano-banana", "prompt": "after"})
            assert wait_done(api, T2I, new.json()["id"])["status"] == "completed"
            assert (
                api.post(CHAT, json={"model": "gpt-5.2", "messages": [{"role": "user", "content": "x"}]}).status_code
                == 200
            )
            assert api.get("/api/v1/me/balance").json()["balance_cents"] < balance
    finally:
        pg.stop()
    after = facts(target)
    assert after["counts"]["ledger"] > before["counts"]["ledger"]  # the sequences were set past the copied ids


def test_files_move_to_s3_with_the_database(pg_target, services, tmp_path, recorder):
    moto_server = pytest.importorskip("moto.server")
    s3 = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    s3.start()
    try:
        host, port = s3.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        import boto3

        boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1"
        ).create_bucket(Bucket="moved")
        data_dir = tmp_path / "deploy"
        srv = start_server(data_dir, database_url=sqlite_url(data_dir))
        try:
            with srv.client() as api:
                done = wait_done(api, T2I, api.post(T2I, json={"model": "nano-banana", "prompt": "s3"}).json()["id"])
                up = api.post("/api/v1/files", files={"file": ("b.png", PNG)}).json()
        finally:
            srv.stop()
        target = pg_target()
        s3_env = {"RUNAPI_S3_ACCESS_KEY_ID": "t", "RUNAPI_S3_SECRET_ACCESS_KEY": "t"}
        out = cli(
            "admin", "migrate", "--to", target, "--storage-to", "s3://moved/objects", "--s3-endpoint-url", endpoint,
            env={**env_for(data_dir), **s3_env},
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert '"copied": 2' in out.stdout
        # a new data dir (only the secret key kept): every object now comes from the bucket
        new_dir = tmp_path / "new"
        new_dir.mkdir()
        (new_dir / "secret.key").write_bytes((data_dir / "secret.key").read_bytes())
        pg = start_server(
            new_dir, database_url=target, storage_backend="s3", s3_bucket="moved", s3_prefix="objects",
            s3_endpoint_url=endpoint, s3_access_key_id="t", s3_secret_access_key="t",
        )  # fmt: skip
        try:
            with pg.client() as api:
                again = api.get(f"{T2I}/{done['id']}").json()
                assert httpx.get(on(pg, again["images"][0]["url"])).status_code == 200
                assert httpx.get(on(pg, up["url"])).content == PNG
        finally:
            pg.stop()
    finally:
        s3.stop()


@pytest.fixture
def pg_target(services):
    """Makes new, empty PostgreSQL databases (their URLs); dropped after the test."""
    made: list[str] = []

    def make() -> str:
        made.append(create_database(services.database_url))
        return made[-1]

    yield make
    for url in made:
        drop_database(url)


@pytest.fixture
def deployment(tmp_path):
    """A small SQLite deployment made with the admin commands (no server)."""
    env = env_for(tmp_path)
    out = cli("admin", "--create", "create-account", "--name", "A", "--email", "a@x.test", "--credits", "900", env=env)
    assert out.returncode == 0, out.stderr
    return tmp_path


def ledger_writer(db_path: Path):
    """A thread committing credit rows into the deployment's ledger until stopped; (stop, thread, counter)."""
    stop = threading.Event()
    written = [0]

    def write():
        conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")  # the row and the balance in one transaction, as the server writes them
            conn.execute(
                "INSERT INTO ledger (account_id, kind, amount_cents, note, created_at) VALUES (1, 'credit', 1, ?, ?)",
                ("x" * 500, time.time()),
            )
            conn.execute("UPDATE accounts SET balance_cents = balance_cents + 1 WHERE id = 1")
            conn.execute("COMMIT")
            written[0] += 1
        conn.close()

    thread = threading.Thread(target=write)
    thread.start()
    return stop, thread, written


def test_migrating_while_writes_go_on_copies_one_consistent_snapshot(pg_target, deployment):
    """Writers do not break the copy: it is of one snapshot, and verified against that same snapshot."""
    target = pg_target()
    stop, thread, written = ledger_writer(deployment / "runapi.db")
    try:
        wait_for(lambda: written[0] >= 200)
        at_start = written[0]
        out = cli("admin", "migrate", "--to", target, "--batch-size", "50", env=env_for(deployment))
        at_end = written[0]
    finally:
        stop.set()
        thread.join()
    assert out.returncode == 0, out.stderr
    assert at_end > at_start and '"mismatches": []' in out.stdout
    copied = facts(target)
    assert at_start < copied["counts"]["ledger"] - 1 < at_end  # the create-account credit + what was committed
    ((account, balance, _),) = copied["balances"]
    ((_, ledger_sum),) = copied["ledger"]
    assert balance == ledger_sum  # money and its ledger from the same moment


def test_a_backup_file_migrates_too(pg_target, deployment, tmp_path):
    """Export/import across machines: `backup` here, copy the file, `migrate` from it there."""
    assert cli("admin", "backup", str(tmp_path / "moved.db"), env=env_for(deployment)).returncode == 0
    target = pg_target()
    env = {"RUNAPI_DATA_DIR": str(tmp_path), "RUNAPI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'moved.db'}"}
    out = cli("admin", "migrate", "--to", target, env=env)
    assert out.returncode == 0, out.stderr
    assert facts(target)["balances"] == [(1, 900, 0)]


def test_a_target_that_is_not_empty_is_refused(pg_target, deployment):
    target = pg_target()
    assert cli("admin", "migrate", "--to", target, env=env_for(deployment)).returncode == 0
    again = cli("admin", "migrate", "--to", target, env=env_for(deployment))
    assert again.returncode != 0 and "Traceback" not in again.stderr
    assert "is not empty (rows in accounts" in again.stderr


def test_an_unreachable_target_is_refused(deployment):
    out = cli("admin", "migrate", "--to", f"postgresql://runapi@127.0.0.1:{free_port()}/x", env=env_for(deployment))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "cannot use the target database" in out.stderr and "Connect" in out.stderr


def test_a_target_that_is_not_postgresql_is_refused(deployment, tmp_path):
    out = cli("admin", "migrate", "--to", f"sqlite:///{tmp_path}/other.db", env=env_for(deployment))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "--to must be a postgresql:// URL" in out.stderr


def test_a_table_the_schema_does_not_know_is_refused_not_dropped(pg_target, deployment):
    with sqlite3.connect(deployment / "runapi.db") as conn:
        conn.execute("CREATE TABLE side_notes (id INTEGER PRIMARY KEY, note TEXT)")
    target = pg_target()
    out = cli("admin", "migrate", "--to", target, env=env_for(deployment))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "does not know: side_notes" in out.stderr
    assert facts(target)["counts"]["accounts"] == 0


def test_rows_that_postgresql_cannot_hold_fail_the_copy_and_leave_the_target_empty(pg_target, deployment):
    """SQLite takes a NUL in text, PostgreSQL does not: the copy stops with the table named, commits nothing."""
    with sqlite3.connect(deployment / "runapi.db") as conn:
        conn.execute("UPDATE accounts SET name = 'a' || char(0) || 'b'")
    target = pg_target()
    out = cli("admin", "migrate", "--to", target, env=env_for(deployment))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "copy failed in table accounts, nothing committed" in out.stderr
    assert sum(facts(target)["counts"].values()) == 0


def test_a_mismatch_is_reported_and_fails(pg_target, deployment):
    """The verification compares the target with the source snapshot: a difference exits non-zero."""
    from runapi.store import transfer

    target = pg_target()
    assert cli("admin", "migrate", "--to", target, env=env_for(deployment)).returncode == 0

    async def go():
        db = Database(target)
        try:
            async with db.write() as conn:
                await conn.execute(text("UPDATE accounts SET balance_cents = balance_cents + 1"))
            async with transfer._snapshot(sqlite_url(deployment)) as snap:
                counts = {t.name: await transfer._count(snap, t) for t in metadata.sorted_tables}
                return await transfer._verify(snap, db, "x", counts)
        finally:
            await db.dispose()

    report = asyncio.run(go())
    assert report.mismatches == ("balance 1: (900, 0) in the source, (901, 0) in the target",)


def test_backup_while_writes_go_on(tmp_path):
    data_dir = tmp_path / "live"
    env = env_for(data_dir)
    assert cli("admin", "--create", "create-account", "--name", "A", "--email", "a@x.test", env=env).returncode == 0
    db_path = data_dir / "runapi.db"
    stop, thread, written = ledger_writer(db_path)
    try:
        wait_for(lambda: written[0] >= 300)
        with sqlite3.connect(db_path) as conn:
            committed = conn.execute("SELECT count(*) FROM ledger").fetchone()[0]
        at_start = written[0]
        out = cli("admin", "backup", str(tmp_path / "copy.db"), "--pages", "4", "--with-files", env=env)
        at_end = written[0]
    finally:
        stop.set()
        thread.join()
    assert out.returncode == 0, out.stderr
    assert at_end > at_start  # the writer really went on during the backup
    assert "pages (100%)" in out.stderr and '"integrity_check": "ok"' in out.stdout
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT count(*) FROM ledger").fetchone()[0] >= committed
    assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
    assert (tmp_path / "copy.db.files").is_dir()
    again = cli("admin", "backup", str(tmp_path / "copy.db"), env=env)
    assert again.returncode != 0 and "already exists" in again.stderr and "Traceback" not in again.stderr


def test_backup_of_postgresql_points_to_pg_dump(tmp_path):
    env = {"RUNAPI_DATA_DIR": str(tmp_path), "RUNAPI_DATABASE_URL": f"postgresql+asyncpg://x@127.0.0.1:{free_port()}/y"}
    out = cli("admin", "backup", str(tmp_path / "b.db"), env=env)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "pg_dump" in out.stderr
