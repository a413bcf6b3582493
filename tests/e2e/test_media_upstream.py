"""Real media upstreams, against local fakes speaking each provider's protocol (tests/support/fake_media.py): every
family the fal mapping covers completes end to end through the public API with our own signed links; slow
queues, fallback on 5xx / 429 / lost jobs, content-policy refusals, concurrency limits, refunds, guardrails,
OpenAI Images and ElevenLabs."""

from __future__ import annotations

import time
from types import SimpleNamespace

import httpx
import pytest

from tests.support.fake_media import (
    MP3,
    MP4,
    PNG,
    POLICY_MESSAGE,
    FakeElevenLabs,
    FakeFal,
    FakeOpenAIImages,
)
from tests.support.first_party import has_task_ref
from tests.support.media_upstream import IMG, fal_requests, route_of
from tests.support.servers import keys_under_guardrails, new_account, start_server
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
    serve,
    slow_job,
    task_row,
)


@pytest.fixture(scope="module")
def fakes():
    f = SimpleNamespace(
        limited=FakeFal("limited"),
        primary=FakeFal("primary"),
        backup=FakeFal("backup"),
        openai=FakeOpenAIImages(),
        eleven=FakeElevenLabs("xi-test"),
    )
    yield f
    for server in vars(f).values():
        server.stop()


@pytest.fixture(scope="module")
def srv(fakes, tmp_path_factory):
    server = serve(
        tmp_path_factory,
        "mediaup",
        [
            deployment("fal-limited", "fal", fakes.limited.url, "k-limited", models=["z-image"], max_concurrency=1),
            deployment("fal-primary", "fal", fakes.primary.url, "k-primary"),
            deployment("fal-backup", "fal", fakes.backup.url, "k-backup", models="*"),
            {"name": "openai", "kind": "openai_images", "base_url": fakes.openai.url + "/v1", "api_key": "sk-img"},
            {"name": "elevenlabs", "kind": "elevenlabs", "base_url": fakes.eleven.url, "api_key": "xi-test"},
        ],
    )
    yield server
    server.stop()


@pytest.fixture
def modes(fakes, srv):
    yield fakes
    for server in vars(fakes).values():
        server.mode = "ok"
    fakes.limited.slow_polls = fakes.primary.slow_polls = 3
    reset_cooldowns(srv)


@pytest.fixture
def inputs_host(recorder):
    """Serves the input files the direct adapters upload (an image, an audio clip)."""
    return recorder(
        lambda m, p, h, b: (
            (200, {"Content-Type": "audio/mpeg"}, MP3)
            if p.endswith(".mp3")
            else (200, {"Content-Type": "image/png"}, PNG)
        )
    )


def example_for(action, model: str) -> dict:
    for ex in action.examples:
        if (ex.get("model") or action.default_model) == model:
            return dict(ex)
    raise AssertionError(f"no example for {action.key} {model}")


# --- fal: every covered family end to end ----------------------------------------------------------------


def test_every_fal_route_completes_with_our_signed_links(srv, modes):
    """Every example and route runs through the public API to the fake fal, which checks each body against
    fal's schema for that endpoint: a wrong endpoint id, field name, type or enum value fails here."""
    started = []
    with srv.client() as c:
        for action, model, body in fal_requests():
            if has_task_ref(action):
                continue  # covered by test_task_references_reach_fal_as_signed_links
            started.append((action, model, body, create(c, action.family, action.name, body)))
        for action, model, body, task_id in started:
            result = finish(c, action.family, action.name, task_id)
            assert result["status"] == "completed", (action.key, body, result, modes.primary.refused[-1:])
            expected = MP4 if action.result == "videos" else PNG
            assert downloads(srv, result, action.result)[0] == expected
    apps = {call["app"] for fake in (modes.primary, modes.limited) for call in fake.calls("POST")}
    for action, model, body, _ in started:
        assert route_of(action, model, body).app in apps, (action.key, body)
    assert not modes.primary.refused and not modes.limited.refused


