"""Rewrite the README's "Real upstreams" table (between <!-- coverage:start --> and <!-- coverage:end -->)
from the catalog and the registered adapter kinds (runapi.providers.upstream.coverage).

    PYTHONPATH=src python scripts/coverage_table.py            # rewrite README.md
    PYTHONPATH=src python scripts/coverage_table.py --check    # exit 1 when README.md is stale
    ... --readme PATH                                          # another file (tests)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runapi.catalog import get_catalog
from runapi.providers.upstream.coverage import coverage, markdown_table, with_readme_table

README = Path(__file__).resolve().parent.parent / "README.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail (exit 1) when the README's table is stale")
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    current = args.readme.read_text(encoding="utf-8")
    wanted = with_readme_table(current, markdown_table(coverage(get_catalog())))
    if args.check:
        if wanted != current:
            print(f"{args.readme}: the coverage table is stale; run scripts/coverage_table.py", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        args.readme.write_text(wanted, encoding="utf-8")
        print(f"{args.readme}: coverage table rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
