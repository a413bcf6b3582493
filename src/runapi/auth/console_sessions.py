"""Web console sessions and one-time sign-in links: the SQL behind the console's sign-in.

A session is a random 256-bit token in the browser's cookie; only its SHA-256 is stored (`console_sessions`),
with the user, the membership it acts in and an absolute expiry. Signing out deletes the row, so the cookie
is dead at once everywhere. A sign-in link (`runapi admin login-link`) is likewise a random token kept as a
hash, valid for 15 minutes and for one use: consuming it and creating the session are one transaction."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update

from ..store import Database
from ..store.schema import accounts, console_login_links, console_sessions, memberships, users
from . import tokens

SESSION_SECONDS = 12 * 3600  # an absolute lifetime: a working day, then sign in again
LOGIN_LINK_SECONDS = 15 * 60


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in browser: who, in which account and role, until when."""

    id: str
    user_id: int
    email: str
    name: str
    is_operator: bool
    membership_id: str
    account_id: int
    account_name: str
    role: str  # admin | member
    expires_at: float

    @classmethod
    def from_row(cls, row: Any) -> ConsoleSession:
        return cls(
            id=row["id"],
            user_id=row["user_id"],
            email=row["email"],
            name=row["name"],
            is_operator=bool(row["is_operator"]),
            membership_id=row["membership_id"],
            account_id=row["account_id"],
            account_name=row["account_name"],
            role=row["role"],
            expires_at=row["expires_at"],
        )


@dataclass(frozen=True)
class Membership:
    """One account a user belongs to, as the console's account switcher lists it."""

    id: str
    account_id: int
    account_name: str
    role: str


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _session_query() -> Any:
    return (
        select(
            console_sessions.c.id,
            console_sessions.c.user_id,
            console_sessions.c.membership_id,
            console_sessions.c.expires_at,
            users.c.email,
            users.c.name,
            users.c.is_operator,
            memberships.c.account_id,
            memberships.c.role,
            accounts.c.name.label("account_name"),
        )
        .join(users, users.c.id == console_sessions.c.user_id)
        .join(memberships, memberships.c.id == console_sessions.c.membership_id)
        .join(accounts, accounts.c.id == memberships.c.account_id)
    )


async def memberships_of(db: Database, user_id: int) -> list[Membership]:
    """The accounts the user belongs to, oldest membership first (the one a new session acts in)."""
    async with db.read() as conn:
        rows = (
            await conn.execute(
                select(memberships.c.id, memberships.c.account_id, accounts.c.name, memberships.c.role)
                .join(accounts, accounts.c.id == memberships.c.account_id)
                .where(memberships.c.user_id == user_id)
                .order_by(memberships.c.created_at, memberships.c.id)
            )
        ).all()
    return [Membership(id=r[0], account_id=r[1], account_name=r[2], role=r[3]) for r in rows]


def _session_row(user_id: int, membership_id: str, now: float, seconds: float) -> tuple[str, dict[str, Any]]:
    token = new_token()
    return token, {
        "id": tokens.new_prefixed_id("csess"),
        "token_hash": tokens.token_hash(token),
        "user_id": user_id,
        "membership_id": membership_id,
        "created_at": now,
        "expires_at": now + seconds,
    }


async def create_session(db: Database, user_id: int, seconds: float = SESSION_SECONDS) -> str | None:
    """A new session for the user in their first account; returns the cookie's token (None: the user belongs
    to no account, so there is nothing to sign in to). Expired sessions are swept on the way."""
    found = await memberships_of(db, user_id)
    if not found:
        return None
    now = time.time()
    token, row = _session_row(user_id, found[0].id, now, seconds)
    async with db.write() as conn:
        await conn.execute(delete(console_sessions).where(console_sessions.c.expires_at < now))
        await conn.execute(insert(console_sessions).values(**row))
    return token


async def resolve_session(db: Database, token: str | None, now: float | None = None) -> ConsoleSession | None:
    """The live session of a cookie's token, or None (no such session, signed out, or expired)."""
    if not token or len(token) > 200:
        return None
    now = time.time() if now is None else now
    async with db.read() as conn:
        row = (
            (await conn.execute(_session_query().where(console_sessions.c.token_hash == tokens.token_hash(token))))
            .mappings()
            .first()
        )
    if row is None or row["expires_at"] <= now:
        return None
    return ConsoleSession.from_row(row)


async def end_session(db: Database, session_id: str) -> None:
    """Sign out: the row goes, so the cookie no longer works anywhere."""
    async with db.write() as conn:
        await conn.execute(delete(console_sessions).where(console_sessions.c.id == session_id))


async def switch_account(db: Database, session: ConsoleSession, membership_id: str) -> bool:
    """Make the session act in another of the user's memberships; False if it is not one of theirs."""
    async with db.write() as conn:
        mine = (
            await conn.execute(
                select(memberships.c.id).where(
                    memberships.c.id == membership_id, memberships.c.user_id == session.user_id
                )
            )
        ).first()
        if mine is None:
            return False
        await conn.execute(
            update(console_sessions).where(console_sessions.c.id == session.id).values(membership_id=membership_id)
        )
    return True


# ------------------------------------------------------------------------------------------ sign-in links


async def create_login_link(db: Database, user_id: int, seconds: float = LOGIN_LINK_SECONDS) -> str:
    """A one-time sign-in token for the user (printed by `runapi admin login-link`)."""
    token = new_token()
    now = time.time()
    async with db.write() as conn:
        await conn.execute(delete(console_login_links).where(console_login_links.c.expires_at < now))
        await conn.execute(
            insert(console_login_links).values(
                token_hash=tokens.token_hash(token), user_id=user_id, created_at=now, expires_at=now + seconds
            )
        )
    return token


async def login_link_user(db: Database, token: str | None) -> tuple[str, str] | None:
    """(email, name) of the user a live, unused link signs in, for the page that asks to confirm; None if the
    link is unknown, used or expired. Reading does not use it up (mail scanners open links)."""
    if not token or len(token) > 200:
        return None
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(users.c.email, users.c.name)
                .join(users, users.c.id == console_login_links.c.user_id)
                .where(
                    console_login_links.c.token_hash == tokens.token_hash(token),
                    console_login_links.c.used_at.is_(None),
                    console_login_links.c.expires_at > time.time(),
                )
            )
        ).first()
    return (row[0], row[1]) if row else None


async def redeem_login_link(db: Database, token: str | None, seconds: float = SESSION_SECONDS) -> str | None:
    """Use up a live link and open a session for its user, in one transaction; returns the session token, or
    None (unknown, used or expired link; or a user in no account). A link works once, even when redeemed
    twice at the same moment: the conditional update lets one of them through."""
    if not token or len(token) > 200:
        return None
    now = time.time()
    async with db.write() as conn:
        used = await conn.execute(
            update(console_login_links)
            .where(
                console_login_links.c.token_hash == tokens.token_hash(token),
                console_login_links.c.used_at.is_(None),
                console_login_links.c.expires_at > now,
            )
            .values(used_at=now)
            .returning(console_login_links.c.user_id)
        )
        user_id = used.scalar()
        if user_id is None:
            return None
        first = (
            await conn.execute(
                select(memberships.c.id)
                .where(memberships.c.user_id == user_id)
                .order_by(memberships.c.created_at, memberships.c.id)
                .limit(1)
            )
        ).scalar()
        if first is None:
            return None
        session_token, row = _session_row(user_id, first, now, seconds)
        await conn.execute(insert(console_sessions).values(**row))
    return session_token
