"""What uploads may contain: types are sniffed from the bytes (never trusted from names or headers) and only
media and documents that browsers do not execute are accepted; HTML, SVG, JavaScript, CSS and WebAssembly
(anything not positively identified as a safe type) are refused."""

from __future__ import annotations

import re

LOCAL_MAX_BYTES = 50 * 1024 * 1024
URL_MAX_BYTES = 50 * 1024 * 1024
BASE64_MAX_BYTES = 10 * 1024 * 1024
LIFETIME_SECONDS = 3600

ALLOWED_MIME = {
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "image/bmp",
    "image/tiff",
    "image/heic",
    "image/avif",
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "video/x-matroska",
    "video/x-msvideo",
    "video/mpeg",
    "audio/mpeg",
    "audio/x-wav",
    "audio/wav",
    "audio/ogg",
    "audio/x-flac",
    "audio/flac",
    "audio/aac",
    "audio/mp4",
    "audio/x-m4a",
    "audio/webm",
    "application/pdf",
}
CANONICAL = {"audio/x-wav": "audio/wav", "audio/x-flac": "audio/flac", "audio/x-m4a": "audio/mp4"}
_OWN_EXTENSIONS = {"opus": "audio/ogg", "jpeg": "image/jpeg"}  # ones we write that filetype does not map
_UNSAFE_NAME = re.compile(r"[^\w.\-() ]+", re.UNICODE)
# A stored file's id (storage/uploads.new_file_id): what a task may name instead of an input URL.
FILE_ID = re.compile(r"file_[0-9a-f]{32}")


def sniff(data: bytes) -> str | None:
    """The MIME type the bytes really are, if it is one we accept."""
    import filetype  # (on first use: a server that never sniffs a file does not load its type tables)

    kind = filetype.guess(data[:8192])
    mime: str | None = None if kind is None else kind.mime
    if mime is None or mime not in ALLOWED_MIME:
        return None
    return CANONICAL.get(mime, mime)


def extension_for(mime: str) -> str:
    import filetype

    kind = filetype.get_type(mime=mime) or filetype.get_type(mime={v: k for k, v in CANONICAL.items()}.get(mime, mime))
    return kind.extension if kind else "bin"


def type_for_extension(name: str) -> str | None:
    """The allowed type a file name's extension stands for, or None. Only for names we chose (generated
    outputs); a user's file name says nothing about what the bytes are."""
    import filetype

    ext = name.rsplit("/", 1)[-1].rpartition(".")[2].lower() if "." in name.rsplit("/", 1)[-1] else ""
    kind = filetype.get_type(ext=ext) if ext else None
    mime = _OWN_EXTENSIONS.get(ext) or (kind.mime if kind else None)
    return CANONICAL.get(mime, mime) if mime in ALLOWED_MIME else None


def download_name(name: str, mime: str) -> str:
    """`name`, with the extension of `mime` added when its own stands for another type (x.html that is a
    GIF is saved as x.html.gif), so a saved copy opens as what it is."""
    if type_for_extension(name) == mime:
        return name
    return f"{name}.{extension_for(mime) if mime in ALLOWED_MIME else 'bin'}"


def clean_file_name(name: str | None, mime: str) -> str:
    """A safe display/storage name: no paths, no control characters, the sniffed type's extension."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" .")[:200]
    ext = extension_for(mime)
    if not base:
        return f"upload.{ext}"
    stem, dot, suffix = base.rpartition(".")
    return base if dot and stem else f"{base}.{ext}"


def is_file_id(value: str) -> bool:
    return FILE_ID.fullmatch(value) is not None
