"""`runapi get <task-id> --service S --action A` and `runapi wait <task-id> --service S --action A`, as the
platform CLI has them (runapi-ai/cli@cmd/runapi/cli.go getCommand/waitCommand): service and action in either
spelling (nano-banana / nano_banana, text-to-image / text_to_image), checked against the catalog first."""

from __future__ import annotations

import click

from ..catalog import get_catalog
from .client import Api, emit, global_options, usage_failure, wait_for


def service_action(service: str | None, action: str | None) -> tuple[str, str]:
    """The catalog's (family, action) for the flags; a usage failure (exit 4) when missing or unknown."""
    if not (service or "").strip() or not (action or "").strip():
        raise usage_failure("--service and --action are required")
    family, name = str(service).strip().replace("-", "_"), str(action).strip().replace("-", "_")
    if get_catalog().action(family, name) is None:
        raise usage_failure(f"unsupported service/action: {service}/{action}")
    return family, name


_service = click.option("--service", default=None, help="Service name, for example suno, veo-3-1 or nano-banana.")
_action = click.option("--action", default=None, help="Action within the service, for example text-to-image.")


@click.command("get")
@click.argument("task_id")
@_service
@_action
@global_options
def get(task_id: str, service: str | None, action: str | None) -> None:
    """Fetch the current state of an async task (without waiting)."""
    family, name = service_action(service, action)
    with Api() as api:
        emit(api.json("GET", f"/api/v1/{family}/{name}/{task_id}"))


@click.command("wait")
@click.argument("task_id")
@_service
@_action
@global_options
def wait(task_id: str, service: str | None, action: str | None) -> None:
    """Poll an async task until it completes (exit 0), fails (exit 7) or --timeout ends (exit 5)."""
    family, name = service_action(service, action)
    with Api() as api:
        emit(wait_for(api, family, name, task_id))


commands: list[click.Command] = [get, wait]
