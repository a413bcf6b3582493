"""`runapi admin …` against a real database file, and client commands against a running server."""

import json

import httpx

from tests.support.cli import cli


def test_admin_commands(tmp_path):
    env = {"RUNAPI_DATA_DIR": str(tmp_path)}
    out = cli(
        "admin", "--create", "create-account", "--name", "Acme", "--email", "ops@acme.test", "--credits", "500", env=env
    )
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    assert created["account_id"] == 1 and created["api_key"].startswith("rk-")

    out = cli("admin", "add-credits", "--account", "1", "--cents", "250", env=env)
    assert json.loads(out.stdout) == {"account_id": 1, "balance_cents": 750}

    out = cli("admin", "create-key", "--account", "1", "--management", "--name", "ci", env=env)
    key = json.loads(out.stdout)
    assert key["kind"] == "management" and key["id"].startswith("mgmt_")
    assert "••••••••" in key["masked_token"] and key["token"] not in key["masked_token"]

    secret = cli("admin", "callback-secret", "--account", "1", env=env).stdout.strip()
    import base64

    assert len(base64.b64decode(secret)) == 32
    rotated = cli("admin", "callback-secret", "--account", "1", "--rotate", env=env).stdout.strip()
    assert rotated != secret

    listed = json.loads(cli("admin", "list-accounts", env=env).stdout)
    assert listed == [{"id": 1, "name": "Acme", "balance_cents": 750}]

    missing = cli("admin", "add-credits", "--account", "9", "--cents", "1", env=env)
    assert missing.returncode != 0 and "account 9 not found" in missing.stderr

    # only the hash of a key is stored
    db = (tmp_path / "runapi.db").read_bytes()
    assert created["api_key"].encode() not in db and key["token"].encode() not in db


def test_client_commands(server, tmp_path):
    env = {"RUNAPI_BASE_URL": server.url, "XDG_CONFIG_HOME": str(tmp_path), "RUNAPI_API_KEY": ""}
    out = cli("auth", "import-token", "--token", "-", env=env, input=server.key)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "runapi" / "config.json").read_text())["api_key"] == server.key
    status = cli("auth", "status", env=env)
    assert json.loads(status.stdout)["account"]["id"] == 1
    bad = cli("auth", "import-token", "--token", "rk-invalid-key-0000", env=env)
    assert bad.returncode != 0

    out = cli(
        "tasks",
        "create",
        "nano_banana",
        "text_to_image",
        "-p",
        "model=nano-banana",
        "-p",
        "prompt=hi",
        "--wait",
        "--interval",
        "0.1",
        env=env,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    done = json.loads(out.stdout)
    assert done["status"] == "completed"
    assert httpx.get(done["images"][0]["url"]).status_code == 200
    again = json.loads(cli("tasks", "get", "nano_banana", "text_to_image", done["id"], env=env).stdout)
    assert again == done

    invalid = cli("tasks", "create", "nano_banana", "text_to_image", "-p", "model=nano-banana", env=env)
    # a refused request exits 4 (validation), printing the server's error body as it came
    assert invalid.returncode == 4 and json.loads(invalid.stdout) == {"error": "Missing required parameter: prompt"}


def test_catalog_commands(server, tmp_path):
    env = {"RUNAPI_BASE_URL": server.url, "XDG_CONFIG_HOME": str(tmp_path), "RUNAPI_API_KEY": server.key}
    listed = cli("--help", env=env).stdout
    assert "nano-banana" in listed and "veo-3-1" in listed
    helptext = cli("nano-banana", "text-to-image", "--help", env=env).stdout
    assert "--aspect-ratio" in helptext and "--output-resolution" in helptext
    out = cli(
        "nano-banana",
        "text-to-image",
        "--model",
        "nano-banana",
        "--prompt",
        "hi",
        "--aspect-ratio",
        "16:9",
        "--wait",
        "--interval",
        "0.1",
        env=env,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    done = json.loads(out.stdout)
    assert done["status"] == "completed" and done["model"] == "nano-banana"
    import io

    from PIL import Image

    assert Image.open(io.BytesIO(httpx.get(done["images"][0]["url"]).content)).size == (1024, 576)
    bad = cli(
        "nano-banana", "text-to-image", "--model", "nano-banana", "--prompt", "hi", "--aspect-ratio", "7:5", env=env
    )
    assert bad.returncode == 4 and "7:5" in bad.stderr  # rejected locally from the catalog's enum (a usage error)
    arr = cli(
        "nano-banana",
        "edit-image",
        "--model",
        "nano-banana-edit",
        "--prompt",
        "x",
        "--source-image-urls",
        "not-a-url",
        env=env,
    )
    assert arr.returncode == 4 and "source_image_urls" in json.loads(arr.stdout)["error"]
