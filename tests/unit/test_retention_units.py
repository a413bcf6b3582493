"""Retention's pieces that need no database: the status body of a task whose files expired (same fields, links
that sign nothing, `outputs_expired_at`), the keys a result names, local batched deletes, the settings' bounds."""

from __future__ import annotations

import asyncio
import dataclasses
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from runapi.domain.task import Task, TaskState
from runapi.retention import Retention
from runapi.settings import Settings
from runapi.storage import LocalStorage, UrlSigner
from runapi.tasks.retention import result_keys
from runapi.tasks.views import result_only, status_body
from tests.unit.test_domain_task import row

DONE = 1_767_225_642.5
RESULT = {
    "files": {"images": [{"key": "generated/t/0.png", "content_type": "image/png"}]},
    "extra": {"cover": {"$key": "generated/t/1.jpg"}, "tracks": [{"audio": {"$key": "generated/t/2.mp3"}}]},
}


def completed(**over: object) -> Task:
    base = Task.from_row(
        row(family="nano_banana", action="text_to_image", model="nano-banana", price_cents=4, completed_at=DONE)
    )
    return dataclasses.replace(base, state=TaskState.COMPLETED, result=RESULT, **over)  # type: ignore[arg-type]


def _links(body: dict) -> list[str]:
    return [body["images"][0]["url"], body["cover"], body["tracks"][0]["audio"]]


def test_a_kept_task_hands_out_signed_links():
    body = status_body(completed(), UrlSigner(b"k"), "http://h", 3600)
    assert all("signature=" in url for url in _links(body))
    assert "outputs_expired_at" not in body


def test_an_expired_task_keeps_its_shape_without_signed_links():
    kept = status_body(completed(), UrlSigner(b"k"), "http://h", 3600)
    gone = status_body(completed(outputs_expired_at=DONE + 7 * 86_400), UrlSigner(b"k"), "http://h", 3600)
    assert set(gone) - set(kept) == {"outputs_expired_at"}  # every documented field is still there
    assert gone["status"] == "completed" and gone["billing"] == kept["billing"] and gone["usage"] == kept["usage"]
    assert [urlsplit(u).query for u in _links(gone)] == ["", "", ""]
    assert _links(gone) == [u.split("?")[0] for u in _links(kept)]  # the object's address, unsigned
    assert gone["outputs_expired_at"] == "2026-01-08T00:00:42Z"
    assert "outputs_expired_at" not in result_only(gone)  # a task fact, not part of a result


def test_result_keys_are_every_file_and_reference():
    assert result_keys(RESULT) == ("generated/t/0.png", "generated/t/1.jpg", "generated/t/2.mp3")
    assert result_keys(None) == () and result_keys({"files": {"images": "junk"}}) == ()


def test_local_batched_deletes_are_idempotent_and_leave_no_empty_folder(tmp_path):
    store = LocalStorage(tmp_path)
    for i in range(3):
        asyncio.run(store.put(f"generated/t/{i}.png", b"x", "image/png"))
    assert asyncio.run(store.keys_under("generated/t/")) == [f"generated/t/{i}.png" for i in range(3)]
    asyncio.run(store.delete_many([f"generated/t/{i}.png" for i in range(4)]))  # one never existed
    assert asyncio.run(store.keys_under("generated/t/")) == []
    assert not (tmp_path / "generated" / "t").exists()
    asyncio.run(store.delete_many(["generated/t/0.png"]))  # again: no error
    with pytest.raises(ValueError):
        asyncio.run(store.delete_many(["../outside"]))


def test_retention_settings_are_bounded_and_zero_keeps_for_ever(tmp_path):
    s = Settings(data_dir=tmp_path)
    assert Retention.from_settings(s) == Retention(7, 30, 90, 500)
    assert s.retention_interval_seconds == 30
    assert Retention.from_settings(Settings(data_dir=tmp_path, task_retention_days=0)).task_days == 0
    for bad in (
        {"retention_batch": 0},
        {"retention_batch": 10_001},
        {"generated_media_retention_days": -1},
        {"usage_retention_days": 36_501},
        {"retention_interval_seconds": 0},
    ):
        with pytest.raises(ValidationError):
            Settings(data_dir=tmp_path, **bad)


def test_a_failed_task_says_nothing_of_files_it_never_showed():
    failed = dataclasses.replace(completed(outputs_expired_at=DONE), state=TaskState.FAILED, result=None, error="x")
    body = status_body(failed, UrlSigner(b"k"), "http://h", 3600)
    assert "outputs_expired_at" not in body and body["error"] == "x"
