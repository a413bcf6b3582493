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


def test_sdk_default_model_is_served(server, inputs_host):
    """runapi-nano-banana 0.3 sends its DEFAULT_MODEL (nano-banana-2-lite) when the caller names none."""
    client = nano.NanoBananaClient(api_key=server.key, base_url=server.url)
    assert client.text_to_image.DEFAULT_MODEL == client.edit_image.DEFAULT_MODEL == "nano-banana-2-lite"
    made = client.text_to_image.run(prompt="a banana-shaped lighthouse at dusk")
    assert made.status == "completed" and made.to_dict()["model"] == "nano-banana-2-lite"
    img = Image.open(io.BytesIO(httpx.get(made.images[0].url).content))
    assert img.width == img.height  # aspect_ratio defaults to auto: square without a reference image
    edited = client.edit_image.run(prompt="make it snow", source_image_urls=[f"{inputs_host.url}/photo.png"])
    assert edited.status == "completed" and edited.to_dict()["model"] == "nano-banana-2-lite"
    assert Image.open(io.BytesIO(httpx.get(edited.images[0].url).content)).size[0] > 0


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


def test_sdk_reads_the_billing_facts_and_usage_of_a_task(server):
    """The typed clients read `usage.cost` (TaskUsage: cost is required, a float) on a completed task; the body
    also carries `billing` (reservation, then settlement or refund), as the platform's SDKs parse it."""
    client = nano.NanoBananaClient(api_key=server.key, base_url=server.url)
    created = client.text_to_image.create(model="nano-banana", prompt="billing facts")
    raw = created.to_dict()
    price = raw["billing"]["reservation"]["amount_cents"]
    assert isinstance(price, int) and price > 0 and raw["billing"]["settlement"] is None
    result = client.text_to_image.run(model="nano-banana", prompt="billing facts")
    assert result.status == "completed"
    assert isinstance(result.usage.cost, float) and result.usage.cost == price / 100
    assert result.usage.generated_images == len(result.images)
    facts = result.to_dict()["billing"]
    assert facts["settlement"]["charged_amount_cents"] == price and facts["refund"] is None
