"""Retention: the expiry job every process that owns the services runs (services.py, every
RUNAPI_RETENTION_INTERVAL_SECONDS) and `runapi admin expire` runs once.

One run deletes, at most `batch` of each kind, oldest first:
- uploads past their hour and multipart uploads not completed within theirs (storage/expiry.py, as before);
- the generated files of tasks that finished more than `generated_media_retention_days` ago (the docs: generated
  links are valid 7 days). The task stays, its files marked expired (the status body then carries
  `outputs_expired_at` and unsigned links that answer 410);
- tasks that finished more than `task_retention_days` ago, with their files, callback deliveries and attempts,
  listener events and video-deletion marks; only settled tasks with no callback being delivered
  (tasks/retention.py);
- usage-log rows older than `usage_retention_days` (billing/usage.py). The ledger is never deleted: it is the
  account's books (the balance is its sum, all-time spend limits are derived from it);
- stored Responses API responses past their RUNAPI_RESPONSES_RETENTION_DAYS (llm/openai_responses/stored.py).
A limit of 0 keeps that kind for ever. What a run leaves over, the next run takes: no run is unbounded, and
processes running it at once claim different rows (tasks/retention.py)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from .billing import usage
from .llm.openai_responses import stored as stored_responses
from .settings import Settings
from .storage import Storage, files_store
from .storage.expiry import expire_files
from .store import Database
from .tasks import retention as task_rows

DAY = 86_400


@dataclass(frozen=True)
class Retention:
    """How long each kind is kept, in days (0: for ever), and the most of each kind one run deletes."""

    generated_media_days: int = 7
    task_days: int = 30
    usage_days: int = 90
    batch: int = 500

    @classmethod
    def from_settings(cls, s: Settings) -> Retention:
        return cls(s.generated_media_retention_days, s.task_retention_days, s.usage_retention_days, s.retention_batch)


@dataclass(frozen=True)
class ExpiryReport:
    """What one run removed."""

    files: int = 0  # uploads past their hour (and expired multipart uploads' reservations)
    media_tasks: int = 0  # tasks whose generated files were deleted (the tasks stay)
    tasks: int = 0  # task rows deleted
    objects: int = 0  # storage objects deleted (generated files, of both passes)
    callback_deliveries: int = 0
    callback_attempts: int = 0
    listen_events: int = 0
    usage_rows: int = 0
    responses: int = 0  # stored Responses API responses past their days

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


async def _purge(storage: Storage, claimed: list[task_rows.Claimed]) -> int:
    """Delete every object of the claimed tasks: the keys their results name and whatever else is under their
    folder (stage outputs of a failed task, what a crashed run left). Idempotent."""
    keys: dict[str, None] = {}
    for c in claimed:
        keys.update(dict.fromkeys(c.keys))
        keys.update(dict.fromkeys(await storage.keys_under(task_rows.generated_prefix(c.id))))
    if keys:
        await storage.delete_many(list(keys))
    return len(keys)


async def run_expiry(db: Database, storage: Storage, policy: Retention, now: float | None = None) -> ExpiryReport:
    """One bounded pass over every kind (see the module docstring)."""
    now = time.time() if now is None else now
    owner = task_rows.new_owner()
    files = await expire_files(db, storage, policy.batch)
    media_tasks = objects = 0
    if policy.generated_media_days:
        claimed = await task_rows.claim_media(db, now - policy.generated_media_days * DAY, policy.batch, owner)
        objects += await _purge(storage, claimed)
        await task_rows.release(db, [c.id for c in claimed], owner)
        media_tasks = len(claimed)
    deleted = task_rows.Deleted()
    if policy.task_days:
        claimed = await task_rows.claim_deletable(db, now - policy.task_days * DAY, policy.batch, owner)
        objects += await _purge(storage, claimed)
        deleted = await task_rows.delete_claimed(db, [c.id for c in claimed], owner)
    usage_rows = await usage.expire(db, now - policy.usage_days * DAY, policy.batch) if policy.usage_days else 0
    responses = await stored_responses.expire(db, policy.batch)
    return ExpiryReport(
        files=files,
        media_tasks=media_tasks,
        tasks=deleted.tasks,
        objects=objects,
        callback_deliveries=deleted.callback_deliveries,
        callback_attempts=deleted.callback_attempts,
        listen_events=deleted.listen_events,
        usage_rows=usage_rows,
        responses=responses,
    )


KINDS = ("generated", "uploads", "openai_files", "upload_parts")


@dataclass(frozen=True)
class Usage:
    files: int = 0
    bytes: int = 0

    def plus(self, files: int, size: int) -> Usage:
        return Usage(self.files + files, self.bytes + size)


@dataclass(frozen=True)
class StorageUsage:
    """What storage holds, by kind and by account, from the database's rows (no object listing): generated
    files from the sizes recorded when their task completed, uploads from their rows. `unsized_tasks`: finished
    tasks with kept files whose sizes were never recorded (completed before the sizes were kept)."""

    by_kind: dict[str, Usage]
    by_account: dict[int, dict[str, Usage]]
    unsized_tasks: int

    def as_dict(self) -> dict[str, object]:
        def total(kinds: dict[str, Usage]) -> dict[str, int]:
            return {"files": sum(u.files for u in kinds.values()), "bytes": sum(u.bytes for u in kinds.values())}

        return {
            "kinds": {k: asdict(u) for k, u in self.by_kind.items()},
            "total": total(self.by_kind),
            "accounts": [
                {"account_id": a, "kinds": {k: asdict(u) for k, u in kinds.items()}, **total(kinds)}
                for a, kinds in sorted(self.by_account.items())
            ],
            "unsized_tasks": self.unsized_tasks,
        }


async def storage_usage(db: Database) -> StorageUsage:
    by_kind = dict.fromkeys(KINDS, Usage())
    by_account: dict[int, dict[str, Usage]] = {}
    generated, unsized = await task_rows.generated_usage(db)
    rows = [(account, "generated", n, size) for account, _tasks, n, size in generated]
    rows += await files_store.usage_by_account(db)
    for account, kind, n, size in rows:
        by_kind[kind] = by_kind[kind].plus(n, size)
        mine = by_account.setdefault(account, {})
        mine[kind] = mine.get(kind, Usage()).plus(n, size)
    return StorageUsage(by_kind, by_account, unsized)
