"""Conformance suite generated from the catalog.

For every action: each example is valid and runs end to end through the server on the sandbox; and for each
declared constraint (required, enum, range, length, item count, per-model applicability, URL format, type,
cross-field rule) a request derived from an example that breaks just that constraint gets the documented error.
Here without a server; over HTTP in tests/e2e/test_conformance.py.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from runapi.api.errors import http_status
from runapi.catalog import Action, get_catalog
from runapi.catalog.model import build_family
from runapi.catalog.validation import validate
from runapi.errors import RunapiError
from runapi.yamlload import load_yaml
from tests.support.conformance import ACTIONS, action_id, violations


def examples_for(action: Action) -> list[dict[str, Any]]:
    return [dict(e) for e in action.examples]


def status_of(action: Action, body: Any) -> tuple[int, str] | None:
    try:
        validate(action, body)
    except RunapiError as exc:
        return http_status(exc), exc.message
    return None


# ---------------------------------------------------------------- catalog completeness


@pytest.mark.parametrize("action", ACTIONS, ids=action_id)
def test_every_action_has_valid_examples_for_every_model(action):
    assert action.examples, f"{action.key} has no examples"
    for ex in action.examples:
        assert status_of(action, copy.deepcopy(ex)) is None, (ex, status_of(action, copy.deepcopy(ex)))
    covered = {validate(action, copy.deepcopy(ex))[0].id for ex in action.examples if action.models}
    assert covered == set(action.models), f"models without an example: {set(action.models) - covered}"


@pytest.mark.parametrize("action", ACTIONS, ids=action_id)
def test_every_model_has_a_price(action):
    for model in action.models.values():
        assert isinstance(model.price.cents, int) and model.price.cents >= 0


FAMILY = {
    "family": "demo",
    "actions": {
        "draw": {
            "result": "images",
            "params": {"model": {"type": "string"}},
            "models": {"demo-1": {"price": {"cents": 3}}},
        }
    },
}


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (None, "demo/draw/demo-1: no price"),
        ({"description": "no price here"}, "demo/draw/demo-1: no price"),
        ({"price": {}}, "demo/draw/demo-1: no price"),
        ({"price": {"cents": -1}}, "demo/draw/demo-1: prices are whole cents"),
        ({"price": {"cents": 2, "by": {"size": {"big": 2.5}}}}, "demo/draw/demo-1: prices are whole cents"),
        ({"price": {"cents": 2, "per_second": 1}}, "demo/draw/demo-1: unknown price keys"),
    ],
)
def test_a_model_without_a_valid_price_does_not_load(model, message):
    assert build_family(copy.deepcopy(FAMILY)).actions["draw"].models["demo-1"].price.cents == 3
    raw = copy.deepcopy(FAMILY)
    raw["actions"]["draw"]["models"]["demo-1"] = model
    with pytest.raises(ValueError, match=message):
        build_family(raw)


def test_a_catalog_directory_missing_a_price_does_not_load(tmp_path, monkeypatch):
    source = next(iter(sorted((Path(__file__).parents[2] / "src/runapi/catalog/families").glob("*.yaml"))))
    raw = load_yaml(source)
    action, spec = next(iter(raw["actions"].items()))
    model = next(iter(spec["models"]))
    del spec["models"][model]["price"]
    (tmp_path / source.name).write_text(yaml.safe_dump(raw, allow_unicode=True))
    monkeypatch.setenv("RUNAPI_CATALOG_DIR", str(tmp_path))
    get_catalog.cache_clear()
    try:
        with pytest.raises(ValueError, match=f"{raw['family']}/{action}/{model}: no price"):
            get_catalog()
    finally:
        monkeypatch.delenv("RUNAPI_CATALOG_DIR")
        get_catalog.cache_clear()


# ---------------------------------------------------------------- derived violations


@pytest.mark.parametrize("action", ACTIONS, ids=action_id)
def test_each_declared_constraint_is_enforced(action):
    failures = []
    checked = 0
    for what, body, expected in violations(action):
        got = status_of(action, body)
        checked += 1
        if got is None or got[0] not in (expected if isinstance(expected, tuple) else (expected,)):
            failures.append(f"{what}: expected {expected}, got {got}")
    assert not failures, "\n".join(failures)
    assert checked > 0


def test_rule_counterexamples_fail_with_their_own_message():
    for action in ACTIONS:
        for rule in action.rules:
            assert status_of(action, dict(rule.counterexample)) == (422, rule.message), (action.key, rule.message)


# ---------------------------------------------------------------- end to end on the sandbox
