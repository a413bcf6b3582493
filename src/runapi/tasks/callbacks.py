"""A task's callback deliveries as its owner sees them, and the replay of its final callback: the rules the
API (GET/POST /api/v1/tasks/<id>/callbacks...) and the console's task page share. The caller has already
decided that its user may see the task."""

from __future__ import annotations

import asyncio
from typing import Protocol

from ..callbacks.history import Delivery, deliveries_of, replay_final
from ..domain.task import Task
from ..errors import Conflict
from ..store import Database
from . import engine


class ReplayServices(Protocol):
    """What a replay uses of the services (runapi.services.Services is one)."""

    db: Database
    callback_wake: asyncio.Event


async def callback_history(db: Database, task: Task) -> list[Delivery]:
    """The task's deliveries in the order they are sent, each with its attempts."""
    return await deliveries_of(db, task.id, engine.final_callback_seq(task))


async def replay_callback(rt: ReplayServices, task: Task) -> str:
    """Send the task's final callback again (same X-Callback-Id, signed afresh) and wake the sender. Returns the
    delivery's id; Conflict without a callback_url, before the task has finished, or while it is still being
    delivered."""
    if not task.callback_url:
        raise Conflict("The task has no callback_url")
    if not task.state.terminal:
        raise Conflict("The task has not finished yet: its final callback is sent when it does")
    callback_id = await replay_final(rt.db, task.id, engine.final_callback_seq(task))
    rt.callback_wake.set()  # send it now
    return callback_id
