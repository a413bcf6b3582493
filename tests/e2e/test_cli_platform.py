"""The client CLI's platform grammar (runapi-ai/cli) against a real server, as a user runs it (a separate
process): a family command that waits and prints, --async, get/wait, files, pricing, account, `listen`
forwarding a finished task's callback signed as callbacks are, and the exit codes."""

import base64
import hashlib
import hmac
import json

import httpx
import pytest

from runapi.auth import admin
from tests.support.cli import CliProcess, cli
from tests.support.servers import new_account, wait_done, wait_for

REQUEST = {"model": "nano-banana", "prompt": "a hummingbird drinking espresso"}


@pytest.fixture
def env(server, tmp_path):
    return {"RUNAPI_BASE_URL": server.url, "RUNAPI_API_KEY": server.key, "RUNAPI_CONFIG_DIR": str(tmp_path)}


def run(env, *args, input=None):
    out = cli(*args, env=env, input=input)
    return out.returncode, (json.loads(out.stdout) if out.stdout.strip().startswith(("{", "[")) else out.stdout), out


def test_a_family_command_waits_and_prints_the_final_json(env):
    code, done, out = run(
        env,
        "nano-banana",
        "text-to-image",
        "--input",
        json.dumps({**REQUEST, "aspect_ratio": "1:1"}),
        "--aspect-ratio",
        "16:9",  # a flag overrides the --input field
        "--poll-interval",
        "100ms",
    )
    assert code == 0, out.stderr
    assert done["status"] == "completed" and done["model"] == "nano-banana"
    assert f"submitted id={done['id']}" in out.stderr and "polling status=completed" in out.stderr
    import io

    from PIL import Image

    assert Image.open(io.BytesIO(httpx.get(done["images"][0]["url"]).content)).size == (1024, 576)

    # the request from standard input, progress silenced
    code, done, out = run(
        env,
        "--quiet",
        "nano-banana",
        "text-to-image",
        "--input-file",
        "-",
        "--poll-interval",
        "0.1",
        input=json.dumps(REQUEST),
    )
    assert code == 0 and done["status"] == "completed" and out.stderr == ""


def test_async_returns_the_id_then_get_and_wait(env, server):
    code, created, out = run(env, "--async", "nano-banana", "text-to-image", "--input", json.dumps(REQUEST))
    assert code == 0, out.stderr
    task_id = created["id"]
    assert "polling" not in out.stderr

    code, got, out = run(env, "get", task_id, "--service", "nano-banana", "--action", "text-to-image")
    assert code == 0 and got["id"] == task_id and got["status"] in ("processing", "completed")

    code, done, out = run(
        env, "wait", task_id, "--service", "nano_banana", "--action", "text_to_image", "--poll-interval", "0.1"
    )
    assert code == 0 and done["id"] == task_id and done["status"] == "completed"
    with server.client() as c:
        assert done == c.get(f"/api/v1/nano_banana/text_to_image/{task_id}").json()

    code, body, out = run(env, "get", task_id, "--service", "nano-banana", "--action", "edit-image")
    assert code == 4, out.stdout  # another action's id space: not found


def test_files_round_trip(env, tmp_path):
    from PIL import Image

    src = tmp_path / "dot.png"
    Image.new("RGB", (4, 4), "red").save(src)
    size = src.stat().st_size
    code, made, out = run(env, "files", "create-file", str(src), "--purpose", "user_data")
    assert code == 0, out.stdout + out.stderr
    file_id = made["id"]
    assert made["bytes"] == size and made["filename"] == "dot.png"

    code, page, _ = run(env, "files", "list", "--limit", "1", "--order", "desc")
    assert code == 0 and [f["id"] for f in page["data"]] == [file_id]
    code, got, _ = run(env, "files", "retrieve", file_id)
    assert code == 0 and got["id"] == file_id
    copy = tmp_path / "copy.png"
    code, wrote, _ = run(env, "files", "content", file_id, "--output", str(copy))
    assert code == 0 and copy.read_bytes() == src.read_bytes() and wrote["bytes"] == size
    code, deleted, _ = run(env, "files", "delete", file_id)
    assert code == 0 and deleted["deleted"] is True
    code, gone, _ = run(env, "files", "retrieve", file_id)
    assert code == 4 and "error" in gone

    # the temporary upload: a path, printing only its link
    png = src
    code, url, out = run(env, "files", "create", str(png), "--url-only")
    assert code == 0, out.stdout + out.stderr
    assert httpx.get(url.strip()).content == png.read_bytes()
    code, made, _ = run(
        env, "files", "create", "--base64", base64.b64encode(png.read_bytes()).decode(), "--file-name", "x.png"
    )
    assert code == 0 and made["url"].startswith("http")


def test_pricing_and_account(env, server):
    code, listed, _ = run(env, "pricing", "list", "--service", "nano_banana", "--action", "text_to_image")
    assert code == 0 and listed["price_schedules"]
    assert {s["service"] for s in listed["price_schedules"]} == {"nano_banana"}
    code, quoted, out = run(
        env,
        "pricing",
        "quote",
        "--service",
        "nano_banana",
        "--action",
        "text_to_image",
        "--model",
        "nano-banana",
        "--params",
        json.dumps({"prompt": "x"}),
    )
    assert code == 0, out.stdout
    assert isinstance(quoted["price_quote"]["reservation_amount_cents"], int)

    code, balance, _ = run(env, "account", "balance")
    assert code == 0 and isinstance(balance["balance_cents"], int)
    code, info, _ = run(env, "account", "info")
    assert code == 0 and info["account"]["id"] == 1


