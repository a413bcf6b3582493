"""Suno over HTTP on the sandbox: real media through the documented chains, documented body shapes, sync
endpoints, and chains that name tasks they may not use."""

from __future__ import annotations

import io
import re
import tempfile
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from runapi.providers.sandbox import media, samples
from tests.support.bodies import documented
from tests.support.servers import new_account, start_server, wait_done

BASE = "/api/v1/suno"
SR = media.SAMPLE_RATE
TRACK_KEYS = {"id", "audio_url", "stream_audio_url", "image_url", "lyrics", "model_name", "title", "tags", "duration"}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def create(client, action: str, body: dict, status: int = 202):
    resp = client.post(f"{BASE}/{action}", json=body)
    assert resp.status_code == status, resp.text
    return resp.json()


def run(client, action: str, body: dict) -> dict:
    task = create(client, action, body)
    assert task["status"] == "processing" and UUID.match(task["id"])
    done = wait_done(client, f"{BASE}/{action}", task["id"], timeout=120)
    assert done["status"] == "completed", done
    return done


def fetch(client, url: str) -> bytes:
    resp = client.get(url)
    assert resp.status_code == 200, url
    return resp.content


def audio_of(client, url: str) -> np.ndarray:
    return media.decode_audio(fetch(client, url))


def corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


@pytest.fixture(scope="module")
def client(server):
    with server.client() as c:
        yield c


@pytest.fixture(scope="module")
def song(client):
    """A completed text_to_music task (auto lyrics)."""
    return run(
        client,
        "text_to_music",
        {"vocal_mode": "auto_lyrics", "model": "suno-v5", "prompt": "A chill lo-fi beat about the city at night"},
    )


@pytest.fixture
def host(recorder):
    """Serves real sample files: /<name>.mp3, .wav, .png ..."""
    return recorder(lambda m, path, h, b: (200, {}, samples.sample_bytes(path.split("?")[0].rsplit(".", 1)[-1])))


# ---------------------------------------------------------------------------------------------- music


def test_text_to_music_returns_two_real_tracks_shaped_like_the_docs(client, song):
    assert song["generation_stage"] == "all_audios_ready" and song["model"] == "suno-v5"
    assert len(song["audios"]) == 2
    ids = {a["id"] for a in song["audios"]}
    assert len(ids) == 2 and all(UUID.match(i) for i in ids)
    for track in song["audios"]:
        assert set(track) == TRACK_KEYS
        assert track["model_name"] == "chirp-v5" and track["tags"] and isinstance(track["tags"], list)
        assert "[Verse]" in track["lyrics"] and "[Chorus]" in track["lyrics"]
        assert track["stream_audio_url"] == track["audio_url"]
        x = audio_of(client, track["audio_url"])
        assert 30 <= track["duration"] <= 60 and abs(len(x) / SR - track["duration"]) < 0.05
        assert np.sqrt(np.mean(x**2)) > 0.02  # real music, not silence
        cover = Image.open(io.BytesIO(fetch(client, track["image_url"])))
        assert cover.format == "JPEG" and cover.size == (512, 512)
    a, b = (audio_of(client, t["audio_url"]) for t in song["audios"])
    assert abs(corr(a, b)) < 0.5  # two different takes


def test_same_request_same_tracks(client, song):
    again = run(
        client,
        "text_to_music",
        {"vocal_mode": "auto_lyrics", "model": "suno-v5", "prompt": "A chill lo-fi beat about the city at night"},
    )
    assert again["id"] != song["id"]
    assert [t["id"] for t in again["audios"]] == [t["id"] for t in song["audios"]]
    assert fetch(client, again["audios"][0]["audio_url"]) == fetch(client, song["audios"][0]["audio_url"])


