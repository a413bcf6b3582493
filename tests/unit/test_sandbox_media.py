"""The sandbox's media without a socket: videos of the requested size, duration and audio, audio of the requested
length, images of an explicit size. Processing of fetched inputs is in tests/e2e/test_sandbox_media.py."""

import io

import pytest
from PIL import Image

from runapi.providers.sandbox import media
from tests.support.sandbox_media import run


@pytest.mark.parametrize(
    "aspect,resolution,size",
    [
        ("16:9", "720p", (1280, 720)),
        ("9:16", "1080p", (1080, 1920)),
        ("1:1", "480p", (480, 480)),
    ],
)
def test_video_size_duration_and_audio(aspect, resolution, size):
    done = run(
        "video",
        {"aspect_ratio": aspect, "output_resolution": resolution, "duration_seconds": 3, "generate_audio": True},
        {"generator": "video", "audio_param": "generate_audio"},
    )
    out = done.outputs[0]
    info = media.probe(out.data)
    assert (info.width, info.height) == size
    assert abs(info.duration - 3.0) < 0.15
    assert info.has_audio and out.meta["has_audio"] is True
    assert out.content_type == "video/mp4" and out.meta["resolution"] == resolution
    import av

    with av.open(io.BytesIO(out.data)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert c.streams.audio[0].codec_context.name == "aac"


@pytest.mark.parametrize("fmt", ["mp3", "wav"])
def test_audio_has_the_requested_length(fmt):
    data = media.encode_audio(b"s" * 32, 4.0, fmt)
    samples_ = media.decode_audio(data)
    assert abs(len(samples_) / media.SAMPLE_RATE - 4.0) < 0.1
    assert data[:4] == b"RIFF" if fmt == "wav" else data[:3] in (b"ID3",) or data[0] == 0xFF


def test_image_sizes_from_explicit_size_param():
    done = run(
        "image",
        {"image_size": "1536x1024", "n": 2},
        {"generator": "image", "size_param": "image_size", "count_param": "n"},
    )
    assert [Image.open(io.BytesIO(o.data)).size for o in done.outputs] == [(1536, 1024)] * 2
    done = run("image", {"image_size": "landscape_16_9"}, {"generator": "image", "size_param": "image_size"})
    w, h = Image.open(io.BytesIO(done.outputs[0].data)).size
    assert abs(w / h - 16 / 9) < 0.02
