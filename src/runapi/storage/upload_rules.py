"""The rules of a multipart upload (POST /v1/uploads), as pure functions: what may be declared when one is
created, whether a part fits, and the file a completion's part list describes. Each broken rule is a domain
refusal naming what is wrong (runapi.errors), worded for a client fixing its request.

An upload declares its size up front; that size is reserved against the account's upload limits, so the parts
may never add up to more than it, and completing needs them to add up to exactly it (as OpenAI's Uploads API)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .. import files_policy as policy
from ..errors import BadRequest, MissingParameter, TooLarge

PART_MAX_BYTES = 64 * 1024 * 1024  # one part (OpenAI's own limit; the file limit below is lower still)
MAX_PARTS = 1000  # parts one upload may receive (each is a stored object and a row until completion)
LIFETIME_SECONDS = 3600  # an upload not completed within the hour expires, as OpenAI's do
# The purposes OpenAI's SDKs send; the stored file is the same whichever is given (it is echoed back).
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
_MIME = re.compile(r"[\w.+-]{1,50}(/[\w.+-]{1,49})?")


class UploadStatus(StrEnum):
    PENDING = "pending"
    COMPLETING = "completing"  # ours: assembling the parts; shown to clients as pending
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def wire(self) -> str:
        return "pending" if self is UploadStatus.COMPLETING else self.value


@dataclass(frozen=True)
class Declared:
    """What POST /v1/uploads declares, checked."""

    bytes: int
    filename: str
    mime_type: str
    purpose: str


@dataclass(frozen=True)
class Received:
    """How much of an upload has arrived so far (counting parts still being stored)."""

    declared_bytes: int
    received_bytes: int
    part_count: int


def purpose(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise MissingParameter("purpose")
    if value not in PURPOSES:
        raise BadRequest(f"Invalid value for purpose: {value!r}. Allowed values: {', '.join(PURPOSES)}")
    return str(value)


def declared(body: Any) -> Declared:
    """The create request's body, checked: a size within the file limit, a file name, a MIME type (recorded as
    given; the stored file's type is sniffed from its bytes, whatever was declared) and a purpose."""
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    size, filename, mime = body.get("bytes"), body.get("filename"), body.get("mime_type")
    if size is None:
        raise MissingParameter("bytes")
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise BadRequest("bytes must be a positive integer")
    if size > policy.LOCAL_MAX_BYTES:
        raise TooLarge(
            f"bytes ({size}) exceeds the maximum file size ({policy.LOCAL_MAX_BYTES // (1024 * 1024)}MB)",
            code="file_too_large",
        )
    if filename is None or (isinstance(filename, str) and not filename.strip()):
        raise MissingParameter("filename")
    if not isinstance(filename, str) or len(filename) > 255 or not filename.isprintable():
        raise BadRequest("filename must be at most 255 printable characters")
    if mime is None or (isinstance(mime, str) and not mime.strip()):
        raise MissingParameter("mime_type")
    if not isinstance(mime, str) or not _MIME.fullmatch(mime):
        raise BadRequest("mime_type must be a MIME type such as image/png")
    return Declared(size, filename, mime.lower(), purpose(body.get("purpose")))


def check_part(received: Received, size: int) -> None:
    """Refuse a part that is empty, over the part limit, one too many, or that would take the upload past the
    size it declared."""
    if size <= 0:
        raise BadRequest("The part is empty: send its bytes as the multipart field 'data'")
    if size > PART_MAX_BYTES:
        raise TooLarge(f"A part may be at most {PART_MAX_BYTES // (1024 * 1024)}MB", code="part_too_large")
    if received.part_count >= MAX_PARTS:
        raise BadRequest(f"An upload may have at most {MAX_PARTS} parts", code="too_many_parts")
    if received.received_bytes + size > received.declared_bytes:
        raise TooLarge(
            f"The parts would add up to {received.received_bytes + size} bytes, more than the "
            f"{received.declared_bytes} bytes declared when the upload was created",
            code="upload_too_large",
        )


def part_order(part_ids: Any, stored: Mapping[str, int], declared_bytes: int) -> list[str]:
    """The parts of the file, in order: `part_ids` as the client sent it, checked against the upload's stored
    parts (`stored`: id → size). Each must be a part of this upload, named once, and together they must add up
    to the declared size."""
    if part_ids is None:
        raise MissingParameter("part_ids")
    if not isinstance(part_ids, list) or not all(isinstance(p, str) for p in part_ids):
        raise BadRequest("part_ids must be an array of part ids")
    if not part_ids:
        raise BadRequest("part_ids must name at least one part")
    seen: set[str] = set()
    for i, part in enumerate(part_ids):
        if part in seen:
            raise BadRequest(f"part_ids[{i}]: part {part!r} is listed twice", code="invalid_part_order")
        if part not in stored:
            raise BadRequest(f"part_ids[{i}]: {part!r} is not a part of this upload", code="invalid_part_order")
        seen.add(part)
    total = sum(stored[p] for p in part_ids)
    if total != declared_bytes:
        raise BadRequest(
            f"The parts listed add up to {total} bytes, but the upload was created with bytes={declared_bytes}",
            code="size_mismatch",
        )
    return list(part_ids)


def same_order(recorded: Sequence[str] | None, part_ids: Any) -> bool:
    """A retried completion: the order the upload was completed with, sent again."""
    return recorded is not None and isinstance(part_ids, list) and list(recorded) == part_ids
