"""Fair claiming across accounts without a server (issue 11): one account's backlog does not hold another's
tasks back. The slow-peer tests over sockets are in tests/e2e/test_abuse_fetch.py."""

from __future__ import annotations

import asyncio
from collections import Counter

from runapi.auth import admin
from runapi.domain.task import NewTask
from runapi.store import Database
from runapi.tasks import engine
from tests.support.servers import test_settings as settings_for


def test_claiming_takes_turns_across_accounts(tmp_path):
    """engine.claim_due on the suite's database (SQLite, or PostgreSQL with RUNAPI_TEST_DATABASE_URL): an
    account's flood of older tasks does not hide the others' behind the LIMIT; idle slots are lent."""
    settings = settings_for(tmp_path)

    async def go():
        db = Database(settings.resolved_database_url, "NORMAL")
        await db.create_schema()
        try:
            owners = {}
            for name, count in (("a", 10), ("b", 2), ("c", 1)):
                acct = (await admin.create_account(db, name, f"{name}@example.com", 10_000))["account_id"]
                owners[acct] = name
                for i in range(count):
                    await engine.create_task(
                        db,
                        NewTask(
                            account_id=acct,
                            api_key_id=None,
                            family="nano_banana",
                            action="text_to_image",
                            model="nano-banana",
                            params={"prompt": i},
                            price_cents=1,
                            provider="sandbox",
                            public_base_url="",
                        ),
                    )

            def by_owner(rows):
                return Counter(owners[r.account_id] for r in rows)

            first = await engine.claim_due(db, "w", 5, 30, held={}, share=2, ceiling=3)
            held = Counter(r.account_id for r in first)
            # only a and b can use the next slots; b has nothing more due: a borrows up to the ceiling
            second = await engine.claim_due(db, "w", 5, 30, held=held, share=2, ceiling=3)
            # without a share: oldest first, as before
            rest = await engine.claim_due(db, "w2", 20, 30)
            return by_owner(first), by_owner(second), by_owner(rest)
        finally:
            await db.dispose()

    first, second, rest = asyncio.run(go())
    assert first == {"a": 2, "b": 2, "c": 1}
    assert second == {"a": 1}
    assert rest == {"a": 7}