def test_fake_fal_refuses_like_fal(modes):
    """The fake answers as fal does to what its schema refuses, so the tests above can fail."""
    url = modes.primary.url
    assert httpx.post(f"{url}/fal-ai/wan/v2.2-a14b/speech-to-video/turbo", json={}).status_code == 404
    r = httpx.post(
        f"{url}/fal-ai/wan-25-preview/text-to-video",
        json={"prompt": "", "aspect_ratio": "4:3", "duration": "7", "seed": "x", "colour": "red"},
    )
    assert r.status_code == 422
    detail = {tuple(d["loc"]): d["type"] for d in r.json()["detail"]}
    assert detail == {
        ("body", "aspect_ratio"): "enum",
        ("body", "duration"): "enum",
        ("body", "seed"): "integer_type",
        ("body", "colour"): "extra_forbidden",
        ("body", "prompt"): "string_too_short",
    }
    r = httpx.post(
        f"{url}/fal-ai/kling-video/v3/pro/text-to-video", json={"multi_prompt": [{"duration": "3"}], "cfg_scale": 2}
    )
    assert r.status_code == 422
    detail = {tuple(d["loc"]): d["type"] for d in r.json()["detail"]}
    assert detail == {("body", "multi_prompt", 0, "prompt"): "missing", ("body", "cfg_scale"): "less_than_equal"}
    r = httpx.post(
        f"{url}/fal-ai/flux-2-pro/edit", json={"prompt": "a fox", "image_urls": [IMG], "image_size": "auto 1k"}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "image_size"]


@pytest.mark.parametrize(
    ("family", "action", "body", "message"),
    [
        (
            "wan",
            "text_to_video",
            {"model": "wan-2.5-text-to-video", "prompt": "a fox", "duration_seconds": 7, "aspect_ratio": "16:9"},
            "wan-2.5-text-to-video supports duration_seconds 5 or 10",
        ),
        (
            "wan",
            "text_to_video",
            {"model": "wan-2.2-a14b-text-to-video-turbo", "prompt": "a fox", "aspect_ratio": "4:3"},
            "wan-2.2-a14b-text-to-video-turbo supports aspect_ratio 16:9, 9:16 or 1:1",
        ),
        (
            "wan",
            "image_to_video",
            {"model": "wan-2.2-a14b-image-to-video-turbo", "first_frame_image_url": IMG, "duration_seconds": 10},
            "wan-2.2-a14b-image-to-video-turbo makes 5-second videos",
        ),
    ],
)
def test_inputs_fal_cannot_honour_fail_without_a_submission_and_refund(srv, modes, family, action, body, message):
    _, key = new_account(srv, credits=1000)
    before = len(modes.primary.calls("POST")) + len(modes.backup.calls("POST"))
    with srv.client(key) as c:
        result = finish(c, family, action, create(c, family, action, body))
    assert result["status"] == "failed" and result["error"].startswith(message)
    assert len(modes.primary.calls("POST")) + len(modes.backup.calls("POST")) == before
    assert balance(srv, key) == 1000


def test_fal_bodies_for_the_corrected_routes(srv, modes):
    with srv.client() as c:
        ids = [
            create(
                c,
                "flux_2",
                "remix_image",
                {
                    "model": "flux-2-pro-remix-image",
                    "prompt": "a fox",
                    "source_image_urls": [IMG],
                    "aspect_ratio": "auto",
                },
            ),
            create(
                c,
                "seedance",
                "text_to_video",
                {
                    "model": "seedance-1.5-pro",
                    "prompt": "a bud opens",
                    "aspect_ratio": "1:1",
                    "duration_seconds": 4,
                    "source_image_urls": [IMG, "https://example.com/b.png"],
                },
            ),
            create(
                c,
                "kling",
                "text_to_video",
                {
                    "model": "kling-3.0",
                    "aspect_ratio": "16:9",
                    "output_resolution": "720p",
                    "multi_shots": True,
                    "enable_sound": True,
                    "prompt": "ignored with shots",
                    "multi_prompt": [{"prompt": "a fox runs", "duration_seconds": 3}],
                },
            ),
            create(
                c,
                "wan",
                "image_to_video",
                {"model": "wan-2.5-image-to-video", "first_frame_image_url": IMG, "duration_seconds": 10},
            ),
        ]
        for (family, action), task_id in zip(
            [
                ("flux_2", "remix_image"),
                ("seedance", "text_to_video"),
                ("kling", "text_to_video"),
                ("wan", "image_to_video"),
            ],
            ids,
        ):
            assert finish(c, family, action, task_id)["status"] == "completed"
    calls = {call["app"]: call["body"] for call in modes.primary.calls("POST")[-4:]}
    assert calls["fal-ai/flux-2-pro/edit"]["image_size"] == "auto"
    seedance = calls["fal-ai/bytedance/seedance/v1.5/pro/image-to-video"]
    assert (seedance["image_url"], seedance["end_image_url"]) == (IMG, "https://example.com/b.png")
    kling = calls["fal-ai/kling-video/v3/standard/text-to-video"]
    assert "prompt" not in kling and kling["multi_prompt"] == [{"prompt": "a fox runs", "duration": "3"}]
    wan = calls["fal-ai/wan-25-preview/image-to-video"]
    assert wan["prompt"] and wan["duration"] == "10"


