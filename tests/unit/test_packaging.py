"""Every data file the package reads ships in the wheel: a file under src/runapi that is not Python must match
a [tool.setuptools.package-data] pattern, or a plain `pip install .` (CI, the README) would lack it."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "runapi"


def test_every_data_file_is_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["runapi"]
    shipped = {p for pattern in patterns for p in PACKAGE.glob(pattern)}
    data = {
        p
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }
    assert data - shipped == set()
