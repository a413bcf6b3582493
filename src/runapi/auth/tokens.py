"""API key material: generation, hashing, masking. Only the SHA-256 of a key is stored.

Keys are 256-bit random, so a fast hash is enough (no password stretching needed); the first characters are
stored in clear as an index so a lookup finds the candidate row, then the hashes are compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

LOOKUP_CHARS = 12
MASK = "••••••••"


def new_token(kind: str = "api") -> str:
    prefix = "rk-mgmt-" if kind == "management" else "rk-"
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lookup_prefix(token: str) -> str:
    return token[:LOOKUP_CHARS]


def masked(token: str) -> str:
    """`abcd••••••••wxyz`: enough to recognise a key, never enough to use it."""
    body = token.removeprefix("rk-mgmt-").removeprefix("rk-")
    return f"{body[:4]}{MASK}{body[-4:]}"


def hashes_match(stored_hex: str, token: str) -> bool:
    return hmac.compare_digest(stored_hex, token_hash(token))


def new_callback_secret() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def new_prefixed_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"