def test_seedance_1_5_refuses_9_21_before_billing(srv):
    _, key = new_account(srv, credits=1000)
    with srv.client(key) as c:
        r = c.post(
            "/api/v1/seedance/text_to_video",
            json={"model": "seedance-1.5-pro", "prompt": "a fox runs", "aspect_ratio": "9:21", "duration_seconds": 4},
        )
    assert r.status_code == 422 and "aspect_ratio" in r.text
    assert balance(srv, key) == 1000


def test_a_request_no_deployment_can_make_fails_at_once_refunded_without_a_submission(srv, modes):
    """fal's kling-v2.6 runs in pro mode only: a std request is out of reach of every fal deployment, so the task
    fails with the table's message on its first step (no retries), nothing is sent and the price comes back."""
    _, key = new_account(srv, credits=1000)
    posts = len(modes.primary.calls("POST")) + len(modes.backup.calls("POST"))
    with srv.client(key) as c:
        task_id = create(
            c,
            "kling",
            "image_to_video",
            {"model": "kling-v2.6", "prompt": "a fox", "mode": "std", "first_frame_image_url": IMG},
        )
        body = finish(c, "kling", "image_to_video", task_id)
    assert body["status"] == "failed" and "pro mode only" in body["error"]
    assert len(modes.primary.calls("POST")) + len(modes.backup.calls("POST")) == posts
    assert balance(srv, key) == 1000
    assert task_row(srv, task_id)["failures"] == 0  # failed on its first step, not after retries


def test_fal_request_body_is_mapped_from_our_parameters(srv, modes):
    with srv.client() as c:
        task_id = create(
            c,
            "veo_3_1",
            "text_to_video",
            {
                "model": "veo-3.1-fast",
                "prompt": "a fox",
                "duration_seconds": 6,
                "aspect_ratio": "9:16",
                "seeds": 12345,
                "first_frame_image_url": "https://example.com/a.png",
                "last_frame_image_url": "https://example.com/b.png",
                "input_mode": "first_and_last_frames",
            },
        )
        body = finish(c, "veo_3_1", "text_to_video", task_id)
    assert body["status"] == "completed" and body["videos"][0]["has_audio"] is True
    call = modes.primary.calls("POST")[-1]
    assert call["app"] == "fal-ai/veo3.1/fast/first-last-frame-to-video"
    assert call["headers"]["authorization"] == "Key k-primary"
    assert call["body"] == {
        "prompt": "a fox",
        "duration": "6s",
        "seed": 12345,
        "generate_audio": True,
        "aspect_ratio": "9:16",
        "first_frame_url": "https://example.com/a.png",
        "last_frame_url": "https://example.com/b.png",
    }


def test_task_references_reach_fal_as_signed_links(srv, modes):
    with srv.client() as c:
        source = create(c, "veo_3_1", "text_to_video", {"model": "veo-3.1", "prompt": "a calm lake"})
        assert finish(c, "veo_3_1", "text_to_video", source)["status"] == "completed"
        extended = create(c, "veo_3_1", "extend_video", {"source_task_id": source, "prompt": "and it rains"})
        body = finish(c, "veo_3_1", "extend_video", extended)
    assert body["status"] == "completed"
    call = modes.primary.calls("POST")[-1]
    assert call["app"] == "fal-ai/veo3.1/extend-video"
    link = call["body"]["video_url"]
    assert link.startswith(srv.url + "/files/generated/" + source) and httpx.get(link).content == MP4


def test_slow_queue_is_polled_until_completed(srv, modes):
    task_id = slow_job(srv, modes, "imagen_4", "text_to_image", {"model": "imagen-4", "prompt": "slow"})
    rid = task_row(srv, task_id)["provider_job"]["handle"]["request_id"]
    assert len([r for r in modes.primary.calls("GET", f"/requests/{rid}/status")]) >= 5


