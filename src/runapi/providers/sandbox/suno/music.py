"""Generators that produce tracks: text_to_music, extend_music, cover_audio, create_mashup, add_vocals,
add_instrumental, add_samples (one `suno_music` generator, catalog `mode`), text_to_sound and replace_section."""

from __future__ import annotations

from typing import Any

import numpy as np

from ....catalog.sandbox_schema import PlainSpec, SunoMusicSpec, SunoSoundSpec
from ...base import Done, Output, TaskFailed, TaskInput
from .. import dsp, limits
from ..base import Inputs, generator, task_seed
from ..dsp import SR
from . import steer
from .analysis import _melody, _pitch_class_root
from .common import (
    TRACKS_PER_TASK,
    _audio_id,
    _index,
    _indexed,
    _max_seconds,
    _model_name,
    _public,
    _rng,
    _seconds,
    _song_seconds,
    _sub,
    _track,
    _upload,
)
from .synth import Plan, compose, mix, sound
from .text import (
    _keywords,
    _lyric_words,
    _lyrics_for,
    _style_words,
    _tags,
    _title,
    _write_lyrics,
)
from .visuals import COVER_SIDE, _jpeg, cover_image


async def _tracks_done(
    inputs: Inputs,
    task: TaskInput,
    spec: SunoMusicSpec | SunoSoundSpec,
    renders: list[dict[str, Any]],
    text_key: str = "lyrics",
) -> Done:
    """Encode each rendered track (MP3 + JPEG cover) and shape Suno's `audios` list."""

    def work() -> tuple[list[Output], list[dict[str, Any]]]:
        outputs, audios = [], []
        for i, r in enumerate(renders):
            samples = r["samples"][: int(_max_seconds(spec) * SR)]
            mp3 = dsp.mp3(samples)
            cover = _jpeg(cover_image(_sub(r["seed"], "img"), r["title"], COVER_SIDE, dsp.envelope(samples, 48)))
            outputs += [Output(None, mp3, "audio/mpeg", "mp3"), Output(None, cover, "image/jpeg", "jpg")]
            audios.append(
                {
                    "id": r["id"],
                    "audio_url": {"$file": 2 * i},
                    "stream_audio_url": {"$file": 2 * i},
                    "image_url": {"$file": 2 * i + 1},
                    text_key: r["text"],
                    "model_name": r["model_name"],
                    "title": r["title"],
                    "tags": r["tags"],
                    "duration": _seconds(samples),
                }
            )
            r["mp3"] = mp3
        return outputs, audios

    outputs, audios = await limits.run(work)
    for r, audio in zip(renders, audios):
        await _index(inputs, task, _public(audio), r.pop("mp3"))
    return Done(outputs=outputs, extra={"generation_stage": "all_audios_ready", "audios": audios})


@generator("suno_music")
async def suno_music(inputs: Inputs, task: TaskInput, spec: SunoMusicSpec) -> Done:
    """text_to_music / extend_music / cover_audio / create_mashup / add_vocals / add_instrumental / add_samples
    (spec `mode`)."""
    mode = spec.mode
    p = task.params
    handler = {
        "generate": _generate,
        "extend": _extend,
        "cover": _cover,
        "mashup": _mashup,
        "add_vocals": _add_vocals,
        "add_instrumental": _add_instrumental,
        "sample": _sample,
    }.get(mode)
    if handler is None:
        raise TaskFailed(f"The sandbox cannot run {task.action.key}")
    renders = await handler(inputs, task, spec, p)
    return await _tracks_done(inputs, task, spec, renders)


def _render(
    task: TaskInput,
    spec: SunoMusicSpec | SunoSoundSpec,
    i: int,
    samples: np.ndarray,
    text: str,
    title: str,
    tags: list[str],
) -> dict[str, Any]:
    return {
        "id": _audio_id(task, i),
        "seed": task_seed(task, i),
        "samples": samples,
        "text": text,
        "title": title,
        "tags": tags,
        "model_name": _model_name(task, spec),
    }


