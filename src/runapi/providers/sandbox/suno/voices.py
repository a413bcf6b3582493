"""Personas and custom voices: generate_persona, the validation phrase, generate_voice and check_voice."""

from __future__ import annotations

import hashlib
import uuid

import numpy as np

from ....catalog.sandbox_schema import PlainSpec, SunoValidationPhraseSpec
from ...base import Done, TaskFailed, TaskInput
from .. import dsp
from ..base import Inputs, generator, task_seed
from ..dsp import SR
from .common import _ref, _rng, _row_tracks, _sid, _upload
from .text import PHRASES, _phrase_language


@generator("suno_persona")
async def suno_persona(inputs: Inputs, task: TaskInput, spec: PlainSpec) -> Done:
    p = task.params
    row = _ref(task)
    if not any(t.get("id") == p.get("audio_id") for t in _row_tracks(row)):
        raise TaskFailed(f"audio_id {p.get('audio_id')} is not a track of task {row.id}")
    persona_id = uuid.UUID(_sid("persona", task_seed(task).hex())).hex
    return Done(outputs=[], extra={"persona": {"id": persona_id, "name": p["name"], "description": p["description"]}})


@generator("suno_validation_phrase")
async def suno_validation_phrase(inputs: Inputs, task: TaskInput, spec: SunoValidationPhraseSpec) -> Done:
    """A phrase for the user to read: new (from a source vocal window) or regenerated (differs from the last)."""
    p = task.params
    seed = task_seed(task)
    if spec.mode == "regenerate":
        row = _ref(task)
        previous = str(((row.result or {}).get("extra") or {}).get("validation_phrase") or "")
        lang = row.params.get("language") or _phrase_language(previous)
        choices = [ph for ph in PHRASES.get(lang, PHRASES["en"]) if ph != previous]
        return Done(
            outputs=[], extra={"provider_status": "wait_validating", "validation_phrase": _rng(seed).choice(choices)}
        )
    start, end = int(p["vocal_start_seconds"]), int(p["vocal_end_seconds"])
    if end <= start:
        raise TaskFailed("vocal_end_seconds must be greater than vocal_start_seconds")
    samples = await _upload(inputs, p["voice_url"], "voice_url recording")
    if start * SR >= len(samples):
        raise TaskFailed(f"vocal_start_seconds is beyond the end of the recording ({len(samples) / SR:.2f} s)")
    window = samples[start * SR : end * SR]
    if dsp.rms(window) < 1e-4:
        raise TaskFailed("The selected vocal window is silent")
    digest = hashlib.sha256(seed + np.round(window[:: max(1, len(window) // 4096)], 3).tobytes()).digest()
    phrases = PHRASES.get(p.get("language") or "en", PHRASES["en"])
    return Done(
        outputs=[], extra={"provider_status": "wait_validating", "validation_phrase": phrases[digest[0] % len(phrases)]}
    )


@generator("suno_voice")
async def suno_voice(inputs: Inputs, task: TaskInput, spec: PlainSpec) -> Done:
    row = _ref(task)
    phrase = ((row.result or {}).get("extra") or {}).get("validation_phrase")
    if not phrase:
        raise TaskFailed(f"Task {row.id} has no validation phrase")
    recording = await _upload(inputs, task.params["verify_url"], "verify_url recording")
    if dsp.rms(recording) < 1e-4:
        raise TaskFailed("The verification recording is silent")
    voice_id = "voice_" + uuid.UUID(_sid("voice", task_seed(task).hex())).hex[:24]
    return Done(outputs=[], extra={"provider_status": "success", "voice_id": voice_id})


@generator("suno_check_voice")
async def suno_check_voice(inputs: Inputs, task: TaskInput, spec: PlainSpec) -> Done:
    row = _ref(task)
    extra = (row.result or {}).get("extra") or {}
    available = (
        row.action == "generate_voice" and bool(extra.get("voice_id")) and extra.get("provider_status") == "success"
    )
    return Done(outputs=[], extra={"is_available": available})
