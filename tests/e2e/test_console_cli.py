"""`runapi admin set-password` and `runapi admin login-link` against a real database file."""

import asyncio
import json
from urllib.parse import parse_qs, urlsplit

from runapi.auth import console_sessions, passwords
from runapi.store import Database
from tests.support.cli import cli


def on_db(tmp_path, fn):
    async def go():
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'runapi.db'}", "NORMAL")
        try:
            return await fn(db)
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_set_password_and_login_link(tmp_path):
    env = {"RUNAPI_DATA_DIR": str(tmp_path), "RUNAPI_PUBLIC_URL": "https://api.acme.test/"}
    assert (
        cli("admin", "--create", "create-account", "--name", "Acme", "--email", "ops@acme.test", env=env).returncode
        == 0
    )

    out = cli(
        "admin",
        "set-password",
        "ops@acme.test",
        "--password-stdin",
        "--operator",
        env=env,
        input="a long enough password\n",
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"user_id": 1, "email": "ops@acme.test", "operator": True}
    user = on_db(tmp_path, lambda db: passwords.verify_credentials(db, "ops@acme.test", "a long enough password"))
    assert user is not None and user.is_operator
    assert b"a long enough password" not in (tmp_path / "runapi.db").read_bytes()

    twice = cli("admin", "set-password", "ops@acme.test", env=env, input="another password!\nanother password!\n")
    assert twice.returncode == 0, twice.stderr
    assert json.loads(twice.stdout)["operator"] is True  # unchanged when neither --operator nor --no-operator
    mismatch = cli("admin", "set-password", "ops@acme.test", env=env, input="password one!!\npassword two!!\n")
    assert mismatch.returncode != 0  # asked twice: the two must agree

    short = cli("admin", "set-password", "ops@acme.test", "--password-stdin", env=env, input="short\n")
    assert short.returncode != 0 and "at least 10 characters" in short.stderr
    unknown = cli("admin", "set-password", "who@acme.test", "--password-stdin", env=env, input="a long password\n")
    assert unknown.returncode != 0 and "no user with email who@acme.test" in unknown.stderr

    link = cli("admin", "login-link", "ops@acme.test", env=env)
    assert link.returncode == 0, link.stderr
    url = urlsplit(link.stdout.strip())
    assert (url.scheme, url.netloc, url.path) == ("https", "api.acme.test", "/console/sign-in/link")
    token = parse_qs(url.query)["token"][0]
    assert on_db(tmp_path, lambda db: console_sessions.login_link_user(db, token))[0] == "ops@acme.test"
    assert cli("admin", "login-link", "who@acme.test", env=env).returncode != 0