async def _generate(inputs: Inputs, task: TaskInput, spec: SunoMusicSpec, p: dict[str, Any]) -> list[dict[str, Any]]:
    vocal_mode = p.get("vocal_mode")
    style_text, negs, args = _steering(task, p)
    layers = steer.keep_layers(("drums", "bass", "pad", "lead" if vocal_mode == "instrumental" else "vocal"), negs)
    weight = p.get("audio_weight")  # no source audio here: how alike the two tracks are (≥ 0.5: one shared plan)

    def work() -> list[dict[str, Any]]:
        renders: list[dict[str, Any]] = []
        for i in range(TRACKS_PER_TASK):
            seed = task_seed(task, i)
            rng = _rng(seed)
            lyrics = _lyrics_for(seed, vocal_mode, p, p.get("prompt"))
            seconds = _song_seconds(seed, spec, len(_lyric_words(lyrics)))
            plan_seed = task_seed(task, 0) if weight is not None and float(weight) >= 0.5 else seed
            samples = mix(compose(seed, seconds, Plan(plan_seed, style_text, **args), layers))
            title = _title(p.get("title"), p.get("prompt"), lyrics, rng=rng)
            tags = steer.keep_tags(_tags(p.get("style"), p.get("prompt"), rng), negs)
            renders.append(_render(task, spec, i, samples, lyrics, title, tags))
        return renders

    return await limits.run(work)


def _steering(
    task: TaskInput, p: dict[str, Any], base: str | None = None, gender_applies: bool = True
) -> tuple[str, list[str], dict[str, Any]]:
    """Style text (style and prompt, or `base`; plus a style persona's traits; minus negative_tags), the negative
    tags, and synth.Plan's steering arguments."""
    traits, persona_shift = steer.persona(task, p)
    text = " ".join(str(p.get(k) or "") for k in ("style", "prompt")) if base is None else base
    negs = steer.negatives(p)
    shift = steer.vocal_shift(p, persona_shift, gender_applies)
    return steer.exclude(text + traits, negs) if negs else text + traits, negs, steer.plan_args(p, shift)


