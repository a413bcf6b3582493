"""A decompression bomb for the media-bomb tests (unit and e2e)."""

from __future__ import annotations

import struct
import zlib


def bomb_png(side: int) -> bytes:
    """A valid greyscale PNG of side×side black pixels: KBs on the wire (14000² is 190 KB), side² when decoded.
    Compressed row by row, so making it never holds the decoded image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    comp = zlib.compressobj(6)
    row = b"\x00" * (side + 1)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )
