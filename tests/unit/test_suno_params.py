"""Suno's steering parameters change the sandbox's output (issue 12): each one has a deterministic effect."""

from __future__ import annotations

import asyncio
import types

import numpy as np

from runapi.catalog import get_catalog
from runapi.providers.sandbox import dsp
from runapi.providers.sandbox.suno import analysis, steer, synth, text
from tests.support.suno_golden import Runner

SEED = b"suno-params-test"


def _vocal_pitch(plan: synth.Plan) -> float:
    vocal = synth.compose(SEED, 8.0, plan, ("vocal",), intro_bars=0)["vocal"]
    notes = analysis.transcribe(dsp.bandpass(vocal, 80, 1200))
    return float(np.median([n["pitch"] for n in notes]))


def test_style_weight_moves_the_tempo_from_neutral_to_the_styles():
    styled = synth.Plan(SEED, "rock, energetic").tempo
    assert synth.Plan(SEED, "rock, energetic", style_weight=0).tempo == synth.NEUTRAL_TEMPO
    assert synth.Plan(SEED, "rock, energetic", style_weight=1).tempo == styled
    half = synth.Plan(SEED, "rock, energetic", style_weight=0.5).tempo
    assert min(styled, synth.NEUTRAL_TEMPO) < half < max(styled, synth.NEUTRAL_TEMPO)


def test_weirdness_adds_leaps_to_the_sung_line():
    plain = synth.compose(SEED, 6.0, synth.Plan(SEED, "pop"), ("vocal",), intro_bars=0)["vocal"]
    weird = synth.compose(SEED, 6.0, synth.Plan(SEED, "pop", weirdness=1.0), ("vocal",), intro_bars=0)["vocal"]
    assert not np.array_equal(plain, weird)


def test_vocal_gender_male_sings_an_octave_lower():
    assert steer.vocal_shift({"vocal_gender": "male"}, None) == steer.MALE_SHIFT
    assert steer.vocal_shift({"vocal_gender": "female"}, steer.MALE_SHIFT) == 0
    assert steer.vocal_shift({"vocal_gender": "male"}, None, applies=False) == 0  # extend_music source mode
    female = _vocal_pitch(synth.Plan(SEED, "pop", vocal_shift=0))
    male = _vocal_pitch(synth.Plan(SEED, "pop", vocal_shift=steer.MALE_SHIFT))
    assert female - male >= 6  # the dominant partial (formant-shaped) moves down with the line


def test_negative_tags_remove_styles_tags_and_named_instruments():
    negs = steer.negatives({"negative_tags": "Heavy Metal, Aggressive Drums"})
    assert negs == ["heavy metal", "aggressive drums"]
    assert "metal" not in steer.exclude("metal, rock", negs).lower()
    assert steer.keep_layers(("drums", "bass", "pad", "vocal"), negs) == ("bass", "pad", "vocal")
    assert steer.keep_tags(["Rock", "Heavy Metal", "Metal"], negs) == ["Rock"]
    # a fast style word excluded: the plan falls back to the neutral tempo range
    assert 88 <= synth.Plan(SEED, steer.exclude("rock", ["rock"])).tempo <= 124


def test_voice_persona_sets_the_register_and_style_persona_the_style():
    made = types.SimpleNamespace(params={"voice_name": "Warm", "style": "Pop, Male Vocal"})
    task = types.SimpleNamespace(refs={"persona_id": made})
    assert steer.persona(task, {"persona_type": "voice"}) == ("", steer.MALE_SHIFT)  # type: ignore[arg-type]
    traits, shift = steer.persona(task, {"persona_type": "style"})  # type: ignore[arg-type]
    assert "Male Vocal" in traits and shift is None
    assert steer.persona(types.SimpleNamespace(refs={}), {"persona_type": "voice"}) == ("", None)  # type: ignore[arg-type]


def test_given_lyrics_are_sung_in_auto_lyrics_mode_too():
    assert text._lyrics_for(SEED, "auto_lyrics", {"lyrics": "[Verse]\nMine"}, "a brief") == "[Verse]\nMine"
    assert text._lyrics_for(SEED, "instrumental", {"lyrics": "x"}, "a brief") == "[Instrumental]"
    assert text._lyrics_for(SEED, "auto_lyrics", {}, "a brief").startswith("[Verse]")


def test_audio_weight_sets_how_loud_new_material_is_over_the_source():
    assert steer.new_part_gain({}, 0.9) == 0.9
    assert steer.new_part_gain({"audio_weight": 1}, 0.8) < steer.new_part_gain({"audio_weight": 0}, 0.8)


def _extend(params: dict) -> dict:
    action = get_catalog().action("suno", "extend_music")
    digest, row = asyncio.run(Runner().run(action, 0, params))
    assert "failed" not in digest, digest
    return row["result"]["extra"]["audios"][0]


def test_extend_continue_at_cuts_the_source_and_title_names_it_in_source_mode_too():
    base = {
        "upload_url": "https://example.com/music.mp3",
        "parameter_mode": "source",
        "prompt": "Keep going",
        "model": "suno-v4.5-plus",
    }
    whole = _extend(base)
    cut = _extend({**base, "continue_at": 1, "title": "My Extension"})
    assert cut["title"] == "My Extension" and whole["title"] != "My Extension"
    # the 3 s sample cut at 1 s: the continuation starts 2 s earlier (same continuation length by seed range)
    assert cut["duration"] < whole["duration"] + 4
