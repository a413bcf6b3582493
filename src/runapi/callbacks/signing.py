"""Callback signatures as documented: base64(HMAC-SHA256(base64decode(secret), f"{id}.{timestamp}.{body}"))."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(secret_b64: str, callback_id: str, timestamp: int | str, body: str) -> str:
    content = f"{callback_id}.{timestamp}.{body}".encode()
    return base64.b64encode(hmac.new(base64.b64decode(secret_b64), content, hashlib.sha256).digest()).decode()


def headers(secret_b64: str, callback_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Callback-Id": callback_id,
        "X-Callback-Timestamp": str(timestamp),
        "X-Callback-Signature": sign(secret_b64, callback_id, timestamp, body),
    }