def test_exact_lyrics_and_instrumental_modes(client):
    lyrics = "[Verse]\n夜晚城市 灯火辉煌\n\n[Chorus]\n钢铁的心 不会迷茫"
    done = run(
        client,
        "text_to_music",
        {
            "vocal_mode": "exact_lyrics",
            "lyrics": lyrics,
            "style": "rock, electrifying",
            "title": "钢铁侠",
            "model": "suno-v4",
        },
    )
    for t in done["audios"]:
        assert t["lyrics"] == lyrics and t["title"] == "钢铁侠" and t["tags"] == ["rock", "electrifying"]
        assert t["model_name"] == "chirp-v4"
    inst = run(
        client,
        "text_to_music",
        {"vocal_mode": "instrumental", "style": "Jazz", "title": "Late Night", "model": "suno-v4.5"},
    )
    assert all(t["lyrics"] == "[Instrumental]" and t["tags"] == ["Jazz"] for t in inst["audios"])


def test_full_chain_extend_convert_separate_visualize_lyrics(client, song):
    track = song["audios"][0]
    source = audio_of(client, track["audio_url"])

    # extend by audio_id alone, as the docs send it: the source up to continue_at, then a continuation
    ext = run(
        client,
        "extend_music",
        {
            "parameter_mode": "custom",
            "audio_id": track["id"],
            "continue_at": 12,
            "prompt": "Add a bright final chorus",
            "style": "lo-fi pop",
            "title": "City Night Extended",
            "model": "suno-v5",
        },
    )
    assert ext["generation_stage"] == "all_audios_ready" and len(ext["audios"]) == 2
    extended = ext["audios"][0]
    assert set(extended) == TRACK_KEYS and extended["title"] == "City Night Extended"
    assert extended["id"] not in {t["id"] for t in song["audios"]}
    y = audio_of(client, extended["audio_url"])
    assert abs(len(y) / SR - extended["duration"]) < 0.05
    assert 12 + 15 < extended["duration"] < 12 + 40
    assert corr(y[: 11 * SR], source[: 11 * SR]) > 0.98  # the head is the source itself
    assert abs(corr(y[14 * SR : 20 * SR], source[14 * SR : 20 * SR])) < 0.5  # then new material

    # convert the extended track to WAV: the decoded audio, same duration
    wav = run(client, "convert_audio", {"task_id": ext["id"], "audio_id": extended["id"]})
    assert set(documented(wav)) == {"id", "status", "model", "wav_url"}
    with wave.open(io.BytesIO(fetch(client, wav["wav_url"]))) as w:
        assert w.getframerate() == SR and w.getsampwidth() == 2
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32767
        assert abs(w.getnframes() / SR - extended["duration"]) < 0.02
    assert corr(pcm, y) > 0.999

    # separate vocals from the extended track: two stems of the same duration that add back up to it
    sep = run(client, "separate_audio_stems", {"task_id": ext["id"], "audio_id": extended["id"]})
    stems = sep["separated_audios"]
    assert set(stems) == {"vocal_url", "instrumental_url"}
    vocal, inst = audio_of(client, stems["vocal_url"]), audio_of(client, stems["instrumental_url"])
    assert len(vocal) == len(inst) == len(y)
    assert corr(vocal + inst, y) > 0.99 and corr(vocal, inst) < 0.9

    # a music video of the extended track, with that track as its sound
    vid = run(
        client,
        "visualize_music",
        {"task_id": ext["id"], "audio_id": extended["id"], "author": "Suno Artist", "domain_name": "music.example.com"},
    )
    data = fetch(client, vid["video_url"])
    info = media.probe(data)
    assert info.has_audio and (info.width, info.height) == (640, 360)
    assert abs(info.duration - extended["duration"]) < 0.2
    with av.open(io.BytesIO(data)) as c:
        assert c.streams.video[0].codec_context.name == "h264" and c.streams.audio[0].codec_context.name == "aac"
    frames = media.decode_frames(data)
    first = next(frames)
    last = first
    for last in frames:
        pass
    assert np.abs(first.astype(int) - last.astype(int)).mean() > 1  # the playhead moved
    assert corr(media.decode_audio(data)[: 10 * SR], y[: 10 * SR]) > 0.9

    # timestamped lyrics of the extended track: its words, in order, inside its real duration (synchronous)
    ts = create(client, "get_timestamped_lyrics", {"task_id": ext["id"], "audio_id": extended["id"]}, 200)
    assert set(ts) == {"aligned_words", "waveform_data", "hoot_cer", "is_streamed"}
    words = ts["aligned_words"]
    sung = [w for line in extended["lyrics"].splitlines() if line and not line.startswith("[") for w in line.split()]
    assert [w["word"].split("\n")[-1] for w in words] == sung
    assert words[0]["word"].startswith("[Verse]\n")
    starts = [w["start_time"] for w in words]
    assert starts == sorted(starts) and 0 <= starts[0] and words[-1]["end_time"] <= extended["duration"] + 0.01
    assert starts[-1] - starts[0] > extended["duration"] / 3  # spread over the track, not bunched up
    assert all(w["success"] is True and w["end_time"] > w["start_time"] for w in words)
    assert len(ts["waveform_data"]) == 200 and max(ts["waveform_data"]) == 1.0 and min(ts["waveform_data"]) >= 0
    assert 0 <= ts["hoot_cer"] <= 1 and ts["is_streamed"] is False


