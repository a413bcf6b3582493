"""Chained video tasks over HTTP: Veo text → extend → upscale, with the documented status fields."""

import uuid

from runapi.providers.sandbox import media
from tests.support.servers import new_account, wait_done

VEO = "/api/v1/veo_3_1"


def test_veo_chain(api, server):
    made = api.post(f"{VEO}/text_to_video", json={"model": "veo-3.1-fast", "prompt": "a lake", "duration_seconds": 4})
    first = wait_done(api, f"{VEO}/text_to_video", made.json()["id"], timeout=60)
    video = first["videos"][0]
    assert set(video) == {"url", "resolution", "has_audio"} and video["has_audio"] is True
    assert abs(media.probe(api.get(video["url"]).content).duration - 4) < 0.2

    ext = api.post(f"{VEO}/extend_video", json={"source_task_id": first["id"], "prompt": "the sun rises"})
    assert ext.status_code == 202, ext.text
    extended = wait_done(api, f"{VEO}/extend_video", ext.json()["id"], timeout=60)
    assert extended["status"] == "completed", extended
    assert api.get(extended["sources"][0]["url"]).content == api.get(video["url"]).content
    longer = media.probe(api.get(extended["videos"][0]["url"]).content)
    assert longer.duration > 4.5

    up = api.post(f"{VEO}/upscale_video", json={"source_task_id": extended["id"], "output_resolution": "1080p"})
    pending = api.get(f"{VEO}/upscale_video/{up.json()['id']}").json()
    assert pending["source_task_id"] == extended["id"]  # echoed while processing too
    upscaled = wait_done(api, f"{VEO}/upscale_video", up.json()["id"], timeout=90)
    assert upscaled["source_task_id"] == extended["id"]
    info = media.probe(api.get(upscaled["videos"][0]["url"]).content)
    assert (info.width, info.height) == (1920, 1080) and upscaled["videos"][0]["resolution"] == "1080p"


def test_chain_errors(api, server):
    missing = api.post(f"{VEO}/extend_video", json={"source_task_id": str(uuid.uuid4()), "prompt": "x"})
    assert (missing.status_code, missing.json()) == (404, {"error": "Task not found"})
    image_task = api.post("/api/v1/nano_banana/text_to_image", json={"model": "nano-banana", "prompt": "x"}).json()
    wrong_kind = api.post(f"{VEO}/extend_video", json={"source_task_id": image_task["id"], "prompt": "x"})
    assert wrong_kind.status_code == 422  # it exists: the answer names the kinds this parameter takes
    assert "veo_3_1/text_to_video or veo_3_1/extend_video" in wrong_kind.json()["error"]
    _, other_key = new_account(server)
    with server.client(other_key) as other:
        theirs = other.post(f"{VEO}/text_to_video", json={"model": "veo-3.1", "prompt": "x"}).json()["id"]
    foreign = api.post(f"{VEO}/extend_video", json={"source_task_id": theirs, "prompt": "x"})
    assert foreign.status_code == 404


def test_chain_on_an_unfinished_task_is_422(tmp_path):
    from tests.support.servers import start_server

    srv = start_server(tmp_path, sandbox_delay_seconds=30)
    try:
        with srv.client() as c:
            slow = c.post(f"{VEO}/text_to_video", json={"model": "veo-3.1", "prompt": "long"}).json()["id"]
            resp = c.post(f"{VEO}/extend_video", json={"source_task_id": slow, "prompt": "x"})
            assert resp.status_code == 422
            assert resp.json() == {"error": "Records are being generated"}
            assert c.get("/api/v1/me/balance").json()["spent_cents_total"] > 0  # only the first task charged
    finally:
        srv.stop()


def test_seedance_last_frame(api):
    made = api.post(
        "/api/v1/seedance/text_to_video",
        json={
            "model": "seedance-2.0-fast",
            "prompt": "waves on the shore",
            "duration_seconds": 4,
            "output_resolution": "480p",
        },
    )
    assert made.status_code == 202, made.text
    done = wait_done(api, "/api/v1/seedance/text_to_video", made.json()["id"], timeout=60)
    frame = api.get(done["last_frame_image_url"])
    assert frame.status_code == 200 and frame.headers["content-type"] == "image/png"
