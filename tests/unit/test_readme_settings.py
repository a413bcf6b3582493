"""The README documents every setting (issue 17: "the README documents each setting"): a setting added without
a line in the README fails here, naming it."""

from pathlib import Path

from runapi.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_named_in_the_readme():
    text = README.read_text()
    missing = [name for name in Settings.model_fields if name.upper() not in text]
    assert not missing, f"settings the README does not mention (as RUNAPI_<NAME> or in the settings table): {missing}"
