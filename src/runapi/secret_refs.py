"""Secrets by reference in the settings: a deployment's `api_key` may name where the key lives instead of
holding it, so a config file (RUNAPI_CONFIG) or an environment dump need not contain it.

    "env:FAL_KEY"           the FAL_KEY environment variable, read at start-up
    "file:/run/secrets/fal" that file's content, surrounding whitespace stripped (e.g. a Docker/K8s secret)

Anything else is the key itself. A reference that cannot be resolved (variable unset or empty, file missing,
unreadable, empty or too large) is a configuration error naming the variable or the file, never the key."""

from __future__ import annotations

import os
from pathlib import Path

ENV_PREFIX, FILE_PREFIX = "env:", "file:"
MAX_SECRET_FILE_BYTES = 64 * 1024  # a key file, not a data file: refuse anything bigger


class SecretReferenceError(ValueError):
    """A secret reference that does not resolve (start-up refuses the configuration)."""


def resolve_secret(value: object, field: str = "api_key") -> str | None:
    """The secret `value` stands for: itself, or what its env:/file: reference names. None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise SecretReferenceError(f"{field} must be a string")
    if value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX) :].strip()
        if not name:
            raise SecretReferenceError(f"{field}: env: needs a variable name (env:NAME)")
        found = os.environ.get(name, "").strip()
        if not found:
            raise SecretReferenceError(f"{field}: environment variable {name} is not set (or empty)")
        return found
    if value.startswith(FILE_PREFIX):
        return _read_secret_file(value[len(FILE_PREFIX) :].strip(), field)
    return value


def _read_secret_file(path: str, field: str) -> str:
    if not path:
        raise SecretReferenceError(f"{field}: file: needs a path (file:/path/to/key)")
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise SecretReferenceError(f"{field}: cannot read {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_SECRET_FILE_BYTES:
        raise SecretReferenceError(f"{field}: {path} is larger than {MAX_SECRET_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise SecretReferenceError(f"{field}: {path} is not UTF-8 text") from exc
    if not text:
        raise SecretReferenceError(f"{field}: {path} is empty")
    return text
