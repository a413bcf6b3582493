"""Console passwords (argon2) and sessions on a real SQLite database: hashing, constant-cost refusals, session
expiry and sign-out, one-time sign-in links (single use, 15 minutes), the account switcher."""

import asyncio
import time

import pytest

from runapi.auth import admin, console_sessions, passwords
from runapi.store import Database


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def db_url(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"

    async def setup():
        db = Database(url, "NORMAL")
        await db.create_schema()
        await admin.create_account(db, "Acme", "ops@acme.test", 100)
        await db.dispose()

    run(setup())
    return url


def with_db(url, fn):
    async def go():
        db = Database(url, "NORMAL")
        try:
            return await fn(db)
        finally:
            await db.dispose()

    return run(go())


def test_passwords_are_argon2id_hashes_and_checked_exactly():
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert passwords.password_matches(stored, "correct horse battery")
    assert not passwords.password_matches(stored, "correct horse batterY")
    assert not passwords.password_matches(None, "correct horse battery")  # no password: never a match
    assert not passwords.password_matches("not a hash", "x" * 12)
    assert not passwords.password_matches(stored, "x" * (passwords.MAX_LENGTH + 1))
    assert passwords.hash_password("correct horse battery") != stored  # salted


@pytest.mark.parametrize("bad", ["short", " " * 12, "x" * (passwords.MAX_LENGTH + 1)])
def test_weak_or_absurd_passwords_are_refused(bad):
    with pytest.raises(ValueError):
        passwords.check_password(bad)


def test_set_password_then_sign_in(db_url):
    user = with_db(db_url, lambda db: passwords.set_password(db, "ops@acme.test", "correct horse battery", True))
    assert user.email == "ops@acme.test" and user.is_operator
    found = with_db(db_url, lambda db: passwords.verify_credentials(db, "ops@acme.test", "correct horse battery"))
    assert found is not None and found.id == user.id
    assert with_db(db_url, lambda db: passwords.verify_credentials(db, "ops@acme.test", "wrong password!")) is None
    assert with_db(db_url, lambda db: passwords.verify_credentials(db, "nobody@acme.test", "x" * 12)) is None
    with pytest.raises(LookupError):
        with_db(db_url, lambda db: passwords.set_password(db, "nobody@acme.test", "correct horse battery"))
    # --operator is kept unless said otherwise
    again = with_db(db_url, lambda db: passwords.set_password(db, "ops@acme.test", "another good one"))
    assert again.is_operator


def test_a_session_works_until_it_expires_or_is_ended(db_url):
    user = with_db(db_url, lambda db: passwords.set_password(db, "ops@acme.test", "correct horse battery"))
    token = with_db(db_url, lambda db: console_sessions.create_session(db, user.id, seconds=60))
    session = with_db(db_url, lambda db: console_sessions.resolve_session(db, token))
    assert session is not None and session.account_id == 1 and session.role == "admin"
    assert session.email == "ops@acme.test" and session.account_name == "Acme"
    later = time.time() + 61
    assert with_db(db_url, lambda db: console_sessions.resolve_session(db, token, now=later)) is None
    assert with_db(db_url, lambda db: console_sessions.resolve_session(db, token + "x")) is None
    assert with_db(db_url, lambda db: console_sessions.resolve_session(db, None)) is None
    with_db(db_url, lambda db: console_sessions.end_session(db, session.id))
    assert with_db(db_url, lambda db: console_sessions.resolve_session(db, token)) is None


def test_only_the_tokens_hash_is_stored(db_url, tmp_path):
    user = with_db(db_url, lambda db: passwords.set_password(db, "ops@acme.test", "correct horse battery"))
    token = with_db(db_url, lambda db: console_sessions.create_session(db, user.id))
    link = with_db(db_url, lambda db: console_sessions.create_login_link(db, user.id))
    data = (tmp_path / "c.db").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("c.db-*"))
    assert token.encode() not in data and link.encode() not in data


def test_a_login_link_signs_in_once_and_expires(db_url):
    user_id = with_db(db_url, lambda db: passwords.user_by_email(db, "ops@acme.test")).id
    link = with_db(db_url, lambda db: console_sessions.create_login_link(db, user_id))
    assert with_db(db_url, lambda db: console_sessions.login_link_user(db, link))[0] == "ops@acme.test"
    session_token = with_db(db_url, lambda db: console_sessions.redeem_login_link(db, link))
    assert with_db(db_url, lambda db: console_sessions.resolve_session(db, session_token)) is not None
    assert with_db(db_url, lambda db: console_sessions.redeem_login_link(db, link)) is None  # single use
    assert with_db(db_url, lambda db: console_sessions.login_link_user(db, link)) is None

    expired = with_db(db_url, lambda db: console_sessions.create_login_link(db, user_id, seconds=-1))
    assert with_db(db_url, lambda db: console_sessions.redeem_login_link(db, expired)) is None


def test_the_account_switcher_moves_only_between_the_users_accounts(db_url):
    async def two_accounts(db):
        await admin.create_account(db, "Beta", "ops@acme.test", 0)  # the same user, admin of a second account
        await admin.create_account(db, "Other", "someone@else.test", 0)
        user = await passwords.user_by_email(db, "ops@acme.test")
        token = await console_sessions.create_session(db, user.id)
        session = await console_sessions.resolve_session(db, token)
        mine = await console_sessions.memberships_of(db, user.id)
        other = await console_sessions.memberships_of(db, (await passwords.user_by_email(db, "someone@else.test")).id)
        assert [m.account_name for m in mine] == ["Acme", "Beta"] and session.account_name == "Acme"
        assert not await console_sessions.switch_account(db, session, other[0].id)
        assert await console_sessions.switch_account(db, session, mine[1].id)
        return await console_sessions.resolve_session(db, token)

    assert with_db(db_url, two_accounts).account_name == "Beta"
