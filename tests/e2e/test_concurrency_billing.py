"""200 simultaneous creates against a balance that covers only some of them: exactly that many are
accepted, the rest get 402, the balance never goes negative, and the ledger balances to the cent. On each
database backend (SQLite; PostgreSQL, where the reserve is a conditional update under real concurrency)."""

import asyncio

import httpx
from sqlalchemy import select

from runapi.store.schema import accounts, ledger, tasks
from tests.support.servers import new_account, wait_done

T2I = "/api/v1/nano_banana/text_to_image"


def test_200_simultaneous_requests_never_overspend(db_server):
    server = db_server
    credits = 4 * 37 + 3  # room for 37 nano-banana tasks at 4 cents, and 3 cents left over
    account_id, key = new_account(server, credits=credits)

    async def fire():
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=60
        ) as c:
            return await asyncio.gather(
                *(c.post(T2I, json={"model": "nano-banana", "prompt": f"p{i}"}) for i in range(200))
            )

    responses = asyncio.run(fire())
    codes = [r.status_code for r in responses]
    assert codes.count(202) == 37 and codes.count(402) == 163, sorted(set(codes))
    assert all(r.json() == {"error": "Insufficient credits"} for r in responses if r.status_code == 402)

    with server.client(key) as c:
        for r in responses:
            if r.status_code == 202:
                wait_done(c, T2I, r.json()["id"])
        assert c.get("/api/v1/me/balance").json()["balance_cents"] == 3

    async def audit(db):
        async with db.read() as conn:
            balance = (
                await conn.execute(select(accounts.c.balance_cents).where(accounts.c.id == account_id))
            ).scalar_one()
            entries = (
                await conn.execute(
                    select(ledger.c.kind, ledger.c.amount_cents).where(ledger.c.account_id == account_id)
                )
            ).all()
            n_tasks = len((await conn.execute(select(tasks.c.id).where(tasks.c.account_id == account_id))).all())
        return balance, entries, n_tasks

    balance, entries, n_tasks = server.db_call(audit)
    assert balance == sum(amount for _, amount in entries) == 3
    assert n_tasks == 37 and sum(1 for k, _ in entries if k == "reserve") == 37
