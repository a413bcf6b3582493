"""The Gemini media upstream end to end, against a fake speaking Google's protocol (tests/support/
fake_gemini_media.py, which checks every body against Google's request schema): every pair the table maps
completes through the public API with our own signed links (input images downloaded and sent inline, Veo videos
fetched with the key and served by us); a wrong or missing key, 5xx, 429 and lost jobs move to the next
deployment; a safety refusal fails the task with Google's reason and refunds it; what Google cannot make fails
at once without a call."""

from __future__ import annotations

import base64
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from runapi.store.schema import tasks
from tests.support.fake_gemini_media import BLOCK_REASON, FILTERED_REASON, RESULT_PNG, FakeGeminiMedia
from tests.support.fake_media import MP4, PNG
from tests.support.gemini_requests import REFUSALS, requests
from tests.support.servers import new_account
from tests.support.upstream_e2e import balance, create, deployment, finish, reset_cooldowns, run, serve
from tests.support.upstream_e2e import downloads as served


@pytest.fixture(scope="module")
def fakes():
    f = SimpleNamespace(primary=FakeGeminiMedia("g-primary"), backup=FakeGeminiMedia("g-backup"))
    yield f
    f.primary.stop()
    f.backup.stop()


@pytest.fixture(scope="module")
def srv(fakes, tmp_path_factory):
    def gemini(name: str, fake: FakeGeminiMedia, key: str | None, **more: Any) -> dict[str, Any]:
        return deployment(name, "gemini", fake.url + "/v1beta", key, **more)

    server = serve(
        tmp_path_factory,
        "gemini",
        [
            # Lite's tasks meet a wrong key, then no key, before the working deployment
            gemini("gemini-wrong-key", fakes.primary, "not-the-key", models=["nano-banana-2-lite"]),
            gemini("gemini-no-key", fakes.primary, None, models=["nano-banana-2-lite"]),
            gemini("gemini-primary", fakes.primary, "g-primary"),
            gemini("gemini-backup", fakes.backup, "g-backup"),
        ],
    )
    yield server
    server.stop()


@pytest.fixture
def modes(fakes, srv):
    yield fakes
    for fake in (fakes.primary, fakes.backup):
        fake.mode, fake.slow_polls, fake.redirect_downloads = "ok", 3, False
    reset_cooldowns(srv)


@pytest.fixture
def inputs_host(recorder):
    """Serves the input images the adapter downloads and sends inline."""
    return recorder(lambda m, p, h, b: (200, {"Content-Type": "image/png"}, PNG))


def job_of(srv, task_id: str) -> dict:
    async def go(db):
        async with db.read() as conn:
            return (await conn.execute(select(tasks.c.provider_job).where(tasks.c.id == task_id))).scalar_one()

    return srv.db_call(go)


def local(value: Any, host: str) -> Any:
    """The request with its example.com input links pointing at the local inputs host instead."""
    if isinstance(value, str) and value.startswith("https://example.com/"):
        return host + "/" + value.rsplit("/", 1)[-1]
    if isinstance(value, list):
        return [local(v, host) for v in value]
    if isinstance(value, dict):
        return {k: local(v, host) for k, v in value.items()}
    return value


REFUSED_REQUESTS = [body for *_, body, _ in REFUSALS]


def test_every_mapped_pair_completes_with_our_signed_links(srv, modes, inputs_host):
    started = []
    with srv.client() as c:
        for action, model, body in requests():
            if model == "veo-3.1-lite" and body.get("input_mode") == "reference":
                continue  # refused before any call (test_what_google_cannot_make_fails_at_once)
            body = local(body, inputs_host.url)
            started.append((action, body, create(c, action.family, action.name, body)))
        for action, body, task_id in started:
            result = finish(c, action.family, action.name, task_id)
            assert result["status"] == "completed", (action.key, body, result, modes.primary.refused[-1:])
            assert served(srv, result, action.result)[0] == (MP4 if action.result == "videos" else RESULT_PNG)
    assert not modes.primary.refused
    calls = modes.primary.calls("POST")
    assert {c["model"] for c in calls} == {
        "gemini-2.5-flash-image",
        "gemini-3-pro-image",
        "gemini-3.1-flash-image",
        "gemini-3.1-flash-lite-image",
        "veo-3.1-generate-preview",
        "veo-3.1-fast-generate-preview",
        "veo-3.1-lite-generate-preview",
    }
    # Lite's tasks met the wrong key (400 API_KEY_INVALID) and no key (403), then went on
    keys = [c["headers"].get("x-goog-api-key") for c in calls if c["model"] == "gemini-3.1-flash-lite-image"]
    assert {"not-the-key", None, "g-primary"} <= set(keys)


def test_input_images_go_inline_and_the_video_is_fetched_with_the_key(srv, modes, inputs_host):
    first, last = inputs_host.url + "/first.png", inputs_host.url + "/last.png"
    task_id, body = run(
        srv,
        "veo_3_1",
        "text_to_video",
        {
            "model": "veo-3.1",
            "prompt": "the flower blooms",
            "input_mode": "first_and_last_frames",
            "first_frame_image_url": first,
            "last_frame_image_url": last,
            "duration_seconds": 6,
            "aspect_ratio": "9:16",
            "seeds": 12345,
        },
    )
    assert body["status"] == "completed" and served(srv, body, "videos") == [MP4]
    assert body["videos"][0]["resolution"] == "720p" and body["videos"][0]["has_audio"] is True
    call = modes.primary.calls("POST", ":predictLongRunning")[-1]
    instance = call["body"]["instances"][0]
    assert instance["prompt"] == "the flower blooms"
    assert base64.b64decode(instance["image"]["bytesBase64Encoded"]) == PNG
    assert instance["lastFrame"]["mimeType"] == "image/png"
    assert call["body"]["parameters"] == {"aspectRatio": "9:16", "durationSeconds": 6}
    operation = job_of(srv, task_id)["handle"]["operation"]
    polls = modes.primary.calls("GET", operation)
    downloads = modes.primary.calls("GET", "/v1beta/files/")
    assert polls and downloads
    assert all(r["headers"]["x-goog-api-key"] == "g-primary" for r in polls + downloads[-1:])


