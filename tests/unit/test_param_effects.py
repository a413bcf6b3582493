"""The guard that no parameter is accepted and then ignored, checked without a server: reads found in mapping
tables and by the recording params, and the catalog's `effect: none` needing a reason. The examples run end to end
in tests/e2e/test_param_effects.py."""

from __future__ import annotations

import pytest

from runapi.catalog.model import build_family
from tests.support.param_effects import _Recording, _spec_reads


def test_the_guard_sees_a_parameter_nobody_reads():
    """The recorder and the table walk find reads, and a declared parameter without one is reported."""
    spec = {
        "prompt": "$prompt",
        "size": {"params": ["aspect_ratio", "output_resolution"], "map": {}, "default": {"param": "quality"}},
        "img": {"object": {"url": {"task_file": "source_task_id", "index": "index"}}},
        "shots": {"each": "multi_prompt", "item": {"prompt": "$prompt"}, "when": "mode == pro"},
    }
    assert set().union(*(_spec_reads(v) for v in spec.values())) == {
        "prompt",
        "aspect_ratio",
        "output_resolution",
        "quality",
        "source_task_id",
        "index",
        "multi_prompt",
        "mode",
        "pro",
    }
    log: set[str] = set()
    params = _Recording({"a": 1, "b": 2, "c": 3}, log)
    params.get("a")
    _ = params["b"]
    list(params.items())
    assert log == {"a", "b"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"effect": "none"}, "effect: none needs a reason"),
        ({"effect": "none", "reason": " "}, "effect: none needs a reason"),
        ({"effect": "some", "reason": "x"}, "effect must be none"),
        ({"reason": "why"}, "reason without effect: none"),
    ],
)
def test_effect_none_needs_a_reason(raw, message):
    family = {
        "family": "demo",
        "actions": {
            "draw": {
                "result": "images",
                "params": {"model": {"type": "string"}, "seed": {"type": "integer", **raw}},
                "models": {"demo-1": {"price": {"cents": 3}}},
            }
        },
    }
    with pytest.raises(ValueError, match=message):
        build_family(family)


def test_effect_none_loads_with_its_reason():
    family = build_family(
        {
            "family": "demo",
            "actions": {
                "draw": {
                    "result": "images",
                    "params": {
                        "model": {"type": "string"},
                        "seed": {"type": "integer", "effect": "none", "reason": "the docs' own no-op"},
                    },
                    "models": {"demo-1": {"price": {"cents": 3}}},
                }
            },
        }
    )
    seed = family.actions["draw"].params["seed"]
    assert (seed.effect, seed.reason) == ("none", "the docs' own no-op")
