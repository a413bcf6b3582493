"""The catalog's `sandbox:` block, declared: one model per generator, every key that generator reads, with its
type and its default, so the catalog checks each block when it loads (as it checks parameters) and the
generators read typed attributes instead of `.get("key", default)`.

A block is the action's `sandbox:` merged with a model's (the model's keys win). `generator` picks the model;
a key the generator does not read, a value of the wrong type or an unknown generator fails the load with a
message naming family/action[/model] and the key (`parse_sandbox`). An action without a `sandbox:` block has
no sandbox (an upstream-only family in an operator's catalog): the sandbox then refuses its tasks, as before.

Keys ending in `_param` name the request parameter that carries a value; keys holding a param name *or a list
of them* (`sources`, `images`, ...) are `ParamNames` and read as a tuple. Where one key's default differs
between two readers of the same generator, the schema says None and each reader keeps its own default (noted
at the field). FORMAT.md ("Sandbox generators") documents the keys; audio_gen.py and suno/ say what they do.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

__all__ = [
    "GENERATOR_NAMES",
    "IMAGE_FORMATS",
    "VIDEO_RESOLUTIONS",
    "DialogueSpec",
    "ImageEditSpec",
    "ImageOptions",
    "ImageSpec",
    "ImageUpscaleSpec",
    "IsolateAudioSpec",
    "MarkedSpec",
    "PlainSpec",
    "RemoveBackgroundSpec",
    "SandboxSpec",
    "SoundSpec",
    "SpeechSpec",
    "SpeechToTextSpec",
    "SunoArtworkSpec",
    "SunoLyricsSpec",
    "SunoMusicSpec",
    "SunoSoundSpec",
    "SunoValidationPhraseSpec",
    "VideoFromSourceSpec",
    "VideoOptions",
    "VideoSpec",
    "default_length",
    "parse_sandbox",
]


def _tupled(value: Any) -> Any:
    """YAML lists become tuples (the specs are frozen); anything else is left for the type check to refuse."""
    return tuple(value) if isinstance(value, list) else value


def _names(value: Any) -> Any:
    """One param name, or a list of them: always a tuple of names."""
    if not isinstance(value, (str, list, tuple)):
        raise ValueError("expected a param name or a list of param names")
    return (value,) if isinstance(value, str) else _tupled(value)


ParamNames = Annotated[tuple[str, ...], BeforeValidator(_names)]

# the values the sandbox's encoders know (tests/unit/test_sandbox_schema.py holds them to images.FORMATS and
# media.RESOLUTION_SHORT_SIDE; the catalog does not import the providers)
ImageFormat = Literal["png", "jpg", "jpeg", "webp"]
VideoResolution = Literal["360p", "480p", "540p", "720p", "768p", "1080p", "1440p", "2k", "2160p", "4k"]
IMAGE_FORMATS: tuple[str, ...] = get_args(ImageFormat)
VIDEO_RESOLUTIONS: tuple[str, ...] = get_args(VideoResolution)


class _Spec(BaseModel):
    # strict: YAML gives native types, so "5" for a number is a typo, not something to coerce
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class MarkedSpec(_Spec):
    """What image and video generators record in the file and stamp on it (providers/sandbox/marks.py). A name
    set to null records nothing for it."""

    prompt_param: str | None = "prompt"
    negative_prompt_param: str | None = "negative_prompt"
    seed_param: str | None = "seed"
    enhance_param: str | None = None  # boolean param: the recorded prompt is the expanded one
    watermark_param: str | None = "watermark"  # a string is the text; true stamps `watermark_text`
    watermark_text: str = "AI generated"


# ---------------------------------------------------------------- images (image_gen.py)


class ImageOptions(MarkedSpec):
    """What `image` and `image_edit` share: the output's size, format and count, and the inputs that steer it."""

    max_source_bytes: int | None = None  # cap on each fetched input (else the provider's fetch limit)
    size_param: str | None = None  # a param holding "WxH", "W*H" or "W:H"
    aspect_param: str = "aspect_ratio"
    resolution_param: str = "output_resolution"
    resolution_bases: dict[str, int] = Field(default_factory=dict)  # {value: base} beyond 1k/2k/4k
    base: int = 1024  # pixels for 1:1 when no resolution
    pro_param: str | None = None  # boolean param: a high-quality mode ...
    pro_base: int | None = None  # ... with this base (default: `base`)
    max_side: int | None = None  # cap on the long side
    format_param: str = "output_format"
    default_format: ImageFormat = "png"
    count_param: str | None = None
    count: int = 1
    palette_param: str | None = None  # list of {hex, ratio}: tinted toward their weighted colour
    sequential_param: str | None = None  # boolean param: each image grows out of the one before
    mask: ParamNames = ()
    mask_alpha: bool = False  # the mask's transparent pixels mark the area (else black does)
    character_references: ParamNames = ()
    reference_masks: ParamNames = ()
    style_references: ParamNames = ()


