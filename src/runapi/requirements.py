"""Print runapi-server's run-time dependencies as a pip requirements list; `--without-media` leaves out the
media libraries (Pillow, PyAV, numpy) that only the sandbox's media generation needs.

pip cannot subtract a dependency through an extra, so the LLM-only install is two steps, both from the same
wheel: install the distribution without its dependencies, then the list this prints (read from the installed
distribution's own metadata, so it can never drift from pyproject.toml):

    pip install --no-deps runapi-server
    python -m runapi.requirements --without-media > requirements-llm.txt
    pip install -r requirements-llm.txt

Standard library only: it runs before any dependency is installed (runapi is a namespace package, so importing
this module imports nothing else of runapi).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata

from .version import DISTRIBUTION

# Distribution names (normalized) of the libraries the sandbox's media generation imports (PIL, av, numpy);
# nothing else imports them, and a server without them refuses sandbox media tasks with a clear 503.
MEDIA_DISTRIBUTIONS = ("pillow", "av", "numpy")


def dist_name(requirement: str) -> str:
    """The normalized distribution name a requirement string names (PEP 503: lower case, runs of -_. as -)."""
    name = re.split(r"[\s\[<>=!~;(@]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def run_time(declared: Iterable[str], without_media: bool) -> list[str]:
    """The requirements of a plain install (none behind an extra), less the media libraries if asked."""
    out = []
    for req in declared:
        if re.search(r"\bextra\s*==", req):
            continue
        if without_media and dist_name(req) in MEDIA_DISTRIBUTIONS:
            continue
        out.append(req)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args not in ([], ["--without-media"]):
        print("usage: python -m runapi.requirements [--without-media]", file=sys.stderr)
        return 2
    try:
        declared = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        print(f"{DISTRIBUTION} is not installed here (pip install --no-deps {DISTRIBUTION} first)", file=sys.stderr)
        return 1
    for req in run_time(declared, without_media=args == ["--without-media"]):
        print(req)
    return 0


if __name__ == "__main__":
    sys.exit(main())
