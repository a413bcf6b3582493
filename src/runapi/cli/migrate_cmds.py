"""`runapi admin migrate` (SQLite → PostgreSQL, files → S3) and `runapi admin backup` (online SQLite copy)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy.engine import make_url

from ..settings import Settings
from ..storage.transfer import ObjectCopyReport, copy_to_s3, parse_s3_url
from ..store.backup import backup_sqlite, copy_files
from ..store.transfer import MigrationRefused, describe, migrate
from .admin_cmds import _database

if TYPE_CHECKING:  # boto3 is the optional s3 extra: imported when --storage-to asks for it
    from ..storage.s3 import S3Storage


def _say(message: str) -> None:
    click.echo(f"runapi admin: {message}", err=True)


@click.command("migrate")
@click.option("--to", "target", required=True, help="The new, empty PostgreSQL database: postgresql://user@host/db")
@click.option(
    "--storage-to",
    default=None,
    help="Also copy the local file store into S3: s3://bucket/prefix (endpoint, region and keys from "
    "--s3-endpoint-url/--s3-region, else RUNAPI_S3_* / the AWS environment).",
)
@click.option(
    "--s3-endpoint-url", default=None, help="The S3 endpoint (MinIO, R2, ...); default RUNAPI_S3_ENDPOINT_URL."
)
@click.option("--s3-region", default=None, help="Default RUNAPI_S3_REGION, else us-east-1.")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=500, show_default=True, help="Rows per INSERT.")
@click.option("--dry-run", is_flag=True, help="Only check both sides and report the rows that would be copied.")
def migrate_cmd(
    target: str,
    storage_to: str | None,
    s3_endpoint_url: str | None,
    s3_region: str | None,
    batch_size: int,
    dry_run: bool,
) -> None:
    """Copy this SQLite deployment (every table, every row, ids kept) into an empty PostgreSQL database,
    and optionally its files into S3, then verify the copy.

    The copy is of one snapshot of the database: stop the server (or at least every writer) first, and keep it
    stopped until the new deployment (RUNAPI_DATABASE_URL=the --to URL) is started; what is written after the
    snapshot is not copied. Exits non-zero when anything differs."""
    settings = Settings()
    source = _database(settings, create=False)
    objects: S3Storage | None = None
    if storage_to is not None:
        if settings.storage_backend != "local":
            raise click.ClickException(
                "the files are already in S3 (RUNAPI_STORAGE_BACKEND=s3): leave out --storage-to"
            )
        try:
            bucket, prefix = parse_s3_url(storage_to)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--storage-to") from None
        from ..storage.s3 import S3Storage

        objects = S3Storage(
            bucket,
            prefix,
            endpoint_url=s3_endpoint_url or settings.s3_endpoint_url,
            region=s3_region or settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    copied: dict[str, ObjectCopyReport] = {}

    async def copy_objects() -> None:
        assert objects is not None
        _say(f"copying the files under {settings.resolved_storage_dir} to {storage_to}")
        copied["report"] = await copy_to_s3(settings.resolved_storage_dir, objects, _say)
        if copied["report"].missing:
            raise MigrationRefused(
                f"objects missing in the bucket after the copy: {', '.join(copied['report'].missing[:10])}"
            )

    _say(f"{'checking' if dry_run else 'migrating'} into {make_url(target).render_as_string(hide_password=True)}")
    try:
        report = asyncio.run(
            migrate(
                source,
                target,
                batch_size=batch_size,
                dry_run=dry_run,
                progress=_say,
                before_commit=copy_objects if objects is not None and not dry_run else None,
            )
        )
    except MigrationRefused as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # verification against a database that went away, say: said, not a traceback
        raise click.ClickException(f"migrate failed: {describe(exc)}") from None
    summary: dict[str, Any] = {
        "revision": report.revision,
        "dry_run": dry_run,
        "tables": {t.name: {"source": t.source, "target": t.target} for t in report.tables},
        "rows": sum(t.source for t in report.tables),
    }
    if "report" in copied:
        summary["objects"] = {"copied": copied["report"].objects, "bytes": copied["report"].bytes}
    summary["mismatches"] = list(report.mismatches)
    click.echo(json.dumps(summary, indent=2))
    if report.mismatches:
        raise click.ClickException(f"the copy differs from the source in {len(report.mismatches)} place(s), see above")
    if dry_run:
        _say("dry run: nothing was written")
        return
    _say("verified: rows per table, ledger sums and balances per account, tasks per state all equal")
    if objects is None and settings.storage_backend == "local":
        _say(
            f"files were not copied: give the new deployment the directory {settings.resolved_storage_dir} "
            "(RUNAPI_STORAGE_DIR), or run again into a new database with --storage-to s3://bucket/prefix"
        )
    _say("next: start the server with RUNAPI_DATABASE_URL set to the --to URL (and the same RUNAPI_SECRET_KEY)")


@click.command("backup")
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--with-files", is_flag=True, help="Also copy the local file store into DEST.files/.")
@click.option("--pages", type=click.IntRange(1, 1_000_000), default=1024, show_default=True, help="Pages per step.")
def backup_cmd(dest: Path, with_files: bool, pages: int) -> None:
    """Write a consistent copy of the SQLite database to the new file DEST while the server keeps running
    (SQLite's online backup, from one snapshot). For PostgreSQL use pg_dump."""
    settings = Settings()
    url = _database(settings, create=False)
    if make_url(url).get_backend_name() != "sqlite":
        raise click.ClickException(
            "backup copies SQLite databases; this deployment is on PostgreSQL: use pg_dump "
            "(e.g. pg_dump -Fc -f runapi.dump 'postgresql://...') and pg_restore"
        )
    source = Path(str(make_url(url).database))
    shown = {"percent": -1}

    def progress(done: int, total: int) -> None:
        percent = done * 100 // max(total, 1)
        if percent // 10 != shown["percent"] // 10 or done == total:
            shown["percent"] = percent
            _say(f"backup: {done}/{total} pages ({percent}%)")

    try:
        report = backup_sqlite(source, dest, pages, progress)
        out: dict[str, Any] = {"backup": str(report.path), "pages": report.pages, "integrity_check": report.integrity}
        if with_files:
            files_dest = dest.with_name(dest.name + ".files")
            count, size = copy_files(settings.resolved_storage_dir, files_dest)
            out["files"] = {"directory": str(files_dest), "count": count, "bytes": size}
    except (OSError, RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # sqlite3.Error: a damaged or locked source
        raise click.ClickException(f"backup failed: {exc.__class__.__name__}: {exc}") from None
    click.echo(json.dumps(out, indent=2))