# --- fallback, rate limits, failures, refunds ----------------------------------------------------------------


@pytest.mark.parametrize("failure", ["500", "429"])
def test_submission_falls_back_to_the_next_deployment(srv, modes, failure):
    modes.primary.mode = failure
    _, key = new_account(srv, credits=1000)
    before = len(modes.backup.calls("POST"))
    with srv.client(key) as c:
        task_id = create(c, "flux_kontext", "text_to_image", {"model": "flux-kontext-pro", "prompt": "a fox"})
        body = finish(c, "flux_kontext", "text_to_image", task_id)
    assert body["status"] == "completed" and body["images"][0]["origin_url"] == body["images"][0]["url"]
    row = task_row(srv, task_id)
    assert row["provider"] == "fal-primary"  # routed there; the job records who holds it now
    assert row["provider_job"]["deployment"] == "fal-backup"
    assert row["provider_job"]["tried"] == ["fal-backup"]
    assert len(modes.backup.calls("POST")) == before + 1
    assert modes.backup.calls("POST")[-1]["headers"]["authorization"] == "Key k-backup"


def test_retry_after_keeps_a_rate_limited_deployment_aside(srv, modes):
    one = {"model": "imagen-4-fast", "prompt": "one"}
    second = cooled_down(srv, modes, "imagen_4", "text_to_image", one, {**one, "prompt": "two"})
    assert task_row(srv, second)["provider_job"]["deployment"] == "fal-backup"


def test_a_job_lost_upstream_moves_to_the_next_deployment(srv, modes):
    body = {"model": "seedream-4.5-text-to-image", "prompt": "a fox", "aspect_ratio": "16:9", "output_quality": "high"}
    lost_job_moves_on(srv, modes, "seedream", "text_to_image", body, ["fal-primary", "fal-backup"])
    assert modes.backup.calls("POST")[-1]["body"]["image_size"] == {"width": 5456, "height": 3072}


def test_content_policy_refusal_keeps_the_message_and_refunds(srv, modes):
    body = {"model": "nano-banana", "prompt": "forbidden"}
    assert policy_refusal(srv, modes, "nano_banana", "text_to_image", body)["error"] == POLICY_MESSAGE


def test_nothing_answers_failed_with_the_upstream_error_and_refunded(srv, modes):
    modes.primary.mode = modes.backup.mode = "500"
    _, key = new_account(srv, credits=1000)
    with srv.client(key) as c:
        task_id = create(c, "hailuo", "text_to_video", {"model": "hailuo-02-text-to-video-pro", "prompt": "a fox"})
        body = finish(c, "hailuo", "text_to_video", task_id)
    assert body["status"] == "failed"
    assert body["error"].startswith("Upstream error:") and "HTTP 503" in body["error"]
    assert balance(srv, key) == 1000


def test_status_outage_is_retried_then_fails_and_refunds(srv, modes):
    modes.primary.mode = "status500"  # accepted, then every status check fails: the worker's backoff retries
    _, key = new_account(srv, credits=1000)
    with srv.client(key) as c:
        task_id = create(c, "imagen_4", "text_to_image", {"model": "imagen-4-ultra", "prompt": "a fox"})
        body = finish(c, "imagen_4", "text_to_image", task_id)
    assert body["status"] == "failed"
    assert body["error"].startswith("Upstream error: fal-primary answered HTTP 500")
    assert balance(srv, key) == 1000


def test_concurrency_limit_sends_overflow_to_the_next_deployment(srv, modes):
    modes.limited.mode, modes.limited.slow_polls = "slow", 40
    before_limited, before_primary = len(modes.limited.calls("POST")), len(modes.primary.calls("POST"))
    with srv.client() as c:
        first = create(c, "z_image", "text_to_image", {"model": "z-image", "prompt": "a", "aspect_ratio": "1:1"})
        deadline = time.time() + 30
        while len(modes.limited.calls("POST")) == before_limited and time.time() < deadline:
            time.sleep(0.02)
        second = create(c, "z_image", "text_to_image", {"model": "z-image", "prompt": "b", "aspect_ratio": "1:1"})
        assert finish(c, "z_image", "text_to_image", second)["status"] == "completed"
        assert finish(c, "z_image", "text_to_image", first)["status"] == "completed"
    assert len(modes.limited.calls("POST")) == before_limited + 1
    assert len(modes.primary.calls("POST")) == before_primary + 1
    assert task_row(srv, first)["provider_job"]["deployment"] == "fal-limited"
    assert task_row(srv, second)["provider_job"]["deployment"] == "fal-primary"


