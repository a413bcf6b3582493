"""The sandbox's media are real files of the requested kind, size and duration, and processing is real."""

import io

import numpy as np
import pytest
from PIL import Image

from runapi.providers.sandbox import media, samples
from tests.support.sandbox_media import run


@pytest.fixture
def host(recorder):
    def serve(m, path, h, b):
        ext = path.rsplit(".", 1)[-1]
        return 200, {}, samples.sample_bytes(ext)

    return recorder(serve)


def test_video_without_audio_and_first_frame(host):
    done = run(
        "video",
        {"image_url": f"{host.url}/first.png", "duration_seconds": "2s"},
        {"generator": "video", "images": "image_url", "default_resolution": "480p"},
    )
    info = media.probe(done.outputs[0].data)
    assert not info.has_audio and abs(info.duration - 2.0) < 0.15
    assert info.height == 480 and abs(info.width / info.height - 640 / 480) < 0.02  # follows the image


def test_extend_appends_a_continuation(host):
    source_info = media.probe(samples.sample_bytes("mp4"))
    done = run(
        "video_from_source",
        {"video_url": f"{host.url}/in.mp4", "duration_seconds": 2},
        {"generator": "video_from_source", "mode": "extend", "sources": "video_url"},
    )
    info = media.probe(done.outputs[0].data)
    assert abs(info.duration - (source_info.duration + 2)) < 0.2
    assert (info.width, info.height) == (source_info.width, source_info.height) and info.has_audio


def test_upscale_resamples_to_the_requested_resolution(host):
    done = run(
        "video_from_source",
        {"video_url": f"{host.url}/in.mp4", "output_resolution": "1080p"},
        {"generator": "video_from_source", "mode": "upscale", "sources": "video_url"},
    )
    info = media.probe(done.outputs[0].data)
    assert (info.width, info.height) == (1920, 1080) and done.outputs[0].meta["resolution"] == "1080p"


def test_edit_keeps_length_and_changes_pixels(host):
    done = run(
        "video_from_source",
        {"video_url": f"{host.url}/in.mp4", "prompt": "make it warmer"},
        {"generator": "video_from_source", "mode": "edit", "sources": "video_url"},
    )
    original = next(media.decode_frames(samples.sample_bytes("mp4")))
    edited = next(media.decode_frames(done.outputs[0].data))
    assert original.shape == edited.shape
    assert np.abs(original.astype(int) - edited.astype(int)).mean() > 3
    assert abs(media.probe(done.outputs[0].data).duration - media.probe(samples.sample_bytes("mp4")).duration) < 0.2


def test_image_upscale_is_real_resampling(host):
    done = run(
        "image_upscale",
        {"image_url": f"{host.url}/a.png", "upscale_factor": "4x"},
        {"generator": "image_upscale", "sources": "image_url", "factor_param": "upscale_factor"},
    )
    img = Image.open(io.BytesIO(done.outputs[0].data))
    assert img.size == (640 * 4, 480 * 4)


def test_remove_background_makes_the_border_transparent(recorder):
    canvas = Image.new("RGB", (200, 100), (255, 255, 255))
    canvas.paste(Image.new("RGB", (60, 40), (200, 20, 20)), (70, 30))
    buf = io.BytesIO()
    canvas.save(buf, "PNG")
    host = recorder(lambda m, p, h, b: (200, {}, buf.getvalue()))
    done = run(
        "remove_background",
        {"image_url": f"{host.url}/x.png"},
        {"generator": "remove_background", "sources": "image_url"},
    )
    img = Image.open(io.BytesIO(done.outputs[0].data))
    assert img.mode == "RGBA"
    assert img.getpixel((2, 2))[3] == 0 and img.getpixel((100, 50))[3] == 255


def test_audio_driven_video_takes_the_audio_length_and_track(host):
    done = run(
        "video",
        {"image_url": f"{host.url}/face.png", "audio_url": f"{host.url}/voice.mp3"},
        {"generator": "video", "images": "image_url", "audio_source": "audio_url"},
    )
    info = media.probe(done.outputs[0].data)
    assert abs(info.duration - 3.0) < 0.15 and info.has_audio  # the sample voice is 3 s long
    track = media.decode_audio(done.outputs[0].data)
    assert abs(len(track) / media.SAMPLE_RATE - 3.0) < 0.15


def test_video_companions_cover_last_frame_ids_and_sources(host):
    url = f"{host.url}/first.png"
    done = run(
        "video",
        {"image_url": url, "duration_seconds": 1},
        {
            "generator": "video",
            "images": "image_url",
            "cover_image": True,
            "last_frame": True,
            "item_ids": True,
            "sources_from": ["image_url"],
        },
    )
    kinds = [o.kind for o in done.outputs]
    assert kinds == ["videos", "images", None]
    assert done.outputs[0].meta["id"] and done.extra["last_frame_image_url"] == {"$file": 2}
    assert done.extra["sources"] == [{"url": url}]
    last = Image.open(io.BytesIO(done.outputs[2].data))
    assert last.size == (media.probe(done.outputs[0].data).width, media.probe(done.outputs[0].data).height)