def test_exit_codes(env, server, recorder):
    code, body, out = run({**env, "RUNAPI_API_KEY": "rk-invalid-key-0000"}, "account", "balance")
    assert code == 2 and "error" in body
    code, body, out = run(env, "account", "balance", "--api-key", "rk-invalid-key-0000")  # the flag wins
    assert code == 2

    code, body, out = run(env, "nano-banana", "text-to-image", "--model", "nano-banana")
    assert code == 4 and body == {"error": "Missing required parameter: prompt"}

    _, poor_key = new_account(server, credits=0)
    code, body, out = run(
        {**env, "RUNAPI_API_KEY": poor_key}, "nano-banana", "text-to-image", "--input", json.dumps(REQUEST)
    )
    assert code == 3, out.stdout

    host = recorder(lambda m, p, h, b: (500, {}, b""))
    code, failed, out = run(
        env,
        "nano-banana",
        "edit-image",
        "--model",
        "nano-banana-edit",
        "--prompt",
        "x",
        "--source-image-urls",
        f"{host.url}/a.png",
        "--poll-interval",
        "0.1",
    )
    assert code == 7, out.stdout + out.stderr
    assert failed["status"] == "failed" and failed["error"] == "Failed to fetch the image"


def _signature_ok(secret: str, headers: dict, body: bytes) -> bool:
    content = f"{headers['X-Callback-Id']}.{headers['X-Callback-Timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(base64.b64decode(secret), content, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, headers["X-Callback-Signature"])


def test_listen_forwards_a_finished_tasks_callback_signed(env, server, recorder):
    secret = server.db_call(lambda db: admin.callback_secret(db, 1))
    code, printed, _ = run(env, "listen", "--print-secret")
    assert code == 0 and printed.strip() == secret

    receiver = recorder(lambda m, p, h, b: (200, {}, b"ok"))
    elsewhere = recorder(lambda m, p, h, b: (200, {}, b"ok"))
    listener = CliProcess(
        "listen", receiver.url.removeprefix("http://") + "/hooks/runapi", "--max-events", "1", env=env
    )
    try:
        wait_for(lambda: any("Ready!" in line for line in listener.stderr_lines), timeout=30)
        with server.client() as api:
            # a task with its own callback_url goes there only; one without reaches the listener
            with_url = api.post(
                "/api/v1/nano_banana/text_to_image", json={**REQUEST, "callback_url": elsewhere.url}
            ).json()["id"]
            wait_for(lambda: elsewhere.requests)
            task_id = api.post("/api/v1/nano_banana/text_to_image", json=REQUEST).json()["id"]
            final = wait_done(api, "/api/v1/nano_banana/text_to_image", task_id)
        code, stdout = listener.finish(timeout=60)
    finally:
        listener.stop()
    assert code == 0, "".join(listener.stderr_lines)
    assert len(receiver.requests) == 1, receiver.requests
    got = receiver.requests[0]
    assert got["method"] == "POST" and got["path"] == "/hooks/runapi"
    assert _signature_ok(secret, got["headers"], got["body"])
    body = json.loads(got["body"])
    assert body["id"] == task_id != with_url and body["status"] == "completed"
    assert body["images"] == final["images"]
    assert json.loads(stdout.strip()) == body  # the event's body on stdout too
    assert any(f"task={task_id} status=completed" in line and "200" in line for line in listener.stderr_lines)

    # it was acked: a new session does not get it again
    with httpx.Client(base_url=server.url, headers={"X-API-Key": server.key}, timeout=30) as c:
        session = c.post("/api/v1/cli/listen_sessions")
        assert session.status_code == 201
        token = session.json()["session_token"]
        polled = c.get(
            "/api/v1/cli/listen_events", params={"last_id": 0, "wait": 0}, headers={"X-Session-Token": token}
        )
        assert polled.status_code == 200 and polled.json() == {"events": []}
        assert c.delete(f"/api/v1/cli/listen_sessions/{token}").status_code == 204


def test_listen_protocol_refusals(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        assert c.get("/api/v1/cli/listen_secret").status_code == 401
        keyed = {"X-API-Key": server.key}
        gone = c.get("/api/v1/cli/listen_events", params={"wait": 0}, headers={**keyed, "X-Session-Token": "lsn_nope"})
        assert gone.status_code == 404 and gone.json()["error"].startswith("Listen session not found")
        token = c.post("/api/v1/cli/listen_sessions", headers=keyed).json()["session_token"]
        session = {**keyed, "X-Session-Token": token}
        for bad in ({"last_id": "-1"}, {"last_id": "x"}, {"wait": "31"}, {"wait": "1e3"}):
            assert c.get("/api/v1/cli/listen_events", params=bad, headers=session).status_code == 422, bad
        assert c.post("/api/v1/cli/listen_events/999999/ack", headers=session).status_code == 404
        _, other_key = new_account(server)
        assert c.delete(f"/api/v1/cli/listen_sessions/{token}", headers={"X-API-Key": other_key}).status_code == 404
        assert c.delete(f"/api/v1/cli/listen_sessions/{token}", headers=keyed).status_code == 204


def test_a_local_path_in_a_media_url_field_is_uploaded_first(env, tmp_path):
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 48), "blue").save(photo)
    code, done, out = run(
        env,
        "nano-banana",
        "edit-image",
        "--input",
        json.dumps({"model": "nano-banana-edit", "prompt": "make it red", "source_image_urls": [str(photo)]}),
        "--poll-interval",
        "0.1",
    )
    assert code == 0, out.stdout + out.stderr
    assert f"uploading {photo}" in out.stderr and done["status"] == "completed"
