"""A fake of Ideogram's API on 127.0.0.1 (https://developer.ideogram.ai/api-reference): header `Api-Key: <key>`;
POST /v1/ideogram-v3/{generate,edit,remix,reframe} as multipart/form-data, each form checked against Ideogram's
schema (tests/support/contracts/ideogram_schemas.yaml; every file part must be a real image) → 200
`{"created", "data": [{url, is_image_safe, prompt, resolution, seed, style_type}]}`, one per num_images, with
the images served here. Errors are `{"error": "..."}`: 400 for a form it refuses, 401 for a bad key, 422 for a
prompt that fails the safety check.

Modes: ok | 500 | 429 (Retry-After) | policy (422 safety refusal) | unsafe (200, every image withheld:
is_image_safe false, url null)."""

from __future__ import annotations

import time
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runapi.files_policy import sniff
from tests.support.fake_media import PNG, FakeServer
from tests.support.upstream_contract import form_body, problems

POLICY_ERROR = "Prompt provided failed safety check due to the inclusion of prohibited content."


class FakeIdeogram(FakeServer):
    def __init__(self, api_key: str):
        self.api_key = api_key
        self.refused: list[dict[str, Any]] = []
        super().__init__(
            [
                Route("/files/{name}", self.file, methods=["GET"]),
                Route("/v1/ideogram-v3/{op}", self.submit, methods=["POST"]),
            ]
        )

    async def submit(self, request: Request) -> Response:
        endpoint = f"ideogram-v3/{request.path_params['op']}"
        form = await request.form()
        parts: list[tuple[str, str | bytes]] = []
        for name, value in form.multi_items():
            parts.append((name, await value.read() if isinstance(value, UploadFile) else str(value)))
        body = form_body("ideogram", endpoint, parts)
        files = {name: [v for n, v in parts if n == name and isinstance(v, bytes)] for name, _ in parts}
        await self.record(request, body=body, files={k: v for k, v in files.items() if v}, endpoint=endpoint)
        if request.headers.get("api-key") != self.api_key:
            return JSONResponse({"error": "Invalid API key"}, status_code=401)
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return JSONResponse({"error": "Expected multipart/form-data"}, status_code=400)
        if self.mode == "500":
            return JSONResponse({"error": "Internal server error"}, status_code=500)
        if self.mode == "429":
            return JSONResponse({"error": "Too many requests"}, status_code=429, headers={"Retry-After": "30"})
        issues = problems("ideogram", endpoint, body)
        if issues is None:
            return JSONResponse({"error": "Not found"}, status_code=404)
        issues += [
            f"{n}: not an image" for n, v in parts if isinstance(v, bytes) and not (sniff(v) or "").startswith("image/")
        ]
        if issues:
            self.refused.append({"endpoint": endpoint, "body": body, "issues": issues})
            return JSONResponse({"error": "; ".join(issues)}, status_code=400)
        if self.mode == "policy":
            return JSONResponse({"error": POLICY_ERROR}, status_code=422)
        safe = self.mode != "unsafe"
        images = [
            {
                "url": f"{self.url}/files/{time.time_ns()}-{i}.png" if safe else None,
                "is_image_safe": safe,
                "prompt": body.get("prompt", ""),
                "resolution": "1024x1024",
                "seed": body.get("seed", 12345),
                "style_type": body.get("style_type", "GENERAL"),
            }
            for i in range(int(body.get("num_images") or 1))
        ]
        return JSONResponse({"created": "2026-12-06T00:00:00Z", "data": images})

    async def file(self, request: Request) -> Response:
        await self.record(request)
        return Response(PNG, media_type="image/png")
