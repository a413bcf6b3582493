"""Online backup of a SQLite deployment (`runapi admin backup`), safe while the server writes.

SQLite's backup API copies page by page. A backup that takes a fresh read lock at each step restarts whenever
another connection commits, so under steady writes it may never finish; here the source connection holds one
read transaction for the whole copy instead, so every step reads the same WAL snapshot (committed WAL frames
included) while writers carry on. The copy is written next to DEST, switched to a single self-contained file
(journal_mode=DELETE), checked with `PRAGMA integrity_check`, and only then renamed to DEST.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BackupReport:
    path: Path
    pages: int
    integrity: str  # "ok" or the first problem integrity_check found


def backup_sqlite(
    source: Path, dest: Path, pages_per_step: int = 1024, progress: Callable[[int, int], None] | None = None
) -> BackupReport:
    """Copy the database at `source` into the new file `dest` (refused if it exists)."""
    if dest.exists():
        raise FileExistsError(f"{dest} already exists: choose a new file name")
    if not source.is_file():
        raise FileNotFoundError(f"no database at {source}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    done = {"pages": 0}

    def step(_status: int, remaining: int, total: int) -> None:
        done["pages"] = total
        if progress is not None:
            progress(total - remaining, total)

    src = sqlite3.connect(source, timeout=30, isolation_level=None)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchall()  # the snapshot every step reads
        dst = sqlite3.connect(partial, isolation_level=None)
        try:
            src.backup(dst, pages=pages_per_step, progress=step)
            dst.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
            integrity = str(dst.execute("PRAGMA integrity_check").fetchone()[0])
        finally:
            dst.close()
        src.execute("ROLLBACK")
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    finally:
        src.close()
    if integrity != "ok":
        raise RuntimeError(f"the backup failed its integrity check ({integrity}); left at {partial}")
    os.replace(partial, dest)
    return BackupReport(dest, done["pages"], integrity)


def copy_files(root: Path, dest: Path) -> tuple[int, int]:
    """Copy the local file store under `root` to the new directory `dest` (objects being written, the
    storage's .tmp- files, are skipped). Returns (files, bytes)."""
    if dest.exists():
        raise FileExistsError(f"{dest} already exists: choose a new directory")
    count = size = 0
    if not root.is_dir():
        dest.mkdir(parents=True)
        return 0, 0
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith(".tmp-"):
            continue
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(path, target)
        except FileNotFoundError:  # deleted (expired) while we walked
            continue
        count += 1
        size += target.stat().st_size
    dest.mkdir(parents=True, exist_ok=True)
    return count, size
