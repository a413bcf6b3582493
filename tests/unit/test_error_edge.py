"""Domain refusals get their HTTP status in one place (runapi.api.errors), for every class in the tree."""

from __future__ import annotations

import pytest

from runapi import errors
from runapi.api.errors import STATUS, as_api_error, http_status


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_all_subclasses(sub)]
    return out


@pytest.mark.parametrize("kind", _all_subclasses(errors.RunapiError), ids=lambda k: k.__name__)
def test_every_refusal_class_has_a_status_in_the_table(kind):
    assert any(issubclass(kind, base) for base, _ in STATUS), f"{kind.__name__} is not mapped in api/errors.STATUS"


def test_the_documented_statuses_and_messages():
    assert (http_status(errors.unauthorized()), errors.unauthorized().message) == (401, "Unauthorized")
    assert (http_status(errors.insufficient_credits()), errors.insufficient_credits().message) == (
        402,
        "Insufficient credits",
    )
    assert (http_status(errors.task_not_found()), errors.task_not_found().message) == (404, "Task not found")
    assert http_status(errors.RecordNotFound("Record does not exist")) == 404
    assert (http_status(errors.missing_parameter("prompt")), errors.missing_parameter("prompt").message) == (
        400,
        "Missing required parameter: prompt",
    )
    assert http_status(errors.invalid("x")) == 422
    assert http_status(errors.Conflict("x")) == 409


def test_an_upstream_refusal_keeps_its_own_status_and_retry_after_becomes_a_header():
    assert http_status(errors.UpstreamFailed("down")) == 502
    assert http_status(errors.UpstreamFailed("content policy", upstream_status=400)) == 400
    refusal = as_api_error(errors.Unavailable("busy", retry_after=1))
    assert (refusal.status, refusal.message, refusal.headers) == (503, "busy", {"Retry-After": "1"})
    assert as_api_error(errors.Forbidden("no")).headers == {}
