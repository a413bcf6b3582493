"""The Suno sandbox's output is byte-for-byte stable for the same request (golden hashes of a few catalog
examples, recorded from the code before suno_gen.py was split into the suno/ package). A deliberate change of
the generated media updates these; `python -m tests.support.suno_golden` hashes every example for a wider check."""

from __future__ import annotations

import asyncio

import pytest

from runapi.catalog import get_catalog
from tests.support.suno_golden import Runner

GOLDEN = {
    ("generate_lyrics", 0): {"extra": "19de4f5c12e93b620d619fb8901ae510a032c77522a3ed0a4950a086f0bf01ba", "files": []},
    ("boost_style", 0): {"extra": "7996bc5afd58b8d9ed945bb77200ff9135bfeab2664ec1334152d0d84d1fe2d9", "files": []},
    ("text_to_sound", 2): {
        "extra": "096777c0bf5a63bda04fdf32191a52bf797096c765750ef3caef527795dfdc1e",
        "files": [
            "0b315f5a15cb5cee6961489f56369945d00165670d4129e190ad6d0d30bea909",
            "74bbd1337fd9fef092b7471c9813fdefc5b01f39776ed21f3f087223fee8572d",
            "4859b30c4bdc34a160a78e4d028c27109beb7514457580c0916b4b32f64c17e5",
            "ef16784d6bbcd5fef401aaf27474f41e195bb094ae11884d6c3b9fc1c8007a17",
        ],
    },
}


@pytest.mark.parametrize(("action", "index"), sorted(GOLDEN))
def test_suno_example_output_is_unchanged(action, index):
    spec = get_catalog().action("suno", action)
    digest, _ = asyncio.run(Runner().run(spec, index, dict(spec.examples[index])))
    assert digest == GOLDEN[(action, index)]
