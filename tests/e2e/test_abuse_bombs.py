"""CPU and memory bombs (issue 11, item 3): media whose headers declare huge sizes are refused from the header,
before billing when the file is already ours and by failing the task otherwise; media work runs in a bounded
pool off the event loop; Topaz takes at most 30 s of input and gives at most 4K; embeddings take at most
2,048 inputs and 300,000 tokens per request, refused before anything is reserved."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
from sqlalchemy import func, select

from runapi.providers.sandbox import media
from runapi.store.schema import ledger, open_reservations
from tests.support.abuse_bombs import bomb_png
from tests.support.servers import wait_done

TOPAZ_IMAGE = "/api/v1/topaz/upscale_image"
TOPAZ_VIDEO = "/api/v1/topaz/upscale_video"


def upload(api: httpx.Client, data: bytes, name: str) -> str:
    r = api.post("/api/v1/files", files={"file": (name, data)})
    assert r.status_code == 201, r.text
    return r.json()["url"]


def balance(api: httpx.Client) -> int:
    return api.get("/api/v1/me/balance").json()["balance_cents"]


def ledger_rows(server) -> int:
    """Ledger rows plus open reservations: anything billing ever recorded."""

    async def go(db):
        async with db.read() as conn:
            return sum(
                [
                    (await conn.execute(select(func.count()).select_from(t))).scalar_one()
                    for t in (ledger, open_reservations)
                ]
            )

    return server.db_call(go)


# ------------------------------------------------------------------------------------------------ images
def test_image_bomb_in_our_storage_is_refused_before_billing(server, api):
    url = upload(api, bomb_png(14000), "bomb.png")  # 190 KB declaring 196 megapixels
    before, rows = balance(api), ledger_rows(server)
    r = api.post(TOPAZ_IMAGE, json={"model": "topaz-upscale-image", "source_image_url": url, "upscale_factor": 1})
    assert r.status_code == 422, r.text
    assert "pixels" in r.json()["error"]
    assert balance(api) == before and ledger_rows(server) == rows  # nothing reserved


def test_image_bomb_by_url_fails_the_task_and_the_server_stays_responsive(server, api, recorder):
    png = bomb_png(6000)  # 36 MP: just over the 33.5 MP budget, cheap to make
    host = recorder(lambda m, p, h, b: (200, {"Content-Type": "image/png"}, png))
    before = balance(api)
    r = api.post(
        TOPAZ_IMAGE, json={"model": "topaz-upscale-image", "source_image_url": f"{host.url}/b.png", "upscale_factor": 2}
    )
    assert r.status_code == 202, r.text
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200
    done = wait_done(api, TOPAZ_IMAGE, r.json()["id"], timeout=60)
    assert done["status"] == "failed" and "pixels" in done["error"], done
    assert balance(api) == before  # refunded


PEAK_RSS_SCRIPT = """
import asyncio, json, resource, struct, zlib
{bomb_src}
from runapi.providers.inputs import Inputs
data = bomb_png(14000)
inputs = Inputs(None, None, 50 << 20)
async def fetch(*a, **k):
    return data
inputs.fetch = fetch
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    asyncio.run(inputs.image("https://example.com/bomb.png"))
    outcome = "decoded"
except Exception as exc:
    outcome = f"{{type(exc).__name__}}: {{exc}}"
print(json.dumps({{"outcome": outcome, "grew_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before}}))
"""


def test_image_bomb_is_refused_from_its_header_with_bounded_memory(tmp_path):
    """In a process of its own, so its peak RSS is the bomb's alone: refused without decoding 196 MP."""
    import inspect
    import os

    script = PEAK_RSS_SCRIPT.format(bomb_src=inspect.getsource(bomb_png))
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert out.stdout.strip(), out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["outcome"].startswith("InputRejected") and "pixels" in result["outcome"], result
    assert result["grew_kb"] < 64 * 1024, result  # decoding it would take 196 MB (greyscale), 588 MB as RGB


# ------------------------------------------------------------------------------------------------ Topaz video
def test_topaz_input_beyond_the_duration_limit_is_refused_before_billing(server, api):
    url = upload(api, media.encode_video(b"long" * 8, 64, 64, 31.0), "long.mp4")
    before, rows = balance(api), ledger_rows(server)
    r = api.post(TOPAZ_VIDEO, json={"model": "topaz-upscale-video", "source_video_url": url, "upscale_factor": 2})
    assert r.status_code == 422, r.text
    assert "30 s" in r.json()["error"]
    assert balance(api) == before and ledger_rows(server) == rows


def test_topaz_4x_of_1080p_beyond_4k_is_refused_before_billing(server, api):
    url = upload(api, media.encode_video(b"hd" * 16, 1920, 1080, 0.1), "hd.mp4")
    before = balance(api)
    r = api.post(TOPAZ_VIDEO, json={"model": "topaz-upscale-video", "source_video_url": url, "upscale_factor": 4})
    assert r.status_code == 422, r.text
    assert "7680×4320" in r.json()["error"] and "4K" in r.json()["error"]
    assert balance(api) == before


def test_topaz_too_long_input_by_url_fails_the_task_refunded(server, api, recorder):
    clip = media.encode_video(b"long" * 8, 64, 64, 31.0)
    host = recorder(lambda m, p, h, b: (200, {"Content-Type": "video/mp4"}, clip))
    before = balance(api)
    r = api.post(TOPAZ_VIDEO, json={"model": "topaz-upscale-video", "source_video_url": f"{host.url}/v.mp4"})
    assert r.status_code == 202, r.text
    done = wait_done(api, TOPAZ_VIDEO, r.json()["id"], timeout=60)
    assert done["status"] == "failed" and "at most 30 s" in done["error"], done
    assert balance(api) == before


# ------------------------------------------------------------------------------------------------ embeddings
def test_embeddings_over_2048_inputs_are_refused_before_any_reservation(server, api):
    rows, before = ledger_rows(server), balance(api)
    r = api.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": ["hi"] * 2049})
    assert r.status_code == 400, r.text[:300]
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and "2048" in error["message"]
    assert ledger_rows(server) == rows and balance(api) == before
    ok = api.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": ["hi"] * 2048, "dimensions": 4})
    assert ok.status_code == 200 and len(ok.json()["data"]) == 2048


def test_embeddings_over_300k_tokens_are_refused(server, api):
    rows = ledger_rows(server)
    r = api.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": ["abcd" * 150_001] * 2})
    assert r.status_code == 400, r.text[:300]
    assert r.json()["error"]["code"] == "max_tokens_per_request"
    assert "max 300000 tokens per request" in r.json()["error"]["message"]
    assert ledger_rows(server) == rows
