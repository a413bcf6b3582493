"""The platform's own Python SDK (runapi-nano-banana from PyPI), unchanged but for base_url."""

import io

import httpx
import pytest
from PIL import Image

nano = pytest.importorskip("runapi.nano_banana")


def test_sdk_creates_and_waits_for_a_task(server):
    client = nano.NanoBananaClient(api_key=server.key, base_url=server.url)
    result = client.text_to_image.run(
        model="nano-banana-pro", prompt="a cat in a space helmet", aspect_ratio="16:9", output_resolution="1k"
    )
    assert result.status == "completed"
    url = result.images[0].url
    img = Image.open(io.BytesIO(httpx.get(url).content))
    assert abs(img.width / img.height - 16 / 9) < 0.02

    task = client.text_to_image.create(model="nano-banana", prompt="x")
    assert task.id and client.text_to_image.get(task.id).id == task.id


def test_sdk_account_endpoints(server):
    client = nano.NanoBananaClient(api_key=server.key, base_url=server.url)
    info = client.account.info()
    assert info.account.id == 1 and info.email
    bal = client.account.balance()
    assert bal.balance_cents >= 0 and bal.spent_cents_total >= 0


def test_sdk_maps_errors(server):
    from runapi.core import errors

    client = nano.NanoBananaClient(api_key=server.key, base_url=server.url)
    with pytest.raises(errors.ValidationError) as info:
        client.text_to_image.create(model="nano-banana", prompt="x", aspect_ratio="8:1")
    assert info.value.status == 422 and "aspect_ratio" in info.value.message
    bad = nano.NanoBananaClient(api_key="rk-wrong-key-000000000", base_url=server.url)
    with pytest.raises(errors.AuthenticationError):
        bad.text_to_image.create(model="nano-banana", prompt="x")
    with pytest.raises(errors.NotFoundError):
        client.text_to_image.get("00000000-0000-0000-0000-000000000000")
