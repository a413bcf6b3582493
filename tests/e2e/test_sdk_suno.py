"""The platform's Suno SDK (runapi-suno from PyPI), unchanged but for base_url."""

import httpx
import pytest

from runapi.providers.sandbox import media

suno = pytest.importorskip("runapi.suno")


def test_suno_sdk_music_and_sync_endpoints(server):
    client = suno.SunoClient(api_key=server.key, base_url=server.url)
    done = client.text_to_music.run(vocal_mode="auto_lyrics", prompt="a chill lo-fi beat", model="suno-v5")
    assert done.status == "completed" and len(done.audios) == 2
    track = done.audios[0]
    audio = httpx.get(track.audio_url).content
    assert abs(len(media.decode_audio(audio)) / media.SAMPLE_RATE - track.duration) < 0.5
    boosted = client.boost_style.run(description="Pop, Mysterious")
    assert isinstance(boosted.style, str) and boosted.style
