"""Suno as the docs describe it beyond the final result: personas must exist in the caller's account, song
actions call back at each generation stage (text_generated, first_audio_ready, then the completed
all_audios_ready body), and processing/failed bodies carry the documented empty lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from runapi.store.schema import callback_deliveries
from tests.support.bodies import documented
from tests.support.servers import new_account, start_server, wait_done, wait_for

BASE = "/api/v1/suno"
SONG = {"vocal_mode": "instrumental", "style": "Jazz", "title": "Stages", "model": "suno-v5"}


def test_unknown_or_foreign_persona_is_refused(api, server):
    song = wait_done(api, f"{BASE}/text_to_music", api.post(f"{BASE}/text_to_music", json=SONG).json()["id"], 120)
    persona = api.post(
        f"{BASE}/generate_persona",
        json={"task_id": song["id"], "audio_id": song["audios"][0]["id"], "name": "Singer", "description": "warm"},
    )
    assert persona.status_code == 200, persona.text
    persona_id = persona.json()["persona"]["id"]

    unknown = api.post(f"{BASE}/text_to_music", json={**SONG, "persona_id": "0a1b2c3d4e5f", "persona_type": "style"})
    assert unknown.status_code == 404 and unknown.json()["error"].startswith("Record does not exist")
    voice = api.post(f"{BASE}/text_to_music", json={**SONG, "persona_id": "voice_custom_123", "persona_type": "voice"})
    assert voice.status_code == 404 and "persona_id" in voice.json()["error"]
    _, other_key = new_account(server)
    with server.client(other_key) as other:  # another account's persona does not exist for this one
        foreign = other.post(
            f"{BASE}/cover_audio",
            json={"upload_url": "https://example.com/a.mp3", **SONG, "persona_id": persona_id, "persona_type": "style"},
        )
        assert foreign.status_code == 404, foreign.text
    own = api.post(f"{BASE}/text_to_music", json={**SONG, "persona_id": persona_id, "persona_type": "style"})
    assert own.status_code == 202, own.text


def _stage_callbacks(receiver, n: int) -> list[dict]:
    wait_for(lambda: len(receiver.requests) >= n, timeout=60)
    return [json.loads(r["body"]) for r in receiver.requests]


def test_song_callbacks_arrive_at_each_stage_in_order(api, server, recorder):
    receiver = recorder()
    task_id = api.post(f"{BASE}/text_to_music", json={**SONG, "callback_url": f"{receiver.url}/cb"}).json()["id"]
    final = wait_done(api, f"{BASE}/text_to_music", task_id, 120)
    bodies = _stage_callbacks(receiver, 3)
    assert [b["generation_stage"] for b in bodies] == ["text_generated", "first_audio_ready", "all_audios_ready"]
    assert documented(bodies[0]) == {
        "id": task_id,
        "status": "processing",
        "model": "suno-v5",
        "generation_stage": "text_generated",
    }
    assert bodies[1]["status"] == "processing" and len(bodies[1]["audios"]) == 1
    assert bodies[1]["audios"][0]["id"] == final["audios"][0]["id"]
    assert bodies[2] == final
    ids = [r["headers"]["X-Callback-Id"] for r in receiver.requests]
    assert len(set(ids)) == 3  # each stage is its own callback message

    async def rows(db):
        async with db.read() as conn:
            return (
                await conn.execute(
                    select(callback_deliveries.c.seq, callback_deliveries.c.state)
                    .where(callback_deliveries.c.task_id == task_id)
                    .order_by(callback_deliveries.c.seq)
                )
            ).all()

    wait_for(lambda: [tuple(r) for r in server.db_call(rows)] == [(0, "delivered"), (1, "delivered"), (2, "delivered")])


def test_failed_song_calls_back_once_with_the_failed_stage(api, recorder):
    receiver = recorder()
    dead = recorder(lambda m, p, h, b: (404, {}, b""))
    task_id = api.post(
        f"{BASE}/cover_audio", json={"upload_url": f"{dead.url}/x.mp3", **SONG, "callback_url": receiver.url}
    ).json()["id"]
    assert wait_done(api, f"{BASE}/cover_audio", task_id, 60)["status"] == "failed"
    bodies = _stage_callbacks(receiver, 1)
    assert [b["generation_stage"] for b in bodies] == ["failed"]


@pytest.fixture(scope="module")
def staged_server(tmp_path_factory):
    srv = start_server(Path(tmp_path_factory.mktemp("staged")), sandbox_delay_seconds=2.0)
    yield srv
    srv.stop()


def test_status_passes_through_first_audio_ready(staged_server, recorder):
    receiver = recorder()
    with staged_server.client() as c:
        task_id = c.post(f"{BASE}/text_to_music", json={**SONG, "callback_url": receiver.url}).json()["id"]
        seen = []
        final = None

        def done() -> bool:
            nonlocal final
            body = c.get(f"{BASE}/text_to_music/{task_id}").json()
            seen.append(body.get("generation_stage"))
            final = body
            return body["status"] != "processing"

        wait_for(done, timeout=60)
        assert final["status"] == "completed"
        stages = list(dict.fromkeys(seen))  # in the order first seen
        assert stages == ["text_generated", "first_audio_ready", "all_audios_ready"], seen
        bodies = _stage_callbacks(receiver, 3)
        assert [b["generation_stage"] for b in bodies] == ["text_generated", "first_audio_ready", "all_audios_ready"]
        first = bodies[1]["audios"][0]
        assert first["id"] == final["audios"][0]["id"]
        assert c.get(first["audio_url"]).content == c.get(final["audios"][0]["audio_url"]).content