def test_split_stems_then_midi(client, song):
    track = song["audios"][1]
    source = audio_of(client, track["audio_url"])
    sep = run(client, "separate_audio_stems", {"task_id": song["id"], "audio_id": track["id"], "type": "split_stem"})
    stems = sep["separated_audios"]
    names = [
        "backing_vocals",
        "bass",
        "brass",
        "drums",
        "fx",
        "guitar",
        "keyboard",
        "piano",
        "percussion",
        "strings",
        "synth",
        "vocal",
        "woodwinds",
    ]
    assert sorted(stems) == sorted(f"{n}_url" for n in names)
    decoded = {n: audio_of(client, stems[f"{n}_url"]) for n in names}
    assert all(len(x) == len(source) for x in decoded.values())
    assert corr(sum(decoded.values()), source) > 0.99
    bass_spec = np.abs(np.fft.rfft(decoded["bass"]))
    freqs = np.fft.rfftfreq(len(source), 1 / SR)
    assert freqs[np.argmax(bass_spec)] < 200  # the bass stem really is the low end

    midi = run(client, "generate_midi", {"task_id": sep["id"]})
    instruments = midi["instruments"]
    assert {i["name"] for i in instruments} >= {"Drums", "Electric Bass (finger)"}
    for inst in instruments:
        assert inst["notes"]
        for note in inst["notes"]:
            assert set(note) == {"pitch", "start_time", "end_time", "velocity"}
            assert 0 <= note["pitch"] <= 127 and 0 < note["velocity"] <= 1
            assert 0 <= note["start_time"] < note["end_time"] <= track["duration"] + 0.1
    bass_pitches = [n["pitch"] for n in next(i for i in instruments if i["name"] == "Electric Bass (finger)")["notes"]]
    assert np.median(bass_pitches) < 60

    vocal_only = run(client, "separate_audio_stems", {"task_id": song["id"], "audio_id": track["id"]})
    failed = wait_done(
        client, f"{BASE}/generate_midi", create(client, "generate_midi", {"task_id": vocal_only["id"]})["id"]
    )
    assert failed["status"] == "failed" and "split_stem" in failed["error"]


