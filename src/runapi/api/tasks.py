"""Task routes that are not per catalog action: /api/v1/tasks/<id>/cancel (any task of the key's account)."""

from __future__ import annotations

from starlette.routing import Route

from .media import cancel_endpoint

routes = [
    Route("/api/v1/tasks/{task_id}/cancel", cancel_endpoint(None), methods=["POST"], name="tasks:cancel"),
]
