"""Console passwords: argon2id hashes in users.password_hash, set by `runapi admin set-password`, checked at
console sign-in. Unlike API keys (256 random bits, so a fast SHA-256 is enough), a password is chosen by a
person and may be guessable, so it is stretched with a memory-hard hash.

Checking takes the same time whether or not the email has a password: an unknown email is verified against a
dummy hash, so the answer's timing does not tell which addresses exist."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update

from ..store import Database
from ..store.schema import users
from .admin import check_email

MIN_LENGTH = 10  # NIST SP 800-63B asks for at least 8; a console that moves money asks for a little more
MAX_LENGTH = 1024  # argon2 takes any length; a bound keeps a megabyte "password" from costing a megabyte hash

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 "low memory" profile (64 MiB, t=3)


@functools.cache
def _dummy_hash() -> str:
    """What an unknown email is verified against. Made on first use, not at import: ~0.1 s of CPU that every
    start-up (and every CLI command) would pay for a sign-in that may never come."""
    return _hasher.hash("runapi: a password nobody has")


@dataclass(frozen=True)
class ConsoleUser:
    id: int
    name: str
    email: str
    is_operator: bool

    @classmethod
    def from_row(cls, row: Any) -> ConsoleUser:
        return cls(id=row["id"], name=row["name"], email=row["email"], is_operator=bool(row["is_operator"]))


def check_password(password: str) -> str:
    """A password the console accepts (ValueError otherwise): long enough, not absurdly long, not blank."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"the password must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"the password must be at most {MAX_LENGTH} characters")
    if not password.strip():
        raise ValueError("the password must not be blank")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Verify in constant time against `stored_hash`, or against a dummy hash when there is none (same cost)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def set_password(db: Database, email: str, password: str, operator: bool | None = None) -> ConsoleUser:
    """Set a user's console password (and, when given, whether they are the instance's operator).
    LookupError: no user has that email (add them to an account first)."""
    email = check_email(email)
    hashed = await asyncio.to_thread(hash_password, password)  # ~50 ms of CPU: off the event loop
    values: dict[str, Any] = {"password_hash": hashed}
    if operator is not None:
        values["is_operator"] = operator
    async with db.write() as conn:
        found = await conn.execute(
            update(users)
            .where(users.c.email == email)
            .values(**values)
            .returning(users.c.id, users.c.name, users.c.email, users.c.is_operator)
        )
        row = found.mappings().first()
    if row is None:
        raise LookupError(f"no user with email {email} (add them to an account first: runapi admin add-member)")
    return ConsoleUser.from_row(row)


async def user_by_email(db: Database, email: str) -> ConsoleUser | None:
    async with db.read() as conn:
        row = (
            (
                await conn.execute(
                    select(users.c.id, users.c.name, users.c.email, users.c.is_operator).where(
                        users.c.email == email.strip()
                    )
                )
            )
            .mappings()
            .first()
        )
    return ConsoleUser.from_row(row) if row else None


async def is_operator(db: Database, user_id: int) -> bool:
    """Whether the user is the instance's operator (`runapi admin set-password --operator`)."""
    async with db.read() as conn:
        flag = (await conn.execute(select(users.c.is_operator).where(users.c.id == user_id))).scalar()
    return bool(flag)


async def verify_credentials(db: Database, email: str, password: str) -> ConsoleUser | None:
    """The user whose email and password these are, or None (unknown email, no password set, wrong password:
    the same answer and about the same time for each)."""
    async with db.read() as conn:
        row = (
            (
                await conn.execute(
                    select(users.c.id, users.c.name, users.c.email, users.c.is_operator, users.c.password_hash).where(
                        users.c.email == email.strip()
                    )
                )
            )
            .mappings()
            .first()
        )
    stored = row["password_hash"] if row else None
    if not await asyncio.to_thread(password_matches, stored, password):
        return None
    assert row is not None  # (a match needs a stored hash)
    return ConsoleUser.from_row(row)