def test_guardrails_steer_routing_and_fallback_by_deployment_name(srv, modes):
    keys = keys_under_guardrails(
        srv,
        {
            "no primary": {"blocked_providers": ["fal-primary"]},
            "no fal at all": {"blocked_providers": ["fal-primary", "fal-backup"]},
        },
    )
    before_primary = len(modes.primary.calls("POST"))
    modes.backup.mode = "500"  # the permitted deployment fails: fallback must not reach the blocked one
    with srv.client(keys["no primary"]) as c:
        r = c.post("/api/v1/imagen_4/text_to_image", json={"model": "imagen-4", "prompt": "a fox"})
        assert r.status_code == 202
        row = task_row(srv, r.json()["id"])
        assert row["provider"] == "fal-backup" and row["provider_job"]["tried"] == ["fal-primary"]
        body = finish(c, "imagen_4", "text_to_image", r.json()["id"])
        assert body["status"] == "failed"
    assert len(modes.primary.calls("POST")) == before_primary
    modes.backup.mode = "ok"
    with srv.client(keys["no primary"]) as c:
        r = c.post("/api/v1/imagen_4/text_to_image", json={"model": "imagen-4", "prompt": "a cat"})
        assert finish(c, "imagen_4", "text_to_image", r.json()["id"])["status"] == "completed"
        r = c.post(
            "/api/v1/gpt_image/text_to_image",
            json={"model": "gpt-image-1.5", "prompt": "a fox", "aspect_ratio": "1:1", "quality": "medium"},
        )
        assert r.status_code == 202
        r = c.post("/api/v1/suno/generate_lyrics", json={"prompt": "a fox"})  # no upstream carries Suno: sandbox
        assert r.status_code == 202 and task_row(srv, r.json()["id"])["provider"] == "sandbox"
    with srv.client(keys["no fal at all"]) as c:
        r = c.post("/api/v1/imagen_4/text_to_image", json={"model": "imagen-4", "prompt": "a fox"})
        assert r.status_code == 403 and "fal-primary" in r.json()["error"]


# --- OpenAI Images ---------------------------------------------------------------------------------------


def test_openai_images_generate_and_edit(srv, modes, inputs_host):
    with srv.client() as c:
        gen = create(
            c,
            "gpt_image",
            "text_to_image",
            {"model": "gpt-image-1.5", "prompt": "a kite", "aspect_ratio": "3:2", "quality": "high"},
        )
        edit = create(
            c,
            "gpt_image_2",
            "edit_image",
            {
                "model": "gpt-image-2",
                "prompt": "make it blue",
                "source_image_urls": [inputs_host.url + "/a.png", inputs_host.url + "/b.png"],
                "aspect_ratio": "16:9",
                "output_resolution": "2k",
            },
        )
        four_o = create(
            c,
            "gpt_4o_image",
            "text_to_image",
            {"model": "gpt-4o-image", "prompt": "two cats", "aspect_ratio": "1:1", "output_count": 2},
        )
        for action, family, task_id, n in (
            ("text_to_image", "gpt_image", gen, 1),
            ("edit_image", "gpt_image_2", edit, 1),
            ("text_to_image", "gpt_4o_image", four_o, 2),
        ):
            body = finish(c, family, action, task_id)
            assert body["status"] == "completed", body
            assert downloads(srv, body, "images") == [PNG] * n
    gen_call, four_o_call = modes.openai.calls("POST", "/generations")[-2:]
    assert gen_call["headers"]["authorization"] == "Bearer sk-img"
    assert gen_call["body"] == {"prompt": "a kite", "size": "1536x1024", "quality": "high", "model": "gpt-image-1.5"}
    assert four_o_call["body"]["model"] == "gpt-image-1" and four_o_call["body"]["n"] == 2
    edit_call = modes.openai.calls("POST", "/edits")[-1]
    assert edit_call["images"] == [PNG, PNG]
    assert edit_call["body"]["size"] == "2048x1152" and edit_call["body"]["model"] == "gpt-image-2"


