"""Video generators: new clips (text/image to video) and real processing of a source video
(extend = the source plus a continuation from its last frame, upscale = resampling, edit = re-graded frames)."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ...catalog.sandbox_schema import VideoFromSourceSpec, VideoOptions, VideoSpec
from ..base import Done, Output, TaskFailed, TaskInput
from ..inputs import Inputs
from . import images, limits, marks, media
from .base import as_list, generator, task_seed

if TYPE_CHECKING:
    import av
    from PIL import Image

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


def _has_audio(spec: VideoSpec, params: dict[str, Any]) -> bool:
    if spec.audio_param and params.get(spec.audio_param) is not None:
        return bool(params[spec.audio_param])
    return spec.has_audio


def _wants_last_frame(spec: VideoOptions, params: dict[str, Any]) -> bool:
    if spec.last_frame_param and params.get(spec.last_frame_param) is not None:
        return bool(params[spec.last_frame_param])
    return spec.last_frame


def _meta(width: int, height: int, seconds: float, has_audio: bool) -> dict[str, Any]:
    return {
        "resolution": media.resolution_label(width, height),
        "has_audio": has_audio,
        "duration": round(seconds, 2),
        "width": width,
        "height": height,
    }


def _video_output(data: bytes, width: int, height: int, seconds: float, has_audio: bool) -> Output:
    return Output("videos", data, "video/mp4", "mp4", _meta(width, height, seconds, has_audio))


def _with_extras(task: TaskInput, spec: VideoOptions, videos: list[Output], sources: list[Any] | None = None) -> Done:
    """Documented companions of a video result: per-item ids, a cover image per video, the last frame,
    and `sources` (the inputs it was made from)."""
    outputs: list[Output] = list(videos)
    extra: dict[str, Any] = {}
    last_frame = _wants_last_frame(spec, task.params)
    for i, video in enumerate(videos):
        if spec.item_ids:
            video.meta["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{task.id}/videos/{i}"))
        if spec.cover_image or (last_frame and i == 0):
            first, last = media.first_and_last_frames(video.data)  # not every frame in memory
            if spec.cover_image:
                outputs.append(Output("images", _jpeg(first), "image/jpeg", "jpg"))
            if last_frame and i == 0:
                outputs.append(Output(None, _jpeg(last, "png"), "image/png", "png"))
                extra["last_frame_image_url"] = {"$file": len(outputs) - 1}
    if sources:
        extra["sources"] = [{"url": u} for u in sources]
    return Done(outputs=outputs, extra=extra)


def _jpeg(frame: np.ndarray, fmt: str = "jpg") -> bytes:
    from PIL import Image

    return images.encode(Image.fromarray(frame), fmt).data


@generator("video")
async def generate_video(inputs: Inputs, task: TaskInput, spec: VideoSpec) -> Done:
    p = task.params
    image_urls = [u for name in spec.images for u in as_list(p.get(name))]
    first = await inputs.image(image_urls[0]) if image_urls else None
    ref_name = spec.images_from_task  # a task_ref param: that task's image (`index_param`) opens the video
    if first is None and ref_name and p.get(ref_name) and task.refs.get(ref_name):
        index = int(p.get(spec.index_param) or 0)
        data = await inputs.task_file(task.refs[ref_name], "images", index)
        first = await limits.run(limits.open_image, data, True, "source image")
    seconds = _number(p.get(spec.duration_param), spec.default_duration)
    seconds = min(max(seconds, 1.0), spec.max_duration if spec.max_duration is not None else 60.0)
    ratio_text = p.get(spec.aspect_param)
    ratio = images.parse_ratio(ratio_text) if isinstance(ratio_text, str) else None
    if ratio is None:
        ratio = first.width / first.height if first is not None else images.parse_ratio(spec.default_aspect)
        assert ratio is not None, "the catalog's default_aspect is a ratio"
    resolution = str(p.get(spec.resolution_param) or spec.default_resolution)
    resolution = spec.resolutions.get(resolution, resolution)  # e.g. Kling's mode std/pro → 720p/1080p
    width, height = media.video_size(ratio, resolution)
    has_audio = _has_audio(spec, p)
    soundtrack = None
    audio_urls = [u for name in spec.audio_source for u in as_list(p.get(name))]
    if audio_urls:  # audio-driven video: its length and its sound come from the input audio
        data = await inputs.fetch(audio_urls[0], what="audio")
        soundtrack = await limits.run(media.decode_audio, data)
        if not len(soundtrack):
            raise TaskFailed("Failed to fetch the audio: no audio track")
        seconds = min(
            len(soundtrack) / media.SAMPLE_RATE,  # an input audio may be longer than a generated clip
            spec.max_duration if spec.max_duration is not None else 600.0,
        )
        soundtrack = soundtrack[: int(seconds * media.SAMPLE_RATE)]
        has_audio = True
    count = int(p.get(spec.count_param) or 1) if spec.count_param else spec.count
    limits.check_video_output(width, height, max(1, round(seconds * media.FPS)), count)
    reference_videos = [await inputs.fetch(u, spec.max_source_bytes, "video") for u in reference_video_urls(spec, p)]
    if spec.max_reference_seconds:  # the inputs' total length is documented: measure them
        check_reference_seconds(spec, [(await probe_source(data)).duration for data in reference_videos])
    if first is None:  # no opening frame: the first reference image, else reference video, is blended in
        first = await _reference_frame(inputs, spec, p, reference_videos)
    background = [u for name in spec.background_audio for u in as_list(p.get(name))]
    if background and soundtrack is None:  # background / reference audio: the soundtrack, looped to length
        samples = await limits.run(media.decode_audio, await inputs.fetch(background[0], what="audio"))
        if not len(samples):
            raise TaskFailed("Failed to fetch the audio: no audio track")
        soundtrack = np.resize(samples, max(1, int(seconds * media.SAMPLE_RATE))).astype(np.float32)
        has_audio = True

    comment = marks.metadata_text(marks.generation_info(spec, p))
    stamp = marks.stamp_for(spec, p, media._even(width), media._even(height))
    # `motion_param` with `motion` {value: scale}: how far the camera travels (1 = the default pan)
    motion = float(spec.motion.get(str(p.get(spec.motion_param or "")), 1.0))

    shots = 3 if spec.shots_param and p.get(spec.shots_param) else 1  # multi-shot: three cuts

    def work() -> Done:
        videos = [
            _video_output(
                media.encode_video(
                    task_seed(task, i),
                    width,
                    height,
                    seconds,
                    has_audio,
                    first,
                    audio=soundtrack,
                    comment=comment,
                    stamp=stamp,
                    motion=motion,
                    frames=_shot_frames(task_seed(task, i), width, height, seconds, first, motion, shots)
                    if shots > 1
                    else None,
                ),
                width,
                height,
                seconds,
                has_audio,
            )
            for i in range(count)
        ]
        given = [u for name in spec.sources_from for u in as_list(p.get(name))]
        return _with_extras(task, spec, videos, given)

    return await limits.run(work)


def _shot_frames(
    seed: bytes, width: int, height: int, seconds: float, first: Image.Image | None, motion: float, shots: int
) -> Iterator[np.ndarray]:
    """Multi-shot: the clip cut into `shots` scenes, each panning across its own picture (the first from the
    opening frame, if any)."""
    w, h = media._even(width), media._even(height)
    count = max(1, round(seconds * media.FPS))
    for k in range(shots):
        n = count // shots + (1 if k < count % shots else 0)
        canvas = media.canvas_for(images.seed_bytes(seed.hex(), "shot", k), w, h, first if k == 0 else None, motion)
        yield from media._frames_from_canvas(canvas, w, h, n)


async def _reference_frame(
    inputs: Inputs, spec: VideoSpec, params: dict[str, Any], reference_videos: list[bytes]
) -> Image.Image | None:
    """`reference_images` (params with image URLs): the first is fetched, checked and blended into the video
    like an opening frame; the others are checked. Without one, the first reference video's first frame."""
    from PIL import Image

    mode = spec.reference_mode  # [param, value]: reference images count only in that input mode
    in_mode = not mode or params.get(mode[0]) == mode[1]
    urls = [u for name in spec.reference_images for u in as_list(params.get(name))] if in_mode else []
    urls += _element_images(spec, params)
    fetched = [await inputs.image(u, load=i == 0, what="reference image") for i, u in enumerate(urls)]
    if fetched:
        return fetched[0]
    if reference_videos:
        await probe_source(reference_videos[0])  # a decodable video, else the task fails
        first, _ = await limits.run(media.first_and_last_frames, reference_videos[0])
        return Image.fromarray(first)
    return None


