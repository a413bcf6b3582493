"""The status body: what GET /api/v1/<family>/<action>/<id> returns and what a callback POSTs."""

from __future__ import annotations

from typing import Any, Mapping

from ..catalog import get_catalog
from ..storage import UrlSigner

WIRE_STATUS = {"queued": "processing", "running": "processing", "completed": "completed", "failed": "failed"}


def status_body(task: Mapping[str, Any], signer: UrlSigner, base_url: str, url_ttl: int) -> dict[str, Any]:
    action = get_catalog().action(task["family"], task["action"])
    fields = set(action.result_fields) if action else {"url"}
    body: dict[str, Any] = {"id": task["id"], "status": WIRE_STATUS[task["state"]]}
    if task["model"]:
        body["model"] = task["model"]
    for name in action.echo if action else ():
        if task["params"].get(name) is not None:
            body[name] = task["params"][name]
    if task["state"] == "completed":
        result = task["result"] or {}
        expires = int((task["completed_at"] or 0) + url_ttl)  # stable URL across polls; links live 7 days
        for kind, items in result.get("files", {}).items():
            body[kind] = [
                {"url": signer.url(base_url, item["key"], expires),
                 **{k: v for k, v in item.items() if k in fields and k != "url"}}
                for item in items
            ]
        body.update(result.get("extra", {}))
    elif task["state"] == "failed":
        body["error"] = task["error"] or "Generation failed"
    return body
