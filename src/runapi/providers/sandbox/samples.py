"""Small real sample files by extension: inputs for tests, demos and the conformance suite."""

from __future__ import annotations

from functools import lru_cache

from . import images


@lru_cache(maxsize=16)
def sample_bytes(ext: str) -> bytes:
    ext = ext.lower()
    if ext in ("png", "jpg", "jpeg", "webp"):
        img = images.render(images.seed_bytes("sample", ext), 640, 480)
        return images.encode(img, ext).data
    if ext in ("mp4", "mov"):
        from . import media

        return media.encode_video(images.seed_bytes("sample-video"), 640, 360, 2.0, has_audio=True)
    if ext in ("mp3", "wav", "m4a"):
        from . import media

        return media.encode_audio(images.seed_bytes("sample-audio"), 3.0, "mp3" if ext == "m4a" else ext)
    raise ValueError(f"no sample for .{ext}")
