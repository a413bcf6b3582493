"""`runapi providers`: which real upstreams serve each catalog (action, model), from this machine's settings
(RUNAPI_MEDIA_UPSTREAMS / RUNAPI_CONFIG), or with --health from a running server (its operator endpoint)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click


def _local_coverage() -> list[Any]:
    """Coverage against the deployments this machine's settings configure, built as the server builds them
    (no network: adapters are only asked what they support). Keys never leave the adapters."""
    import httpx

    from ..catalog import get_catalog
    from ..providers.inputs import Inputs
    from ..providers.upstream import build_router
    from ..providers.upstream.coverage import coverage
    from .server_cmds import load_settings

    settings = load_settings()  # a bad deployment is one line naming it, exit status 2

    async def build() -> list[Any]:
        async with httpx.AsyncClient() as http:
            try:
                router = build_router(settings.media_upstreams, http, Inputs(http, None, 0))
            except ValueError as exc:
                raise click.ClickException(f"RUNAPI_MEDIA_UPSTREAMS: {exc}") from exc
            try:
                return list(coverage(get_catalog(), router))
            finally:
                if router is not None:
                    await router.aclose()

    return asyncio.run(build())


def _health_table(deployments: list[dict[str, Any]]) -> str:
    rows = [("DEPLOYMENT", "KIND", "CALLS", "ERROR RATE", "P50 S", "P95 S", "COOLING S", "IN FLIGHT", "LAST ERROR")]
    for d in deployments:
        h = d.get("health") or {}
        rows.append(
            (
                str(d.get("name")),
                str(d.get("kind")),
                str(h.get("calls", 0)),
                f"{h['error_rate']:.0%}" if h.get("error_rate") is not None else "-",
                f"{h['latency_p50_seconds']:.2f}" if h.get("latency_p50_seconds") is not None else "-",
                f"{h['latency_p95_seconds']:.2f}" if h.get("latency_p95_seconds") is not None else "-",
                f"{h.get('cooling_seconds', 0):.0f}",
                str(h.get("in_flight", 0)),
                str(h.get("last_error") or "-")[:80],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        " ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]).rstrip() for row in rows
    )


def _remote(api_key: str | None) -> dict[str, Any]:
    import httpx

    from .client_cmds import credentials

    key, base = credentials(api_key)
    try:
        resp = httpx.get(f"{base.rstrip('/')}/api/v1/admin/providers", headers={"Authorization": f"Bearer {key}"})
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach {base}: {exc}") from exc
    if resp.status_code != 200:
        try:
            message = resp.json().get("error", resp.text)
        except ValueError:
            message = resp.text
        raise click.ClickException(f"HTTP {resp.status_code}: {message}")
    body: dict[str, Any] = resp.json()
    return body


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable: {pairs: [...], summary: {...}}.")
@click.option("--markdown", is_flag=True, help="The README's per-family table.")
@click.option(
    "--health",
    is_flag=True,
    help="Ask the running server (RUNAPI_BASE_URL, operator's management key) for each deployment's recent "
    "error rate, latency and cool-down, with the coverage it serves.",
)
@click.option("--api-key", default=None, help="With --health: the operator's management key (else RUNAPI_API_KEY).")
def providers(as_json: bool, markdown: bool, health: bool, api_key: str | None) -> None:
    """Which real upstream kinds can serve each catalog (action, model), and which configured deployments do."""
    from ..providers.upstream import coverage as cov

    if health:
        body = _remote(api_key)
        if as_json:
            click.echo(json.dumps(body, indent=2))
        else:
            click.echo(_health_table(body.get("deployments", [])))
        return
    pairs = _local_coverage()
    if as_json:
        click.echo(json.dumps(cov.as_json(pairs), indent=2))
    elif markdown:
        click.echo(cov.markdown_table(pairs), nl=False)
    else:
        click.echo(cov.text_table(pairs))
