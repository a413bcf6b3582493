"""A fake of Recraft's API on 127.0.0.1 (https://www.recraft.ai/docs/api-reference): `Authorization: Bearer
<key>`; POST /v1/images/{removeBackground,crispUpscale} as multipart/form-data, each form checked against
Recraft's schema (tests/support/contracts/recraft_schemas.yaml; the image part must be a real image) → 200
`{"created", "credits", "image": {"image_id", "url"}}` (or `b64_json` when asked), the image served here.
Errors are `{"code", "message"}`: 400 for a form it refuses, 401 for a bad key.

Modes: ok | 500 | 429 (Retry-After) | inline (answers b64_json whatever was asked) | refuse (400: the image
is too large, Recraft's verdict on the request)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runapi.files_policy import sniff
from tests.support.fake_media import PNG, FakeServer
from tests.support.upstream_contract import form_body, problems

TOO_LARGE = "Image resolution is too large, max 16 MP"


class FakeRecraft(FakeServer):
    def __init__(self, api_key: str):
        self.api_key = api_key
        self.refused: list[dict[str, Any]] = []
        super().__init__(
            [
                Route("/files/{name}", self.file, methods=["GET"]),
                Route("/v1/images/{op}", self.submit, methods=["POST"]),
            ]
        )

    async def submit(self, request: Request) -> Response:
        endpoint = f"images/{request.path_params['op']}"
        form = await request.form()
        parts: list[tuple[str, str | bytes]] = []
        for name, value in form.multi_items():
            parts.append((name, await value.read() if isinstance(value, UploadFile) else str(value)))
        body = form_body("recraft", endpoint, parts)
        files = {n: v for n, v in parts if isinstance(v, bytes)}
        await self.record(request, body=body, files=files, endpoint=endpoint)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"code": "unauthorized", "message": "Invalid API token"}, status_code=401)
        if self.mode == "500":
            return JSONResponse({"code": "internal", "message": "Internal server error"}, status_code=500)
        if self.mode == "429":
            return JSONResponse(
                {"code": "too_many_requests", "message": "Rate limit exceeded"},
                status_code=429,
                headers={"Retry-After": "30"},
            )
        if self.mode == "refuse":
            return JSONResponse({"code": "invalid_request", "message": TOO_LARGE}, status_code=400)
        issues = problems("recraft", endpoint, body)
        if issues is None:
            return JSONResponse({"code": "not_found", "message": "Not found"}, status_code=404)
        issues += [f"{n}: not an image" for n, v in files.items() if not (sniff(v) or "").startswith("image/")]
        if issues:
            self.refused.append({"endpoint": endpoint, "body": body, "issues": issues})
            return JSONResponse({"code": "invalid_request", "message": "; ".join(issues)}, status_code=400)
        image_id = str(uuid.uuid4())
        if self.mode == "inline" or body.get("response_format") == "b64_json":
            image = {"image_id": image_id, "b64_json": base64.b64encode(PNG).decode()}
        else:
            image = {"image_id": image_id, "url": f"{self.url}/files/{image_id}.png"}
        return JSONResponse({"created": 1765000000, "credits": 1, "image": image})

    async def file(self, request: Request) -> Response:
        await self.record(request)
        return Response(PNG, media_type="image/png")
