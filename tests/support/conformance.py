"""Cases derived from the catalog (tests/unit/test_conformance.py checks them without a server,
tests/e2e/test_conformance.py over HTTP) and its examples run against a server with their inputs served locally
(also used by tests/e2e/test_param_effects.py)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from runapi.catalog import Action, Param, get_catalog
from tests.support.servers import Recorder, wait_done

CATALOG = get_catalog()
ACTIONS = CATALOG.actions()
EXAMPLE_HOST = "https://example.com/"


def action_id(a: Action) -> str:
    return a.key


def example_for_model(action: Action, model_id: str | None) -> dict[str, Any] | None:
    for ex in action.examples:
        if model_id is None or ex.get("model", action.default_model or next(iter(action.models), None)) == model_id:
            return dict(ex)
    return None


def _valid_value(p: Param, action: Action, model_id: str | None) -> Any:
    for ex in action.examples:
        if p.name in ex:
            return copy.deepcopy(ex[p.name])
    if p.enum:
        return p.enum[0]
    if p.default is not None:
        return p.default
    if p.type == "array":
        return [EXAMPLE_HOST + "a.png"] if p.format == "url" else ["x"]
    return {
        "string": EXAMPLE_HOST + "a.png" if p.format == "url" else "x",
        "integer": int(p.min or 1),
        "number": float(p.min or 1),
        "boolean": True,
        "object": {},
    }[p.type]


def _invalid_enum_value(p: Param) -> Any:
    if p.type in ("integer", "number"):
        return (
            max(float(v) for v in p.enum if isinstance(v, (int, float))) * 10 + 7
            if p.type == "number"
            else int(max(int(v) for v in p.enum if isinstance(v, (int, float)))) * 10 + 7
        )
    return "__not_an_allowed_value__"


def violations(action: Action) -> Iterator[tuple[str, dict[str, Any], int]]:
    """(description, request body, expected status) for every constraint the catalog declares."""
    models = list(action.models.values()) or [None]
    for model in models:
        model_id = model.id if model else None
        base = example_for_model(action, model_id)
        if base is None:
            continue
        params = model.params if model else action.params
        for p in params.values():
            applies = p.only_models is None or model_id in p.only_models
            tag = f"{model_id}:{p.name}"
            if not applies:
                body = {**base, p.name: _valid_value(p, action, model_id)}
                yield f"{tag} not for this model", body, 422
                continue
            if p.name == "model":
                yield f"{tag} unknown model", {**base, "model": "__no_such_model__"}, 422
                if action.model_param == "required":
                    yield f"{tag} missing", {k: v for k, v in base.items() if k != "model"}, 400
                continue
            if p.required and not p.required_when:
                yield f"{tag} missing", {k: v for k, v in base.items() if k != p.name}, 400
            if p.enum is not None:
                if p.type == "array":
                    yield f"{tag} item not in enum", {**base, p.name: ["__not_an_allowed_value__"]}, 422
                else:
                    yield f"{tag} not in enum", {**base, p.name: _invalid_enum_value(p)}, 422
            if p.min is not None:
                below = p.min - 1 if p.type == "integer" else p.min - 0.001
                yield f"{tag} below min", {**base, p.name: below}, 422
            if p.max is not None:
                above = p.max + 1 if p.type == "integer" else p.max + 0.001
                yield f"{tag} above max", {**base, p.name: above}, 422
            if p.max_length is not None:
                yield f"{tag} too long", {**base, p.name: "a" * (p.max_length + 1)}, 422
            if p.min_length is not None and p.min_length > 1:
                yield f"{tag} too short", {**base, p.name: "a" * (p.min_length - 1)}, 422
            if p.type == "array":
                item = _valid_value(p, action, model_id)
                item = item[0] if isinstance(item, list) and item else EXAMPLE_HOST + "a.png"
                if p.max_items is not None:
                    yield f"{tag} too many items", {**base, p.name: [item] * (p.max_items + 1)}, 422
                if p.min_items is not None and p.min_items > 0:
                    # an empty list also counts as "not given", which may trip a conditional requirement first
                    expected = (400, 422) if p.min_items == 1 and not p.required else 422
                    yield f"{tag} too few items", {**base, p.name: [item] * (p.min_items - 1)}, expected
                yield f"{tag} not an array", {**base, p.name: {"a": 1}}, 422
                if p.fields is not None and isinstance(base.get(p.name), list) and base[p.name]:
                    item = dict(base[p.name][0])
                    yield f"{tag}[0] not an object", {**base, p.name: ["x"]}, 422
                    for f in p.fields:
                        if f.required:
                            short = {k: v for k, v in item.items() if k != f.name}
                            yield f"{tag}[0].{f.name} missing", {**base, p.name: [short]}, 422
                        if f.max_length is not None:
                            yield (
                                f"{tag}[0].{f.name} too long",
                                {**base, p.name: [{**item, f.name: "a" * (f.max_length + 1)}]},
                                422,
                            )
                        if f.max is not None:
                            yield f"{tag}[0].{f.name} above max", {**base, p.name: [{**item, f.name: f.max + 1}]}, 422
                        if f.min is not None:
                            yield f"{tag}[0].{f.name} below min", {**base, p.name: [{**item, f.name: f.min - 1}]}, 422
                    if p.max_total_length:
                        field, limit = p.max_total_length["field"], p.max_total_length["max"]
                        yield (
                            f"{tag} total {field} too long",
                            {
                                **base,
                                p.name: [
                                    {**item, field: "a" * (limit // 2 + 1)},
                                    {**item, field: "a" * (limit // 2 + 1)},
                                ],
                            },
                            422,
                        )
            else:
                wrong = {"string": 12345, "integer": "five", "number": "five", "boolean": "yes", "object": "x"}[p.type]
                yield f"{tag} wrong type", {**base, p.name: wrong}, 422
            if p.format == "url":
                bad = ["ftp://example.com/a"] if p.type == "array" else "not a url"
                yield f"{tag} not a url", {**base, p.name: bad}, 422
    for i, rule in enumerate(action.rules):
        assert rule.counterexample is not None, f"{action.key} rule {i} has no counterexample"
        yield f"rule {i}: {rule.message}", dict(rule.counterexample), 422


# ---------------------------------------------------------------- examples run against a server


SAMPLE_CACHE: dict[str, bytes] = {}


def sample_file(path: str) -> tuple[str, bytes]:
    """Local stand-ins for the examples' https://example.com/ inputs, real files of the kind the name says."""
    ext = path.rsplit(".", 1)[-1].lower() if "." in path else "png"
    if ext not in SAMPLE_CACHE:
        from runapi.providers.sandbox import samples

        SAMPLE_CACHE[ext] = samples.sample_bytes(ext)
    ctype = {
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "webp": "image/webp",
        "mp4": "video/mp4",
        "mov": "video/quicktime",
        "mp3": "audio/mpeg",
        "wav": "audio/wav",
        "m4a": "audio/mp4",
    }.get(ext, "application/octet-stream")
    return ctype, SAMPLE_CACHE[ext]


