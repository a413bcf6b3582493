"""Suno's processing and failed bodies carry the documented empty lists, without a server. The stages over HTTP
and their callbacks are in tests/e2e/test_suno_stages.py."""

from __future__ import annotations

import dataclasses

import pytest

from runapi.domain.task import Task, TaskState
from runapi.storage import UrlSigner
from runapi.tasks.views import status_body
from tests.support.bodies import documented


@pytest.mark.parametrize(
    "action,field", [("generate_lyrics", "lyrics"), ("generate_midi", "instruments"), ("generate_artwork", "covers")]
)
def test_processing_and_failed_bodies_carry_the_documented_empty_list(action, field):
    signer = UrlSigner(b"s")
    task = Task(
        id="t1",
        account_id=1,
        family="suno",
        action=action,
        params={},
        state=TaskState.RUNNING,
        price_cents=0,
        provider="sandbox",
        next_run_at=0.0,
        created_at=0.0,
        updated_at=0.0,
    )
    assert documented(status_body(task, signer, "http://x", 60)) == {"id": "t1", "status": "processing", field: []}
    failed = dataclasses.replace(task, state=TaskState.FAILED, error="Generation failed.")
    assert documented(status_body(failed, signer, "http://x", 60)) == {
        "id": "t1",
        "status": "failed",
        "error": "Generation failed.",
        field: [],
    }
