"""`runapi providers`: coverage against this machine's settings (RUNAPI_CONFIG's deployments), never showing
a key."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from runapi.catalog import get_catalog
from runapi.cli import main
from runapi.providers.upstream.coverage import coverage, markdown_table

LITERAL_KEY = "sk-literal-never-printed"
ENV_KEY = "fal-id:env-secret-never-printed"
FILE_KEY = "file-secret-never-printed"


@pytest.fixture
def configured(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNAPI_MEDIA_UPSTREAMS", raising=False)
    monkeypatch.setenv("TEST_CLI_FAL_KEY", ENV_KEY)
    (tmp_path / "openai.key").write_text(FILE_KEY + "\n")
    (tmp_path / "runapi.toml").write_text(
        f"""
[[media_upstreams]]
name = "fal-main"
kind = "fal"
api_key = "env:TEST_CLI_FAL_KEY"
models = ["veo-3.1"]

[[media_upstreams]]
name = "fal-all"
kind = "fal"
api_key = "{LITERAL_KEY}"

[[media_upstreams]]
name = "openai"
kind = "openai_images"
api_key = "file:{tmp_path / "openai.key"}"
"""
    )
    monkeypatch.setenv("RUNAPI_CONFIG", str(tmp_path / "runapi.toml"))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["providers", *args])
    return result.exit_code, result.output


def test_json_lists_the_configured_deployments_per_pair_without_keys(configured):
    code, out = run("--json")
    assert code == 0, out
    for secret in (LITERAL_KEY, ENV_KEY, FILE_KEY, "env-secret", "file-secret"):
        assert secret not in out
    body = json.loads(out)
    rows = {(r["family"], r["action"], r["model"]): r for r in body["pairs"]}
    assert rows[("veo_3_1", "text_to_video", "veo-3.1")]["configured"] == ["fal-main", "fal-all"]
    assert "fal" in rows[("veo_3_1", "text_to_video", "veo-3.1")]["available"]
    fal_other = next(r for r in body["pairs"] if "fal" in r["available"] and r["model"] != "veo-3.1")
    assert fal_other["configured"] == ["fal-all"]  # fal-main lists veo-3.1 only
    assert rows[("gpt_image", "text_to_image", "gpt-image-1.5")]["configured"] == ["openai"]
    # a pair no kind can serve has no configured deployment either
    assert all(r["configured"] == [] for r in body["pairs"] if not r["available"])
    summary = body["summary"]
    assert summary["pairs"] == len(body["pairs"])
    assert summary["configured"] == sum(1 for r in body["pairs"] if r["configured"])
    assert summary["servable"] == sum(1 for r in body["pairs"] if r["available"])


def test_table_and_markdown(configured):
    code, out = run()
    assert code == 0 and "CONFIGURED" in out and "fal-main,fal-all" in out and LITERAL_KEY not in out
    code, out = run("--markdown")
    assert code == 0 and out == markdown_table(coverage(get_catalog()))


def test_an_unresolvable_key_reference_is_a_config_error_naming_it(configured, monkeypatch):
    monkeypatch.delenv("TEST_CLI_FAL_KEY")
    code, out = run("--json")
    assert code == 2
    assert "'fal-main'" in out and "environment variable TEST_CLI_FAL_KEY is not set" in out
