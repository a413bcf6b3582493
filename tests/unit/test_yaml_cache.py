"""load_yaml keeps each file's parsed data as JSON beside it (like bytecode) and reads that back on the next
start instead of parsing: the same data, never stale after an edit, and only what JSON gives back exactly."""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from runapi import yamlload
from runapi.catalog import FAMILIES_DIR, build_family
from runapi.yamlload import CACHE_DIR, load_yaml


@pytest.fixture(autouse=True)
def writes_bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # (the test run may set PYTHONDONTWRITEBYTECODE)


def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(text: str) -> Any:
        raise AssertionError("parsed again")

    monkeypatch.setattr(yamlload, "_parse", refuse)


def cached(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / CACHE_DIR).glob("*")) if (folder / CACHE_DIR).exists() else []


def test_a_second_load_reads_the_kept_data_instead_of_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    f = tmp_path / "a.yaml"
    f.write_text("name: x\nsizes: [1, 2.5, true, null]\nnested: {k: 'é'}\n", encoding="utf-8")
    first = load_yaml(f)
    assert len(cached(tmp_path)) == 1
    no_parsing(monkeypatch)
    again = load_yaml(f)
    assert again == first == {"name": "x", "sizes": [1, 2.5, True, None], "nested": {"k": "é"}}
    assert [type(v) for v in again["sizes"]] == [int, float, bool, type(None)]


def test_an_edited_file_is_parsed_afresh_and_its_old_data_dropped(tmp_path: Path):
    f = tmp_path / "a.yaml"
    f.write_text("v: 1\n")
    assert load_yaml(f) == {"v": 1}
    (tmp_path / "b.yaml").write_text("w: 1\n")
    load_yaml(tmp_path / "b.yaml")
    f.write_text("v: 2\n")
    assert load_yaml(f) == {"v": 2}
    names = cached(tmp_path)
    assert len(names) == 2 and sum(n.startswith("a.yaml.") for n in names) == 1  # b's data is left alone


@pytest.mark.parametrize(
    "text",
    ["when: 2024-01-02\n", "1: one\n", "x: .nan\n", "s: !!set {a: null}\n", "big: 123456789012345678901234567890\n"],
)
def test_data_json_would_change_is_not_kept(tmp_path: Path, text: str):
    f = tmp_path / "a.yaml"
    f.write_text(text)
    direct = yaml.safe_load(text)
    loaded = load_yaml(f)
    assert repr(loaded) == repr(direct)  # (repr: NaN != NaN)
    assert cached(tmp_path) == []
    assert repr(load_yaml(f)) == repr(direct)
    if isinstance(direct.get("x"), float):
        assert math.isnan(loaded["x"])


def test_nothing_is_written_where_bytecode_is_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    (tmp_path / "a.yaml").write_text("v: 1\n")
    assert load_yaml(tmp_path / "a.yaml") == {"v": 1}
    assert cached(tmp_path) == []


def test_an_unwritable_folder_still_loads(tmp_path: Path):
    (tmp_path / CACHE_DIR).write_text("not a folder")  # (mkdir fails, as on a read-only install)
    (tmp_path / "a.yaml").write_text("v: 1\n")
    assert load_yaml(tmp_path / "a.yaml") == {"v": 1}
    assert load_yaml(tmp_path / "a.yaml") == {"v": 1}


def test_damaged_kept_data_is_parsed_again(tmp_path: Path):
    f = tmp_path / "a.yaml"
    f.write_text("v: 1\n")
    load_yaml(f)
    (kept,) = (tmp_path / CACHE_DIR).glob("*.json")
    kept.write_bytes(b'{"v": ')
    assert load_yaml(f) == {"v": 1}


def test_every_bundled_catalog_file_comes_back_as_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    copies = tmp_path / "families"
    shutil.copytree(FAMILIES_DIR, copies, ignore=shutil.ignore_patterns(CACHE_DIR))
    files = sorted(copies.glob("*.yaml"))
    parsed = [repr(yaml.load(f.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)) for f in files]
    assert [repr(load_yaml(f)) for f in files] == parsed
    assert len(cached(copies)) == len(files)  # all of it is JSON data
    no_parsing(monkeypatch)
    assert [repr(load_yaml(f)) for f in files] == parsed
    # and the families built from it are the same (YAML anchors share objects; JSON copies them, equal)
    assert [build_family(load_yaml(f)) for f in files] == [
        build_family(yaml.safe_load(f.read_text("utf-8"))) for f in files
    ]


def test_a_restart_builds_the_catalog_without_loading_pyyaml(tmp_path: Path):
    import os
    import subprocess

    copies = tmp_path / "families"
    shutil.copytree(FAMILIES_DIR, copies, ignore=shutil.ignore_patterns(CACHE_DIR))
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(RUNAPI_CATALOG_DIR=str(copies), PYTHONPATH=str(root / "src"), PYTHONPYCACHEPREFIX=str(tmp_path / "pyc"))
    code = "import sys; from runapi.catalog import get_catalog; get_catalog(); print('yaml' in sys.modules)"
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        for _ in range(2)
    ]
    assert [r.stdout.strip() for r in runs] == ["True", "False"], [r.stderr for r in runs]
