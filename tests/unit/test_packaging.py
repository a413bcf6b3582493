"""The distribution (issue 17, item 7): every data file the package reads ships in the wheel, the version the
code reports is runapi-server's (the PyPI name `runapi` is another project's), and the LLM-only install's
requirement list is the declared dependencies less the media libraries. scripts/wheel_smoke.py builds and
installs the real wheel (in .ci/run)."""

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from runapi import requirements, version
from runapi.cli import main

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "runapi"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def data_files() -> set[Path]:
    return {
        p
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }


def test_every_data_file_is_package_data():
    """A file under src/runapi that is not Python must match a [tool.setuptools.package-data] pattern, or the
    wheel (and a plain `pip install .`) would lack it."""
    patterns = PROJECT["tool"]["setuptools"]["package-data"]["runapi"]
    shipped = {p for pattern in patterns for p in PACKAGE.glob(pattern)}
    assert data_files() - shipped == set()


def test_every_package_data_pattern_matches_a_file():
    """A pattern that matches nothing is a directory renamed or moved: its files are no longer listed."""
    patterns = PROJECT["tool"]["setuptools"]["package-data"]["runapi"]
    assert [p for p in patterns if not any(f.is_file() for f in PACKAGE.glob(p))] == []


def test_runapi_stays_a_namespace_package():
    """The platform SDKs install runapi.nano_banana, runapi.kling, ... into the same namespace."""
    assert not (PACKAGE / "__init__.py").exists()
    assert PROJECT["tool"]["setuptools"]["packages"]["find"]["namespaces"] is True


def test_the_distribution_is_runapi_server_and_the_command_runapi():
    project = PROJECT["project"]
    assert project["name"] == version.DISTRIBUTION == "runapi-server"
    assert project["scripts"] == {"runapi": "runapi.cli:main"}
    assert project["requires-python"] == ">=3.11"
    assert project["license"] == "Apache-2.0" and (ROOT / "LICENSE").is_file()


def test_no_code_asks_for_the_version_of_the_distribution_named_runapi():
    """importlib.metadata.version("runapi") finds the unrelated PyPI project (or nothing): ask version.py."""
    asks = re.compile(
        r"""(version|metadata|distribution|requires)\(\s*["']runapi["']|package_name\s*=\s*["']runapi["']"""
    )
    offenders = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py") if asks.search(p.read_text())]
    assert offenders == []


def test_version_is_the_installed_distributions(monkeypatch):
    asked = []
    monkeypatch.setattr(metadata, "version", lambda name: asked.append(name) or "9.8.7")
    assert version.version() == "9.8.7" and asked == ["runapi-server"]
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.stdout == "runapi, version 9.8.7\n"
    result = CliRunner().invoke(main, ["version"])
    assert json.loads(result.stdout) == {"version": "9.8.7"}


def test_version_of_an_uninstalled_source_tree(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert version.version() == version.UNINSTALLED
    assert CliRunner().invoke(main, ["--version"]).stdout == f"runapi, version {version.UNINSTALLED}\n"


# ------------------------------------------------------------------ the LLM-only install's requirement list

DECLARED = PROJECT["project"]["dependencies"]


def test_the_media_libraries_are_default_dependencies():
    """The default install keeps them (the embedded sandbox generates media); the LLM-only list drops them."""
    names = {requirements.dist_name(r) for r in DECLARED}
    assert set(requirements.MEDIA_DISTRIBUTIONS) <= names


@pytest.mark.parametrize(
    ("requirement", "name"),
    [
        ("Pillow>=10.3", "pillow"),
        ("sqlalchemy[asyncio]>=2.0.30", "sqlalchemy"),
        ("PyJWT>=2.8", "pyjwt"),
        ("uvloop>=0.19; sys_platform != 'win32'", "uvloop"),
        ("prometheus_client", "prometheus-client"),
        ("zope.interface ==6", "zope-interface"),
        ("av", "av"),
    ],
)
def test_dist_name(requirement, name):
    assert requirements.dist_name(requirement) == name


def test_run_time_requirements():
    # importlib.metadata.requires() writes the markers of extras like this
    declared = [*DECLARED, 'boto3>=1.34; extra == "s3"', 'pytest>=8.0; extra == "test"']
    full = requirements.run_time(declared, without_media=False)
    assert full == DECLARED
    llm = requirements.run_time(declared, without_media=True)
    assert [r for r in DECLARED if r not in llm] == ["pillow>=10.3", "av>=14.0", "numpy>=1.26"]
    assert "uvloop>=0.19; sys_platform != 'win32'" in llm  # markers kept for pip to evaluate


def test_requirements_command(monkeypatch, capsys):
    monkeypatch.setattr(metadata, "requires", lambda name: [*DECLARED, 'boto3>=1.34; extra == "s3"'])
    assert requirements.main(["--without-media"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert "numpy>=1.26" not in printed and "click>=8.1" in printed and len(printed) == len(DECLARED) - 3
    assert requirements.main([]) == 0 and "numpy>=1.26" in capsys.readouterr().out
    assert requirements.main(["--with-media"]) == 2 and "usage" in capsys.readouterr().err

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "requires", missing)
    assert requirements.main([]) == 1 and "pip install --no-deps runapi-server" in capsys.readouterr().err


def test_the_command_line_and_the_app_import_without_the_s3_extra():
    """boto3 is the optional `s3` extra: `pip install .` (the README's first command) has no boto3, so nothing
    the `runapi` command or the app imports at start may need it (migrate_cmds once did, at module level)."""
    code = (
        "import sys\n"
        "class NoBoto:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('boto3', 'botocore'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, NoBoto())\n"
        "import runapi.cli, runapi.app, runapi.cli.migrate_cmds\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