class ImageSpec(ImageOptions):
    generator: Literal["image"]
    references: ParamNames = ()  # images blended in; auto aspect follows the first


class ImageEditSpec(ImageOptions):
    generator: Literal["image_edit"]
    sources: ParamNames = ()  # the image(s) to edit (the task fails without one)


class ImageUpscaleSpec(_Spec):
    generator: Literal["image_upscale"]
    sources: ParamNames = ()
    max_source_bytes: int | None = None
    factor_param: str | None = None  # the factor, e.g. 2 or "4x"
    factor: float = 2.0
    max_side: int | None = None
    format_param: str = "output_format"
    default_format: ImageFormat = "png"


class RemoveBackgroundSpec(_Spec):
    generator: Literal["remove_background"]
    sources: ParamNames = ()
    max_source_bytes: int | None = None


# ---------------------------------------------------------------- videos (video_gen.py)


class VideoOptions(MarkedSpec):
    """Documented companions of any video result (`video_gen._with_extras`)."""

    max_source_bytes: int | None = None
    item_ids: bool = False  # an `id` per video
    cover_image: bool = False  # an `images` list with each video's first frame
    last_frame: bool = False  # `last_frame_image_url` ...
    last_frame_param: str | None = None  # ... or a boolean param that asks for it (e.g. return_last_frame)


class VideoSpec(VideoOptions):
    generator: Literal["video"]
    duration_param: str = "duration_seconds"
    default_duration: float = 5.0
    # the longest clip: the reader's default is 60 s for a generated clip but 600 s when an input audio sets the
    # length (`audio_source`), so it is kept at the reader
    max_duration: float | None = None
    aspect_param: str = "aspect_ratio"
    default_aspect: str = "16:9"
    resolution_param: str = "output_resolution"
    default_resolution: VideoResolution = "720p"
    # {value: resolution} for a resolution_param with other values (e.g. Kling's mode: std 720p, pro 1080p)
    resolutions: dict[str, VideoResolution] = Field(default_factory=dict)
    audio_param: str | None = None  # boolean param that turns the audio track on ...
    has_audio: bool = False  # ... else this fixed value
    count_param: str | None = None
    count: int = 1
    images: ParamNames = ()  # input images: the first opens the video
    images_from_task: str | None = None  # a task_ref param: that task's image (`index_param`) opens the video
    index_param: str = "index"
    audio_source: ParamNames = ()  # an audio URL: the video takes its length and sound (lip-sync)
    background_audio: ParamNames = ()  # an audio URL: the soundtrack, looped to the video's length
    reference_images: ParamNames = ()  # with `reference_mode` [param, value]: only in that input mode
    reference_mode: Annotated[tuple[str, str | bool | int | float], BeforeValidator(_tupled)] | None = None
    reference_videos: ParamNames = ()
    max_reference_seconds: float | None = None  # the reference videos' total length at most
    elements_param: str | None = None  # Kling elements: those the prompt names as @name
    motion_param: str | None = None  # with `motion` {value: scale}: how far the camera pans
    motion: dict[str, float] = Field(default_factory=dict)
    shots_param: str | None = None  # boolean param: three scenes with cuts
    sources_from: ParamNames = ()  # `sources: [{url}]` listing these input URLs


