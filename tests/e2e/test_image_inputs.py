"""Image inputs that steer an edit are fetched, checked and used (issue 12, item 5): Ideogram V3's mask, character,
style and reference-mask images and gpt-4o-image's mask fail the task (refunded) when unreachable or not an
image; a mask must have the source's dimensions (refused before billing when both files are ours); the mask
decides which pixels change. And sizes keep the requested aspect ratio exactly where a size of the sandbox's
16-pixel step has it (issue 12, item 8)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from runapi.providers.sandbox import samples
from tests.support.image_inputs import mask_png, png
from tests.support.servers import wait_done

EDIT = "/api/v1/ideogram_v3/edit_image"
REMIX = "/api/v1/ideogram_v3/remix_image"
GPT4O = "/api/v1/gpt_4o_image/text_to_image"


def files_host(recorder, files: dict[str, bytes]):
    """Serves `files` by path; anything else is a 404."""

    def serve(m, path, h, b):
        if path in files:
            return 200, {"Content-Type": "image/png"}, files[path]
        return 404, {"Content-Type": "text/plain"}, b"not found"

    return recorder(serve)


def balance(api) -> int:
    return api.get("/api/v1/me/balance").json()["balance_cents"]


def upload(api, data: bytes, name: str) -> str:
    r = api.post("/api/v1/files", files={"file": (name, data)})
    assert r.status_code == 201, r.text
    return r.json()["url"]


def fails(api, path: str, body: dict) -> str:
    """Creates the task, waits for it, checks it failed and was refunded; returns its error."""
    before = balance(api)
    r = api.post(path, json=body)
    assert r.status_code == 202, r.text
    done = wait_done(api, path, r.json()["id"])
    assert done["status"] == "failed", done
    assert balance(api) == before  # refunded
    return done["error"]


# ------------------------------------------------------------------------------------- fetched and checked
def test_unreachable_mask_fails_the_task_and_is_refunded(api, recorder):
    host = files_host(recorder, {"/src.png": png(64, 48)})
    error = fails(
        api,
        EDIT,
        {
            "model": "ideogram-v3-edit",
            "prompt": "a hat",
            "source_image_url": f"{host.url}/src.png",
            "mask_url": f"{host.url}/missing.png",
        },
    )
    assert error == "Failed to fetch the mask"


def test_mask_that_is_not_an_image_fails_the_task(api, recorder):
    host = recorder(
        lambda m, p, h, b: (
            (200, {"Content-Type": "image/png"}, png(64, 48))
            if p == "/src.png"
            else (200, {"Content-Type": "text/html"}, b"<html>login</html>")
        )
    )
    error = fails(
        api,
        EDIT,
        {
            "model": "ideogram-v3-edit",
            "prompt": "a hat",
            "source_image_url": f"{host.url}/src.png",
            "mask_url": f"{host.url}/page.html",
        },
    )
    assert error == "Failed to fetch the mask: not a supported image"


def test_gpt4o_mask_is_fetched_too(api, recorder):
    host = files_host(recorder, {"/src.png": png(64, 64)})
    error = fails(
        api,
        GPT4O,
        {
            "model": "gpt-4o-image",
            "prompt": "stars",
            "aspect_ratio": "1:1",
            "source_image_urls": [f"{host.url}/src.png"],
            "mask_url": f"{host.url}/gone.png",
        },
    )
    assert error == "Failed to fetch the mask"


@pytest.mark.parametrize(
    "param,what",
    [
        ("reference_image_urls", "reference image"),
        ("style_reference_image_urls", "style reference image"),
        ("reference_mask_urls", "reference mask"),
    ],
)
def test_unreachable_character_style_and_reference_mask_images_fail_the_task(api, recorder, param, what):
    host = files_host(recorder, {"/src.png": png(64, 48), "/ref.png": png(32, 32, 1)})
    body = {
        "model": "ideogram-v3-character-remix",
        "prompt": "watercolor",
        "source_image_url": f"{host.url}/src.png",
        "reference_image_urls": [f"{host.url}/ref.png"],
        param: [f"{host.url}/missing.png"],
    }
    assert fails(api, REMIX, body) == f"Failed to fetch the {what}"


def test_character_edit_reference_must_be_an_image(api, recorder):
    host = recorder(lambda m, p, h, b: (200, {}, png(64, 48) if p != "/ref.txt" else b"just text"))
    body = {
        "model": "ideogram-v3-character-edit",
        "prompt": "a hat",
        "source_image_url": f"{host.url}/src.png",
        "mask_url": f"{host.url}/mask.png",
        "reference_image_urls": [f"{host.url}/ref.txt"],
    }
    assert fails(api, EDIT, body) == "Failed to fetch the reference image: not a supported image"


# ------------------------------------------------------------------------------------------ mask size rule
def test_mask_of_another_size_fails_the_task(api, recorder):
    host = files_host(recorder, {"/src.png": png(64, 48), "/mask.png": mask_png(32, 32)})
    error = fails(
        api,
        EDIT,
        {
            "model": "ideogram-v3-edit",
            "prompt": "a hat",
            "source_image_url": f"{host.url}/src.png",
            "mask_url": f"{host.url}/mask.png",
        },
    )
    assert error == ("The mask must have the same dimensions as the source image: the mask is 32×32, the source 64×48")


def test_mask_of_another_size_in_our_storage_is_refused_before_billing(api):
    source, mask = upload(api, png(64, 48), "src.png"), upload(api, mask_png(32, 32), "mask.png")
    before = balance(api)
    r = api.post(
        EDIT, json={"model": "ideogram-v3-edit", "prompt": "a hat", "source_image_url": source, "mask_url": mask}
    )
    assert r.status_code == 422, r.text
    assert "same dimensions as the source image" in r.json()["error"]
    assert balance(api) == before
    r = api.post(
        GPT4O,
        json={
            "model": "gpt-4o-image",
            "prompt": "stars",
            "aspect_ratio": "1:1",
            "source_image_urls": [source],
            "mask_url": mask,
        },
    )
    assert r.status_code == 422 and "same dimensions" in r.json()["error"], r.text


def test_mask_in_our_storage_that_is_not_an_image_is_refused_before_billing(api):
    # an upload of another kind (audio) named as the mask
    source, mask = upload(api, png(64, 48), "src.png"), upload(api, samples.sample_bytes("mp3"), "voice.mp3")
    r = api.post(
        EDIT, json={"model": "ideogram-v3-edit", "prompt": "a hat", "source_image_url": source, "mask_url": mask}
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "Failed to fetch the mask: not a supported image"


def test_matching_mask_by_url_completes_at_the_source_size(api, recorder):
    host = files_host(recorder, {"/src.png": png(80, 48), "/mask.png": mask_png(80, 48)})
    r = api.post(
        EDIT,
        json={
            "model": "ideogram-v3-edit",
            "prompt": "a hat",
            "source_image_url": f"{host.url}/src.png",
            "mask_url": f"{host.url}/mask.png",
        },
    )
    done = wait_done(api, EDIT, r.json()["id"])
    assert done["status"] == "completed", done
    out = Image.open(io.BytesIO(api.get(done["images"][0]["url"]).content))
    assert out.size == (80, 48)


def test_gpt4o_mask_needs_a_source_image(api):
    r = api.post(
        GPT4O,
        json={
            "model": "gpt-4o-image",
            "prompt": "stars",
            "aspect_ratio": "1:1",
            "mask_url": "https://example.com/mask.png",
        },
    )
    assert r.status_code == 422 and "mask_url requires source_image_urls" in r.json()["error"], r.text
