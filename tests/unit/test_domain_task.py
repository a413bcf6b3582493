"""TaskState and Task (domain/task.py): the wire status each state shows, and a `tasks` row read into a frozen
Task and back, column for column."""

from __future__ import annotations

import dataclasses

import pytest

from runapi.domain.task import TERMINAL_STATES, UNFINISHED_STATES, NewTask, Task, TaskState
from runapi.store.schema import tasks


def row(**over: object) -> dict[str, object]:
    """A full `tasks` row as the database returns it (the state a plain string)."""
    base: dict[str, object] = {
        "id": "8b0c…",
        "account_id": 7,
        "api_key_id": "token_1",
        "family": "suno",
        "action": "text_to_music",
        "model": "V4_5",
        "params": {"prompt": "rain"},
        "state": "running",
        "result": None,
        "error": None,
        "price_cents": 12,
        "provider": "sandbox",
        "provider_job": {"ready_at": 3.0},
        "stage": "text_generated",
        "polls": 2,
        "failures": 1,
        "next_run_at": 10.5,
        "lease_owner": "host:1:ab",
        "lease_until": 40.5,
        "callback_url": "https://example.com/cb",
        "public_base_url": "http://127.0.0.1:8000",
        "idempotency_key": "k-1",
        "request_hash": "ab" * 32,
        "client_request_id": "req-9",
        "spend_counters": [["key:token_1:daily", 1700000000.0]],
        "created_at": 1.0,
        "updated_at": 2.0,
        "completed_at": None,
        "output_files": None,
        "output_bytes": None,
        "outputs_expired_at": None,
    }
    base.update(over)
    return base


@pytest.mark.parametrize(
    ("state", "wire", "terminal"),
    [
        (TaskState.QUEUED, "processing", False),
        (TaskState.RUNNING, "processing", False),
        (TaskState.COMPLETED, "completed", True),
        (TaskState.FAILED, "failed", True),
    ],
)
def test_each_state_shows_its_wire_status(state, wire, terminal):
    assert state.wire == wire
    assert state.terminal is terminal
    assert (state in TERMINAL_STATES) is terminal and (state in UNFINISHED_STATES) is not terminal


def test_states_are_the_stored_strings():
    # members are str: they bind and compare in SQL as the values the column holds
    assert [s.value for s in TaskState] == ["queued", "running", "completed", "failed"]
    assert TaskState("completed") is TaskState.COMPLETED and TaskState.FAILED == "failed"
    assert f"{TaskState.RUNNING}" == "running"
    with pytest.raises(ValueError):
        TaskState("processing")  # a wire status, not a state


def test_a_task_has_a_field_for_every_column():
    assert {f.name for f in dataclasses.fields(Task)} == set(tasks.c.keys())


def test_from_row_round_trip():
    original = row()
    task = Task.from_row(original)
    assert task.state is TaskState.RUNNING and task.kind == "suno/text_to_music"
    assert task.params == {"prompt": "rain"} and task.spend_counters == [["key:token_1:daily", 1700000000.0]]
    back = task.to_row()
    assert back == original and type(back["state"]) is str
    assert Task.from_row(back) == task


def test_from_row_ignores_other_keys_and_needs_every_column():
    assert Task.from_row({**row(), "callback_secret": "x"}) == Task.from_row(row())
    partial = row()
    del partial["stage"]
    with pytest.raises(KeyError):
        Task.from_row(partial)


def test_a_task_is_frozen_and_copied_with_replace():
    task = Task.from_row(row())
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.state = TaskState.FAILED  # type: ignore[misc]
    done = dataclasses.replace(task, state=TaskState.COMPLETED, result={"files": {}})
    assert (done.state, task.state) == (TaskState.COMPLETED, TaskState.RUNNING)
    assert not hasattr(task, "__dict__")  # slots


def test_new_task_defaults():
    new = NewTask(
        account_id=1,
        api_key_id=None,
        family="f",
        action="a",
        model=None,
        params={},
        price_cents=0,
        provider="sandbox",
        public_base_url="",
    )
    assert (
        new.idempotency_key,
        new.guardrail_id,
        new.member_guardrail_id,
        new.provider_job,
        new.client_request_id,
        new.limits,
    ) == (None, None, None, None, None, ())
