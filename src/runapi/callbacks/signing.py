"""Callback signatures as documented: base64(HMAC-SHA256(base64decode(secret), f"{id}.{timestamp}.{body}")).

Each callback carries the same signature twice: under the documented X-Callback-* headers, and under the
Standard Webhooks ones (https://www.standardwebhooks.com/: webhook-id, webhook-timestamp and webhook-signature
= "v1,<base64 signature>"), whose signed content `id.timestamp.body` and key are the same. A Standard Webhooks
library takes the key as "whsec_" + base64(key bytes) and base64-decodes the part after the prefix; our secret
already is base64 of the key bytes, so the receiver passes `standard_secret(secret)` ("whsec_" + the secret as
shown) to e.g. `standardwebhooks.Webhook(...)`."""

from __future__ import annotations

import base64
import hashlib
import hmac

STANDARD_PREFIX = "whsec_"


def sign(secret_b64: str, callback_id: str, timestamp: int | str, body: str) -> str:
    content = f"{callback_id}.{timestamp}.{body}".encode()
    return base64.b64encode(hmac.new(base64.b64decode(secret_b64), content, hashlib.sha256).digest()).decode()


def standard_secret(secret_b64: str) -> str:
    """The account's secret in the form Standard Webhooks libraries take (the same key bytes)."""
    return STANDARD_PREFIX + secret_b64


def headers(secret_b64: str, callback_id: str, timestamp: int, body: str) -> dict[str, str]:
    signature = sign(secret_b64, callback_id, timestamp, body)
    return {
        "Content-Type": "application/json",
        "X-Callback-Id": callback_id,
        "X-Callback-Timestamp": str(timestamp),
        "X-Callback-Signature": signature,
        "webhook-id": callback_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{signature}",
    }
