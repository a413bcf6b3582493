"""The media upstreams' mapping tables, without a socket: the fal table names real actions, models and parameters,
matches the transcribed fal schemas, and every route is reached by some request; every OpenAI image size is within
OpenAI's limits. The upstreams over HTTP (local fakes) are in tests/e2e/test_media_upstream.py."""

from __future__ import annotations

from runapi.catalog import get_catalog
from runapi.providers.upstream.fal import fal_table
from runapi.providers.upstream.openai_images import openai_table
from tests.support import fal_contract
from tests.support.fake_media import openai_size_error
from tests.support.first_party import has_task_ref, param_names
from tests.support.media_upstream import fal_requests, route_of


def test_fal_table_names_real_actions_models_and_params():
    catalog = get_catalog()
    for (action_key, model), mapping in fal_table().entries.items():
        action = catalog.action(*action_key.split("/"))
        assert action is not None and model in action.models, (action_key, model)
        for route in mapping.routes:
            names: set[str] = set()
            for spec in route.input.values():
                if isinstance(spec, dict) and "each" in spec:
                    names.add(spec["each"])  # item fields belong to the array's objects
                else:
                    param_names(spec, names)
            unknown = names - set(action.params)
            assert not unknown, f"{action_key}/{model} -> {route.app}: unknown params {unknown}"


def test_fal_schema_table_has_every_endpoint_the_mapping_uses():
    apps = {r.app for m in fal_table().entries.values() for r in m.routes if r.refuse is None}
    assert apps == set(fal_contract.schemas()), "tests/support/contracts/fal_schemas.yaml and fal_models.yaml differ"
    for app in apps:
        assert fal_contract.validator(app) is not None


def test_every_fal_route_has_a_request_that_reaches_it():
    reached = {(a.key, m, route_of(a, m, body).app) for a, m, body in fal_requests()}
    for (action_key, model), mapping in fal_table().entries.items():
        if has_task_ref(get_catalog().action(*action_key.split("/"))):
            continue  # runs in test_task_references_reach_fal_as_signed_links
        for route in mapping.routes:
            if route.refuse is None:
                assert (action_key, model, route.app) in reached, (action_key, model, route.app)


def test_every_openai_image_size_is_within_openai_limits():
    sizes = set()
    for mapping in openai_table().entries.values():
        for route in mapping.routes:
            spec = route.input.get("size")
            for table in (spec.get("map", {}), spec.get("default", {}).get("map", {})):
                sizes |= {(route.app, size) for size in table.values()}
    assert ("gpt-image-2", "2880x2880") in sizes and ("gpt-image-2", "1280x720") in sizes
    assert openai_size_error("gpt-image-2", "3840x3840") and openai_size_error("gpt-image-2", "1024x576")
    assert openai_size_error("gpt-image-2", "3840x2880") and not openai_size_error("gpt-image-2", "3840x2160")
    assert {(app, size): openai_size_error(app, size) for app, size in sizes if openai_size_error(app, size)} == {}
