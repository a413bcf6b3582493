"""How the console's Tasks pages show a task (console/task_view.py): durations, cost and what it means, the
parameters' JSON, the date filters as UTC days; and the page's template escaping what a client submitted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runapi.console.results import task_previews
from runapi.console.task_view import TaskFacts, cost_note, day_end, day_start, duration_text, pretty_json
from runapi.console.templating import make_environment
from runapi.domain.task import Task, TaskState
from runapi.errors import InvalidInput
from runapi.tasks.views import cost_cents

CREATED = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def task(state: TaskState = TaskState.COMPLETED, **over: object) -> Task:
    values: dict[str, object] = {
        "id": "4f9c0d3e-0000-4000-8000-000000000001",
        "account_id": 1,
        "family": "nano_banana",
        "action": "text_to_image",
        "params": {"prompt": "a cat"},
        "state": state,
        "price_cents": 12,
        "provider": "sandbox",
        "next_run_at": CREATED,
        "created_at": CREATED,
        "updated_at": CREATED,
        "model": "nano-banana-pro",
        "completed_at": CREATED + 7.25 if state.terminal else None,
        "error": "Canceled by the client" if state is TaskState.FAILED else None,
        **over,
    }
    return Task(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "—"),
        (0.04, "0.0 s"),
        (0.4, "0.4 s"),
        (12.34, "12.3 s"),
        (59.94, "59.9 s"),
        (60, "1 min 00 s"),
        (125.9, "2 min 05 s"),
        (3599, "59 min 59 s"),
        (3600, "1 h 00 min"),
        (3 * 3600 + 62, "3 h 01 min"),
        (-1.0, "0.0 s"),  # clocks of two hosts: never a negative duration
    ],
)
def test_durations_read_as_a_person_reads_them(seconds, shown):
    assert duration_text(seconds) == shown


def test_the_cost_is_reserved_then_charged_or_refunded():
    processing, done, failed = task(TaskState.RUNNING), task(TaskState.COMPLETED), task(TaskState.FAILED)
    assert (cost_cents(processing), cost_note(processing)) == (12, "reserved")
    assert (cost_cents(task(TaskState.QUEUED)), cost_note(task(TaskState.QUEUED))) == (12, "reserved")
    assert (cost_cents(done), cost_note(done)) == (12, "charged")
    assert (cost_cents(failed), cost_note(failed)) == (0, "refunded")


def test_facts_of_a_finished_and_a_processing_task():
    done = TaskFacts.of(task(TaskState.COMPLETED))
    assert done.status == "completed" and done.finished and done.status_class == "status-ok"
    assert done.kind == "nano_banana/text_to_image" and done.duration == "7.2 s" and done.error is None
    failed = TaskFacts.of(task(TaskState.FAILED))
    assert failed.status_class == "status-off" and failed.error == "Canceled by the client"
    assert (failed.cost_cents, failed.cost_note) == (0, "refunded")
    running = TaskFacts.of(task(TaskState.RUNNING), now=CREATED + 90)
    assert running.status == "processing" and not running.finished and running.status_class == "status-busy"
    assert running.duration == "1 min 30 s" and running.completed_at is None  # how long it has run so far
    assert (running.cost_cents, running.cost_note) == (12, "reserved")


def test_parameters_are_indented_json_with_their_text_as_is():
    shown = pretty_json({"prompt": "un café <b>", "n": 2})
    assert shown == '{\n  "n": 2,\n  "prompt": "un café <b>"\n}'


def test_date_filters_are_utc_days_both_included():
    assert day_start("2026-01-07", "created_from") == datetime(2026, 1, 7, tzinfo=UTC).timestamp()
    assert day_end("2026-01-07", "created_until") == datetime(2026, 1, 8, tzinfo=UTC).timestamp()
    assert day_end("2025-12-31", "created_until") == datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert day_start("", "created_from") is None and day_end(None, "created_until") is None
    assert day_end("9999-12-31", "created_until") is None  # no day after the last: no upper bound
    for bad in ("2026-13-01", "2026-02-30", "07/01/2026", "20260107", "2026-1-7", "x" * 300):
        with pytest.raises(InvalidInput, match="created_from must be a date, YYYY-MM-DD"):
            day_start(bad, "created_from")


def test_the_task_page_escapes_what_the_client_submitted():
    hostile = task(TaskState.COMPLETED, params={"prompt": "</code><script>alert(1)</script>"})
    facts = TaskFacts.of(hostile)
    html = (
        make_environment()
        .get_template("partials/task_detail.html")
        .render(
            task=facts,
            body={"id": hostile.id, "status": "completed"},
            body_json="{}",
            params=pretty_json(hostile.params),
            previews=task_previews({"images": [{"url": "http://h/files/a.png"}]}),
            deliveries=[],
            live=False,
            can_replay=False,
            viewer=None,
        )
    )
    assert "<script>" not in html and "&lt;/code&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<img src="http://h/files/a.png"' in html
    assert "hx-get" not in html  # finished, nothing pending: no polling
    assert "Cancel task" not in html
