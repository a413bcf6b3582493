"""Kling's own API on 127.0.0.1, as its reference documents it (kling.py's docstring has the protocol):
`Authorization: Bearer <JWT>` verified with the secret key (HS256, iss = access key, exp and nbf checked) or
HTTP 401 {code: 1000-1004}; every body checked against tests/support/contracts/kling_schemas.yaml (HTTP 400
{code: 1201, message}; an unknown endpoint HTTP 404 {code: 1202}); jobs polled at `GET <endpoint>/{task_id}`.
Modes (tests/support/upstream_fake.py): policy answers HTTP 400 {code: 1301}; lost fails the job with a
task_status_msg; 500 is HTTP 500 {code: 5000}; 429 is HTTP 429 {code: 1302} with Retry-After."""

from __future__ import annotations

import uuid
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.upstream_fake import JobFake

POLICY = "Failure to pass the risk control system"


def kling_error(status: int, code: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "request_id": str(uuid.uuid4())}, status_code=status, headers=headers
    )


class FakeKling(JobFake):
    def __init__(self, access_key: str, secret_key: str):
        self.access_key, self.secret_key = access_key, secret_key
        super().__init__(
            "kling",
            [
                Route("/v1/{endpoint:path}", self.submit, methods=["POST"]),
                Route("/v1/{endpoint:path}", self.query, methods=["GET"]),
            ],
        )

    def _unauthorised(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return kling_error(401, 1001, "Authorization is empty")
        try:
            claims = jwt.decode(
                header[7:], self.secret_key, algorithms=["HS256"], options={"require": ["iss", "exp", "nbf"]}
            )
        except jwt.ExpiredSignatureError:
            return kling_error(401, 1004, "Authorization has expired")
        except jwt.ImmatureSignatureError:
            return kling_error(401, 1003, "Authorization is not yet valid")
        except jwt.PyJWTError:
            return kling_error(401, 1002, "Authorization is invalid")
        if claims.get("iss") != self.access_key:
            return kling_error(401, 1000, "Authentication failed")
        return None

    async def submit(self, request: Request) -> Response:
        body = await request.json()
        endpoint = "/v1/" + request.path_params["endpoint"]
        await self.record(request, body=body, endpoint=endpoint)
        refused = self._unauthorised(request)
        if refused is not None:
            return refused
        if self.mode == "500":
            return kling_error(500, 5000, "Server internal error")
        if self.mode == "429":
            return kling_error(429, 1302, "The API request is too fast, please slow down", **{"Retry-After": "30"})
        found = self.check_contract(endpoint, body)
        if found is None:
            return kling_error(404, 1202, "The requested method is invalid")
        if found:
            return kling_error(400, 1201, "Invalid request parameters: " + "; ".join(found))
        if self.mode == "policy":
            return kling_error(400, 1301, "Trigger the content security policy of the platform")
        task_id = self.submit_job(endpoint=endpoint, body=body)
        return JSONResponse(
            {
                "code": 0,
                "message": "SUCCEED",
                "request_id": str(uuid.uuid4()),
                "data": {"task_id": task_id, "task_status": "submitted", "created_at": 1, "updated_at": 1},
            }
        )

    async def query(self, request: Request) -> Response:
        await self.record(request)
        refused = self._unauthorised(request)
        if refused is not None:
            return refused
        endpoint, _, task_id = ("/v1/" + request.path_params["endpoint"]).rpartition("/")
        job = self.jobs.get(task_id)
        if job is None or job["endpoint"] != endpoint:
            return kling_error(404, 1203, "The requested resource does not exist")
        state = self.advance(job)
        data: dict[str, Any] = {"task_id": task_id, "created_at": 1, "updated_at": 2, "task_info": {}}
        if state == "running":
            data |= {"task_status": "processing" if job["polls"] > 1 else "submitted", "task_status_msg": ""}
        elif state in ("failed", "policy"):
            message = POLICY if state == "policy" else "Generation failed, internal error"
            data |= {"task_status": "failed", "task_status_msg": message}
        else:
            video = {"id": "v1", "url": self.file_url(), "duration": str(job["body"].get("duration", "5"))}
            data |= {"task_status": "succeed", "task_status_msg": "", "task_result": {"videos": [video]}}
        return JSONResponse({"code": 0, "message": "SUCCEED", "request_id": str(uuid.uuid4()), "data": data})