def test_artwork_replace_section_and_persona(client, song):
    art = run(client, "generate_artwork", {"task_id": song["id"]})
    assert len(art["covers"]) == 2 and all(set(c) == {"url"} for c in art["covers"])
    images = [Image.open(io.BytesIO(fetch(client, c["url"]))) for c in art["covers"]]
    assert all(i.format == "PNG" and i.size == (1024, 1024) for i in images)
    assert np.abs(np.asarray(images[0], float) - np.asarray(images[1], float)).mean() > 5

    track = song["audios"][0]
    source = audio_of(client, track["audio_url"])
    rep = run(
        client,
        "replace_section",
        {
            "task_id": song["id"],
            "audio_id": track["id"],
            "tags": "Jazz",
            "lyrics": "[Verse]\nA calm and relaxing piano track.",
            "title": "Relaxing Piano",
            "infill_start_time": 10.5,
            "infill_end_time": 20.75,
        },
    )
    new = rep["track"]
    assert set(new) == TRACK_KEYS and new["id"] == track["id"] and new["tags"] == ["Jazz"]
    y = audio_of(client, new["audio_url"])
    assert abs(len(y) - len(source)) < SR // 50 and abs(new["duration"] - track["duration"]) < 0.05
    assert corr(y[: 10 * SR], source[: 10 * SR]) > 0.98 and corr(y[21 * SR :], source[21 * SR :]) > 0.98
    assert abs(corr(y[11 * SR : 20 * SR], source[11 * SR : 20 * SR])) < 0.6

    persona = create(
        client,
        "generate_persona",
        {"task_id": song["id"], "audio_id": track["id"], "name": "Electronic Pop Singer", "description": "Modern pop"},
        200,
    )
    assert set(persona) == {"persona"} and persona["persona"]["name"] == "Electronic Pop Singer"
    assert persona["persona"]["description"] == "Modern pop" and re.fullmatch(r"[0-9a-f]{32}", persona["persona"]["id"])
    used = run(
        client,
        "text_to_music",
        {
            "vocal_mode": "auto_lyrics",
            "prompt": "more of that",
            "model": "suno-v4",
            "persona_id": persona["persona"]["id"],
            "persona_type": "style",
        },
    )
    assert len(used["audios"]) == 2


def test_uploads_cover_mashup_vocals_accompaniment_and_upload_extend(client, host):
    src = media.decode_audio(samples.sample_bytes("mp3"))
    cover = run(
        client,
        "cover_audio",
        {
            "upload_url": f"{host.url}/music.mp3",
            "vocal_mode": "instrumental",
            "style": "Classical",
            "title": "Peaceful Piano Meditation",
            "model": "suno-v5",
        },
    )
    for t in cover["audios"]:
        assert set(t) == TRACK_KEYS and t["title"] == "Peaceful Piano Meditation"
        assert abs(t["duration"] - len(src) / SR) < 0.05
    mash = run(
        client,
        "create_mashup",
        {
            "upload_url_list": [f"{host.url}/a.mp3", f"{host.url}/b.wav"],
            "vocal_mode": "auto_lyrics",
            "prompt": "Blend both",
            "model": "suno-v4",
        },
    )
    assert len(mash["audios"]) == 2 and "[Verse]" in mash["audios"][0]["lyrics"]
    voc = run(
        client,
        "add_vocals",
        {
            "upload_url": f"{host.url}/music.mp3",
            "lyrics": "[Verse]\nSoothing melody",
            "title": "With Vocals",
            "style": "Jazz",
            "model": "suno-v4.5-plus",
        },
    )
    y = audio_of(client, voc["audios"][0]["audio_url"])
    assert voc["audios"][0]["lyrics"] == "[Verse]\nSoothing melody" and abs(len(y) - len(src)) < SR // 50
    assert 0.3 < corr(y, src) < 0.99  # the upload is there, with something added
    acc = run(
        client,
        "add_instrumental",
        {
            "upload_url": f"{host.url}/music.mp3",
            "title": "Relaxing Piano",
            "tags": "Relaxing Piano, Ambient, Peaceful",
            "negative_tags": "Heavy Metal",
            "model": "suno-v4.5-all",
        },
    )
    assert acc["audios"][0]["tags"] == ["Relaxing Piano", "Ambient", "Peaceful"]
    ext = run(
        client,
        "extend_music",
        {
            "upload_url": f"{host.url}/music.mp3",
            "parameter_mode": "custom",
            "prompt": "More piano",
            "style": "Classical",
            "title": "Extended",
            "continue_at": 2,
            "instrumental": True,
            "model": "suno-v4.5",
        },
    )
    z = audio_of(client, ext["audios"][0]["audio_url"])
    assert corr(z[: int(1.4 * SR)], src[: int(1.4 * SR)]) > 0.98 and len(z) > 15 * SR
    assert ext["audios"][0]["lyrics"] == "[Instrumental]"


