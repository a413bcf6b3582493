"""The platform's Kling SDK (runapi-kling from PyPI), unchanged but for base_url."""

import httpx
import pytest

from runapi.providers.sandbox import media

kling = pytest.importorskip("runapi.kling")


def test_kling_sdk_text_and_image_to_video(server, recorder):
    from runapi.providers.sandbox import samples

    host = recorder(lambda m, p, h, b: (200, {"Content-Type": "image/png"}, samples.sample_bytes("png")))
    client = kling.KlingClient(api_key=server.key, base_url=server.url)
    done = client.text_to_video.run(
        model="kling-3.0",
        prompt="a drone shot of a lake",
        aspect_ratio="16:9",
        duration_seconds=3,
        output_resolution="720p",
    )
    assert done.status == "completed"
    info = media.probe(httpx.get(done.videos[0].url).content)
    assert (info.width, info.height) == (1280, 720) and abs(info.duration - 3) < 0.2

    done = client.image_to_video.run(
        model="kling-v2.1-standard",
        prompt="curtains move",
        first_frame_image_url=f"{host.url}/first.png",
        duration_seconds=5,
    )
    assert done.status == "completed" and done.videos[0].url


def test_kling_sdk_validation_errors(server):
    from runapi.core import errors

    client = kling.KlingClient(api_key=server.key, base_url=server.url)
    with pytest.raises(errors.ValidationError) as info:
        client.text_to_video.create(model="kling-3.0", prompt="x", duration_seconds=99, aspect_ratio="16:9")
    assert info.value.status == 422 and "duration_seconds" in info.value.message
