"""The official openai SDK against the OpenAI-compatible media endpoints (sandbox providers): images generated
and edited (base64 and links), speech, transcriptions, the video API (create, poll, download, list, delete).
Every call is a task charged the catalog's price; a refused or failed call charges nothing."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from runapi.auth import admin
from runapi.catalog import get_catalog
from runapi.catalog.validation import validate
from runapi.openai_media.fields import parse_fields
from runapi.openai_media.mapping import OpenAiRequest, catalog_body, route_for
from tests.support.servers import new_account, start_server, wait_for

URL = "https://example.com/input.png"  # stands in for an input when only the price is computed

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")  # the SDK's video methods


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(api_key=server.key, base_url=server.url + "/v1", max_retries=0)


def balance(server) -> int:
    with server.client() as c:
        return c.get("/api/v1/me/balance").json()["balance_cents"]


def price(endpoint: str, inputs: tuple[str, ...] = (), **fields: Any) -> int:
    """What the catalog charges for this OpenAI request (the mapped request's quote)."""
    route = route_for(get_catalog(), endpoint, fields["model"], None)
    field = {"images.edits": "image", "audio.transcriptions": "file", "videos": "input_reference"}.get(endpoint)
    given = {field: inputs} if field and inputs else {}
    body = catalog_body(route, OpenAiRequest(endpoint, parse_fields(endpoint, fields), given))
    model, params = validate(route.action, body)
    assert model is not None
    return model.quote(params)


def image_of(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


@pytest.fixture(scope="module")
def png(client) -> bytes:
    """An image of ours to edit."""
    return base64.b64decode(client.images.generate(model="z-image", prompt="a plain test card").data[0].b64_json)


# ------------------------------------------------------------------------------------------------ images


def test_generate_base64_png_charged_the_catalog_price(client, server):
    before = balance(server)
    r = client.images.generate(model="gpt-image-1.5", prompt="A red fox in the snow", quality="high", size="1024x1536")
    assert r.created > 0 and len(r.data) == 1 and r.data[0].url is None and r.output_format == "png"
    img = image_of(base64.b64decode(r.data[0].b64_json))
    assert img.format == "PNG" and img.height > img.width  # 2:3
    expected = price("images.generations", model="gpt-image-1.5", prompt="x", quality="high", size="1024x1536")
    assert expected == 13 and balance(server) == before - expected


def test_generate_jpeg_and_several_images(client, server):
    r = client.images.generate(model="nano-banana", prompt="A lighthouse", output_format="jpeg", size="1792x1024")
    img = image_of(base64.b64decode(r.data[0].b64_json))
    assert img.format == "JPEG" and r.output_format == "jpeg"
    assert abs(img.width / img.height - 16 / 9) < 0.02  # 1792x1024 is taken as 16:9
    before = balance(server)
    r = client.images.generate(model="gpt-4o-image", prompt="Two cats", n=2, response_format="b64_json")
    assert len(r.data) == 2 and all(image_of(base64.b64decode(d.b64_json)).format == "PNG" for d in r.data)
    assert balance(server) == before - price("images.generations", model="gpt-4o-image", prompt="x", n=2)


def test_generate_url_gives_a_fetchable_link(client):
    r = client.images.generate(model="seedream-4.5-text-to-image", prompt="A city at night", response_format="url")
    assert r.data[0].b64_json is None and r.data[0].url.startswith("http")
    got = httpx.get(r.data[0].url)
    assert got.status_code == 200 and got.headers["content-type"].startswith("image/")
    assert image_of(got.content).size[0] > 0


def test_the_answer_names_its_task(client, server):
    raw = client.images.with_raw_response.generate(model="z-image", prompt="A leaf")
    task_id = raw.headers["x-runapi-task-id"]
    with server.client() as c:
        task = c.get(f"/api/v1/z_image/text_to_image/{task_id}").json()
    assert task["status"] == "completed" and task["model"] == "z-image"


def test_edit_one_image_and_several_and_with_a_mask(client, server, png):
    before = balance(server)
    r = client.images.edit(model="gpt-image-1.5", image=("in.png", png, "image/png"), prompt="Make it blue")
    assert image_of(base64.b64decode(r.data[0].b64_json)).format == "PNG"
    assert balance(server) == before - price("images.edits", (URL,), model="gpt-image-1.5", prompt="x")
    files = [("a.png", png, "image/png"), ("b.png", png, "image/png")]
    r = client.images.edit(model="gpt-image-2", image=files, prompt="Merge them", size="1024x1024")
    assert len(r.data) == 1
    mask = Image.new("RGBA", image_of(png).size, (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, mask.width // 2, mask.height))
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    r = client.images.edit(
        model="gpt-4o-image", image=("in.png", png, "image/png"), mask=("m.png", buffer.getvalue()), prompt="A hat"
    )
    assert image_of(base64.b64decode(r.data[0].b64_json)).size == image_of(png).size  # the mask keeps the size


def test_edit_by_reference_in_json(server, png):
    data_url = "data:image/png;base64," + base64.b64encode(png).decode()
    with server.client() as c:
        r = c.post(
            "/v1/images/edits",
            json={
                "model": "gpt-image-2",
                "prompt": "Sharper",
                "images": [{"image_url": data_url}],
                "size": "1024x1024",
            },
        )
        assert r.status_code == 200, r.text
        assert image_of(base64.b64decode(r.json()["data"][0]["b64_json"])).format == "PNG"
        refused = c.post("/v1/images/edits", json={"model": "gpt-image-2", "prompt": "x", "images": [{"url": "x"}]})
        assert refused.status_code == 400 and refused.json()["error"]["type"] == "invalid_request_error"
        assert "image needs an image_url or a file_id" in refused.json()["error"]["message"]


def test_inputs_by_file_id_of_v1_files(client, png):
    stored = client.files.create(file=("card.png", png, "image/png"), purpose="vision")
    r = client.images.edit(model="gpt-image-2", image=[], prompt="x", extra_body={"images": [{"file_id": stored.id}]})
    assert image_of(base64.b64decode(r.data[0].b64_json)).format == "PNG"
    video = client.videos.create(
        model="kling-v2.1-standard", prompt="It turns", extra_body={"input_reference": {"file_id": stored.id}}
    )
    assert client.videos.poll(video.id, poll_interval_ms=100).status == "completed"


def test_a_failed_image_answers_422_with_the_reason_and_is_refunded(server, recorder):
    missing = recorder(lambda m, p, h, b: (404, {}, b"gone"))
    before = balance(server)
    with server.client() as c:
        r = c.post(
            "/v1/images/edits",
            json={"model": "gpt-image-1.5", "prompt": "x", "images": [{"image_url": missing.url + "/in.png"}]},
        )
    assert r.status_code == 422 and r.json()["error"]["code"] == "generation_failed"
    assert "fetch" in r.json()["error"]["message"].lower() and r.headers["x-runapi-task-id"]
    wait_for(lambda: balance(server) == before)


def test_refused_requests_charge_nothing(client, server, png):
    before = balance(server)
    with pytest.raises(openai.NotFoundError) as info:
        client.images.generate(model="dall-e-3", prompt="x")
    assert info.value.code == "model_not_found" and "gpt-image-1.5" in info.value.message
    with pytest.raises(openai.BadRequestError, match="aspect ratio 3:2"):
        client.images.generate(model="gpt-image-2", prompt="x", size="1536x1024")
    with pytest.raises(openai.BadRequestError, match="Invalid value for quality: 'low'"):
        client.images.generate(model="gpt-image-1.5", prompt="x", quality="low")
    with pytest.raises(openai.BadRequestError, match="makes one image per request"):
        client.images.generate(model="gpt-image-1.5", prompt="x", n=3)
    with pytest.raises(openai.BadRequestError, match="Missing required parameter: image"):
        client.images.edit(model="gpt-image-1.5", image=[], prompt="x")
    with pytest.raises(openai.APIStatusError) as info:  # not an image: refused before billing
        client.images.edit(
            model="gpt-image-1.5", image=("notes.txt", b"just some text\n" * 20, "text/plain"), prompt="x"
        )
    assert 400 <= info.value.status_code < 500
    assert balance(server) == before


def test_a_keys_allowed_models_and_credit_limit_apply(server):
    mgmt = server.db_call(lambda db: admin.mint_key(db, 1, "management"))
    with server.client(mgmt.token) as m:
        limits = {"allowed_models": ["z-image"], "credit_limit_cents": 2, "credit_limit_reset_interval": "daily"}
        key = m.post("/api/v1/keys", json={"name": "openai media", **limits}).json()["key"]
    limited = openai.OpenAI(api_key=key, base_url=server.url + "/v1", max_retries=0)
    with pytest.raises(openai.UnprocessableEntityError, match="Model gpt-image-1.5 is not allowed for this API key"):
        limited.images.generate(model="gpt-image-1.5", prompt="x")
    with pytest.raises(openai.NotFoundError, match="Models available at /v1/images/generations: z-image$"):
        limited.images.generate(model="dall-e-3", prompt="x")
    for _ in range(2):
        assert limited.images.generate(model="z-image", prompt="ok").data  # 1 cent each
    with pytest.raises(openai.PermissionDeniedError, match="credit limit"):
        limited.images.generate(model="z-image", prompt="one too many")
    with pytest.raises(openai.PermissionDeniedError):  # a management key cannot generate
        openai.OpenAI(api_key=mgmt.token, base_url=server.url + "/v1", max_retries=0).images.generate(
            model="z-image", prompt="x"
        )


# ------------------------------------------------------------------------------------------------- audio


def test_speech_gives_audio_bytes_and_refuses_what_the_model_cannot_do(client, server):
    before = balance(server)
    audio = client.audio.speech.create(
        model="text-to-speech-turbo-v2.5", voice="alloy", input="Hello from the OpenAI SDK", speed=0.9
    )
    assert audio.response.headers["content-type"] == "audio/mpeg"
    assert audio.content[:3] == b"ID3" or audio.content[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")
    assert len(audio.content) > 1000
    assert balance(server) == before - price(
        "audio.speech", model="text-to-speech-turbo-v2.5", input="x", voice="alloy", speed=0.9
    )
    with pytest.raises(openai.BadRequestError, match="response_format='wav'"):
        client.audio.speech.create(model="text-to-speech-turbo-v2.5", voice="alloy", input="x", response_format="wav")
    with pytest.raises(openai.BadRequestError, match="speed must be between 0.7 and 1.2"):
        client.audio.speech.create(model="text-to-speech-turbo-v2.5", voice="alloy", input="x", speed=2.0)
    with pytest.raises(openai.NotFoundError, match="text-to-speech-multilingual-v2"):
        client.audio.speech.create(model="tts-1", voice="alloy", input="x")
    assert balance(server) == before - 3


def test_transcriptions_in_json_text_and_verbose_json(client, server):
    speech = client.audio.speech.create(
        model="text-to-speech-turbo-v2.5", voice="alloy", input="The quick brown fox jumps over the lazy dog"
    ).content
    before = balance(server)
    t = client.audio.transcriptions.create(model="speech-to-text", file=("speech.mp3", speech, "audio/mpeg"))
    assert t.text and t.usage.type == "duration" and t.usage.seconds > 0
    assert balance(server) == before - price("audio.transcriptions", (URL,), model="speech-to-text")
    text = client.audio.transcriptions.create(
        model="speech-to-text", file=("speech.mp3", speech), response_format="text", language="en"
    )
    assert isinstance(text, str) and text.strip() == t.text
    verbose = client.audio.transcriptions.create(
        model="speech-to-text",
        file=("speech.mp3", speech),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert verbose.language == "en" and verbose.duration > 0 and verbose.segments and verbose.words
    assert verbose.words[0].start < verbose.words[0].end <= verbose.duration
    with pytest.raises(openai.BadRequestError, match="Supported values: json, text, verbose_json"):
        client.audio.transcriptions.create(model="speech-to-text", file=("s.mp3", speech), response_format="srt")


# ------------------------------------------------------------------------------------------------ videos


def test_video_create_poll_download_list_delete(client, server):
    before = balance(server)
    video = client.videos.create(
        model="veo-3.1-fast", prompt="A fox running through snow", seconds="4", size="720x1280"
    )
    assert video.object == "video" and video.status in ("queued", "in_progress") and video.model == "veo-3.1-fast"
    assert video.seconds == "4" and video.created_at > 0 and video.completed_at is None
    done = client.videos.poll(video.id, poll_interval_ms=100)
    assert done.status == "completed" and done.progress == 100 and done.completed_at >= done.created_at
    # its files are deleted 7 days after it finished (RUNAPI_GENERATED_MEDIA_RETENTION_DAYS)
    assert video.expires_at is None and done.expires_at in range(
        done.completed_at + 7 * 86_400 - 1, done.completed_at + 7 * 86_400 + 1
    )
    assert done.size == "720x1280" and done.seconds == "4" and done.error is None
    assert balance(server) == before - price(
        "videos", model="veo-3.1-fast", prompt="x", seconds="4", size="720x1280"
    )  # 4 s × the per-second price
    content = client.videos.download_content(video.id)
    assert content.content[4:8] == b"ftyp" and content.response.headers["content-type"] == "video/mp4"
    thumbnail = client.videos.download_content(video.id, variant="thumbnail")
    assert image_of(thumbnail.content).format == "JPEG"
    assert video.id in [v.id for v in client.videos.list()]
    deleted = client.videos.delete(video.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (video.id, True, "video.deleted")
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(video.id)
    assert video.id not in [v.id for v in client.videos.list()]
    assert balance(server) == before - 60  # deleting refunds nothing: it was made


def test_create_and_poll_with_an_input_reference(client, png):
    video = client.videos.create_and_poll(
        model="kling-v2.1-standard",
        prompt="The card slowly turns",
        input_reference=("first.png", png, "image/png"),
        poll_interval_ms=100,
    )
    assert video.status == "completed" and video.seconds == "5"
    assert client.videos.download_content(video.id).content[4:8] == b"ftyp"


def test_videos_list_pages_by_cursor(client):
    made = [
        client.videos.create_and_poll(model="grok-imagine-text-to-video", prompt=f"Clip {i}", poll_interval_ms=100).id
        for i in range(3)
    ]
    first = client.videos.list(limit=2, order="desc")
    assert len(first.data) == 2 and first.has_more and first.last_id == first.data[-1].id
    assert [v.id for v in first.data] == made[::-1][:2]  # newest first
    second = client.videos.list(limit=2, after=first.last_id)
    assert second.data[0].id == made[0]
    everything = [v.id for v in client.videos.list(limit=1)]  # the SDK follows the cursor to the end
    assert everything[:3] == made[::-1] and len(everything) == len(set(everything))
    ascending = [v.id for v in client.videos.list(order="asc", limit=100)]
    assert ascending.index(made[0]) < ascending.index(made[2])


def test_a_failed_video_is_refunded_and_says_why(client, server, recorder):
    missing = recorder(lambda m, p, h, b: (404, {}, b"gone"))
    before = balance(server)
    video = client.videos.create(
        model="veo-3.1-fast",
        prompt="x",
        seconds="4",
        extra_body={"input_reference": {"image_url": missing.url + "/a.png"}},
    )
    done = client.videos.poll(video.id, poll_interval_ms=100)
    assert done.status == "failed" and done.error is not None and done.error.code == "generation_failed"
    assert "fetch" in done.error.message.lower()
    wait_for(lambda: balance(server) == before)  # refunded
    with pytest.raises(openai.BadRequestError, match="its content can be downloaded once it is completed"):
        client.videos.download_content(video.id)
    client.videos.delete(video.id)  # a failed video may be deleted too


def test_video_refusals_name_the_field(client, server):
    before = balance(server)
    with pytest.raises(openai.BadRequestError, match="Invalid value for seconds: 12. Model veo-3.1 supports: 4, 6, 8"):
        client.videos.create(model="veo-3.1", prompt="x", seconds="12")
    with pytest.raises(openai.BadRequestError, match="Missing required parameter: input_reference"):
        client.videos.create(model="kling-v2.1-pro", prompt="x")
    with pytest.raises(openai.BadRequestError, match="Missing required parameter: model"):
        client.videos.create(prompt="x")
    with pytest.raises(openai.NotFoundError, match="Models available at /v1/videos: .*veo-3.1"):
        client.videos.create(model="sora-2", prompt="x")
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("00000000-0000-0000-0000-000000000000")
    assert balance(server) == before


def test_a_video_of_another_account_is_not_found(client, server):
    video = client.videos.create(model="grok-imagine-text-to-video", prompt="Mine")
    _, key = new_account(server)
    other = openai.OpenAI(api_key=key, base_url=server.url + "/v1", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.videos.retrieve(video.id)
    with pytest.raises(openai.NotFoundError):
        other.videos.delete(video.id)
    assert video.id not in [v.id for v in other.videos.list()]


# ---------------------------------------------------------------------------------------- the wait's end


def test_a_call_past_the_wait_answers_504_once_and_the_task_runs_on_billed(tmp_path):
    slow = start_server(tmp_path, sandbox_delay_seconds=1.5, openai_media_wait_seconds=0.3)
    try:
        before = balance(slow)
        sdk = openai.OpenAI(api_key=slow.key, base_url=slow.url + "/v1", max_retries=2)  # retries 5xx ...
        with pytest.raises(openai.APIStatusError) as info:
            sdk.images.generate(model="z-image", prompt="slow")
        assert info.value.status_code == 504 and "keeps running and is billed" in info.value.message
        assert info.value.response.headers["x-should-retry"] == "false"  # ... but not this one
        task_id = info.value.response.headers["x-runapi-task-id"]
        with slow.client() as c:
            assert [t["id"] for t in c.get("/api/v1/tasks").json()["data"]] == [task_id]  # one task, not three
            wait_for(lambda: c.get(f"/api/v1/z_image/text_to_image/{task_id}").json()["status"] == "completed")
        assert balance(slow) == before - price("images.generations", model="z-image", prompt="x")
    finally:
        slow.stop()


def test_the_video_api_on_each_database(db_server):
    sdk = openai.OpenAI(api_key=db_server.key, base_url=db_server.url + "/v1", max_retries=0)
    made = [sdk.videos.create(model="grok-imagine-text-to-video", prompt=f"Clip {i}").id for i in range(2)]
    for video_id in made:
        assert sdk.videos.poll(video_id, poll_interval_ms=100).status == "completed"
    assert sdk.videos.list(limit=1, after=made[1]).data[0].id == made[0]
    assert sdk.videos.delete(made[0]).deleted
    assert made[0] not in [v.id for v in sdk.videos.list()] and made[1] in [v.id for v in sdk.videos.list()]
    with pytest.raises(openai.NotFoundError):
        sdk.videos.delete(made[0])
