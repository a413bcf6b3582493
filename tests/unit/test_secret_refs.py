"""A deployment's api_key by reference (env:NAME, file:/path) and the RUNAPI_CONFIG TOML settings file."""

from __future__ import annotations

import pytest

from runapi.providers.upstream.registry import parse_deployment
from runapi.secret_refs import MAX_SECRET_FILE_BYTES, SecretReferenceError, resolve_secret
from runapi.settings import ConfigFileError, Settings

# --- env: / file: ------------------------------------------------------------------------------------------


def test_a_plain_key_and_none_pass_through():
    assert resolve_secret("sk-abc") == "sk-abc"
    assert resolve_secret(None) is None


def test_env_reference_reads_the_variable(monkeypatch):
    monkeypatch.setenv("TEST_FAL_KEY", "id:secret\n")
    assert resolve_secret("env:TEST_FAL_KEY") == "id:secret"


@pytest.mark.parametrize("value", ["", "   "])
def test_env_reference_to_an_unset_or_empty_variable_names_it(monkeypatch, value):
    monkeypatch.setenv("TEST_FAL_KEY", value)
    with pytest.raises(SecretReferenceError, match="environment variable TEST_FAL_KEY is not set"):
        resolve_secret("env:TEST_FAL_KEY")
    monkeypatch.delenv("TEST_FAL_KEY")
    with pytest.raises(SecretReferenceError, match="TEST_FAL_KEY"):
        resolve_secret("env:TEST_FAL_KEY")


def test_env_reference_needs_a_name():
    with pytest.raises(SecretReferenceError, match="env:NAME"):
        resolve_secret("env:")


def test_file_reference_reads_and_strips_the_file(tmp_path):
    key = tmp_path / "fal.key"
    key.write_text("  id:secret \n")
    assert resolve_secret(f"file:{key}") == "id:secret"


def test_file_reference_errors_name_the_file_not_the_key(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(SecretReferenceError, match=f"cannot read {missing}"):
        resolve_secret(f"file:{missing}")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SecretReferenceError, match="is empty"):
        resolve_secret(f"file:{empty}")
    big = tmp_path / "big"
    big.write_bytes(b"k" * (MAX_SECRET_FILE_BYTES + 1))
    with pytest.raises(SecretReferenceError, match="larger than"):
        resolve_secret(f"file:{big}")
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(SecretReferenceError, match="not UTF-8"):
        resolve_secret(f"file:{binary}")
    with pytest.raises(SecretReferenceError, match="needs a path"):
        resolve_secret("file:")


def test_a_key_that_is_not_a_string_is_refused():
    with pytest.raises(SecretReferenceError, match="must be a string"):
        resolve_secret(123)


def test_a_deployment_resolves_its_key_at_parse_time(monkeypatch, tmp_path):
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-from-env")
    d = parse_deployment({"name": "o", "kind": "openai_images", "api_key": "env:TEST_OPENAI_KEY"})
    assert d.api_key == "sk-from-env"
    key = tmp_path / "k"
    key.write_text("sk-from-file\n")
    assert parse_deployment({"name": "o", "kind": "openai_images", "api_key": f"file:{key}"}).api_key == "sk-from-file"


def test_a_deployment_whose_key_reference_does_not_resolve_is_refused_naming_both(monkeypatch):
    monkeypatch.delenv("TEST_MISSING_KEY", raising=False)
    with pytest.raises(ValueError, match=r"media upstream 'fal': api_key: environment variable TEST_MISSING_KEY"):
        parse_deployment({"name": "fal", "kind": "fal", "api_key": "env:TEST_MISSING_KEY"})


# --- RUNAPI_CONFIG -----------------------------------------------------------------------------------------

TOML = """
port = 9001
RUNAPI_WORKER_CONCURRENCY = 3
allowed_hosts = ["a.example", ".b.example"]

[[media_upstreams]]
name = "fal"
kind = "fal"
api_key = "env:TEST_FAL_KEY"
models = ["veo-3.1"]
max_concurrency = 4

[[media_upstreams]]
name = "openai"
kind = "openai_images"
api_key = "file:/run/secrets/openai"
"""


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    for name in ("RUNAPI_PORT", "RUNAPI_WORKER_CONCURRENCY", "RUNAPI_MEDIA_UPSTREAMS", "RUNAPI_ALLOWED_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    path = tmp_path / "runapi.toml"
    path.write_text(TOML)
    monkeypatch.setenv("RUNAPI_CONFIG", str(path))
    return path


def test_settings_are_read_from_the_toml_file(config_file):
    settings = Settings()
    assert settings.port == 9001
    assert settings.worker_concurrency == 3  # the RUNAPI_ prefix and upper case are accepted too
    assert settings.allowed_hosts == ["a.example", ".b.example"]
    assert [d["name"] for d in settings.media_upstreams] == ["fal", "openai"]
    assert settings.media_upstreams[0] == {
        "name": "fal",
        "kind": "fal",
        "api_key": "env:TEST_FAL_KEY",  # resolved when the deployment is parsed, not stored resolved
        "models": ["veo-3.1"],
        "max_concurrency": 4,
    }


def test_environment_variables_win_over_the_file(config_file, monkeypatch):
    monkeypatch.setenv("RUNAPI_PORT", "9002")
    monkeypatch.setenv("RUNAPI_MEDIA_UPSTREAMS", '[{"name": "e", "kind": "elevenlabs"}]')
    settings = Settings()
    assert settings.port == 9002
    assert [d["name"] for d in settings.media_upstreams] == ["e"]
    assert settings.worker_concurrency == 3


def test_arguments_win_over_the_file(config_file):
    assert Settings(port=1234).port == 1234


def test_without_runapi_config_no_file_is_read(tmp_path, monkeypatch):
    monkeypatch.delenv("RUNAPI_CONFIG", raising=False)
    monkeypatch.delenv("RUNAPI_PORT", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runapi.toml").write_text("port = 9001\n")
    assert Settings().port == 8000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("port = \n", "Invalid value"),
        ("prot = 1\n", "unknown settings prot"),
    ],
)
def test_a_bad_config_file_is_refused_naming_it(tmp_path, monkeypatch, content, message):
    path = tmp_path / "runapi.toml"
    path.write_text(content)
    monkeypatch.setenv("RUNAPI_CONFIG", str(path))
    with pytest.raises(ConfigFileError, match=message) as caught:
        Settings()
    assert str(path) in str(caught.value)


def test_a_missing_config_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNAPI_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigFileError, match="nope.toml is not a readable file"):
        Settings()
