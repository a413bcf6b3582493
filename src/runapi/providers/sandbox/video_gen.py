"""Video generators: new clips (text/image to video) and real processing of a source video
(extend = the source plus a continuation from its last frame, upscale = resampling, edit = re-graded frames)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import numpy as np

from ..base import Done, Output, TaskFailed, TaskInput
from . import images, limits, media
from .base import Inputs, as_list, generator, task_seed

_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)")


def _number(value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return float(value)
    m = _NUMBER.match(str(value))
    return float(m.group(1)) if m else default


def _has_audio(spec: dict[str, Any], params: dict[str, Any]) -> bool:
    if spec.get("audio_param") and params.get(spec["audio_param"]) is not None:
        return bool(params[spec["audio_param"]])
    return bool(spec.get("has_audio", False))


def _meta(width: int, height: int, seconds: float, has_audio: bool) -> dict[str, Any]:
    return {"resolution": media.resolution_label(width, height), "has_audio": has_audio,
            "duration": round(seconds, 2), "width": width, "height": height}


def _video_output(data: bytes, width: int, height: int, seconds: float, has_audio: bool) -> Output:
    return Output("videos", data, "video/mp4", "mp4", _meta(width, height, seconds, has_audio))


def _with_extras(task: TaskInput, spec: dict[str, Any], videos: list[Output],
                 sources: list[Any] | None = None) -> Done:
    """Documented companions of a video result: per-item ids, a cover image per video, the last frame,
    and `sources` (the inputs it was made from)."""
    outputs: list[Output] = list(videos)
    extra: dict[str, Any] = {}
    for i, video in enumerate(videos):
        if spec.get("item_ids"):
            video.meta["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{task.id}/videos/{i}"))
        if spec.get("cover_image") or (spec.get("last_frame") and i == 0):
            first, last = media.first_and_last_frames(video.data)  # not every frame in memory
            if spec.get("cover_image"):
                outputs.append(Output("images", _jpeg(first), "image/jpeg", "jpg"))
            if spec.get("last_frame") and i == 0:
                outputs.append(Output(None, _jpeg(last, "png"), "image/png", "png"))
                extra["last_frame_image_url"] = {"$file": len(outputs) - 1}
    if sources:
        extra["sources"] = [{"url": u} for u in sources]
    return Done(outputs=outputs, extra=extra)


def _jpeg(frame: np.ndarray, fmt: str = "jpg") -> bytes:
    from PIL import Image

    return images.encode(Image.fromarray(frame), fmt).data


@generator("video")
async def generate_video(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    p = task.params
    image_urls = [u for name in as_list(spec.get("images")) for u in as_list(p.get(name))]
    first = await inputs.image(image_urls[0]) if image_urls else None
    seconds = _number(p.get(spec.get("duration_param", "duration_seconds")), float(spec.get("default_duration", 5)))
    seconds = min(max(seconds, 1.0), float(spec.get("max_duration", 60)))
    ratio_text = p.get(spec.get("aspect_param", "aspect_ratio"))
    ratio = images.parse_ratio(ratio_text) if isinstance(ratio_text, str) else None
    if ratio is None:
        ratio = first.width / first.height if first is not None else images.parse_ratio(
            spec.get("default_aspect", "16:9"))
    resolution = str(p.get(spec.get("resolution_param", "output_resolution")) or spec.get("default_resolution", "720p"))
    width, height = media.video_size(ratio, resolution)
    has_audio = _has_audio(spec, p)
    soundtrack = None
    audio_urls = [u for name in as_list(spec.get("audio_source")) for u in as_list(p.get(name))]
    if audio_urls:  # audio-driven video: its length and its sound come from the input audio
        data = await inputs.fetch(audio_urls[0], what="audio")
        soundtrack = await limits.run(media.decode_audio, data)
        if not len(soundtrack):
            raise TaskFailed("Failed to fetch the audio: no audio track")
        seconds = min(len(soundtrack) / media.SAMPLE_RATE, float(spec.get("max_duration", 600)))
        soundtrack = soundtrack[:int(seconds * media.SAMPLE_RATE)]
        has_audio = True
    count = int(p.get(spec["count_param"]) or 1) if spec.get("count_param") else int(spec.get("count", 1))
    limits.check_video_output(width, height, max(1, round(seconds * media.FPS)), count)

    def work() -> Done:
        videos = [_video_output(media.encode_video(task_seed(task, i), width, height, seconds, has_audio, first,
                                                   audio=soundtrack), width, height, seconds, has_audio)
                  for i in range(count)]
        given = [u for name in as_list(spec.get("sources_from")) for u in as_list(p.get(name))]
        return _with_extras(task, spec, videos, given)

    return await limits.run(work)


async def _source_video(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> tuple[bytes, Any]:
    """The input video's bytes, and how to refer to it in `sources` (its URL, or our stored copy)."""
    urls = [u for name in as_list(spec.get("sources")) for u in as_list(task.params.get(name))]
    if urls:
        return await inputs.fetch(urls[0], spec.get("max_source_bytes"), "video"), urls[0]
    if task.refs:
        ref = next(iter(task.refs.values()))
        index = int(task.params.get(spec.get("index_param", "index")) or 0)
        data = await inputs.task_file(ref, "videos", index)
        key = ref["result"]["files"]["videos"][index]["key"]
        return data, {"$key": key}
    raise TaskFailed("No source video given")


