"""CPU per task status read, three ways, in one process on a SQLite file: the async engine (`Database.read`),
`Database.read_sync` (synchronous SQLAlchemy on the read pool) and `Database.read_rows` (compiled once, plain
sqlite3 on the read pool). Interleaved rounds; medians of CPU and wall microseconds per read.

Usage: python bench/read_paths.py [--reads 3000] [--concurrency 16] [--rounds 3]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable

from runapi.auth import admin
from runapi.domain.task import NewTask
from runapi.settings import Settings
from runapi.store import Database
from runapi.tasks import engine


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        db = Database(Settings(data_dir=data_dir).resolved_database_url)
        await db.create_schema()
        account = (await admin.create_account(db, "a", "a@example.com", 1000))["account_id"]
        task, _ = await engine.create_task(
            db,
            NewTask(
                account_id=account,
                api_key_id=None,
                family="nano_banana",
                action="text_to_image",
                model="nano-banana",
                params={"prompt": "bench"},
                price_cents=1,
                provider="sandbox",
                public_base_url="http://127.0.0.1",
            ),
        )
        params = {"task_id": task.id, "account_id": account}

        async def via_async() -> object:
            async with db.read() as conn:
                return (await conn.execute(engine.TASK_QUERY, params)).mappings().first()

        async def via_read_sync() -> object:
            return await db.read_sync(lambda conn: conn.execute(engine.TASK_QUERY, params).mappings().first())

        async def via_read_rows() -> object:
            return await db.read_rows(engine.TASK_QUERY, **params)

        async def measure(read: Callable[[], Awaitable[object]]) -> tuple[float, float]:
            todo = iter(range(args.reads))

            async def worker() -> None:
                for _ in todo:
                    await read()

            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            return (
                (time.process_time() - cpu0) * 1e6 / args.reads,
                (time.perf_counter() - wall0) * 1e6 / args.reads,
            )

        paths = {"async_engine": via_async, "read_sync": via_read_sync, "read_rows": via_read_rows}
        for read in paths.values():
            await measure(read)  # warm: connections, compiled statements
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
        for _ in range(args.rounds):
            for name, read in paths.items():
                figures[name].append(await measure(read))
        await db.dispose()
    print(
        json.dumps(
            {
                "benchmark": "read_paths",
                "reads": args.reads,
                "concurrency": args.concurrency,
                **{
                    name: {
                        "cpu_us_per_read": round(statistics.median(c for c, _ in runs), 1),
                        "wall_us_per_read": round(statistics.median(w for _, w in runs), 1),
                        "cpu_us_per_round": [round(c, 1) for c, _ in runs],
                    }
                    for name, runs in figures.items()
                },
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