async def _extend_source(inputs: Inputs, task: TaskInput, p: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """The track named by task_id + audio_id, or by audio_id alone (the track index), or the upload."""
    upload, task_id, audio_id = p.get("upload_url"), p.get("task_id"), p.get("audio_id")
    if upload:
        return await _upload(inputs, upload), {}
    if task_id:
        track, samples, _ = await _track(inputs, task, audio_id)
        return samples, track
    meta, samples = await _indexed(inputs, task, str(audio_id))
    return samples, meta


async def _extend(inputs: Inputs, task: TaskInput, spec: SunoMusicSpec, p: dict[str, Any]) -> list[dict[str, Any]]:
    source, meta = await _extend_source(inputs, task, p)
    custom = p.get("parameter_mode") == "custom"
    src_seconds = len(source) / SR
    # continue_at (required in custom mode) cuts the source there in either mode when given
    at = p.get("continue_at")
    cut = min(float(at), src_seconds) if at is not None else src_seconds
    head = source[: max(int(cut * SR), 1)]
    flag = p.get("instrumental")  # else inherited: the source's lyrics say whether it is instrumental
    instrumental = bool(flag) if custom or flag is not None else "[Instrumental]" in str(meta.get("lyrics", ""))
    style_text, negs, args = _steering(
        task,
        p,
        " ".join(str(x or "") for x in (p.get("style"), p.get("prompt"), " ".join(meta.get("tags") or []))),
        gender_applies=custom,
    )
    blend = 0.5 if p.get("audio_weight") is None else 0.5 + 2.5 * float(p["audio_weight"])  # s of crossfade
    layers = steer.keep_layers(("drums", "bass", "pad", "lead" if instrumental else "vocal"), negs)
    melody = _melody(head[-int(min(len(head) / SR, 20) * SR) :]) if len(head) > SR else []
    root = _pitch_class_root(melody)
    max_total = _max_seconds(spec)
    if cut >= max_total:
        raise TaskFailed(f"continue_at must be below the model's maximum song length ({int(max_total)} s)")

    def work() -> list[dict[str, Any]]:
        renders: list[dict[str, Any]] = []
        for i in range(TRACKS_PER_TASK):
            seed = task_seed(task, i)
            rng = _rng(seed)
            extra_s = min(spec.extend_seconds + rng.uniform(0, 6), max_total - cut)
            plan = Plan(seed, style_text, root=root, **args)
            tail = mix(compose(seed, extra_s + blend, plan, layers, intro_bars=0))
            scale = dsp.rms(head[-SR * 4 :]) / max(dsp.rms(tail), 1e-6)
            samples = dsp.fade(dsp.crossfade(head, tail * min(scale, 4.0), blend), 0.0, 1.5)
            samples = dsp.normalize(samples) if np.max(np.abs(samples)) > 1 else samples
            if instrumental:
                lyrics = "[Instrumental]"
            else:
                new = _write_lyrics(seed, p.get("prompt") or meta.get("title"), ["Verse"])
                lyrics = (str(meta["lyrics"]).strip() + "\n\n" + new) if meta.get("lyrics") else new
            base_title = meta.get("title")
            title = p.get("title") or (
                f"{base_title} Extended" if base_title else _title(None, p.get("prompt"), rng=rng)
            )
            tags = _tags(p.get("style"), p.get("prompt"), rng) if custom or not meta.get("tags") else list(meta["tags"])
            tags = steer.keep_tags(tags, negs)
            renders.append(_render(task, spec, i, samples.astype(np.float32), lyrics, title, tags))
        return renders

    return await limits.run(work)


async def _cover(inputs: Inputs, task: TaskInput, spec: SunoMusicSpec, p: dict[str, Any]) -> list[dict[str, Any]]:
    source = await _upload(inputs, p["upload_url"])
    vocal_mode = p.get("vocal_mode")
    style_text, negs, args = _steering(task, p)
    layers = steer.keep_layers(("drums", "bass", "pad", "lead" if vocal_mode == "instrumental" else "vocal"), negs)
    keep = p.get("audio_weight")  # when given: that share of the original stays audible under the cover

    def work() -> list[dict[str, Any]]:
        melody = _melody(source)
        root = _pitch_class_root(melody)
        seconds = len(source) / SR
        renders: list[dict[str, Any]] = []
        for i in range(TRACKS_PER_TASK):
            seed = task_seed(task, i)
            rng = _rng(seed)
            plan = Plan(seed, style_text, root=root, **args)
            samples = mix(compose(seed, seconds, plan, layers, melody=melody, intro_bars=0))
            if keep is not None:
                samples = dsp.normalize(
                    samples * (1 - float(keep)) + source * float(keep) * (dsp.rms(samples) / max(dsp.rms(source), 1e-6))
                )
            lyrics = _lyrics_for(seed, vocal_mode, p, p.get("prompt"))
            title = _title(p.get("title"), p.get("prompt"), lyrics, rng=rng)
            renders.append(
                _render(
                    task,
                    spec,
                    i,
                    samples,
                    lyrics,
                    f"{title} (Cover)" if not p.get("title") else title,
                    steer.keep_tags(_tags(p.get("style"), p.get("prompt"), rng), negs),
                )
            )
        return renders

    return await limits.run(work)


async def _mashup(inputs: Inputs, task: TaskInput, spec: SunoMusicSpec, p: dict[str, Any]) -> list[dict[str, Any]]:
    urls = list(p["upload_url_list"])
    a = await _upload(inputs, urls[0], "first upload_url_list audio")
    b = await _upload(inputs, urls[1], "second upload_url_list audio")
    vocal_mode = p.get("vocal_mode")
    style_text, negs, args = _steering(task, p)
    gain = steer.new_part_gain(p, 0.8)  # audio_weight: the two sources against the new vocal

    def work() -> list[dict[str, Any]]:
        n = min(max(len(a), len(b)), int(_max_seconds(spec) * SR))
        fa, fb = dsp.fit(a, n), dsp.fit(b, n)
        half = n // 2
        first = dsp.bandpass(fa, None, 250) + dsp.bandpass(fb, 250, None)
        second = dsp.bandpass(fb, None, 250) + dsp.bandpass(fa, 250, None)
        base = dsp.crossfade(first[: half + SR // 2], second[half - SR // 2 :], 1.0)[:n]
        renders: list[dict[str, Any]] = []
        for i in range(TRACKS_PER_TASK):
            seed = task_seed(task, i)
            rng = _rng(seed)
            samples = base
            if vocal_mode != "instrumental":
                plan = Plan(seed, style_text, root=_pitch_class_root(_melody(fa[: 20 * SR])), **args)
                voice = compose(seed, n / SR, plan, ("vocal",), intro_bars=0)["vocal"]
                samples = base + voice * (gain * dsp.rms(base) / max(dsp.rms(voice), 1e-6))
            samples = dsp.fade(dsp.normalize(samples), 0.02, 1.0)
            lyrics = _lyrics_for(seed, vocal_mode, p, p.get("prompt"))
            renders.append(
                _render(
                    task,
                    spec,
                    i,
                    samples,
                    lyrics,
                    _title(p.get("title"), p.get("prompt"), lyrics, rng=rng),
                    steer.keep_tags(_tags(p.get("style"), p.get("prompt"), rng), negs),
                )
            )
        return renders

    return await limits.run(work)


async def _overlay(
    inputs: Inputs,
    task: TaskInput,
    spec: SunoMusicSpec,
    p: dict[str, Any],
    parts: tuple[str, ...],
    style: str,
    lyrics: str,
    gain: float = 0.9,
) -> list[dict[str, Any]]:
    """A new part (a vocal line, or drums/bass/pad) composed in the upload's key and mixed over it."""
    source = await _upload(inputs, p["upload_url"])
    tag_text = style
    style, negs, args = _steering(task, p, style)
    parts = steer.keep_layers(parts, negs) or parts[-1:]
    gain = steer.new_part_gain(p, gain)

    def work() -> list[dict[str, Any]]:
        root = _pitch_class_root(_melody(source[: 30 * SR]))
        renders: list[dict[str, Any]] = []
        for i in range(TRACKS_PER_TASK):
            seed = task_seed(task, i)
            rng = _rng(seed)
            plan = Plan(seed, style, root=root, **args)
            added = mix(compose(seed, len(source) / SR, plan, parts, intro_bars=0))
            samples = source + added * (gain * dsp.rms(source) / max(dsp.rms(added), 1e-6))
            renders.append(
                _render(
                    task,
                    spec,
                    i,
                    dsp.normalize(samples),
                    lyrics,
                    str(p["title"]),
                    steer.keep_tags(_tags(tag_text or None, None, rng), negs),
                )
            )
        return renders

    return await limits.run(work)


async def _add_vocals(inputs: Inputs, task: TaskInput, spec: SunoMusicSpec, p: dict[str, Any]) -> list[dict[str, Any]]:
    return await _overlay(inputs, task, spec, p, ("vocal",), str(p.get("style") or ""), str(p["lyrics"]))


async def _add_instrumental(
    inputs: Inputs, task: TaskInput, spec: SunoMusicSpec, p: dict[str, Any]
) -> list[dict[str, Any]]:
    return await _overlay(inputs, task, spec, p, ("drums", "bass", "pad"), str(p.get("tags") or ""), "")


SAMPLE_GAIN = 0.7  # the looped sample against the new music (by RMS)


async def _sample(inputs: Inputs, task: TaskInput, spec: SunoMusicSpec, p: dict[str, Any]) -> list[dict[str, Any]]:
    """New music in the sample's key, with the range [start_seconds, end_seconds) of the upload looped under it."""
    source = await _upload(inputs, p["audio_url"], "audio_url audio")
    start, end = float(p["start_seconds"]), float(p["end_seconds"])
    if start * SR >= len(source):
        raise TaskFailed(f"start_seconds is beyond the end of the audio ({len(source) / SR:.2f} s)")
    clip = source[int(start * SR) : int(end * SR)]
    if dsp.rms(clip) < 1e-4:
        raise TaskFailed("The selected sample range is silent")
    style_text, negs, args = _steering(task, p)
    layers = steer.keep_layers(("drums", "bass", "pad", "lead"), negs)

    def work() -> list[dict[str, Any]]:
        root = _pitch_class_root(_melody(clip))
        renders: list[dict[str, Any]] = []
        for i in range(TRACKS_PER_TASK):
            seed = task_seed(task, i)
            rng = _rng(seed)
            seconds = _song_seconds(seed, spec)
            music = mix(compose(seed, seconds, Plan(seed, style_text, root=root, **args), layers, intro_bars=0))
            looped = dsp.fit(clip, len(music))
            samples = dsp.fade(dsp.normalize(music + looped * (SAMPLE_GAIN * dsp.rms(music) / dsp.rms(looped))))
            title = _title(None, p.get("prompt"), rng=rng)
            tags = steer.keep_tags(_tags(None, p.get("prompt"), rng), negs)
            renders.append(_render(task, spec, i, samples, "[Instrumental]", title, tags))
        return renders

    return await limits.run(work)


@generator("suno_sound")
async def suno_sound(inputs: Inputs, task: TaskInput, spec: SunoSoundSpec) -> Done:
    p = task.params

    def work() -> list[dict[str, Any]]:
        renders: list[dict[str, Any]] = []
        for i in range(TRACKS_PER_TASK):
            seed = task_seed(task, i)
            rng = _rng(seed)
            seconds = 20 + rng.uniform(0, 12)
            tempo = p.get("sound_tempo")
            if p.get("sound_loop") and tempo:  # a whole number of bars loops cleanly
                bar = 240.0 / float(tempo)
                seconds = max(bar, round(seconds / bar) * bar) + 0.5
            samples = sound(
                seed, str(p.get("prompt") or ""), seconds, bool(p.get("sound_loop")), tempo, p.get("sound_key")
            )
            tags = (_style_words(p.get("prompt")) or [])[:2] + [w for w in _keywords(p.get("prompt"))[:2]]
            tags = list(dict.fromkeys(tags + (["loopable"] if p.get("sound_loop") else ["ambient"])))
            renders.append(
                _render(
                    task, spec, i, samples, str(p.get("prompt") or ""), _title(None, p.get("prompt"), rng=rng), tags
                )
            )
        return renders

    renders = await limits.run(work)
    return await _tracks_done(inputs, task, spec, renders, text_key="prompt")


@generator("suno_replace_section")
async def suno_replace_section(inputs: Inputs, task: TaskInput, spec: PlainSpec) -> Done:
    p = task.params
    track, source, _ = await _track(inputs, task, p.get("audio_id"))
    seconds = len(source) / SR
    start, end = float(p["infill_start_time"]), float(p["infill_end_time"])
    if end <= start:
        raise TaskFailed("infill_end_time must be greater than infill_start_time")
    if start >= seconds:
        raise TaskFailed(f"infill_start_time is beyond the end of the track ({seconds:.2f} s)")
    end = min(end, seconds)
    seed = task_seed(task)
    negs = steer.negatives(p)
    style = str(p.get("tags") or "")

    def work() -> tuple[bytes, bytes, float]:
        a, b = int(start * SR), int(end * SR)
        plan = Plan(
            seed,
            steer.exclude(style, negs) if negs else style,
            root=_pitch_class_root(_melody(source[max(0, a - 10 * SR) : a])),
        )
        vocals = "[instrumental]" not in str(p.get("lyrics") or "").lower()
        layers = steer.keep_layers(("drums", "bass", "pad", "vocal" if vocals else "lead"), negs)
        new = mix(compose(seed, (b - a) / SR + 0.1, plan, layers, intro_bars=0))[: b - a]
        new = new * (dsp.rms(source[a:b]) / max(dsp.rms(new), 1e-6))
        out = source.copy()
        edge = min(int(0.05 * SR), (b - a) // 4)
        ramp = np.ones(b - a, dtype=np.float32)
        if edge:
            ramp[:edge] = np.linspace(0, 1, edge)
            ramp[-edge:] = np.linspace(1, 0, edge)
        out[a:b] = source[a:b] * (1 - ramp) + new * ramp
        out = dsp.normalize(out) if np.max(np.abs(out)) > 1 else out
        mp3 = dsp.mp3(out)
        cover = _jpeg(cover_image(_sub(seed, "img"), str(p["title"]), COVER_SIDE, dsp.envelope(out, 48)))
        return mp3, cover, _seconds(out)

    mp3, cover, duration = await limits.run(work)
    lyrics = str(p.get("full_lyrics") or p["lyrics"])
    tags = steer.keep_tags(_tags(p.get("tags"), None, _rng(seed)), negs)
    result = {
        "id": track.get("id"),
        "audio_url": {"$file": 0},
        "stream_audio_url": {"$file": 0},
        "image_url": {"$file": 1},
        "lyrics": lyrics,
        "model_name": track.get("model_name"),
        "title": p["title"],
        "tags": tags,
        "duration": duration,
    }
    return Done(
        outputs=[Output(None, mp3, "audio/mpeg", "mp3"), Output(None, cover, "image/jpeg", "jpg")],
        extra={"track": result},
    )