class VideoFromSourceSpec(VideoOptions):
    generator: Literal["video_from_source"]
    mode: Literal["extend", "upscale", "edit"] = "edit"
    sources: ParamNames = ()  # a video URL; without one, the referenced task's video (`index_param`)
    index_param: str = "index"
    max_input_seconds: float | None = None  # longest input accepted (below the sandbox-wide budget)
    source_resolutions: Annotated[tuple[VideoResolution, ...], BeforeValidator(_tupled)] = ()
    aspect_param: str | None = None  # output = the source's centred window of that ratio
    resolution_param: str = "output_resolution"
    default_resolution: VideoResolution | None = None  # none: the source's size (or `factor` for upscale)
    factor_param: str = "upscale_factor"
    factor: float = 2.0
    start_param: str | None = None  # extend: the result is source[0:start] + the extension
    # extend: the seconds added (the reader's default is duration_seconds); edit: the source's first N seconds,
    # only when named (so the default stays at the extend reader)
    duration_param: str | None = None
    default_duration: float = 5.0
    style_references: ParamNames = ()
    audio_param: str | None = None  # edit: sound on (the source's or a tone) or off
    subject_image: ParamNames = ()  # laid over the motion ...
    background_param: str | None = None  # ... `image` makes it dominate
    shots_param: str | None = None  # a grade per shot
    echo_source: bool = False  # `sources: [{url}]` naming the input video


# ---------------------------------------------------------------- ElevenLabs audio (audio_gen.py)


class SpeechSpec(_Spec):
    generator: Literal["speech"]
    text_param: str | None = "text"
    voice_param: str | None = "voice"
    default_voice: str = "default"
    speed_param: str | None = "speed"
    stability_param: str | None = "stability"
    style_param: str | None = "style"
    timestamps_param: str | None = None
    chars_per_second: float = 14.0


class DialogueSpec(_Spec):
    generator: Literal["dialogue"]
    turns_param: str = "dialogue"  # items {text, voice}
    stability_param: str | None = "stability"
    chars_per_second: float = 14.0
    max_total_chars: int | None = None


class SoundSpec(_Spec):
    generator: Literal["sound"]
    text_param: str | None = "text"
    duration_param: str | None = "duration_seconds"
    default_duration: float = 5.0
    max_duration: float = 60.0
    loop_param: str | None = "loop"
    influence_param: str | None = "prompt_influence"
    format_param: str | None = "output_format"
    default_format: str = "mp3_44100_128"  # ElevenLabs' codec_samplerate[_bitrate]


class SpeechToTextSpec(_Spec):
    generator: Literal["speech_to_text"]
    sources: ParamNames = ("source_audio_url",)
    max_source_bytes: int | None = None
    max_seconds: float = 600.0
    language_param: str | None = "language_code"
    events_param: str | None = "tag_audio_events"
    diarize_param: str | None = "diarize"


class IsolateAudioSpec(_Spec):
    generator: Literal["isolate_audio"]
    sources: ParamNames = ("source_audio_url",)
    max_source_bytes: int | None = None
    max_seconds: float = 600.0


# ---------------------------------------------------------------- Suno (suno/)


class SunoMusicSpec(_Spec):
    generator: Literal["suno_music"]
    mode: Literal["generate", "extend", "cover", "mashup", "add_vocals", "add_instrumental", "sample"] = "generate"
    model_name: str | None = None  # the tracks' model_name (default: the model's id)
    max_seconds: float = 480.0  # longest track, as uploads ("最长 8 分钟", suno/common.MAX_UPLOAD_SECONDS)
    song_seconds: Annotated[tuple[float, float], BeforeValidator(_tupled)] = (30.0, 45.0)  # length range by seed
    max_song: float = 120.0  # longest song for long exact lyrics
    extend_seconds: float = 24.0  # extend: seconds added (plus up to 6 by seed)


