"""Stored Responses API responses: what `previous_response_id` continues and GET/DELETE /v1/responses/{id}
return. Kept in the database (not in a process's memory) so every API process and every restart sees them,
for `responses_retention_days` (30, as OpenAI keeps them); the expiry job deletes them after that. Only keys of
the account that created a response can see it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import delete, insert, select

from ...store import Database
from ...store.schema import stored_responses

MAX_BYTES = 16 * 1024 * 1024  # a response and its conversation larger than this is not stored


@dataclass
class Stored:
    response: dict[str, Any]
    messages: list[dict[str, Any]]  # the whole conversation up to and including this response's output


async def put(
    db: Database,
    resp_id: str,
    account_id: int,
    response: dict[str, Any],
    messages: list[dict[str, Any]],
    retention_seconds: float,
) -> bool:
    """Keep a finished response; False when it is too big to keep."""
    if len(orjson.dumps(response)) + len(orjson.dumps(messages)) > MAX_BYTES:
        return False
    now = time.time()
    row = {
        "id": resp_id,
        "account_id": account_id,
        "response": response,
        "messages": messages,
        "created_at": now,
        "expires_at": now + retention_seconds,
    }
    await db.write_sync(lambda conn: conn.execute(insert(stored_responses), row))
    return True


async def get(db: Database, resp_id: str, account_id: int) -> Stored | None:
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(stored_responses.c.response, stored_responses.c.messages).where(
                    stored_responses.c.id == resp_id,
                    stored_responses.c.account_id == account_id,
                    stored_responses.c.expires_at > time.time(),
                )
            )
        ).first()
    return Stored(row.response, row.messages) if row else None


async def remove(db: Database, resp_id: str, account_id: int) -> bool:
    stmt = delete(stored_responses).where(
        stored_responses.c.id == resp_id,
        stored_responses.c.account_id == account_id,
        stored_responses.c.expires_at > time.time(),
    )
    return bool(await db.write_sync(lambda conn: conn.execute(stmt).rowcount) == 1)


async def expire(db: Database, limit: int = 500) -> int:
    """Delete at most `limit` expired responses, the oldest first (the retention job: bounded, it runs again
    later; SKIP LOCKED on PostgreSQL so processes running it at once take different rows). Returns how many."""
    due = (
        select(stored_responses.c.id)
        .where(stored_responses.c.expires_at <= time.time())
        .order_by(stored_responses.c.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    stmt = delete(stored_responses).where(stored_responses.c.id.in_(due))
    return await db.write_sync(lambda conn: conn.execute(stmt).rowcount)