def test_a_download_redirect_is_followed_without_the_key(srv, modes):
    modes.primary.redirect_downloads = True
    _, body = run(srv, "veo_3_1", "text_to_video", {"model": "veo-3.1-fast", "prompt": "waves"})
    assert body["status"] == "completed" and served(srv, body, "videos") == [MP4]
    fetched = modes.primary.calls("GET", "/storage/")[-1]
    assert "x-goog-api-key" not in fetched["headers"]


def test_a_slow_operation_is_polled_until_done(srv, modes):
    modes.primary.mode, modes.primary.slow_polls = "slow", 4
    task_id, body = run(srv, "veo_3_1", "text_to_video", {"model": "veo-3.1-lite", "prompt": "clouds"})
    assert body["status"] == "completed"
    assert len(modes.primary.calls("GET", job_of(srv, task_id)["handle"]["operation"])) >= 5


@pytest.mark.parametrize(
    ("family", "action", "body"),
    [
        ("nano_banana", "text_to_image", {"model": "nano-banana-pro", "prompt": "a fox"}),
        ("veo_3_1", "text_to_video", {"model": "veo-3.1", "prompt": "a fox"}),
    ],
)
@pytest.mark.parametrize("failure", ["500", "429", "lost"])
def test_failures_move_to_the_next_deployment(srv, modes, family, action, body, failure):
    modes.primary.mode = failure
    before = len(modes.backup.calls("POST"))
    task_id, result = run(srv, family, action, body)
    assert result["status"] == "completed", result
    job = job_of(srv, task_id)
    assert job.get("deployment", "gemini-backup") == "gemini-backup"
    assert len(modes.backup.calls("POST")) == before + 1
    assert modes.backup.calls("POST")[-1]["headers"]["x-goog-api-key"] == "g-backup"
    if failure == "429":  # Google's RetryInfo (30 s) keeps the primary aside
        admission = srv.uv.config.app.state.runtime.providers.upstreams.admission
        assert admission.cooling("gemini-primary") > 0


@pytest.mark.parametrize(
    ("family", "action", "body", "reason"),
    [
        ("nano_banana", "edit_image", {"model": "nano-banana-edit", "prompt": "forbidden"}, BLOCK_REASON),
        ("veo_3_1", "text_to_video", {"model": "veo-3.1-fast", "prompt": "forbidden"}, FILTERED_REASON),
    ],
)
def test_a_safety_refusal_fails_with_googles_reason_and_refunds(srv, modes, inputs_host, family, action, body, reason):
    modes.primary.mode = "policy"
    if action == "edit_image":
        body = {**body, "source_image_urls": [inputs_host.url + "/photo.png"]}
    _, key = new_account(srv, credits=1000)
    before = len(modes.backup.calls("POST"))
    _, result = run(srv, family, action, body, key)
    assert result["status"] == "failed" and reason in result["error"]
    assert len(modes.backup.calls("POST")) == before  # a refusal is not shopped around
    assert balance(srv, key) == 1000


@pytest.mark.parametrize("request_body", REFUSED_REQUESTS)
def test_what_google_cannot_make_fails_at_once(srv, modes, request_body):
    _, key = new_account(srv, credits=1000)
    before = len(modes.primary.calls("POST")) + len(modes.backup.calls("POST"))
    _, result = run(srv, "veo_3_1", "text_to_video", request_body, key)
    assert result["status"] == "failed" and "Gemini API" in result["error"]
    assert len(modes.primary.calls("POST")) + len(modes.backup.calls("POST")) == before
    assert balance(srv, key) == 1000


def test_the_fake_refuses_like_google(modes):
    url = modes.primary.url + "/v1beta/models"
    body = {"contents": [{"parts": [{"text": "x"}]}]}
    no_key = httpx.post(f"{url}/gemini-3-pro-image:generateContent", json=body)
    assert no_key.status_code == 403 and no_key.json()["error"]["status"] == "PERMISSION_DENIED"
    wrong = httpx.post(f"{url}/gemini-3-pro-image:generateContent", json=body, headers={"x-goog-api-key": "x"})
    assert wrong.status_code == 400 and wrong.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    key = {"x-goog-api-key": "g-primary"}
    unknown = httpx.post(f"{url}/imagen-4.0-generate-001:predict", json={}, headers=key)
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"
    bad = {"contents": body["contents"], "generationConfig": {"imageConfig": {"imageSize": "1k"}, "seed": 1}}
    invalid = httpx.post(f"{url}/gemini-3-pro-image:generateContent", json=bad, headers=key)
    error = invalid.json()["error"]
    assert invalid.status_code == 400 and error["status"] == "INVALID_ARGUMENT" and error["code"] == 400
    assert 'Unknown name "seed"' in error["message"] and "imageSize" in error["message"]
