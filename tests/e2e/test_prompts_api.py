"""GET /api/v1/prompts over HTTP as the platform's MCP server calls it: without a key, with its query names;
bad values are 422s in the platform's error shape."""

from __future__ import annotations

import httpx


def test_prompts_are_public_and_filtered_as_the_mcp_server_asks(server):
    with httpx.Client(base_url=server.url) as anonymous:
        r = anonymous.get("/api/v1/prompts", params={"modality": "image", "featured": "true", "page": 1, "per_page": 3})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["pagination"]["page"] == 1 and body["pagination"]["per_page"] == 3
        assert 1 <= len(body["prompts"]) <= 3
        assert all(p["modality"] == "image" and p["featured"] for p in body["prompts"])

        found = anonymous.get("/api/v1/prompts", params={"q": "lighthouse watercolour", "tags": "coast,watercolor"})
        assert [p["title"] for p in found.json()["prompts"]] == ["Lighthouse at dawn, watercolour"]


def test_a_gallery_prompt_runs_as_it_is(server, api):
    with httpx.Client(base_url=server.url) as anonymous:
        prompt = anonymous.get("/api/v1/prompts", params={"model": "nano-banana", "featured": "1"}).json()["prompts"][0]
    made = api.post(f"/api/v1/{prompt['service']}/{prompt['action']}", json=prompt["params"])
    assert made.status_code == 202, made.text


def test_bad_query_values_are_422s(server):
    with httpx.Client(base_url=server.url) as anonymous:
        for query, message in (
            ({"modality": "smell"}, "Invalid value for modality"),
            ({"page": "0"}, "page must be an integer between"),
            ({"per_page": "abc"}, "per_page must be a positive integer"),
            ({"featured": "maybe"}, "Invalid value for featured"),
            ({"tags": ",".join(f"t{i}" for i in range(21))}, "tags takes at most 20"),
        ):
            r = anonymous.get("/api/v1/prompts", params=query)
            assert r.status_code == 422, (query, r.text)
            assert message in r.json()["error"]
