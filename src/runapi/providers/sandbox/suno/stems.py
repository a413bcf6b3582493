"""Generators that process a track: separate_audio_stems, convert_audio (WAV) and generate_midi."""

from __future__ import annotations

from typing import Any

import numpy as np

from ....catalog.sandbox_schema import PlainSpec
from ...base import Done, Output, TaskFailed, TaskInput
from .. import dsp, limits
from ..base import Inputs, generator
from .analysis import MIDI_NAMES, STEM_ORDER, separate, transcribe
from .common import _decode, _ref, _stored, _track


@generator("suno_stems")
async def suno_stems(inputs: Inputs, task: TaskInput, spec: PlainSpec) -> Done:
    p = task.params
    kind = p.get("type") or "separate_vocal"
    _, source, _ = await _track(inputs, task, p.get("audio_id"))

    def work() -> tuple[list[Output], dict[str, Any]]:
        stems = separate(source, kind)
        outputs: list[Output] = []
        urls: dict[str, Any] = {}
        for name, x in stems.items():
            urls[f"{name}_url"] = {"$file": len(outputs)}
            outputs.append(Output(None, dsp.mp3(x), "audio/mpeg", "mp3"))
        return outputs, urls

    outputs, urls = await limits.run(work)
    return Done(outputs=outputs, extra={"separated_audios": urls})


@generator("suno_wav")
async def suno_wav(inputs: Inputs, task: TaskInput, spec: PlainSpec) -> Done:
    _, source, _ = await _track(inputs, task, task.params.get("audio_id"))
    wav = await limits.run(dsp.wav, source)
    return Done(outputs=[Output(None, wav, "audio/wav", "wav")], extra={"wav_url": {"$file": 0}})


@generator("suno_midi")
async def suno_midi(inputs: Inputs, task: TaskInput, spec: PlainSpec) -> Done:
    """Notes transcribed from a split_stem task's stems (or, for a music task, from its first track split the
    same way)."""
    row = _ref(task)
    stems: dict[str, np.ndarray] = {}
    if row.action == "separate_audio_stems":
        if row.params.get("type") != "split_stem":
            raise TaskFailed("generate_midi needs a split_stem separation task (this task used separate_vocal)")
        urls = ((row.result or {}).get("extra") or {}).get("separated_audios") or {}
        for key, ref in urls.items():
            data = await _stored(inputs, ref, "stem")
            stems[key.removesuffix("_url")] = await limits.run(_decode, data, "stem")
    else:
        _, source, _ = await _track(inputs, task, None)
        stems = await limits.run(separate, source, "split_stem")

    def work() -> list[dict[str, Any]]:
        instruments: list[dict[str, Any]] = []
        for name in STEM_ORDER:
            if name not in stems:
                continue
            notes = transcribe(stems[name], drums=name in ("drums", "percussion"))
            if notes:
                instruments.append({"name": MIDI_NAMES.get(name, name), "notes": notes})
        return instruments

    instruments = await limits.run(work)
    if not instruments:
        raise TaskFailed("MIDI generation failed: no notes were detected in the stems")
    return Done(outputs=[], extra={"instruments": instruments})
