"""kie.ai as a media upstream, through the public API against a local fake kie (tests/support/fake_kie.py) that
checks every body against kie's published schemas: representative Market and model-API pairs complete with our
signed links; a task continuing a kie video passes kie's own taskId; a refused key or no credits, 429, a lost
job and outages move to the next deployment; a moderation refusal fails the task with kie's message and
refunds it; kie's callback wakes the task at once."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

from tests.support.fake_kie import KIE_POLICY_MESSAGE, FakeKie
from tests.support.fake_media import MP4, PNG
from tests.support.servers import new_account, start_server
from tests.support.upstream_e2e import (
    balance,
    cooled_down,
    create,
    deployment,
    downloads,
    finish,
    lost_job_moves_on,
    policy_refusal,
    reset_cooldowns,
    run,
    serve,
    slow_job,
    task_row,
)

IMG = "https://example.com/a.png"
VID = "https://example.com/a.mp4"


@pytest.fixture(scope="module")
def fakes():
    f = SimpleNamespace(primary=FakeKie("kie-primary-key"), backup=FakeKie("kie-backup-key"))
    yield f
    f.primary.stop()
    f.backup.stop()


@pytest.fixture(scope="module")
def srv(fakes, tmp_path_factory):
    server = serve(
        tmp_path_factory,
        "kie",
        [
            deployment("kie-primary", "kie", fakes.primary.url, "kie-primary-key"),
            deployment("kie-backup", "kie", fakes.backup.url, "kie-backup-key"),
        ],
    )
    yield server
    server.stop()


@pytest.fixture
def modes(fakes, srv):
    yield fakes
    for fake, key in ((fakes.primary, "kie-primary-key"), (fakes.backup, "kie-backup-key")):
        fake.mode, fake.key, fake.slow_polls = "ok", key, 3
        fake.refused.clear()  # each test checks its own
    reset_cooldowns(srv)


REPRESENTATIVE = [
    (
        "seedance",
        "text_to_video",
        {"model": "seedance-2.5", "prompt": "a street musician", "reference_video_urls": [VID], "duration_seconds": 5},
        "bytedance/seedance-2-5",
    ),
    (
        "nano_banana",
        "text_to_image",
        {"model": "nano-banana-2", "prompt": "a fox", "reference_image_urls": [IMG], "output_resolution": "2k"},
        "nano-banana-2",
    ),
    (
        "imagen_4",
        "text_to_image",
        {"model": "imagen-4-fast", "prompt": "a mug", "output_count": 2},
        "google/imagen4-fast",
    ),
    (
        "recraft",
        "remove_background",
        {"model": "recraft-remove-background", "source_image_url": IMG},
        "recraft/remove-background",
    ),
    (
        "kling",
        "text_to_video",
        {
            "model": "kling-3.0",
            "multi_shots": True,
            "enable_sound": True,
            "output_resolution": "720p",
            "multi_prompt": [
                {"prompt": "a fox runs", "duration_seconds": 3},
                {"prompt": "it sleeps", "duration_seconds": 2},
            ],
        },
        "kling-3.0/video",
    ),
    (
        "kling",
        "motion_control",
        {
            "model": "kling-v2.6",
            "source_first_frame_image_url": IMG,
            "reference_video_url": VID,
            "output_resolution": "720p",
            "character_orientation": "video",
        },
        "kling-2.6/motion-control",
    ),
    (
        "runway",
        "text_to_video",
        {
            "prompt": "a coast at dawn",
            "duration_seconds": 5,
            "output_resolution": "720p",
            "aspect_ratio": "16:9",
            "watermark": "Brand",
        },
        "/api/v1/runway/generate",
    ),
    (
        "runway",
        "text_to_video",
        {"prompt": "she smiles", "duration_seconds": 10, "output_resolution": "720p", "first_frame_image_url": IMG},
        "/api/v1/runway/generate",
    ),
    (
        "runway_aleph",
        "edit_video",
        {
            "prompt": "dusk light",
            "source_video_url": VID,
            "reference_image_url": IMG,
            "aspect_ratio": "16:9",
            "seed": 42,
        },
        "/api/v1/aleph/generate",
    ),
    ("luma", "modify_video", {"prompt": "rainy neon night", "source_video_url": VID}, "/api/v1/modify/generate"),
    (
        "grok_imagine",
        "text_to_image",
        {"model": "grok-imagine-text-to-image", "prompt": "a fox", "aspect_ratio": "3:2"},
        "grok-imagine/text-to-image",
    ),
    (
        "grok_imagine",
        "edit_image",
        {"model": "grok-imagine-edit-image", "source_image_url": IMG, "prompt": "oil painting"},
        "grok-imagine/image-to-image",
    ),
    (
        "grok_imagine",
        "text_to_video",
        {"model": "grok-imagine-text-to-video", "prompt": "a boat", "motion_style": "fun", "duration_seconds": 6},
        "grok-imagine/text-to-video",
    ),
    (
        "grok_imagine",
        "image_to_video",
        {
            "model": "grok-imagine-image-to-video",
            "source_image_urls": [IMG],
            "duration_seconds": 10,
            "output_resolution": "720p",
        },
        "grok-imagine/image-to-video",
    ),
]


def test_representative_pairs_complete_with_our_signed_links(srv, modes):
    with srv.client() as c:
        started = [(family, action, create(c, family, action, body)) for family, action, body, _ in REPRESENTATIVE]
        results = [finish(c, family, action, task_id) for family, action, task_id in started]
    for (family, action, body, app), result in zip(REPRESENTATIVE, results):
        assert result["status"] == "completed", (family, action, result, modes.primary.refused[-1:])
        kind = "images" if action in ("text_to_image", "edit_image", "remove_background") else "videos"
        assert downloads(srv, result, kind) == [PNG if kind == "images" else MP4]
    assert not modes.primary.refused
    calls = modes.primary.calls("POST", "/api/v1/")
    assert {c["model"] or c["api"] for c in calls} >= {app for *_, app in REPRESENTATIVE}
    for call, (_, _, task_id) in zip(calls[-len(started) :], started):
        assert call["headers"]["authorization"] == "Bearer kie-primary-key"
        assert call["body"]["callBackUrl"].startswith(f"{srv.url}/webhooks/upstream/")
    runway = next(c for c in calls if c["api"] == "/api/v1/runway/generate")["body"]
    assert {k: v for k, v in runway.items() if k != "callBackUrl"} == {
        "prompt": "a coast at dawn",
        "duration": 5,
        "quality": "720p",
        "aspectRatio": "16:9",
        "waterMark": "Brand",
    }


def test_fake_kie_refuses_like_kie(modes):
    url = modes.primary.url
    auth = {"Authorization": "Bearer kie-primary-key"}
    r = httpx.post(
        f"{url}/api/v1/jobs/createTask", json={"model": "x/y", "input": {}}, headers={"Authorization": "Bearer no"}
    )
    assert r.json()["code"] == 401
    r = httpx.post(f"{url}/api/v1/jobs/createTask", json={"model": "nope/none", "input": {}}, headers=auth)
    assert r.json()["code"] == 404
    r = httpx.post(
        f"{url}/api/v1/runway/generate", json={"prompt": "x", "duration": 7, "quality": "4k", "size": 1}, headers=auth
    )
    assert r.status_code == 200 and r.json()["code"] == 422
    assert all(w in r.json()["msg"] for w in ("duration", "quality", "size"))


def test_continuing_a_kie_video_passes_kies_task_id(srv, modes):
    with srv.client() as c:
        source = create(
            c,
            "runway",
            "text_to_video",
            {"prompt": "fog", "duration_seconds": 5, "output_resolution": "720p", "aspect_ratio": "9:16"},
        )
        assert finish(c, "runway", "text_to_video", source)["status"] == "completed"
        kie_id = task_row(srv, source)["provider_job"]["handle"]["taskId"]
        extended = create(
            c,
            "runway",
            "extend_video",
            {"source_task_id": source, "prompt": "the fog lifts", "output_resolution": "720p"},
        )
        body = finish(c, "runway", "extend_video", extended)
    assert body["status"] == "completed" and downloads(srv, body, "videos") == [MP4]
    assert downloads(srv, body, "images") == [PNG]  # Runway's cover image
    assert body["videos"][0]["id"]  # Runway's video id
    call = modes.primary.calls("POST", "/api/v1/runway/extend")[-1]
    assert call["body"]["taskId"] == kie_id and call["body"]["prompt"] == "the fog lifts"


def test_a_video_made_elsewhere_cannot_be_continued_here(srv, modes):
    modes.primary.mode = "lost"  # the source ends up made by the backup deployment
    _, key = new_account(srv, credits=1000)
    source, body = run(
        srv,
        "grok_imagine",
        "text_to_video",
        {"model": "grok-imagine-text-to-video", "prompt": "a dragon", "duration_seconds": 6},
        key,
    )
    assert body["status"] == "completed" and task_row(srv, source)["provider_job"]["deployment"] == "kie-backup"
    modes.primary.mode = "ok"
    before = len(modes.primary.calls("POST"))
    upscaled, body = run(srv, "grok_imagine", "upscale_image", {"source_task_id": source}, key)
    assert body["status"] == "completed"
    assert len(modes.primary.calls("POST")) == before  # the primary has no kie task for it: never asked
    call = modes.backup.calls("POST", "/api/v1/jobs/createTask")[-1]
    assert call["body"]["model"] == "grok-imagine/upscale"
    assert call["body"]["input"] == {"task_id": task_row(srv, source)["provider_job"]["handle"]["taskId"]}


def test_what_kie_cannot_make_fails_without_a_submission_and_refunds(srv, modes):
    _, key = new_account(srv, credits=1000)
    before = len(modes.primary.calls("POST")) + len(modes.backup.calls("POST"))
    _, body = run(
        srv,
        "runway",
        "text_to_video",
        {"prompt": "x", "duration_seconds": 10, "output_resolution": "1080p", "aspect_ratio": "16:9"},
        key,
    )
    assert body["status"] == "failed" and body["error"] == "kie's Runway makes 1080p videos of 5 seconds only"
    assert len(modes.primary.calls("POST")) + len(modes.backup.calls("POST")) == before
    assert balance(srv, key) == 1000


@pytest.mark.parametrize("failure", ["auth", "402", "500", "429"])
def test_a_deployment_that_cannot_take_it_hands_it_to_the_next(srv, modes, failure):
    if failure == "auth":
        modes.primary.key = "rotated"  # our configured key is refused
    else:
        modes.primary.mode = failure
    before = len(modes.backup.calls("POST"))
    task_id, body = run(srv, "luma", "modify_video", {"prompt": "snow", "source_video_url": VID})
    assert body["status"] == "completed"
    job = task_row(srv, task_id)["provider_job"]
    assert job["deployment"] == "kie-backup" and job["tried"] == ["kie-backup"]
    assert len(modes.backup.calls("POST")) == before + 1
    assert modes.backup.calls("POST")[-1]["headers"]["authorization"] == "Bearer kie-backup-key"


def test_retry_after_keeps_a_rate_limited_deployment_aside(srv, modes):
    one = {"model": "grok-imagine-text-to-image", "prompt": "one"}
    second = cooled_down(srv, modes, "grok_imagine", "text_to_image", one, {**one, "prompt": "two"})
    assert task_row(srv, second)["provider_job"]["deployment"] == "kie-backup"


def test_a_job_kie_lost_moves_to_the_next_deployment(srv, modes):
    body = {"prompt": "watercolor", "source_video_url": VID}
    lost_job_moves_on(srv, modes, "runway_aleph", "edit_video", body, ["kie-primary", "kie-backup"])


def test_a_moderation_refusal_fails_with_kies_message_and_refunds(srv, modes):
    body = {"model": "grok-imagine-text-to-video", "prompt": "forbidden", "duration_seconds": 6}
    assert policy_refusal(srv, modes, "grok_imagine", "text_to_video", body)["error"] == KIE_POLICY_MESSAGE


def test_nothing_answers_failed_with_kies_error_and_refunded(srv, modes):
    modes.primary.mode = modes.backup.mode = "500"
    _, key = new_account(srv, credits=1000)
    _, body = run(srv, "luma", "modify_video", {"prompt": "snow", "source_video_url": VID}, key)
    assert body["status"] == "failed" and "answered 500" in body["error"]
    assert balance(srv, key) == 1000


def test_a_slow_job_is_polled_until_it_completes(srv, modes):
    body = {"prompt": "slow", "duration_seconds": 5, "output_resolution": "720p", "aspect_ratio": "1:1"}
    task_id = slow_job(srv, modes, "runway", "text_to_video", body)
    kie_id = task_row(srv, task_id)["provider_job"]["handle"]["taskId"]
    polls = [r for r in modes.primary.calls("GET", "/api/v1/runway/record-detail") if r["query"]["taskId"] == kie_id]
    assert len(polls) >= 5


def test_kies_callback_wakes_the_task_at_once(tmp_path):
    fake = FakeKie("k")
    fake.mode = "webhook"
    # polling every hour: only kie's callback can finish this task within the test
    server = start_server(
        tmp_path,
        media_upstreams=[{"name": "kie", "kind": "kie", "base_url": fake.url, "api_key": "k", "poll_seconds": 3600}],
    )
    try:
        task_id, body = run(server, "luma", "modify_video", {"prompt": "snow", "source_video_url": VID})
        assert body["status"] == "completed" and downloads(server, body, "videos") == [MP4]
        (job,) = fake.jobs.values()
        assert job["body"]["callBackUrl"].startswith(f"{server.url}/webhooks/upstream/{task_id}?signature=")
        assert job["webhook_status"] == 200
    finally:
        server.stop()
        fake.stop()


def test_veo_generate_extend_and_1080p_on_kie(srv, modes):
    with srv.client() as c:
        source = create(
            c,
            "veo_3_1",
            "text_to_video",
            {"model": "veo-3.1-fast", "prompt": "a calm lake", "aspect_ratio": "9:16", "seeds": 12345},
        )
        made = finish(c, "veo_3_1", "text_to_video", source)
        assert made["status"] == "completed" and made["videos"][0]["has_audio"] is True
        kie_id = task_row(srv, source)["provider_job"]["handle"]["taskId"]
        extended = create(c, "veo_3_1", "extend_video", {"source_task_id": source, "prompt": "and it rains"})
        upscaled = create(c, "veo_3_1", "upscale_video", {"source_task_id": source, "output_resolution": "1080p"})
        for action, task_id in (("extend_video", extended), ("upscale_video", upscaled)):
            body = finish(c, "veo_3_1", action, task_id)
            assert body["status"] == "completed" and downloads(srv, body, "videos") == [MP4], (action, body)
    generate = modes.primary.calls("POST", "/api/v1/veo/generate")[-1]["body"]
    assert (generate["model"], generate["generationType"], generate["aspectRatio"]) == (
        "veo3_fast",
        "TEXT_2_VIDEO",
        "9:16",
    )
    extend = modes.primary.calls("POST", "/api/v1/veo/extend")[-1]["body"]
    assert (extend["taskId"], extend["model"]) == (kie_id, "quality")
    asks = modes.primary.calls("GET", "/api/v1/veo/get-1080p-video")
    assert len(asks) >= 2 and asks[-1]["query"] == {"taskId": kie_id, "index": "0"}  # "processing", then the link
    assert not modes.primary.refused
