"""No parameter is accepted and then silently ignored.

Every declared parameter must have an effect somewhere: the sandbox generator reads it (recorded while the
catalog's examples run end to end), an upstream mapping table reads it (fal_models.yaml, openai_images.yaml),
the platform itself consumes it (catalog.PLATFORM_PARAMS, echo fields), or the catalog says `effect: none`
with a `reason`. A parameter nobody reads fails here, naming it.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import defaultdict
from pathlib import Path

import pytest

from runapi.catalog import PLATFORM_PARAMS, get_catalog
from runapi.providers.sandbox import SandboxProvider
from runapi.providers.upstream import elevenlabs, mapping
from runapi.yamlload import load_yaml
from tests.support.conformance import _resolve_task_refs, localize
from tests.support.param_effects import _names_in_condition, _Recording, _spec_reads
from tests.support.servers import wait_done

CATALOG = get_catalog()
UPSTREAM_TABLES = sorted((Path(mapping.__file__).parent).glob("*.yaml"))

# Parameters known to be validated and then dropped: none. A parameter listed here that is read after all
# makes the test fail too, so the set only ever shrinks.
KNOWN_IGNORED: set[tuple[str, str]] = set()

READS: dict[tuple[str, str], set[str]] = defaultdict(set)  # (action key, model id) → params the sandbox read


@pytest.fixture(scope="module", autouse=True)
def recording_sandbox():
    original = SandboxProvider.poll

    async def poll(self, task, job):
        log = READS[(task.action.key, task.model.id if task.model else "")]
        recorded = dataclasses.replace(
            task, params=_Recording(task.params, log), refs=_Recording(task.refs, log, iteration_reads=True)
        )
        return await original(self, recorded, job)

    SandboxProvider.poll = poll
    yield
    SandboxProvider.poll = original


def upstream_reads() -> dict[tuple[str, str], set[str]]:
    """(action key, model id) → the parameters an upstream table reads for it, in any route."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in UPSTREAM_TABLES:
        for action_key, spec in load_yaml(path).items():
            if action_key.startswith("_"):
                continue
            shared = set().union(*(_spec_reads(v) for v in (spec.get("input") or {}).values()), set())
            meta = set().union(*(_spec_reads(v) for v in (spec.get("meta") or {}).values()), set())
            for model, routes in spec["models"].items():
                names = shared | meta
                for route in routes if isinstance(routes, list) else [routes]:
                    if isinstance(route, str):
                        continue
                    if route.get("when"):
                        names |= _names_in_condition(route["when"])
                    for v in (route.get("input") or {}).values():
                        names |= _spec_reads(v)
                out[(action_key, model)] |= names
    for action_key, body in elevenlabs.BODIES.items():  # the ElevenLabs adapter's request bodies (same format)
        names = set().union(*(_spec_reads(v) for v in body.values()), set())
        for model in elevenlabs.MODELS:
            out[(action_key, model)] |= names
    return out


def unread_params() -> set[tuple[str, str]]:
    """(action key, param) for every param no reader uses for any model of its action."""
    upstream = upstream_reads()
    unread = set()
    for action in CATALOG.actions():
        for name, param in action.params.items():
            if name in PLATFORM_PARAMS or name in action.echo:
                continue
            models = action.models or {"": None}
            for model_id, model in models.items():
                p = model.params[name] if model else param
                if p.effect == "none":
                    continue
                if p.only_models is not None and model_id not in p.only_models:
                    continue
                if name in READS[(action.key, model_id)] or name in upstream.get((action.key, model_id), ()):
                    continue
                unread.add((action.key, name))
    return unread


def _run_examples(api, host: str) -> None:
    for action in CATALOG.actions():
        for example in action.examples:
            body = _resolve_task_refs(api, action, localize(copy.deepcopy(example), host), host)
            resp = api.post(action.path, json=body)
            if action.sync:
                assert resp.status_code == 200, (action.key, resp.text)
                continue
            assert resp.status_code == 202, (action.key, resp.text)
            done = wait_done(api, action.path, resp.json()["id"], timeout=120)
            assert done["status"] == "completed", (action.key, done)


def test_every_parameter_has_an_effect(api, inputs_host):
    _run_examples(api, inputs_host.url)
    unread = unread_params()
    new = sorted(unread - KNOWN_IGNORED)
    assert not new, (
        "accepted but never read by the sandbox or any upstream mapping (give them an effect, or "
        f"`effect: none` with a `reason` in the catalog): {new}"
    )
    fixed = sorted(KNOWN_IGNORED - unread)
    assert not fixed, f"read now: remove from KNOWN_IGNORED: {fixed}"