def test_text_to_sound_loop(client):
    done = run(
        client,
        "text_to_sound",
        {
            "prompt": "Rain on a tin roof, distant thunder",
            "model": "suno-v5",
            "sound_loop": True,
            "sound_tempo": 90,
            "sound_key": "Cm",
        },
    )
    keys = TRACK_KEYS - {"lyrics"} | {"prompt"}
    for t in done["audios"]:
        assert set(t) == keys and t["prompt"] == "Rain on a tin roof, distant thunder" and "loopable" in t["tags"]
        x = audio_of(client, t["audio_url"])
        assert 10 < len(x) / SR < 40
        bar = 240 / 90
        assert abs((len(x) / SR) / bar - round((len(x) / SR) / bar)) < 0.05  # whole bars: it loops in time
        wrap = abs(float(x[-1]) - float(x[0]))  # the end flows into the start: no click at the loop point
        assert wrap <= np.percentile(np.abs(np.diff(x)), 99)
    assert run(client, "text_to_sound", {"prompt": "Birds in a forest", "model": "suno-v5.5"})["audios"]


def test_generate_lyrics(client):
    done = run(client, "generate_lyrics", {"prompt": "A song about peaceful night in the city"})
    assert len(done["lyrics"]) == 2
    for entry in done["lyrics"]:
        assert set(entry) == {"title", "text"} and entry["title"]
        assert entry["text"].startswith("[Verse]\n") and "[Chorus]" in entry["text"] and "[Bridge]" in entry["text"]
    assert done["lyrics"][0]["text"] != done["lyrics"][1]["text"]
    zh = run(client, "generate_lyrics", {"prompt": "一首关于城市夜晚的歌"})
    assert re.search(r"[\u4e00-\u9fff]", zh["lyrics"][0]["text"])
    assert create(client, "generate_lyrics", {"prompt": "x" * 201}, 422)["error"]


# ---------------------------------------------------------------------------------------------- sync endpoints


def test_boost_style_is_synchronous(client):
    resp = client.post(f"{BASE}/boost_style", json={"description": "Pop, Mysterious"})
    assert resp.status_code == 200 and set(resp.json()) == {"style"}
    style = resp.json()["style"]
    assert style.startswith("Pop, Mysterious, ") and len(style.split(", ")) == 6
    assert client.post(f"{BASE}/boost_style", json={"description": "Pop, Mysterious"}).json()["style"] == style
    assert client.post(f"{BASE}/boost_style", json={}).status_code == 400


