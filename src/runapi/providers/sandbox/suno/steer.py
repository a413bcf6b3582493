"""Suno's steering parameters, turned into synthesis settings: negative_tags (styles, tags and instrument
layers left out), vocal_gender and a voice persona (the sung register), style_weight / weirdness_constraint
(synth.Plan) and audio_weight (how much of the source audio a track keeps)."""

from __future__ import annotations

import re
from typing import Any

from ...base import TaskInput

MALE_SHIFT = -12  # a male voice sings the line an octave lower; the default register is already a female one
_LAYER_WORDS = {"drums": ("drum", "percussion", "beat"), "bass": ("bass",)}


def negatives(p: dict[str, Any]) -> list[str]:
    """negative_tags as lowercase phrases ("Heavy Metal, Aggressive Drums" → ["heavy metal", "aggressive drums"])."""
    return [t.strip().lower() for t in re.split(r"[,，/;|]+", str(p.get("negative_tags") or "")) if t.strip()]


def exclude(text: str, negs: list[str]) -> str:
    """`text` without the excluded phrases, nor their single words (so "Heavy Metal" also removes "metal")."""
    for phrase in negs:
        for term in [phrase] + [w for w in phrase.split() if len(w) >= 3]:
            text = re.sub(r"(?<![a-z])" + re.escape(term) + r"(?![a-z])", " ", text, flags=re.IGNORECASE)
    return text


def keep_tags(tags: list[str], negs: list[str]) -> list[str]:
    return [t for t in tags if exclude(t, negs) == t]


def keep_layers(layers: tuple[str, ...], negs: list[str]) -> tuple[str, ...]:
    """Instrument layers a negative tag names (drums, percussion, bass) are left out."""
    text = " ".join(negs)
    return tuple(name for name in layers if not any(w in text for w in _LAYER_WORDS.get(name, ())))


def _gender_shift(text: str) -> int | None:
    low = text.lower()
    if re.search(r"\b(female|woman|girl)\b|女", low):
        return 0
    if re.search(r"\b(male|man|boy)\b|男", low):
        return MALE_SHIFT
    return None


def persona(task: TaskInput, p: dict[str, Any]) -> tuple[str, int | None]:
    """The applied persona (checked at create; task.refs holds the task that made it): with persona_type style
    (the default) its traits steer the music like style words; with voice they set the sung register."""
    kind = p.get("persona_type") or "style"  # ignored without persona_id, as the docs say
    row = task.refs.get("persona_id")
    if not row:
        return "", None
    made = row.params
    traits = " ".join(str(made.get(k) or "") for k in ("name", "description", "style", "voice_name"))
    if kind == "voice":
        return "", _gender_shift(traits)
    return " " + traits, None


def vocal_shift(p: dict[str, Any], persona_shift: int | None, applies: bool = True) -> int:
    """Semitones for the sung line: vocal_gender (where it applies), else the voice persona's, else none."""
    gender = p.get("vocal_gender")
    if applies and gender:
        return MALE_SHIFT if gender == "male" else 0
    return persona_shift or 0


def plan_args(p: dict[str, Any], shift: int) -> dict[str, Any]:
    return {"style_weight": p.get("style_weight"), "weirdness": p.get("weirdness_constraint"), "vocal_shift": shift}


def new_part_gain(p: dict[str, Any], default: float) -> float:
    """Level of new material over the source: audio_weight 0 → 1.5x the default, 0.5 → 1x, 1 → 0.5x."""
    weight = p.get("audio_weight")
    return default if weight is None else default * (1.5 - float(weight))