def test_gpt_image_2_at_4k_and_1k_passes_openai(srv, modes):
    with srv.client() as c:
        for ratio, resolution, size in (
            ("4:3", "4k", "3264x2448"),
            ("16:9", "1k", "1280x720"),
            ("3:4", "4k", "2448x3264"),
        ):
            task_id = create(
                c,
                "gpt_image_2",
                "text_to_image",
                {"model": "gpt-image-2", "prompt": "a kite", "aspect_ratio": ratio, "output_resolution": resolution},
            )
            assert finish(c, "gpt_image_2", "text_to_image", task_id)["status"] == "completed"
            assert modes.openai.calls("POST", "/generations")[-1]["body"]["size"] == size


def test_openai_moderation_refusal_fails_with_its_message_and_refunds(srv, modes):
    modes.openai.mode = "policy"
    _, key = new_account(srv, credits=1000)
    with srv.client(key) as c:
        task_id = create(
            c,
            "gpt_image",
            "text_to_image",
            {"model": "gpt-image-1.5", "prompt": "a fox", "aspect_ratio": "1:1", "quality": "medium"},
        )
        body = finish(c, "gpt_image", "text_to_image", task_id)
    assert body["status"] == "failed" and body["error"] == "Your request was rejected by the safety system."
    assert balance(srv, key) == 1000


# --- ElevenLabs ------------------------------------------------------------------------------------------


def test_elevenlabs_every_action(srv, modes, inputs_host):
    with srv.client() as c:
        ids = {
            "text_to_speech": create(
                c,
                "elevenlabs",
                "text_to_speech",
                {
                    "model": "text-to-speech-multilingual-v2",
                    "text": "Hi there",
                    "voice": "rachel",
                    "stability": 0.4,
                    "similarity_boost": 0.8,
                    "timestamps": True,
                    "language_code": "en",
                    "previous_text": "Well.",
                    "next_text": "Bye.",
                },
            ),
            "text_to_dialogue": create(
                c,
                "elevenlabs",
                "text_to_dialogue",
                {
                    "dialogue": [{"text": "Hello", "voice": "Adam"}, {"text": "Hi", "voice": "21m00Tcm4TlvDq8ikWAM"}],
                    "language_code": "en",
                },
            ),
            "text_to_sound": create(c, "elevenlabs", "text_to_sound", {"text": "rain", "duration_seconds": 2}),
            "speech_to_text": create(
                c, "elevenlabs", "speech_to_text", {"source_audio_url": inputs_host.url + "/talk.mp3", "diarize": True}
            ),
            "isolate_audio": create(c, "elevenlabs", "isolate_audio", {"source_audio_url": inputs_host.url + "/n.mp3"}),
        }
        bodies = {a: finish(c, "elevenlabs", a, t) for a, t in ids.items()}
    assert all(b["status"] == "completed" for b in bodies.values()), bodies
    for action in ("text_to_speech", "text_to_dialogue", "text_to_sound", "isolate_audio"):
        assert downloads(srv, bodies[action], "audios") == [MP3]
    assert bodies["text_to_speech"]["audios"][0]["timestamps"][:2] == [
        {"word": "Hi", "start": 0.0, "end": 0.2},
        {"word": "there", "start": 0.3, "end": 0.8},
    ]
    assert bodies["speech_to_text"]["text"] == "Hello from the fake."
    speech = modes.eleven.calls("POST", "/with-timestamps")[-1]
    assert speech["voice"] == "21m00Tcm4TlvDq8ikWAM" and speech["headers"]["xi-api-key"] == "xi-test"
    assert speech["body"]["model_id"] == "eleven_multilingual_v2"
    assert speech["body"]["voice_settings"] == {"stability": 0.4, "similarity_boost": 0.8}
    assert (speech["body"]["language_code"], speech["body"]["previous_text"], speech["body"]["next_text"]) == (
        "en",
        "Well.",
        "Bye.",
    )
    dialogue = modes.eleven.calls("POST", "/text-to-dialogue")[-1]["body"]
    assert dialogue["language_code"] == "en"
    assert dialogue["inputs"] == [
        {"text": "Hello", "voice_id": "pNInz6obpgDQGcFmaJgB"},
        {"text": "Hi", "voice_id": "21m00Tcm4TlvDq8ikWAM"},
    ]
    stt = modes.eleven.calls("POST", "/speech-to-text")[-1]
    assert stt["audio"] == MP3 and stt["body"] == {"model_id": "scribe_v1", "diarize": "true"}