def test_voice_chain_and_check_voice(client, host):
    phrase = run(
        client,
        "voice_to_validation_phrase",
        {
            "voice_url": f"{host.url}/source-vocal.mp3",
            "vocal_start_seconds": 0,
            "vocal_end_seconds": 2,
            "language": "zh",
        },
    )
    assert set(documented(phrase)) == {"id", "status", "model", "provider_status", "validation_phrase"}
    assert phrase["provider_status"] == "wait_validating" and re.search(r"[\u4e00-\u9fff]", phrase["validation_phrase"])
    again = run(client, "regenerate_validation_phrase", {"task_id": phrase["id"]})
    assert again["validation_phrase"] != phrase["validation_phrase"]
    assert re.search(r"[\u4e00-\u9fff]", again["validation_phrase"])
    third = run(client, "regenerate_validation_phrase", {"task_id": again["id"]})
    assert third["validation_phrase"] != again["validation_phrase"] and re.search(
        r"[\u4e00-\u9fff]", third["validation_phrase"]
    )
    voice = run(
        client,
        "generate_voice",
        {
            "task_id": again["id"],
            "verify_url": f"{host.url}/verify-read.mp3",
            "voice_name": "Warm",
            "singer_skill_level": "advanced",
        },
    )
    assert voice["provider_status"] == "success" and voice["voice_id"].startswith("voice_")
    check = client.post(f"{BASE}/check_voice", json={"task_id": voice["id"]})
    assert check.status_code == 200 and check.json() == {"is_available": True}
    # a validation-phrase task is not a generate_voice task: wrong kind, named in the 422
    assert "suno/generate_voice" in create(client, "check_voice", {"task_id": phrase["id"]}, 422)["error"]
    # the voice works as a v5 persona
    used = run(
        client,
        "text_to_music",
        {
            "vocal_mode": "auto_lyrics",
            "prompt": "a warm ballad",
            "model": "suno-v5",
            "persona_id": voice["voice_id"],
            "persona_type": "voice",
        },
    )
    assert used["audios"]
    # an empty vocal window is refused at creation (422), not charged and failed later
    bad = create(
        client,
        "voice_to_validation_phrase",
        {"voice_url": f"{host.url}/v.mp3", "vocal_start_seconds": 2, "vocal_end_seconds": 2},
        422,
    )
    assert bad == {"error": "vocal_end_seconds must be greater than vocal_start_seconds"}


# ---------------------------------------------------------------------------------------------- refusals


def test_validation_rules(client):
    missing = create(
        client, "text_to_music", {"vocal_mode": "exact_lyrics", "lyrics": "la", "style": "pop", "model": "suno-v5"}, 400
    )
    assert "title" in missing["error"]
    voice = create(
        client,
        "text_to_music",
        {"vocal_mode": "auto_lyrics", "prompt": "x", "model": "suno-v4", "persona_id": "p1", "persona_type": "voice"},
        422,
    )
    assert voice["error"] == "persona_type voice is only supported by model suno-v5"
    # persona_type without persona_id is ignored
    create(
        client,
        "text_to_music",
        {"vocal_mode": "auto_lyrics", "prompt": "x", "model": "suno-v4", "persona_type": "voice"},
        202,
    )
    assert create(client, "text_to_music", {"vocal_mode": "auto_lyrics", "prompt": "x", "model": "suno-v6"}, 422)[
        "error"
    ].startswith("Invalid value for model")
    create(
        client,
        "create_mashup",
        {
            "upload_url_list": ["https://example.com/a.mp3"],
            "vocal_mode": "instrumental",
            "style": "x",
            "title": "y",
            "model": "suno-v5",
        },
        422,
    )
    create(client, "text_to_sound", {"prompt": "x", "model": "suno-v5", "sound_tempo": 301}, 422)
    create(client, "extend_music", {"parameter_mode": "source", "model": "suno-v5"}, 400)  # no track at all
    create(
        client,
        "extend_music",
        {
            "parameter_mode": "custom",
            "upload_url": "https://example.com/a.mp3",
            "style": "y",
            "title": "z",
            "continue_at": 1,
            "model": "suno-v5",
        },
        400,
    )  # upload mode custom sings (instrumental defaults to false, as in the docs' example): needs a prompt
    create(
        client,
        "extend_music",
        {"parameter_mode": "source", "audio_id": "a", "model": "suno-v5", "upload_url": "https://example.com/a.mp3"},
        422,
    )  # one source, not both


