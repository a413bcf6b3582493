"""The package import graph has no cycle: the app (runapi.app) assembles the API and the console, and nothing
below the web layer imports it (scripts/import_graph.py draws the graph for the closing notes)."""

from __future__ import annotations

from types import ModuleType

from tests.support.scripts import ROOT, load_script


def import_graph() -> ModuleType:
    return load_script("import_graph")


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for a, b in import_graph().edges(ROOT / "src"):
        graph.setdefault(a, set()).add(b)
    return graph


def test_no_package_imports_itself_back() -> None:
    assert import_graph().cycles(package_graph()) == []


def test_only_the_app_and_the_cli_import_the_web_layer() -> None:
    graph = package_graph()
    importers = {a for a, targets in graph.items() if "api" in targets}
    assert importers <= {"app", "cli", "console"}, importers
    assert {a for a, targets in graph.items() if "console" in targets} == {"app"}