def _regraded(frames, seed: bytes):
    """Edit: a deterministic colour grade derived from the seed, applied to every frame."""
    rng = np.random.default_rng(int.from_bytes(seed[:8], "big"))
    # every channel moves by 15-30 %, so an edit is always visible
    gain = (1 + rng.choice([-1, 1], size=3) * rng.uniform(0.15, 0.3, size=3)).astype(np.float32)
    for frame in frames:
        yield np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def source_plan(spec: dict[str, Any], params: dict[str, Any], info: media.VideoInfo) -> tuple[int, int, int]:
    """Checks an input video's declared size, length and frame count, and the output they imply, against the
    budgets (limits.py); returns the output's width and height and how many frames decoding may yield.
    Runs before any frame is decoded — and at create time for inputs already in our storage."""
    limits.check_video_input(info.width, info.height, info.duration, info.fps, spec.get("max_input_seconds"))
    mode = spec.get("mode", "edit")
    resolution = params.get(spec.get("resolution_param", "output_resolution")) or spec.get("default_resolution")
    if resolution:
        width, height = media.video_size(info.width / info.height, str(resolution))
    elif mode == "upscale":
        factor = _number(params.get(spec.get("factor_param", "upscale_factor")), float(spec.get("factor", 2)))
        width, height = media._even(info.width * factor), media._even(info.height * factor)
    else:
        width, height = info.width, info.height
    frames = round(info.duration * info.fps)
    if mode == "extend":
        frames += round(_extra_seconds(spec, params) * media.FPS)
    limits.check_video_output(width, height, max(1, frames), what="upscaled video" if mode == "upscale" else "video")
    budget = limits.frame_budget(info.width, info.height, info.duration, info.fps, spec.get("max_input_seconds"))
    return width, height, budget


def _extra_seconds(spec: dict[str, Any], params: dict[str, Any]) -> float:
    return _number(params.get(spec.get("duration_param", "duration_seconds")), float(spec.get("default_duration", 5)))


async def probe_source(data: bytes) -> media.VideoInfo:
    try:
        return await limits.run(media.probe, data)
    except Exception as exc:  # not a decodable video
        raise TaskFailed("Failed to fetch the video: not a supported video") from exc


@generator("video_from_source")
async def video_from_source(inputs: Inputs, task: TaskInput, spec: dict[str, Any]) -> Done:
    data, source_ref = await _source_video(inputs, task, spec)
    info = await probe_source(data)
    mode = spec.get("mode", "edit")
    p = task.params
    seed = task_seed(task)
    width, height, budget = source_plan(spec, p, info)

    def work() -> Done:
        audio = media.decode_audio(data) if info.has_audio else None
        seconds = info.duration
        if mode == "upscale":  # streamed: decode, resample, encode one frame at a time
            frames = media.resized_frames(data, width, height, budget)
        else:
            frames = media.decode_frames(data, width, height, max_frames=budget) \
                if (width, height) != (info.width, info.height) else media.decode_frames(data, max_frames=budget)
        if mode == "extend":
            extra = _extra_seconds(spec, p)
            last = media.last_frame(data, budget).resize((width, height))
            count = max(1, round(extra * media.FPS))
            canvas = media.canvas_for(seed, width, height, last)
            frames = _chain(frames, media._frames_from_canvas(canvas, width, height, count))
            seconds = info.duration + extra
            if audio is not None:
                audio = np.concatenate([audio, media._tone(seed, extra)])
        elif mode != "upscale":
            frames = _regraded(frames, seed)
        sound = audio is not None and len(audio) > 0
        encoded = media.encode_video(seed, width, height, seconds, has_audio=sound, frames=frames, audio=audio)
        video = _video_output(encoded, width, height, seconds, sound)
        return _with_extras(task, spec, [video], [source_ref] if spec.get("echo_source") else None)

    return await limits.run(work)


def _chain(*iterables):
    for it in iterables:
        yield from it