def test_unknown_audio_ids(client, song):
    wrong = create(client, "get_timestamped_lyrics", {"task_id": song["id"], "audio_id": "not-a-track"}, 422)
    assert "not a track" in wrong["error"]
    task = create(client, "convert_audio", {"task_id": song["id"], "audio_id": "00000000-0000-0000-0000-000000000000"})
    failed = wait_done(client, f"{BASE}/convert_audio", task["id"])
    assert failed["status"] == "failed" and "not a track" in failed["error"]
    task = create(
        client,
        "extend_music",
        {"parameter_mode": "source", "model": "suno-v5", "audio_id": "00000000-0000-4000-8000-000000000000"},
    )
    failed = wait_done(client, f"{BASE}/extend_music", task["id"])
    assert failed["status"] == "failed" and "Unknown audio_id" in failed["error"]
    traversal = create(
        client, "extend_music", {"parameter_mode": "source", "model": "suno-v5", "audio_id": "../../generated/x/0"}
    )
    assert wait_done(client, f"{BASE}/extend_music", traversal["id"])["status"] == "failed"


def test_chain_to_another_accounts_task_is_not_found(server, client, song):
    _, other_key = new_account(server)
    with server.client(other_key) as other:
        theirs = run(
            other,
            "text_to_music",
            {"vocal_mode": "instrumental", "style": "Jazz", "title": "Theirs", "model": "suno-v4"},
        )
        audio_id = theirs["audios"][0]["id"]
        # they can use it; we cannot
        assert create(other, "get_timestamped_lyrics", {"task_id": theirs["id"], "audio_id": audio_id}, 200)
    assert create(client, "convert_audio", {"task_id": theirs["id"], "audio_id": audio_id}, 404)["error"]
    assert create(client, "get_timestamped_lyrics", {"task_id": theirs["id"], "audio_id": audio_id}, 404)["error"]
    assert create(client, "generate_artwork", {"task_id": theirs["id"]}, 404)
    # a task of ours of the wrong kind exists: 422 naming the kind required
    lyrics = run(client, "generate_lyrics", {"prompt": "night"})
    assert create(client, "separate_audio_stems", {"task_id": lyrics["id"], "audio_id": audio_id}, 422)
    assert "suno/generate_voice" in create(client, "check_voice", {"task_id": song["id"]}, 422)["error"]


@pytest.fixture(scope="module")
def slow_server():
    srv = start_server(Path(tempfile.mkdtemp()), sandbox_delay_seconds=60)
    yield srv
    srv.stop()


def test_chain_to_an_unfinished_task_is_rejected(slow_server):
    with slow_server.client() as c:
        pending = create(
            c, "text_to_music", {"vocal_mode": "instrumental", "style": "Jazz", "title": "Slow", "model": "suno-v4"}
        )
        for action, body in (
            ("convert_audio", {"audio_id": "x"}),
            ("generate_artwork", {}),
            ("get_timestamped_lyrics", {"audio_id": "x"}),
        ):
            err = create(c, action, {"task_id": pending["id"], **body}, 422)["error"]
            assert err == "Records are being generated"  # the docs' 422 for a resource still processing
        phrase = create(
            c,
            "voice_to_validation_phrase",
            {"voice_url": "https://example.com/v.mp3", "vocal_start_seconds": 0, "vocal_end_seconds": 3},
        )
        assert (
            create(c, "generate_voice", {"task_id": phrase["id"], "verify_url": "https://example.com/r.mp3"}, 422)[
                "error"
            ]
            == "Records are being generated"
        )


def test_generation_stage_while_processing(tmp_path):
    from tests.support.servers import start_server

    srv = start_server(tmp_path, sandbox_delay_seconds=30)
    try:
        with srv.client() as c:
            made = c.post(
                "/api/v1/suno/text_to_music", json={"vocal_mode": "auto_lyrics", "prompt": "x", "model": "suno-v5"}
            ).json()
            body = c.get(f"/api/v1/suno/text_to_music/{made['id']}").json()
            assert documented(body) == {
                "id": made["id"],
                "status": "processing",
                "model": "suno-v5",
                "generation_stage": "text_generated",
            }
    finally:
        srv.stop()
