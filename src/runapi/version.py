"""The installed distribution's version. The distribution is `runapi-server` (the PyPI name `runapi` belongs to
an unrelated project), while the import package and the command stay `runapi`: ask importlib.metadata for
DISTRIBUTION, never for "runapi" (that would find the other project, or nothing)."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "runapi-server"
UNINSTALLED = "0+unknown"  # a source tree put on sys.path (PYTHONPATH=src) without installing it


def version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return UNINSTALLED
