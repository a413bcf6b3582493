"""Coverage as a test: every catalog (action, model) pair has a real upstream kind that can serve it, except
the gaps listed here. The list only shrinks: a listed pair that some kind now serves fails too, so it is taken
off when its adapter lands."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from runapi.catalog import get_catalog
from runapi.providers.upstream.coverage import (
    PairCoverage,
    as_json,
    coverage,
    gaps,
    markdown_table,
    text_table,
    with_readme_table,
)
from runapi.providers.upstream.registry import ADAPTERS

# (action key, model) pairs no registered adapter kind serves yet (computed from the catalog and ADAPTERS).
KNOWN_GAPS: frozenset[tuple[str, str]] = frozenset(
    {
        ("grok_imagine/extend_video", "grok-imagine-extend-video"),
        ("grok_imagine/text_to_image", "grok-imagine-image-2-0"),
        ("grok_imagine/text_to_image", "grok-imagine-text-to-image"),
        ("grok_imagine/text_to_video", "grok-imagine-video-1.5-fast"),
        ("grok_imagine/text_to_video", "grok-imagine-video-1.5-preview"),
        ("grok_imagine/upscale_image", "grok-imagine-upscale-video"),
        ("imagen_4/remix_image", "imagen-4-pro-remix-image"),
        ("kling/image_to_video", "kling-v3-omni"),
        ("kling/text_to_video", "kling-o1"),
        ("kling/text_to_video", "kling-v3-omni"),
        ("kling/text_to_video", "kling-v3-omni-reference"),
        ("nano_banana/edit_image", "nano-banana-2-lite"),
        ("nano_banana/text_to_image", "nano-banana-2-lite"),
        ("runway/extend_video", "runway"),
        ("seedance/text_to_video", "seedance-2.5"),
        ("suno/add_instrumental", "suno-v4"),
        ("suno/add_instrumental", "suno-v4.5"),
        ("suno/add_instrumental", "suno-v4.5-all"),
        ("suno/add_instrumental", "suno-v4.5-plus"),
        ("suno/add_instrumental", "suno-v5"),
        ("suno/add_instrumental", "suno-v5.5"),
        ("suno/add_samples", "suno-v4"),
        ("suno/add_samples", "suno-v4.5"),
        ("suno/add_samples", "suno-v4.5-all"),
        ("suno/add_samples", "suno-v4.5-plus"),
        ("suno/add_samples", "suno-v5"),
        ("suno/add_vocals", "suno-v4"),
        ("suno/add_vocals", "suno-v4.5"),
        ("suno/add_vocals", "suno-v4.5-all"),
        ("suno/add_vocals", "suno-v4.5-plus"),
        ("suno/add_vocals", "suno-v5"),
        ("suno/boost_style", "suno-boost-style"),
        ("suno/check_voice", "suno-check-voice"),
        ("suno/convert_audio", "suno-wav"),
        ("suno/cover_audio", "suno-v4"),
        ("suno/cover_audio", "suno-v4.5"),
        ("suno/cover_audio", "suno-v4.5-all"),
        ("suno/cover_audio", "suno-v4.5-plus"),
        ("suno/cover_audio", "suno-v5"),
        ("suno/cover_audio", "suno-v5.5"),
        ("suno/create_mashup", "suno-v4"),
        ("suno/create_mashup", "suno-v4.5"),
        ("suno/create_mashup", "suno-v4.5-all"),
        ("suno/create_mashup", "suno-v4.5-plus"),
        ("suno/create_mashup", "suno-v5"),
        ("suno/create_mashup", "suno-v5.5"),
        ("suno/extend_music", "suno-v4"),
        ("suno/extend_music", "suno-v4.5"),
        ("suno/extend_music", "suno-v4.5-all"),
        ("suno/extend_music", "suno-v4.5-plus"),
        ("suno/extend_music", "suno-v5"),
        ("suno/extend_music", "suno-v5.5"),
        ("suno/generate_artwork", "suno-artwork"),
        ("suno/generate_lyrics", "suno-lyrics"),
        ("suno/generate_midi", "suno-midi"),
        ("suno/generate_persona", "suno-persona"),
        ("suno/generate_voice", "suno-voice"),
        ("suno/get_timestamped_lyrics", "suno-timestamped-lyrics"),
        ("suno/regenerate_validation_phrase", "suno-voice-phrase"),
        ("suno/replace_section", "suno-replace-section"),
        ("suno/separate_audio_stems", "suno-stems"),
        ("suno/text_to_music", "suno-v4"),
        ("suno/text_to_music", "suno-v4.5"),
        ("suno/text_to_music", "suno-v4.5-all"),
        ("suno/text_to_music", "suno-v4.5-plus"),
        ("suno/text_to_music", "suno-v5"),
        ("suno/text_to_music", "suno-v5.5"),
        ("suno/text_to_sound", "suno-v5"),
        ("suno/text_to_sound", "suno-v5.5"),
        ("suno/visualize_music", "suno-video"),
        ("suno/voice_to_validation_phrase", "suno-voice-phrase"),
        ("veo_3_1/upscale_video", "veo-3.1"),
        ("wan/edit_video", "wan-2.6-edit-video"),
        ("wan/edit_video", "wan-2.6-flash-edit-video"),
        ("wan/text_to_video", "wan-2.6-text-to-video"),
    }
)


@pytest.fixture(scope="module")
def pairs() -> list[PairCoverage]:
    return coverage(get_catalog())


def test_every_catalog_pair_has_an_upstream_kind_except_the_known_gaps(pairs):
    missing = gaps(pairs) - KNOWN_GAPS
    assert not missing, f"no upstream kind serves {sorted(missing)}"


def test_known_gaps_only_shrink(pairs):
    covered = KNOWN_GAPS - gaps(pairs)
    assert not covered, f"now served, take them off KNOWN_GAPS: {sorted(covered)}"


def test_known_gaps_are_catalog_pairs(pairs):
    catalog = {(p.action_key, p.model) for p in pairs}
    assert KNOWN_GAPS <= catalog, sorted(KNOWN_GAPS - catalog)


def test_every_catalog_pair_is_listed_once(pairs):
    catalog = get_catalog()
    expected = [(a.key, m) for a in catalog.actions() for m in a.models]
    assert [(p.action_key, p.model) for p in pairs] == expected


def test_available_kinds_are_the_kinds_whose_pairs_contain_it(pairs):
    for p in pairs:
        assert p.available == tuple(k for k, cls in ADAPTERS.items() if (p.action_key, p.model) in cls.pairs())


class _Kind:
    """A stand-in adapter class serving a fixed set of pairs."""

    default_base_url = "http://127.0.0.1:1"

    def __init__(self, served: set[tuple[str, str]]):
        self.served = frozenset(served)

    def pairs(self) -> frozenset[tuple[str, str]]:
        return self.served


def test_summary_counts_servable_pairs_and_pairs_per_kind():
    catalog = get_catalog()
    first = catalog.actions()[0]
    model = next(iter(first.models))
    kinds = {"a": _Kind({(first.key, model)}), "b": _Kind({(first.key, model), ("no/such", "pair")})}
    found = coverage(catalog, kinds=kinds)  # type: ignore[arg-type]
    body = as_json(found)
    assert body["summary"]["servable"] == 1
    assert body["summary"]["by_kind"] == {"a": 1, "b": 1}
    assert body["summary"]["pairs"] == len(found) == len(body["pairs"])
    row = next(r for r in body["pairs"] if r["available"])
    assert row == {
        "family": first.family,
        "action": first.name,
        "model": model,
        "available": ["a", "b"],
        "configured": [],
    }


def test_tables_name_every_family_and_the_totals(pairs):
    table = markdown_table(pairs)
    for family in get_catalog().families:
        assert f"| {family} |" in table
    served = sum(1 for p in pairs if p.available)
    assert f"{served} of {len(pairs)}" in table
    text = text_table(pairs)
    assert text.count("\n") == len(pairs) + 1  # header, one line per pair, the totals


ROOT = Path(__file__).resolve().parents[2]


def coverage_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("coverage_table", ROOT / "scripts" / "coverage_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_table_is_current():
    """Fails when the README's table is stale: run `PYTHONPATH=src python scripts/coverage_table.py`."""
    assert coverage_script().main(["--check"]) == 0


def test_check_fails_on_a_stale_table_and_the_rewrite_fixes_it(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- coverage:start -->\n| old |\n<!-- coverage:end -->\n\ntail\n")
    script = coverage_script()
    assert script.main(["--check", "--readme", str(readme)]) == 1
    assert "stale" in capsys.readouterr().err
    assert script.main(["--readme", str(readme)]) == 0
    assert script.main(["--check", "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "| old |" not in text and text.startswith("# x") and text.endswith("<!-- coverage:end -->\n\ntail\n")


def test_a_readme_without_the_markers_is_refused():
    with pytest.raises(ValueError, match="coverage:start"):
        with_readme_table("# no section\n", "| t |\n")