def _element_images(spec: VideoSpec, params: dict[str, Any]) -> list[str]:
    """`elements_param` (Kling elements: {name, element_input_urls, ...}): the images of the elements the prompt
    names as @name, in the order they are defined."""
    elements = params.get(spec.elements_param) if spec.elements_param else None
    if not isinstance(elements, list):
        return []
    texts = [str(params.get("prompt") or "")] + [
        str(shot.get("prompt") or "") for shot in as_list(params.get("multi_prompt")) if isinstance(shot, dict)
    ]
    named = set(re.findall(r"@([\w\-]+)", " ".join(texts)))
    return [
        u
        for e in elements
        if isinstance(e, dict) and e.get("name") in named
        for u in as_list(e.get("element_input_urls"))
    ]


def reference_video_urls(spec: VideoSpec, params: dict[str, Any]) -> list[str]:
    return [u for name in spec.reference_videos for u in as_list(params.get(name)) if isinstance(u, str)]


def check_reference_seconds(spec: VideoSpec, lengths: list[float]) -> None:
    """`max_reference_seconds`: the reference videos together last at most that long (e.g. Seedance 2.x: 15 s).
    Given the lengths known so far (a lower bound of the total), so it can refuse before billing."""
    if spec.max_reference_seconds is None:
        return
    limit = spec.max_reference_seconds
    total = sum(lengths)
    if total > limit + 0.05:  # container durations round to a frame or an audio packet
        names = " and ".join(spec.reference_videos)
        raise TaskFailed(f"The {names} videos must total at most {_num(limit)} s (got {total:.2f} s)")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def crop_box(
    spec: VideoFromSourceSpec, params: dict[str, Any], info: media.VideoInfo
) -> tuple[int, int, int, int] | None:
    """`aspect_param` on a source video: the centred window of the requested ratio (x, y, width, height), or
    None when no ratio is asked for or the source already has it."""
    text = params.get(spec.aspect_param or "")
    ratio = images.parse_ratio(text) if isinstance(text, str) else None
    if not ratio or abs(info.width / info.height - ratio) < 0.01:
        return None
    if info.width / info.height > ratio:  # wider than asked: keep the full height
        h = info.height - info.height % 2
        w = min(info.width, max(2, int(h * ratio) // 2 * 2))
    else:
        w = info.width - info.width % 2
        h = min(info.height, max(2, int(w / ratio) // 2 * 2))
    return (info.width - w) // 2, (info.height - h) // 2, w, h


def kept_seconds(spec: VideoFromSourceSpec, params: dict[str, Any], info: media.VideoInfo) -> float:
    """Extend with `start_param`: how much of the source stays before the extension (source[0:start]); a start
    past the source's end is refused."""
    name = spec.start_param
    if not name or params.get(name) is None:
        return info.duration
    start = float(params[name])
    if start > info.duration + 1 / max(info.fps, 1.0):  # one frame of slack for the container's rounding
        raise TaskFailed(f"{name} ({_num(start)}) is beyond the end of the source video ({info.duration:.2f} s)")
    return min(start, info.duration)


def _resolutions_allowed(spec: VideoFromSourceSpec, info: media.VideoInfo) -> None:
    """`source_resolutions`: the documented source resolutions (Grok upscale: 480p only)."""
    allowed = spec.source_resolutions
    label = media.resolution_label(info.width, info.height)
    if allowed and label not in allowed:
        verb = "upscaled" if spec.mode == "upscale" else "used"
        raise TaskFailed(f"Only {' or '.join(allowed)} source videos can be {verb} (the source video is {label})")


async def _source_video(inputs: Inputs, task: TaskInput, spec: VideoFromSourceSpec) -> tuple[bytes, Any]:
    """The input video's bytes, and how to refer to it in `sources` (its URL, or our stored copy)."""
    urls = [u for name in spec.sources for u in as_list(task.params.get(name))]
    if urls:
        return await inputs.fetch(urls[0], spec.max_source_bytes, "video"), urls[0]
    if task.refs:
        ref = next(iter(task.refs.values()))
        index = int(task.params.get(spec.index_param) or 0)
        data = await inputs.task_file(ref, "videos", index)
        key = (ref.result or {})["files"]["videos"][index]["key"]  # task_file found it
        return data, {"$key": key}
    raise TaskFailed("No source video given")


def _regraded(frames: Iterable[np.ndarray], seed: bytes, shots: int = 1, total: int = 1) -> Iterator[np.ndarray]:
    """Edit: a deterministic colour grade derived from the seed, applied to every frame; multi-shot (`shots` > 1
    over `total` frames): each shot its own grade."""
    rng = np.random.default_rng(int.from_bytes(seed[:8], "big"))
    # every channel moves by 15-30 %, so an edit is always visible
    gains = [
        (1 + rng.choice([-1, 1], size=3) * rng.uniform(0.15, 0.3, size=3)).astype(np.float32) for _ in range(shots)
    ]
    for i, frame in enumerate(frames):
        gain = gains[min(shots - 1, i * shots // max(total, 1))]
        yield np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def source_plan(spec: VideoFromSourceSpec, params: dict[str, Any], info: media.VideoInfo) -> tuple[int, int, int]:
    """Checks an input video's declared size, length and frame count, and the output they imply, against the
    budgets (limits.py); returns the output's width and height and how many frames decoding may yield.
    Runs before any frame is decoded — and at create time for inputs already in our storage."""
    limits.check_video_input(info.width, info.height, info.duration, info.fps, spec.max_input_seconds)
    _resolutions_allowed(spec, info)
    mode = spec.mode
    crop = crop_box(spec, params, info)
    src_w, src_h = (crop[2], crop[3]) if crop else (info.width, info.height)
    resolution = params.get(spec.resolution_param) or spec.default_resolution
    if resolution:
        width, height = media.video_size(src_w / src_h, str(resolution))
    elif mode == "upscale":
        factor = _number(params.get(spec.factor_param), spec.factor)
        width, height = media._even(src_w * factor), media._even(src_h * factor)
    else:
        width, height = src_w, src_h
    frames = round(info.duration * info.fps)
    if mode == "extend":
        frames = round(kept_seconds(spec, params, info) * info.fps) + round(_extra_seconds(spec, params) * media.FPS)
    limits.check_video_output(width, height, max(1, frames), what="upscaled video" if mode == "upscale" else "video")
    budget = limits.frame_budget(info.width, info.height, info.duration, info.fps, spec.max_input_seconds)
    return width, height, budget


def _extra_seconds(spec: VideoFromSourceSpec, params: dict[str, Any]) -> float:
    """Extend: the seconds added (`duration_param`, here defaulting to duration_seconds; an edit reads it only
    when named, so the schema leaves the default to this reader)."""
    return _number(params.get(spec.duration_param or "duration_seconds"), spec.default_duration)


async def probe_source(data: bytes) -> media.VideoInfo:
    try:
        return await limits.run(media.probe, data)
    except Exception as exc:  # not a decodable video
        raise TaskFailed("Failed to fetch the video: not a supported video") from exc


@generator("video_from_source")
async def video_from_source(inputs: Inputs, task: TaskInput, spec: VideoFromSourceSpec) -> Done:
    data, source_ref = await _source_video(inputs, task, spec)
    info = await probe_source(data)
    mode = spec.mode
    p = task.params
    seed = task_seed(task)
    width, height, budget = source_plan(spec, p, info)

    crop = crop_box(spec, p, info)
    kept = kept_seconds(spec, p, info) if mode == "extend" else info.duration
    if mode == "edit" and spec.duration_param and p.get(spec.duration_param) is not None:
        kept = min(_number(p[spec.duration_param], info.duration), info.duration)  # edit: the first N seconds
    # extend: the frames of the source before the extension starts (all of them without a start)
    keep = round(kept * info.fps) if kept < info.duration else None
    comment = marks.metadata_text(marks.generation_info(spec, p))
    stamp = marks.stamp_for(spec, p, width, height)
    style_urls = [u for name in spec.style_references for u in as_list(p.get(name))]
    style = await inputs.image(style_urls[0], what="style reference image") if style_urls else None
    tone = None if style is None else await limits.run(_mean_colour, style)
    audio_on = p.get(spec.audio_param) if spec.audio_param else None  # edit: keep/add or drop sound
    subject_urls = [u for name in spec.subject_image for u in as_list(p.get(name))]
    subject = None
    if subject_urls:  # motion control: the subject image laid over the motion; `background_param` says
        img = await inputs.image(subject_urls[0], what="subject image")  # which of the two dominates
        subject = await limits.run(_fitted, img, width, height)
        from_image = p.get(spec.background_param or "") == "image"
        subject_weight = 0.7 if from_image else 0.3
    shots = 3 if spec.shots_param and p.get(spec.shots_param) else 1

    def work() -> Done:
        audio = media.decode_audio(data) if info.has_audio else None
        seconds = kept if mode == "edit" else info.duration
        if mode == "edit" and audio is not None:
            audio = audio[: int(seconds * media.SAMPLE_RATE)]
        if mode == "edit" and audio_on is not None:
            audio = (audio if audio is not None and len(audio) else media._tone(seed, seconds)) if audio_on else None
        frames: Iterator[np.ndarray | av.VideoFrame]
        if crop is None and mode == "upscale":  # streamed: decode, resample, encode one frame at a time
            frames = media.resized_frames(data, width, height, budget)
            if keep is not None:
                frames = itertools.islice(frames, keep)
        else:  # RGB arrays
            if crop is not None:  # another aspect ratio: the centred window of it, then scaled if asked
                rgb = _cropped(media.decode_frames(data, max_frames=budget), crop, width, height)
            else:
                rgb = (
                    media.decode_frames(data, width, height, max_frames=budget)
                    if (width, height) != (info.width, info.height)
                    else media.decode_frames(data, max_frames=budget)
                )
            if keep is not None:
                rgb = itertools.islice(rgb, keep)
            if mode == "extend":
                extra = _extra_seconds(spec, p)
                # the extension continues from the frame where it starts (the first frame when it starts at 0)
                last = media.last_frame(data, budget) if keep is None else _frame_at(data, max(0, keep - 1), budget)
                if crop is not None:
                    x, y, w, h = crop
                    last = last.crop((x, y, x + w, y + h))
                last = last.resize((width, height))
                count = max(1, round(extra * media.FPS))
                canvas = media.canvas_for(seed, width, height, last)
                rgb = _chain(rgb, media._frames_from_canvas(canvas, width, height, count))
                seconds = kept + extra
                if audio is not None:
                    audio = np.concatenate([audio[: int(kept * media.SAMPLE_RATE)], media._tone(seed, extra)])
            elif mode != "upscale":
                rgb = _regraded(rgb, seed, shots, max(1, round(seconds * info.fps)))
                if tone is not None:  # a style reference: every frame tinted toward its mean colour
                    rgb = _tinted(rgb, tone)
                if subject is not None:
                    rgb = _overlaid(rgb, subject, subject_weight)
            frames = rgb
        sound = audio is not None and len(audio) > 0
        encoded = media.encode_video(
            seed, width, height, seconds, has_audio=sound, frames=frames, audio=audio, comment=comment, stamp=stamp
        )
        video = _video_output(encoded, width, height, seconds, sound)
        return _with_extras(task, spec, [video], [source_ref] if spec.echo_source else None)

    return await limits.run(work)


def _mean_colour(img: Image.Image) -> np.ndarray:
    from PIL import Image

    return np.asarray(img.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0)), dtype=np.float32)


def _fitted(img: Image.Image, width: int, height: int) -> np.ndarray:
    from PIL import Image, ImageOps

    return np.asarray(
        ImageOps.fit(ImageOps.exif_transpose(img).convert("RGB"), (width, height), Image.Resampling.BICUBIC),
        dtype=np.float32,
    )


def _overlaid(frames: Iterable[np.ndarray], picture: np.ndarray, weight: float) -> Iterator[np.ndarray]:
    for frame in frames:
        if frame.shape[:2] != picture.shape[:2]:  # a source whose size was not even: match the frame
            from PIL import Image

            picture = np.asarray(
                Image.fromarray(picture.astype(np.uint8)).resize((frame.shape[1], frame.shape[0])), dtype=np.float32
            )
        yield np.clip(frame.astype(np.float32) * (1 - weight) + picture * weight, 0, 255).astype(np.uint8)


def _tinted(frames: Iterable[np.ndarray], tone: np.ndarray, amount: float = 0.35) -> Iterator[np.ndarray]:
    for frame in frames:
        yield np.clip(frame.astype(np.float32) * (1 - amount) + tone * amount, 0, 255).astype(np.uint8)


def _frame_at(data: bytes, index: int, budget: int) -> Image.Image:
    from PIL import Image

    frame = None
    for frame in itertools.islice(media._decoded(data, budget), index + 1):
        pass
    if frame is None:
        raise TaskFailed("Failed to fetch the video: it has no frames")
    return Image.fromarray(frame.to_ndarray(format="rgb24"))


def _cropped(
    frames: Iterable[np.ndarray], crop: tuple[int, int, int, int], width: int, height: int
) -> Iterator[np.ndarray]:
    from PIL import Image

    x, y, w, h = crop
    for frame in frames:
        window = frame[y : y + h, x : x + w]
        yield window if (w, h) == (width, height) else np.asarray(Image.fromarray(window).resize((width, height)))


def _chain(*iterables: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    for it in iterables:
        yield from it
