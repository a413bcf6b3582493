"""Another account's callback latency while one account's receivers answer 200 and drip their bodies.

Account A creates N tasks whose callbacks go to receivers that answer 200 and then send one body byte every
second for `--drip` seconds; once A's deliveries are in flight, account B creates one task with a healthy
receiver. Prints B's latency (task created → callback received), bounded by `--bound`, and what A's
receivers saw. Server settings are the defaults (10 s callback timeout, 16 delivery slots) unless overridden.

Usage (from the repository root): PYTHONPATH=src:. python bench/callback_fairness.py [--receivers 16]
  [--drip 60] [--bound 150]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from runapi.settings import DEFAULT_CALLBACK_DELAYS
from runapi.store.schema import callback_deliveries
from tests.e2e.test_abuse_callbacks import DripReceiver
from tests.support.servers import Recorder, new_account, start_server, wait_for

T2I = "/api/v1/nano_banana/text_to_image"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--receivers", type=int, default=16)
    ap.add_argument("--drip", type=float, default=60.0, help="seconds each dripping answer lasts")
    ap.add_argument("--bound", type=float, default=150.0, help="stop waiting for B's callback after this")
    args = ap.parse_args()

    srv = start_server(
        Path(tempfile.mkdtemp(prefix="cb-fair-")),
        callback_timeout_seconds=10.0,
        callback_retry_delays=DEFAULT_CALLBACK_DELAYS,
    )
    attacker = DripReceiver(interval=1.0, seconds=args.drip)
    victim = Recorder()
    try:
        _, key = new_account(srv)
        with srv.client(key) as a:
            for i in range(args.receivers):
                a.post(T2I, json={"model": "nano-banana", "prompt": f"a{i}", "callback_url": f"{attacker.url}/{i}"})
        wait_for(lambda: attacker.open >= min(args.receivers, 4))
        time.sleep(1.0)  # let every slot A can get fill up
        with srv.client() as b:
            created = time.time()
            b.post(T2I, json={"model": "nano-banana", "prompt": "b", "callback_url": victim.url})
            while not victim.requests and time.time() - created < args.bound:
                time.sleep(0.05)
        latency = time.time() - created if victim.requests else None

        async def attempts(db):
            async with db.read() as conn:
                return (
                    await conn.execute(
                        select(func.sum(callback_deliveries.c.attempts)).where(callback_deliveries.c.account_id != 1)
                    )
                ).scalar()

        print(
            json.dumps(
                {
                    "receivers": args.receivers,
                    "drip_seconds": args.drip,
                    "victim_callback_latency_s": round(latency, 2) if latency is not None else f">{args.bound}",
                    "attacker_posts": len(attacker.posts),
                    "attacker_max_open_at_once": attacker.max_open,
                    "attacker_attempts_recorded": srv.db_call(attempts),
                }
            )
        )
    finally:
        attacker.close()
        victim.close()
        srv.stop()


if __name__ == "__main__":
    main()
