"""The sandbox's media are real files of the requested kind, size and duration, and processing is real."""

import asyncio
import io

import numpy as np
import pytest
from PIL import Image

from runapi.catalog import get_catalog
from runapi.catalog.sandbox_schema import parse_sandbox
from runapi.net.safe_http import safe_client
from runapi.providers.base import TaskInput
from runapi.providers.inputs import Inputs
from runapi.providers.sandbox import GENERATORS, media, samples

ACTION = get_catalog().action("nano_banana", "text_to_image")  # any action: generators read `spec` and params


def run(generator, params, spec, refs=None, storage=None):
    async def go():
        async with safe_client(allow_private=True) as http:
            task = TaskInput(id="t", action=ACTION, model=None, params=params, refs=refs or {})
            typed = parse_sandbox({"generator": generator, **spec}, "test")
            return await GENERATORS[generator](Inputs(http, storage, 50 << 20), task, typed)
    return asyncio.run(go())


@pytest.fixture
def host(recorder):
    def serve(m, path, h, b):
        ext = path.rsplit(".", 1)[-1]
        return 200, {}, samples.sample_bytes(ext)
    return recorder(serve)


@pytest.mark.parametrize("aspect,resolution,size", [
    ("16:9", "720p", (1280, 720)), ("9:16", "1080p", (1080, 1920)), ("1:1", "480p", (480, 480)),
])
def test_video_size_duration_and_audio(aspect, resolution, size):
    done = run("video", {"aspect_ratio": aspect, "output_resolution": resolution, "duration_seconds": 3,
                         "generate_audio": True}, {"generator": "video", "audio_param": "generate_audio"})
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


def test_video_without_audio_and_first_frame(host):
    done = run("video", {"image_url": f"{host.url}/first.png", "duration_seconds": "2s"},
               {"generator": "video", "images": "image_url", "default_resolution": "480p"})
    info = media.probe(done.outputs[0].data)
    assert not info.has_audio and abs(info.duration - 2.0) < 0.15
    assert info.height == 480 and abs(info.width / info.height - 640 / 480) < 0.02  # follows the image


def test_extend_appends_a_continuation(host):
    source_info = media.probe(samples.sample_bytes("mp4"))
    done = run("video_from_source", {"video_url": f"{host.url}/in.mp4", "duration_seconds": 2},
               {"generator": "video_from_source", "mode": "extend", "sources": "video_url"})
    info = media.probe(done.outputs[0].data)
    assert abs(info.duration - (source_info.duration + 2)) < 0.2
    assert (info.width, info.height) == (source_info.width, source_info.height) and info.has_audio


def test_upscale_resamples_to_the_requested_resolution(host):
    done = run("video_from_source", {"video_url": f"{host.url}/in.mp4", "output_resolution": "1080p"},
               {"generator": "video_from_source", "mode": "upscale", "sources": "video_url"})
    info = media.probe(done.outputs[0].data)
    assert (info.width, info.height) == (1920, 1080) and done.outputs[0].meta["resolution"] == "1080p"


def test_edit_keeps_length_and_changes_pixels(host):
    done = run("video_from_source", {"video_url": f"{host.url}/in.mp4", "prompt": "make it warmer"},
               {"generator": "video_from_source", "mode": "edit", "sources": "video_url"})
    original = next(media.decode_frames(samples.sample_bytes("mp4")))
    edited = next(media.decode_frames(done.outputs[0].data))
    assert original.shape == edited.shape
    assert np.abs(original.astype(int) - edited.astype(int)).mean() > 3
    assert abs(media.probe(done.outputs[0].data).duration - media.probe(samples.sample_bytes("mp4")).duration) < 0.2


def test_image_upscale_is_real_resampling(host):
    done = run("image_upscale", {"image_url": f"{host.url}/a.png", "upscale_factor": "4x"},
               {"generator": "image_upscale", "sources": "image_url", "factor_param": "upscale_factor"})
    img = Image.open(io.BytesIO(done.outputs[0].data))
    assert img.size == (640 * 4, 480 * 4)


def test_remove_background_makes_the_border_transparent(recorder):
    canvas = Image.new("RGB", (200, 100), (255, 255, 255))
    canvas.paste(Image.new("RGB", (60, 40), (200, 20, 20)), (70, 30))
    buf = io.BytesIO()
    canvas.save(buf, "PNG")
    host = recorder(lambda m, p, h, b: (200, {}, buf.getvalue()))
    done = run("remove_background", {"image_url": f"{host.url}/x.png"},
               {"generator": "remove_background", "sources": "image_url"})
    img = Image.open(io.BytesIO(done.outputs[0].data))
    assert img.mode == "RGBA"
    assert img.getpixel((2, 2))[3] == 0 and img.getpixel((100, 50))[3] == 255


@pytest.mark.parametrize("fmt", ["mp3", "wav"])
def test_audio_has_the_requested_length(fmt):
    data = media.encode_audio(b"s" * 32, 4.0, fmt)
    samples_ = media.decode_audio(data)
    assert abs(len(samples_) / media.SAMPLE_RATE - 4.0) < 0.1
    assert data[:4] == b"RIFF" if fmt == "wav" else data[:3] in (b"ID3",) or data[0] == 0xFF


def test_image_sizes_from_explicit_size_param():
    done = run("image", {"image_size": "1536x1024", "n": 2},
               {"generator": "image", "size_param": "image_size", "count_param": "n"})
    assert [Image.open(io.BytesIO(o.data)).size for o in done.outputs] == [(1536, 1024)] * 2
    done = run("image", {"image_size": "landscape_16_9"}, {"generator": "image", "size_param": "image_size"})
    w, h = Image.open(io.BytesIO(done.outputs[0].data)).size
    assert abs(w / h - 16 / 9) < 0.02


def test_audio_driven_video_takes_the_audio_length_and_track(host):
    done = run("video", {"image_url": f"{host.url}/face.png", "audio_url": f"{host.url}/voice.mp3"},
               {"generator": "video", "images": "image_url", "audio_source": "audio_url"})
    info = media.probe(done.outputs[0].data)
    assert abs(info.duration - 3.0) < 0.15 and info.has_audio  # the sample voice is 3 s long
    track = media.decode_audio(done.outputs[0].data)
    assert abs(len(track) / media.SAMPLE_RATE - 3.0) < 0.15


def test_video_companions_cover_last_frame_ids_and_sources(host):
    url = f"{host.url}/first.png"
    done = run("video", {"image_url": url, "duration_seconds": 1},
               {"generator": "video", "images": "image_url", "cover_image": True, "last_frame": True,
                "item_ids": True, "sources_from": ["image_url"]})
    kinds = [o.kind for o in done.outputs]
    assert kinds == ["videos", "images", None]
    assert done.outputs[0].meta["id"] and done.extra["last_frame_image_url"] == {"$file": 2}
    assert done.extra["sources"] == [{"url": url}]
    last = Image.open(io.BytesIO(done.outputs[2].data))
    assert last.size == (media.probe(done.outputs[0].data).width, media.probe(done.outputs[0].data).height)
