"""Documented video parameters that change the result (issue 12, item 6): Runway Aleph aspect_ratio, Kling 3.0
multi-shot length and price, Grok extend start_seconds and its 480p-only upscale, Wan r2v's 1-5 references in
total, Seedance 2.x's reference videos of at most 15 s in total."""

from __future__ import annotations

import httpx
import pytest

from runapi.providers.sandbox import media
from tests.support.servers import wait_done

GROK = "/api/v1/grok_imagine"
SHOTS = [
    {"prompt": "a lander", "duration_seconds": 4},
    {"prompt": "a flag", "duration_seconds": 5},
    {"prompt": "a visor", "duration_seconds": 3},
]


def tiny_video(seconds: float, width: int = 64, height: int = 36, seed: bytes = b"video-params") -> bytes:
    return media.encode_video(seed.ljust(32, b"."), width, height, seconds, has_audio=False)


def upload(api: httpx.Client, data: bytes, name: str = "clip.mp4") -> str:
    r = api.post("/api/v1/files", files={"file": (name, data)})
    assert r.status_code == 201, r.text
    return r.json()["url"]


def balance(api: httpx.Client) -> int:
    return api.get("/api/v1/me/balance").json()["balance_cents"]


def refused(api: httpx.Client, path: str, body: dict) -> str:
    """422 before billing: the answer's message, with the balance untouched."""
    before = balance(api)
    resp = api.post(path, json=body)
    assert resp.status_code == 422, resp.text
    assert balance(api) == before
    return resp.json()["error"]


# ------------------------------------------------------------------------------------------ Runway Aleph


@pytest.mark.parametrize(("ratio", "size"), [("1:1", (36, 36)), ("9:16", (20, 36))])
def test_aleph_output_follows_aspect_ratio(api, ratio, size):
    source = upload(api, tiny_video(0.5))  # 64x36 (16:9)
    made = api.post(
        "/api/v1/runway_aleph/edit_video",
        json={"prompt": "make it dusk", "source_video_url": source, "aspect_ratio": ratio},
    )
    assert made.status_code == 202, made.text
    done = wait_done(api, "/api/v1/runway_aleph/edit_video", made.json()["id"], timeout=60)
    assert done["status"] == "completed", done
    info = media.probe(api.get(done["videos"][0]["url"]).content)
    assert (info.width, info.height) == size
    assert abs(info.duration - 0.5) < 0.1


# ------------------------------------------------------------------------------------------ Kling 3.0 multi-shot


def multi_shot(**extra) -> dict:
    return {
        "model": "kling-3.0",
        "multi_shots": True,
        "enable_sound": True,
        "aspect_ratio": "16:9",
        "output_resolution": "1080p",
        "multi_prompt": SHOTS,
        **extra,
    }


def test_kling_multi_shot_video_is_the_shots_long(api):
    shots = [{"prompt": "a", "duration_seconds": 1}, {"prompt": "b", "duration_seconds": 2}]
    before = balance(api)
    made = api.post(
        "/api/v1/kling/text_to_video", json=multi_shot(aspect_ratio="1:1", output_resolution="720p", multi_prompt=shots)
    )
    assert made.status_code == 202, made.text
    done = wait_done(api, "/api/v1/kling/text_to_video", made.json()["id"], timeout=60)
    assert done["status"] == "completed", done
    assert abs(media.probe(api.get(done["videos"][0]["url"]).content).duration - 3) < 0.1
    assert before - balance(api) == 30
    message = refused(api, "/api/v1/kling/text_to_video", multi_shot(multi_prompt=shots, duration_seconds=5))
    assert "must equal the sum of multi_prompt[].duration_seconds (3)" in message


# ------------------------------------------------------------------------------------------ Grok extend / upscale


@pytest.fixture(scope="module")
def grok_videos(server):
    """A 6 s 480p and a 6 s 720p Grok text-to-video task (the smallest the docs allow)."""
    out = {}
    with server.client() as api:
        for res in ("480p", "720p"):
            made = api.post(
                f"{GROK}/text_to_video",
                json={
                    "model": "grok-imagine-text-to-video",
                    "prompt": "a boat",
                    "aspect_ratio": "1:1",
                    "duration_seconds": 6,
                    "output_resolution": res,
                },
            )
            done = wait_done(api, f"{GROK}/text_to_video", made.json()["id"], timeout=60)
            assert done["status"] == "completed", done
            out[res] = done["id"]
    return out


def test_grok_extend_starts_at_start_seconds(api, grok_videos):
    made = api.post(
        f"{GROK}/extend_video",
        json={
            "source_task_id": grok_videos["480p"],
            "prompt": "on",
            "start_seconds": 2,
            "extension_duration_seconds": 6,
        },
    )
    assert made.status_code == 202, made.text
    done = wait_done(api, f"{GROK}/extend_video", made.json()["id"], timeout=60)
    assert done["status"] == "completed", done
    assert abs(media.probe(api.get(done["videos"][0]["url"]).content).duration - 8) < 0.1  # source[0:2] + 6 s


def test_grok_extend_past_the_source_is_refused_before_billing(api, grok_videos):
    message = refused(
        api,
        f"{GROK}/extend_video",
        {"source_task_id": grok_videos["480p"], "prompt": "on", "start_seconds": 7, "extension_duration_seconds": 6},
    )
    assert message == "start_seconds (7) is beyond the end of the source video (6.00 s)"


def test_grok_upscale_takes_480p_sources_only(api, grok_videos):
    message = refused(api, f"{GROK}/upscale_image", {"source_task_id": grok_videos["720p"]})
    assert message == "Only 480p source videos can be upscaled (the source video is 720p)"
    assert api.post(f"{GROK}/upscale_image", json={"source_task_id": grok_videos["480p"]}).status_code == 202


# ------------------------------------------------------------------------------------------ Seedance 2.x


def seedance(refs: list[str]) -> dict:
    return {
        "model": "seedance-2.0-fast",
        "prompt": "a dancer on a rooftop",
        "duration_seconds": 4,
        "output_resolution": "480p",
        "reference_video_urls": refs,
    }


def test_seedance_reference_videos_over_15s_refused_before_billing(api):
    long_clip = upload(api, tiny_video(8.0, 32, 32))
    message = refused(api, "/api/v1/seedance/text_to_video", seedance([long_clip, long_clip]))
    assert message == "The reference_video_urls videos must total at most 15 s (got 16.00 s)"


def test_seedance_reference_videos_over_15s_fail_the_task_refunded(api, recorder):
    clip = tiny_video(8.0, 32, 32)
    host = recorder(lambda m, p, h, b: (200, {"Content-Type": "video/mp4"}, clip))
    before = balance(api)
    made = api.post("/api/v1/seedance/text_to_video", json=seedance([host.url + "/a.mp4", host.url + "/b.mp4"]))
    assert made.status_code == 202, made.text  # not ours: only known once fetched
    done = wait_done(api, "/api/v1/seedance/text_to_video", made.json()["id"], timeout=60)
    assert done["status"] == "failed" and "must total at most 15 s" in done["error"], done
    assert balance(api) == before
