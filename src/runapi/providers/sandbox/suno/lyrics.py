"""Generators for words: generate_lyrics, boost_style and get_timestamped_lyrics."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ....catalog.sandbox_schema import PlainSpec, SunoLyricsSpec
from ...base import Done, TaskFailed, TaskInput
from .. import dsp, limits
from ..base import Inputs, generator, task_seed
from ..dsp import SR
from .analysis import vocal_activity
from .common import _rng, _track
from .text import STYLE_BOOST, STYLE_GENERIC, _lyric_words, _title, _write_lyrics


@generator("suno_lyrics")
async def suno_lyrics(inputs: Inputs, task: TaskInput, spec: SunoLyricsSpec) -> Done:
    prompt = str(task.params.get("prompt") or "")
    entries = []
    for i in range(spec.count):
        seed = task_seed(task, i)
        text = _write_lyrics(seed, prompt, ["Verse", "Chorus", "Verse 2", "Chorus", "Bridge", "Outro"])
        entries.append(
            {"title": _title(None, prompt, text, rng=_rng(seed)) + ("" if i == 0 else f" ({i + 1})"), "text": text}
        )
    return Done(outputs=[], extra={"lyrics": entries})


@generator("suno_boost_style")
async def suno_boost_style(inputs: Inputs, task: TaskInput, spec: PlainSpec) -> Done:
    description = str(task.params.get("description") or "")
    terms = [t.strip() for t in re.split(r"[,，;/]+", description) if t.strip()]
    rng = _rng(task_seed(task))
    low = description.lower()
    pool = [w for key, words in STYLE_BOOST.items() if key in low for w in words] + STYLE_GENERIC
    seen = {t.lower() for t in terms}
    added = []
    for w in pool[: len(pool) - len(STYLE_GENERIC)] + rng.sample(STYLE_GENERIC, len(STYLE_GENERIC)):
        if w.lower() not in seen:
            seen.add(w.lower())
            added.append(w)
        if len(added) == 4:
            break
    return Done(outputs=[], extra={"style": ", ".join(terms + added)})


@generator("suno_timestamped_lyrics")
async def suno_timestamped_lyrics(inputs: Inputs, task: TaskInput, spec: PlainSpec) -> Done:
    """Words of the track's lyrics placed where its vocal band carries energy, over its real duration."""
    track, samples, row = await _track(inputs, task, task.params.get("audio_id"))
    if row.action == "text_to_sound" and not row.params.get("grab_lyrics"):
        raise TaskFailed("Timestamped lyrics are not available: the sound task was created with grab_lyrics false")
    words = _lyric_words(track.get("lyrics"))
    seed = task_seed(task)

    def work() -> tuple[list[dict[str, Any]], list[float]]:
        seconds = len(samples) / SR
        energy = vocal_activity(samples)
        hop = dsp.HOP
        floor, top = np.percentile(energy, 10), np.percentile(energy, 95)
        active = energy > floor + 0.3 * (top - floor) if top > floor else energy > 0
        active = dsp.box(active.astype(np.float32), 9, axis=0) > 0.5  # ignore blips shorter than ~50 ms
        idx = np.where(active)[0]
        first = idx[0] * hop / SR if len(idx) else 0.0
        last = min((idx[-1] + 1) * hop / SR, seconds) if len(idx) else seconds
        cum = np.cumsum(active.astype(np.float64))
        aligned: list[dict[str, Any]] = []
        if words and cum[-1] > 0:
            times = []
            for k in range(len(words) + 1):
                target = cum[-1] * k / len(words)
                frame = int(np.searchsorted(cum, max(target, 1e-9)))
                times.append(min(max(frame * hop / SR, first), last))
            for k, w in enumerate(words):
                start = times[k]
                end = max(min(times[k + 1], start + 0.8), start + 0.05)
                aligned.append(
                    {
                        "word": w,
                        "success": True,
                        "start_time": round(start, 2),
                        "end_time": round(min(end, seconds), 2),
                        "palign": 0,
                    }
                )
        return aligned, [round(float(v), 3) for v in dsp.envelope(samples, 200)]

    aligned, waveform = await limits.run(work)
    hoot = 0.05 + (int.from_bytes(seed[:2], "big") / 65535) * 0.35
    return Done(
        outputs=[], extra={"aligned_words": aligned, "waveform_data": waveform, "hoot_cer": hoot, "is_streamed": False}
    )
