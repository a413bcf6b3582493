"""First start on an empty database: create an admin account so the server is usable at once."""

from __future__ import annotations

import logging

from ..auth import admin
from ..services import Services

log = logging.getLogger("runapi")


async def ensure_bootstrap(rt: Services) -> None:
    async with rt.db.startup_lock("bootstrap"):  # processes starting together on an empty database
        if await admin.count_accounts(rt.db):
            return
        s = rt.settings
        created, key = await admin.create_account_with_key(
            rt.db,
            "Default account",
            s.bootstrap_email,
            s.bootstrap_credits_cents,
            "bootstrap",
            token=s.bootstrap_api_key,
        )
        if s.bootstrap_api_key:
            message = f"created account {created['account_id']} with the API key from RUNAPI_BOOTSTRAP_API_KEY"
        else:
            # Shown once; only its hash is stored. `runapi admin create-key` mints more.
            message = (
                f"created account {created['account_id']} with {s.bootstrap_credits_cents} cents of credit.\n"
                f"  API key (shown once): {key.token}\n"
                f"  More keys: runapi admin create-key --account {created['account_id']}"
            )
        print(f"runapi: {message}", flush=True)
        log.info("bootstrap account %s created", created["account_id"])
