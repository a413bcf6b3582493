"""The billing facts and usage a task's HTTP body carries (tasks/views.py), as the platform's typed SDKs read
them: reservation at create, then settlement (completed) or refund (failed); usage.cost once completed."""

from __future__ import annotations

import dataclasses

from runapi.domain.task import Task, TaskState
from runapi.tasks.views import billing_facts, usage_facts
from tests.unit.test_domain_task import row

CREATED, DONE = 1_767_225_600.0, 1_767_225_642.5


def task(state: TaskState, **over: object) -> Task:
    base = Task.from_row(row(price_cents=12, created_at=CREATED, completed_at=None))
    return dataclasses.replace(base, state=state, **over)  # type: ignore[arg-type]


def test_a_processing_task_shows_its_reservation_only():
    facts = billing_facts(task(TaskState.RUNNING))
    assert facts == {
        "reservation": {"amount_cents": 12, "reserved_at": "2026-01-01T00:00:00Z"},
        "settlement": None,
        "refund": None,
    }
    assert usage_facts(task(TaskState.QUEUED)) is None


def test_a_completed_task_is_settled_at_its_price_and_shows_its_cost():
    done = task(TaskState.COMPLETED, completed_at=DONE, result={"files": {"images": [{"key": "a"}, {"key": "b"}]}})
    facts = billing_facts(done)
    assert facts["settlement"] == {
        "charged_amount_cents": 12,
        "amount_micro_cents": 12_000_000,
        "settled_at": "2026-01-01T00:00:42Z",
    }
    assert facts["refund"] is None
    usage = usage_facts(done)
    assert usage == {"cost": 0.12, "cost_cents": 12, "generated_images": 2}
    assert isinstance(usage["cost"], float)  # TaskUsage.cost is a float, also for a free task
    free = usage_facts(task(TaskState.COMPLETED, price_cents=0, completed_at=DONE, result={"files": {}}))
    assert free == {"cost": 0.0, "cost_cents": 0} and isinstance(free["cost"], float)


def test_a_failed_task_is_refunded_in_full():
    facts = billing_facts(task(TaskState.FAILED, completed_at=DONE))
    assert facts["settlement"] is None
    assert facts["refund"] == {"amount_cents": 12, "refunded_at": "2026-01-01T00:00:42Z"}
    assert usage_facts(task(TaskState.FAILED, completed_at=DONE)) is None
