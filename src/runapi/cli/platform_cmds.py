"""`runapi account …`, `runapi pricing …` and `runapi files …`, with the platform CLI's grammar
(runapi-ai/cli: cmd/runapi/cli.go accountCommand/filesCommand, pricing_test.go, README "Live pricing" and the
File lifecycle): JSON on stdout, failures through client.CliFailure.

`files create` is the temporary upload (POST /api/v1/files: a path, --url or --base64); `files create-file`,
`list`, `retrieve`, `content` and `delete` are the persistent files of the OpenAI-style /v1/files API."""

from __future__ import annotations

import mimetypes
import sys
from pathlib import Path
from typing import Any

import click

from .client import Api, CliFailure, emit, global_options, read_input, usage_failure


@click.group()
def account() -> None:
    """The account this key belongs to."""


@account.command("info")
@global_options
def account_info() -> None:
    """The current user and account record."""
    with Api() as api:
        emit(api.json("GET", "/api/v1/me"))


@account.command("balance")
@global_options
def account_balance() -> None:
    """The balance and spend counters, in cents."""
    with Api() as api:
        emit(api.json("GET", "/api/v1/me/balance"))


# ----------------------------------------------------------------------------------------------- pricing


@click.group()
def pricing() -> None:
    """Current price schedules and task reservation quotes."""


@pricing.command("list")
@click.option("--service", default=None, help="Only this service (e.g. nano_banana).")
@click.option("--action", default=None, help="Only this action (e.g. text_to_image).")
@click.option("--model", default=None, help="Only this model.")
@global_options
def pricing_list(service: str | None, action: str | None, model: str | None) -> None:
    """List price schedules (public: no API key needed)."""
    query = {k: v for k, v in {"service": service, "action": action, "model": model}.items() if v}
    with Api(auth=False) as api:
        emit(api.json("GET", "/api/v1/price_schedules", params=query))


@pricing.command("quote")
@click.option("--service", required=True, help="The service, e.g. nano_banana.")
@click.option("--action", required=True, help="The action, e.g. text_to_image.")
@click.option("--model", default=None, help="The model.")
@click.option("--params", "params_json", default=None, help="The request's parameters as a JSON object.")
@click.option("--params-file", "params_file", default=None, help="A JSON file of the parameters (- for stdin).")
@global_options
def pricing_quote(
    service: str, action: str, model: str | None, params_json: str | None, params_file: str | None
) -> None:
    """What creating this task would reserve."""
    body: dict[str, Any] = {
        "service": service,
        "action": action,
        "params": read_input(params_json, params_file, "--params"),
    }
    if model:
        body["model"] = model
    with Api() as api:
        emit(api.json("POST", "/api/v1/price_quotes", json=body))


# ------------------------------------------------------------------------------------------------- files


@click.group()
def files() -> None:
    """Temporary uploads and persistent files."""


@files.command("create")
@click.argument("path", required=False)
@click.option("--url", "source_url", default=None, help="Remote file URL source.")
@click.option("--base64", "base64_data", default=None, help="Base64 encoded file data source.")
@click.option("--file-name", default=None, help="Optional file name.")
@click.option("--url-only", is_flag=True, help="Print only the uploaded file's URL.")
@global_options
def files_create(
    path: str | None, source_url: str | None, base64_data: str | None, file_name: str | None, url_only: bool
) -> None:
    """Upload a temporary file from a local path, a URL or base64 data."""
    sources = [s for s in (path, source_url, base64_data) if s and s.strip()]
    if len(sources) != 1:
        raise usage_failure("exactly one source is required: path, --url, or --base64")
    with Api() as api:
        if path:
            content = _read_local(path)
            data = {"file_name": file_name} if file_name else {}
            mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
            made = api.json("POST", "/api/v1/files", files={"file": (Path(path).name, content, mime)}, data=data)
        else:
            source = {"type": "url", "url": source_url} if source_url else {"type": "base64", "data": base64_data}
            body: dict[str, Any] = {"source": source, **({"file_name": file_name} if file_name else {})}
            made = api.json("POST", "/api/v1/files", json=body)
    if url_only:
        click.echo(made.get("url", "") if isinstance(made, dict) else "")
    else:
        emit(made)


@files.command("create-file")
@click.argument("path")
@click.option("--purpose", default="user_data", show_default=True, help="The file's purpose.")
@global_options
def files_create_file(path: str, purpose: str) -> None:
    """Upload a persistent file (POST /v1/files)."""
    content = _read_local(path)
    mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
    with Api() as api:
        emit(api.json("POST", "/v1/files", files={"file": (Path(path).name, content, mime)}, data={"purpose": purpose}))


@files.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=None, help="Files per page.")
@click.option("--after", default=None, help="Cursor: the files after this file id.")
@click.option("--before", default=None, help="Cursor: the files before this file id.")
@click.option("--order", type=click.Choice(["asc", "desc"]), default=None, help="By creation time.")
@click.option("--purpose", default=None, help="Only files with this purpose.")
@global_options
def files_list(
    limit: int | None, after: str | None, before: str | None, order: str | None, purpose: str | None
) -> None:
    """List persistent files, a page at a time (has_more, first_id, last_id for the next cursor)."""
    query = {"limit": limit, "after": after, "before": before, "order": order, "purpose": purpose}
    with Api() as api:
        emit(api.json("GET", "/v1/files", params={k: v for k, v in query.items() if v is not None}))


@files.command("retrieve")
@click.argument("file_id")
@global_options
def files_retrieve(file_id: str) -> None:
    """A persistent file's record."""
    with Api() as api:
        emit(api.json("GET", f"/v1/files/{file_id}"))


@files.command("content")
@click.argument("file_id")
@click.option("--output", "-o", default=None, help="Write the bytes to this path (else to stdout).")
@global_options
def files_content(file_id: str, output: str | None) -> None:
    """A persistent file's exact bytes."""
    with Api() as api:
        data = api.call("GET", f"/v1/files/{file_id}/content").content
    if output:
        try:
            Path(output).write_bytes(data)
        except OSError as exc:
            raise CliFailure(1, f"cannot write {output}: {exc}") from None
        emit({"id": file_id, "output": output, "bytes": len(data)})
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


@files.command("delete")
@click.argument("file_id")
@global_options
def files_delete(file_id: str) -> None:
    """Delete a persistent file."""
    with Api() as api:
        emit(api.json("DELETE", f"/v1/files/{file_id}"))


@click.command("version")
def version() -> None:
    """Print the CLI's version as JSON."""
    from ..version import version as installed

    emit({"version": installed()})


def _read_local(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise usage_failure(f"cannot read {path}: {exc}") from None


commands: list[click.Command] = [account, pricing, files, version]