def test_elevenlabs_unknown_voice_and_refusal_fail_and_refund(srv, modes):
    _, key = new_account(srv, credits=1000)
    with srv.client(key) as c:
        unknown = create(
            c,
            "elevenlabs",
            "text_to_speech",
            {"model": "text-to-speech-multilingual-v2", "text": "x", "voice": "Nobody"},
        )
        assert finish(c, "elevenlabs", "text_to_speech", unknown)["error"] == "Unknown voice 'Nobody'"
        modes.eleven.mode = "policy"
        refused = create(c, "elevenlabs", "text_to_sound", {"text": "x"})
        body = finish(c, "elevenlabs", "text_to_sound", refused)
    assert body["status"] == "failed" and body["error"] == "This request violates our terms of service."
    assert balance(srv, key) == 1000


# --- configuration ---------------------------------------------------------------------------------------


def test_a_removed_deployment_fails_its_tasks_instead_of_retrying_forever(tmp_path):
    from runapi.providers import ProviderRegistry
    from runapi.providers.sandbox import SandboxProvider

    registry = ProviderRegistry(SandboxProvider(httpx.AsyncClient()))
    assert registry.candidates("imagen_4", "imagen-4", "text_to_image") == ["sandbox"]
    assert registry.get("fal-gone").name == "fal-gone"


def test_bad_settings_are_refused_at_start():
    from runapi.providers.upstream import build_router

    client = httpx.AsyncClient()
    for bad in (
        [{"name": "x", "kind": "replicate"}],
        [{"kind": "fal"}],
        [{"name": "sandbox", "kind": "fal"}],
        [{"name": "a", "kind": "fal", "max_concurrency": 0}],
        [{"name": "a", "kind": "fal", "colour": 1}],
    ):
        with pytest.raises(ValueError):
            build_router(bad, client, None)


# --- fal webhooks ----------------------------------------------------------------------------------------


def test_fal_webhook_wakes_the_task_at_once_and_forged_ones_are_refused(tmp_path):
    fal = FakeFal("hooked")
    fal.mode = "webhook"
    # Polling every hour: only the webhook can finish this task within the test.
    server = start_server(
        tmp_path,
        media_upstreams=[
            {
                "name": "fal-hooked",
                "kind": "fal",
                "base_url": fal.url,
                "api_key": "k",
                "poll_seconds": 3600,
                "webhooks": True,
            }
        ],
    )
    try:
        with server.client() as c:
            task_id = create(c, "imagen_4", "text_to_image", {"model": "imagen-4", "prompt": "a fox"})
            body = finish(c, "imagen_4", "text_to_image", task_id)
            assert body["status"] == "completed" and downloads(server, body, "images") == [PNG]
            (job,) = fal.jobs.values()
            assert job["webhook"].startswith(f"{server.url}/webhooks/upstream/{task_id}?signature=")
            assert job["webhook_status"] == 200 and job["body"]["prompt"] == "a fox"
            forged = c.post(f"/webhooks/upstream/{task_id}?signature=nope")
            assert forged.status_code == 401
    finally:
        server.stop()
        fal.stop()


def test_a_timed_out_task_cancels_its_upstream_job_and_is_refunded(tmp_path):
    fal = FakeFal("stuck")
    fal.mode, fal.slow_polls = "slow", 10**6  # never finishes
    server = start_server(
        tmp_path,
        task_timeout_seconds=1.0,
        media_upstreams=[
            {"name": "fal-stuck", "kind": "fal", "base_url": fal.url, "api_key": "k", "poll_seconds": 0.2}
        ],
    )
    try:
        _, key = new_account(server, credits=1000)
        with server.client(key) as c:
            task_id = create(c, "imagen_4", "text_to_image", {"model": "imagen-4", "prompt": "a fox"})
            body = finish(c, "imagen_4", "text_to_image", task_id)
        assert body["status"] == "failed" and body["error"] == "Task timed out"
        assert fal.calls("PUT", "/cancel") and next(iter(fal.jobs.values()))["cancelled"] is True
        assert balance(server, key) == 1000
    finally:
        server.stop()
        fal.stop()