def localize(value: Any, host: str) -> Any:
    if isinstance(value, str) and value.startswith(EXAMPLE_HOST):
        return host + "/" + value[len(EXAMPLE_HOST) :]
    if isinstance(value, list):
        return [localize(v, host) for v in value]
    if isinstance(value, dict):
        return {k: localize(v, host) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def inputs_host():
    """A local host serving sample_file() for any path: the examples' inputs (a fixture, via tests/e2e/conftest.py)."""

    def serve(method, path, headers, body):
        ctype, data = sample_file(path.split("?")[0])
        return 200, {"Content-Type": ctype}, data

    rec = Recorder(serve)
    yield rec
    rec.close()


def _completed_example_task(api, source_action: Action, host: str, depth: int = 0) -> str:
    """A fresh completed task of `source_action` from its first example, resolving that example's own chains."""
    assert depth < 6, "task_ref chain too deep"
    body = _resolve_task_refs(api, source_action, localize(dict(source_action.examples[0]), host), host, depth + 1)
    created = api.post(source_action.path, json=body)
    assert created.status_code == 202, created.text
    done = wait_done(api, source_action.path, created.json()["id"], timeout=120)
    assert done["status"] == "completed", done
    return done["id"]


def _resolve_task_refs(api, action: Action, body: dict[str, Any], host: str, depth: int = 0) -> dict[str, Any]:
    """Chained actions: replace a task_ref example value by a completed task of the first allowed kind."""
    for p in action.params.values():
        if p.record_ref and p.name in body:  # a persona/voice id: one this account made, as the docs chain it
            kind = (
                next(k for k in p.record_ref if "voice" in k)
                if body.get("persona_type") == "voice"
                else next(iter(p.record_ref))
            )
            fam, act = kind.split("/")
            maker = CATALOG.action(fam, act)
            made = _resolve_task_refs(api, maker, localize(dict(maker.examples[0]), host), host, depth + 1)
            resp = api.post(maker.path, json=made)
            value = resp.json() if maker.sync else wait_done(api, maker.path, resp.json()["id"], timeout=120)
            for part in p.record_ref[kind].split("."):
                value = value[part]
            body[p.name] = value
        if p.task_ref and p.name in body:
            fam, act = p.task_ref[0].split("/")
            body[p.name] = _completed_example_task(api, CATALOG.action(fam, act), host, depth)
    return body