class SunoSoundSpec(_Spec):
    generator: Literal["suno_sound"]
    model_name: str | None = None
    max_seconds: float = 480.0


class SunoLyricsSpec(_Spec):
    generator: Literal["suno_lyrics"]
    count: int = 2


class SunoArtworkSpec(_Spec):
    generator: Literal["suno_artwork"]
    count: int = 2


class SunoValidationPhraseSpec(_Spec):
    generator: Literal["suno_validation_phrase"]
    mode: Literal["new", "regenerate"] = "new"


class PlainSpec(_Spec):
    """Generators that take no keys: everything they do follows from the request."""

    generator: Literal[
        "suno_stems",
        "suno_wav",
        "suno_midi",
        "suno_video",
        "suno_boost_style",
        "suno_timestamped_lyrics",
        "suno_persona",
        "suno_replace_section",
        "suno_voice",
        "suno_check_voice",
    ]


SandboxSpec = Annotated[
    ImageSpec
    | ImageEditSpec
    | ImageUpscaleSpec
    | RemoveBackgroundSpec
    | VideoSpec
    | VideoFromSourceSpec
    | SpeechSpec
    | DialogueSpec
    | SoundSpec
    | SpeechToTextSpec
    | IsolateAudioSpec
    | SunoMusicSpec
    | SunoSoundSpec
    | SunoLyricsSpec
    | SunoArtworkSpec
    | SunoValidationPhraseSpec
    | PlainSpec,
    Field(discriminator="generator"),
]
_ADAPTER: TypeAdapter[SandboxSpec] = TypeAdapter(SandboxSpec)
_BY_GENERATOR: dict[str, type[_Spec]] = {  # each member of the union, by every generator name it declares
    name: cls
    for cls in get_args(get_args(SandboxSpec)[0])
    for name in get_args(cls.model_fields["generator"].annotation)
}
GENERATOR_NAMES = frozenset(_BY_GENERATOR)


def default_length(spec: SandboxSpec | None) -> tuple[str, float] | None:
    """The param a generator takes a length in seconds from, and the seconds it makes when the request leaves
    it out (a price per that param states the same `per_default`; catalog/model.py checks it)."""
    if isinstance(spec, (VideoSpec, SoundSpec)) and spec.duration_param:
        return spec.duration_param, spec.default_duration
    if isinstance(spec, VideoFromSourceSpec) and spec.mode == "extend":  # the seconds added
        return spec.duration_param or "duration_seconds", spec.default_duration
    return None


def parse_sandbox(raw: Mapping[str, Any], where: str) -> SandboxSpec | None:
    """The typed block, or None for an empty one (no sandbox). ValueError naming `where` and every bad key."""
    if not raw:
        return None
    try:
        return _ADAPTER.validate_python(dict(raw))
    except ValidationError as exc:
        raise ValueError(f"{where}: sandbox: {'; '.join(_problems(exc, raw))}") from None


def _problems(exc: ValidationError, raw: Mapping[str, Any]) -> list[str]:
    generator = raw.get("generator")
    known = _BY_GENERATOR.get(generator) if isinstance(generator, str) else None
    out = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"][1:])  # loc[0] is the generator's tag
        if error["type"] == "union_tag_not_found":
            out.append("no generator (every sandbox block names one)")
        elif error["type"] == "union_tag_invalid":
            out.append(f"unknown generator {generator!r} (known: {', '.join(sorted(GENERATOR_NAMES))})")
        elif error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(key, list(known.model_fields) if known else [], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            out.append(f"unknown key {key!r} for generator {generator!r}{hint}")
        else:
            out.append(f"{key}: {error['msg']}, got {error['input']!r}")
    return out
