"""What the sandbox agrees to decode and encode, and where it does it.

Budgets are checked from headers and container metadata BEFORE anything is decoded, so a 190 KB PNG that
declares 14000×14000 pixels, or a video that declares two minutes of 8K, is refused at the cost of reading
its header. They derive from the largest sizes the platform docs let a task produce or take:

* images: 4K outputs (1k/2k/4k = 1024/2048/4096-pixel base); an input may have twice the area of the largest
  output (an 8K UHD photo, 7680×4320, fits) and an output at most 8192×8192 (the upscalers' long-side cap);
* video: 4K (veo 3.1 / kling `4k`; DCI 4096×2160 fits) per frame, in and out; a task's frames × pixels, in and
  out, at most ten minutes of 720p — the longest audio a lip-sync video may follow (600 s) at its largest
  documented resolution, which also covers a minute of 4K;
* Topaz video upscaling documents no input limits; its catalog entry sets `max_input_seconds` (30 s, the
  longest clip the docs let a task make), the output stays within 4K.

All decoding and encoding runs in one bounded thread pool (pool.py; RUNAPI_MEDIA_WORKERS, default one per
core), never on the event loop. Threads, not processes: Pillow, PyAV/FFmpeg and numpy release the GIL while they decode,
resample and encode, so threads run in parallel on every core; the inputs and outputs are large byte strings
(videos up to 50 MB) that a process pool would pickle across on every call; and with the budgets above a
task's memory is bounded before it starts, so the pool's size bounds the process's peak (workers × budget)
— which a process pool's isolation would not improve on while it holds the same frames.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from ..base import InputRejected
from .pool import configure as configure
from .pool import run as run

MAX_OUTPUT_IMAGE_SIDE = 4096  # the docs' largest image resolution (4k)
MAX_INPUT_IMAGE_PIXELS = 2 * MAX_OUTPUT_IMAGE_SIDE**2  # 33.5 MP
MAX_OUTPUT_IMAGE_PIXELS = 8192 * 8192  # the upscalers' max_side, squared
MAX_VIDEO_PIXELS = 4096 * 2160  # one 4K frame (DCI; UHD 3840×2160 fits)
MAX_VIDEO_SECONDS = 600.0  # any input video (audio inputs: 600 s too)
MAX_TASK_PIXEL_FRAMES = 1280 * 720 * 24 * 600  # ten minutes of 720p at 24 fps (≈ 13.3 G)

# Pillow's own guard, at our budget: Image.open raises above twice MAX_IMAGE_PIXELS and warns above it; the
# warning is an error too (process-wide: a filter set per call is not thread-safe). open_image checks first.
Image.MAX_IMAGE_PIXELS = MAX_INPUT_IMAGE_PIXELS
warnings.simplefilter("error", Image.DecompressionBombWarning)


def _size(width: int, height: int) -> str:
    return f"{width}×{height}"


def check_image_pixels(width: int, height: int, what: str = "image") -> None:
    if width * height > MAX_INPUT_IMAGE_PIXELS:
        raise InputRejected(
            f"The {what} is {_size(width, height)} pixels; at most {MAX_INPUT_IMAGE_PIXELS:,} "
            f"pixels (e.g. 7680×4320) are accepted"
        )


def open_image(data: bytes, load: bool = True, what: str = "image") -> Image.Image:
    """Decode an input image after checking the size its header declares (Image.open reads only the header).
    With load=False only the header is read and checked. `what` names the input in messages (e.g. "mask")."""
    try:
        img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputRejected(
            f"The {what} has more than {MAX_INPUT_IMAGE_PIXELS:,} pixels; at most that many "
            f"(e.g. 7680×4320) are accepted"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InputRejected(f"Failed to fetch the {what}: not a supported image") from exc
    check_image_pixels(img.width, img.height, what)
    if load:
        try:
            img.load()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning) as exc:
            raise InputRejected(f"Failed to fetch the {what}: not a supported image") from exc
    return img


def check_output_image(width: int, height: int, count: int = 1) -> None:
    if width * height > MAX_OUTPUT_IMAGE_PIXELS:
        raise InputRejected(
            f"The requested image size {_size(width, height)} is larger than the "
            f"{MAX_OUTPUT_IMAGE_PIXELS:,} pixels an image may have"
        )


def check_video_input(width: int, height: int, seconds: float, fps: float, max_seconds: float | None = None) -> None:
    """An input video's declared frame size, duration and frame count, before any frame is decoded."""
    limit = min(max_seconds or MAX_VIDEO_SECONDS, MAX_VIDEO_SECONDS)
    if width < 1 or height < 1:
        raise InputRejected("Failed to fetch the video: not a supported video")
    if width * height > MAX_VIDEO_PIXELS:
        raise InputRejected(
            f"The source video is {_size(width, height)}; at most 4K "
            f"({MAX_VIDEO_PIXELS:,} pixels per frame) is accepted"
        )
    if seconds > limit:
        raise InputRejected(f"The source video is {seconds:.1f} s long; at most {limit:g} s is accepted")
    if width * height * seconds * max(fps, 1.0) > MAX_TASK_PIXEL_FRAMES:
        raise InputRejected(
            f"The source video has too many frames ({seconds:.1f} s at {fps:g} fps, {_size(width, height)}) to process"
        )


def frame_budget(width: int, height: int, seconds: float, fps: float, max_seconds: float | None = None) -> int:
    """How many frames decoding may yield: what the headers declare plus a second, never more than the
    duration limit or the task's pixel budget allow (headers can understate; decoding enforces this)."""
    limit = min(max_seconds or MAX_VIDEO_SECONDS, MAX_VIDEO_SECONDS)
    rate = max(fps, 1.0)
    frames = (min(seconds + 1, limit) if seconds > 0 else limit) * rate
    return max(1, int(min(frames, MAX_TASK_PIXEL_FRAMES / max(width * height, 1))))


def check_video_output(width: int, height: int, frames: int, count: int = 1, what: str = "video") -> None:
    """A task's output: each frame within 4K, all frames of all its videos within the task budget."""
    if width * height > MAX_VIDEO_PIXELS:
        raise InputRejected(
            f"The {what} would be {_size(width, height)}; the largest output is 4K "
            f"({MAX_VIDEO_PIXELS:,} pixels per frame, e.g. 3840×2160)"
        )
    if width * height * frames * count > MAX_TASK_PIXEL_FRAMES:
        raise InputRejected(
            f"The {what} would have too many frames ({count} × {frames} frames at {_size(width, height)}) to produce"
        )
