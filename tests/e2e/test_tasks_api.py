"""The task API end to end over HTTP: create → worker → completed with real images; errors; money."""

import io
import time
import uuid

from PIL import Image

from tests.support.servers import new_account, wait_done

T2I = "/api/v1/nano_banana/text_to_image"
EDIT = "/api/v1/nano_banana/edit_image"


def png(width, height, color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def image_at(client, url):
    resp = client.get(url)
    assert resp.status_code == 200
    return resp, Image.open(io.BytesIO(resp.content))


def run(api, path, body):
    resp = api.post(path, json=body)
    assert resp.status_code == 202, resp.text
    created = resp.json()
    assert created["status"] == "processing"
    uuid.UUID(created["id"])
    return wait_done(api, path, created["id"])


def test_quickstart_flow_yields_a_real_png(api):
    resp = api.post(T2I, json={"model": "nano-banana", "prompt": "一只戴着太空头盔的可爱猫咪"})
    assert resp.status_code == 202
    task_id = resp.json()["id"]
    done = wait_done(api, T2I, task_id)
    assert done["status"] == "completed" and done["model"] == "nano-banana" and done["id"] == task_id
    assert len(done["images"]) == 1
    file_resp, img = image_at(api, done["images"][0]["url"])
    assert file_resp.headers["content-type"] == "image/png"
    assert img.format == "PNG" and img.size == (1024, 1024)
    # polling again returns the same (stable) link
    assert api.get(f"{T2I}/{task_id}").json() == done


def test_sizes_follow_aspect_ratio_resolution_and_model_limits(api):
    cases = [
        ({"model": "nano-banana", "aspect_ratio": "16:9"}, "PNG", 1024, 16 / 9),
        ({"model": "nano-banana-pro", "aspect_ratio": "16:9", "output_resolution": "2k"}, "PNG", 2816, 16 / 9),
        ({"model": "nano-banana-pro", "aspect_ratio": "1:1", "output_resolution": "4k"}, "PNG", 4096, 1.0),
        ({"model": "nano-banana-2", "aspect_ratio": "8:1"}, "JPEG", 2944, 8.0),
        ({"model": "nano-banana-2", "output_format": "png", "aspect_ratio": "9:16"}, "PNG", 1280, 9 / 16),
    ]
    for params, fmt, long_side, ratio in cases:
        done = run(api, T2I, {"prompt": "mountains", **params})
        assert done["status"] == "completed", done
        _, img = image_at(api, done["images"][0]["url"])
        assert img.format == fmt, params
        assert max(img.size) == long_side, (params, img.size)
        assert abs(img.width / img.height - ratio) / ratio < 1e-9, (params, img.size)  # exact (issue 12 item 8)


def test_generation_is_deterministic(api):
    body = {"model": "nano-banana", "prompt": "same prompt", "aspect_ratio": "4:3"}
    a = run(api, T2I, body)
    b = run(api, T2I, body)
    c = run(api, T2I, {**body, "prompt": "other prompt"})
    bytes_a = api.get(a["images"][0]["url"]).content
    assert bytes_a == api.get(b["images"][0]["url"]).content
    assert bytes_a != api.get(c["images"][0]["url"]).content


def test_edit_uses_the_source_image_and_auto_follows_its_shape(api, recorder):
    host = recorder(lambda m, p, h, b: (200, {"Content-Type": "image/png"}, png(600, 300)))
    done = run(
        api,
        EDIT,
        {
            "model": "nano-banana-edit",
            "prompt": "make it blue",
            "source_image_urls": [f"{host.url}/cat.png"],
            "aspect_ratio": "auto",
        },
    )
    assert done["status"] == "completed", done
    _, img = image_at(api, done["images"][0]["url"])
    assert abs(img.width / img.height - 2.0) < 0.05 and max(img.size) == 1024
    assert host.requests[0]["path"] == "/cat.png"
    # the default aspect ratio is 1:1
    done = run(
        api,
        EDIT,
        {
            "model": "nano-banana-edit",
            "prompt": "x",
            "source_image_urls": [f"{host.url}/a.png"],
            "output_format": "jpeg",
        },
    )
    _, img = image_at(api, done["images"][0]["url"])
    assert img.size == (1024, 1024) and img.format == "JPEG"


def test_unfetchable_source_fails_the_task_and_refunds(api, recorder):
    host = recorder(lambda m, p, h, b: (404, {}, b"missing"))
    before = api.get("/api/v1/me/balance").json()["balance_cents"]
    done = run(api, EDIT, {"model": "nano-banana-edit", "prompt": "x", "source_image_urls": [f"{host.url}/x.png"]})
    assert done["status"] == "failed"
    assert done["error"] == "Failed to fetch the image"
    assert "images" not in done
    assert api.get("/api/v1/me/balance").json()["balance_cents"] == before


def test_not_an_image_fails_cleanly(api, recorder):
    host = recorder(lambda m, p, h, b: (200, {"Content-Type": "image/png"}, b"<html>nope</html>"))
    done = run(api, EDIT, {"model": "nano-banana-edit", "prompt": "x", "source_image_urls": [f"{host.url}/x.png"]})
    assert done["status"] == "failed" and done["error"].startswith("Failed to fetch the image")


def test_auth_errors(server):
    import httpx

    with httpx.Client(base_url=server.url) as anon:
        for headers in (
            {},
            {"Authorization": "Bearer nope"},
            {"Authorization": f"Basic {server.key}"},
            {"Authorization": f"Bearer {server.key}x"},
        ):
            resp = anon.post(T2I, json={"model": "nano-banana", "prompt": "x"}, headers=headers)
            assert (resp.status_code, resp.json()) == (401, {"error": "Unauthorized"})
            assert anon.get("/api/v1/me/balance", headers=headers).status_code == 401
            assert anon.get(f"{T2I}/{uuid.uuid4()}", headers=headers).status_code == 401


def test_task_not_found(api, server):
    assert (api.get(f"{T2I}/{uuid.uuid4()}").status_code, api.get(f"{T2I}/nope").json()) == (
        404,
        {"error": "Task not found"},
    )
    task_id = api.post(T2I, json={"model": "nano-banana", "prompt": "x"}).json()["id"]
    # the same id under another action's path is not found
    assert api.get(f"{EDIT}/{task_id}").json() == {"error": "Task not found"}
    # another account cannot see it
    _, other_key = new_account(server)
    with server.client(other_key) as other:
        assert other.get(f"{T2I}/{task_id}").status_code == 404


def test_bad_requests_never_500(api):
    assert api.post(T2I, content=b"{not json", headers={"content-type": "application/json"}).status_code == 400
    assert api.post(T2I, json=[1, 2]).status_code == 400
    assert api.post(T2I, json={"model": "nano-banana", "prompt": {"a": 1}}).status_code == 422
    assert api.post(T2I, content=b"\xff\xfe", headers={"content-type": "application/json"}).status_code == 400
    assert api.get("/api/v1/nope").status_code == 404
    assert api.delete(T2I).status_code == 405


def test_credits_reserved_settled_and_402_when_insufficient(server):
    account_id, key = new_account(server, credits=10)
    with server.client(key) as c:
        assert c.get("/api/v1/me/balance").json() == {
            "balance_cents": 10,
            "spent_cents_today": 0,
            "spent_cents_total": 0,
            "paid_balance_cents": 10,
            "bonus_balance_cents": 0,
        }
        first = c.post(T2I, json={"model": "nano-banana", "prompt": "x"})  # 4 cents
        second = c.post(T2I, json={"model": "nano-banana", "prompt": "y"})
        assert first.status_code == second.status_code == 202
        third = c.post(T2I, json={"model": "nano-banana", "prompt": "z"})
        assert (third.status_code, third.json()) == (402, {"error": "Insufficient credits"})
        wait_done(c, T2I, first.json()["id"])
        wait_done(c, T2I, second.json()["id"])
        bal = c.get("/api/v1/me/balance").json()
        assert (bal["balance_cents"], bal["spent_cents_today"], bal["spent_cents_total"]) == (2, 8, 8)
        me = c.get("/api/v1/me").json()
        assert me["account"]["id"] == account_id


def test_idempotency_key_creates_one_task_and_charges_once(server):
    _, key = new_account(server, credits=100)
    with server.client(key) as c:
        headers = {"Idempotency-Key": "req-123"}
        a = c.post(T2I, json={"model": "nano-banana", "prompt": "x"}, headers=headers)
        b = c.post(T2I, json={"model": "nano-banana", "prompt": "x"}, headers=headers)
        assert a.status_code == b.status_code == 202
        assert a.json()["id"] == b.json()["id"]
        assert c.get("/api/v1/me/balance").json()["balance_cents"] == 96


def test_management_keys_cannot_generate(server):
    from runapi.auth import admin

    key = server.db_call(lambda db: admin.mint_key(db, 1, "management"))
    with server.client(key.token) as c:
        resp = c.post(T2I, json={"model": "nano-banana", "prompt": "x"})
        assert resp.status_code == 403 and "Management keys" in resp.json()["error"]


def test_file_links_are_signed_and_expire(api, server):
    done = run(api, T2I, {"model": "nano-banana", "prompt": "links"})
    url = done["images"][0]["url"]
    assert "expires=" in url and "signature=" in url
    expires = int(url.split("expires=")[1].split("&")[0])
    assert abs(expires - (time.time() + 7 * 24 * 3600)) < 120  # generated links live 7 days
    import httpx

    with httpx.Client() as anon:  # the link itself is the credential
        assert anon.get(url).status_code == 200
        assert anon.get(url[:-3] + "abc").status_code == 403
        assert anon.get(url.replace(f"expires={expires}", f"expires={expires + 1}")).status_code == 403
        key = url.split("/files/")[1].split("?")[0]
        expired = (
            server.url
            + "/files/"
            + key
            + "?"
            + __import__("urllib.parse").parse.urlencode({"expires": 1000, "signature": "x"})
        )
        assert anon.get(expired).status_code == 403


def test_openapi_and_docs(api):
    doc = api.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    post = doc["paths"][T2I]["post"]
    props = post["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert props["model"]["enum"] == ["nano-banana", "nano-banana-pro", "nano-banana-2", "nano-banana-2-lite"]
    assert props["prompt"]["maxLength"] == 20000
    assert "/api/v1/nano_banana/edit_image/{id}" in doc["paths"]
    html = api.get("/docs")
    assert html.status_code == 200 and "swagger-ui-bundle.js" in html.text
    assert api.get("/docs/static/swagger-ui-bundle.js").status_code == 200


def test_request_id_header(api):
    assert api.get("/health", headers={"X-Request-Id": "abc"}).headers["x-request-id"] == "abc"
    assert len(api.get("/health").headers["x-request-id"]) == 32


def test_documented_extra_fields(api):
    done = run(
        api, "/api/v1/gpt_4o_image/text_to_image", {"model": "gpt-4o-image", "prompt": "a cat", "aspect_ratio": "1:1"}
    )
    assert done["progress"] == "1.00" and done["images"]
    done = run(api, "/api/v1/flux_kontext/text_to_image", {"model": "flux-kontext-pro", "prompt": "a cat"})
    assert done["images"][0]["origin_url"] == done["images"][0]["url"]
