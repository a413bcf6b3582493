"""The catalog's examples over HTTP: each runs end to end through the server on the sandbox, and each declared
constraint broken over HTTP gets its documented status. The same constraints checked without a server are in
tests/unit/test_conformance.py."""

from __future__ import annotations

import copy

import pytest

from tests.support.conformance import ACTIONS, _resolve_task_refs, action_id, localize, violations
from tests.support.servers import wait_done


@pytest.mark.parametrize("action", ACTIONS, ids=action_id)
def test_examples_complete_end_to_end(action, api, inputs_host):
    for example in action.examples:
        body = _resolve_task_refs(api, action, localize(copy.deepcopy(example), inputs_host.url), inputs_host.url)
        resp = api.post(action.path, json=body)
        if action.sync:
            assert resp.status_code == 200, resp.text
            continue
        assert resp.status_code == 202, resp.text
        done = wait_done(api, action.path, resp.json()["id"], timeout=120)
        assert done["status"] == "completed", (action.key, body, done)
        for name in action.echo:
            assert done.get(name) == body.get(name)
        items = done.get(action.result)
        assert items, (action.key, done)
        if isinstance(items, list):
            for item in items:
                assert set(item) <= set(action.result_fields) | {"url"}, item
                if "url" in item:
                    assert api.get(item["url"]).status_code == 200


@pytest.mark.parametrize("action", ACTIONS, ids=action_id)
def test_violations_over_http_use_the_documented_status(action, api):
    seen = set()
    for what, body, expected in violations(action):
        if isinstance(expected, tuple) or expected in seen:
            continue
        seen.add(expected)
        resp = api.post(action.path, json=body)
        assert resp.status_code == expected, (what, resp.text)
        assert isinstance(resp.json()["error"], str)
