"""Errors a client can cause, with the documented status codes and messages (seed: 错误 section)."""

from __future__ import annotations


class ApiError(Exception):
    """Rendered as {"error": message} with `status` (files API: {"error": {"code", "message"}})."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized")


def insufficient_credits() -> ApiError:
    return ApiError(402, "Insufficient credits")


def task_not_found() -> ApiError:
    return ApiError(404, "Task not found")


def missing_parameter(name: str) -> ApiError:
    return ApiError(400, f"Missing required parameter: {name}")


def invalid(message: str) -> ApiError:
    return ApiError(422, message)
