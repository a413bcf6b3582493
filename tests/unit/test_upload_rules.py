"""The pure rules behind OpenAI-style uploads and file inputs: what an upload may declare, whether a part fits,
the order a completion names, file ids and content links named as task inputs."""

import pytest

from runapi import files_policy
from runapi.catalog.model import Param
from runapi.catalog.validation import _check_url
from runapi.errors import BadRequest, MissingParameter, RunapiError, TooLarge
from runapi.storage.multipart import Upload
from runapi.storage.upload_rules import (
    MAX_PARTS,
    PART_MAX_BYTES,
    Received,
    UploadStatus,
    check_part,
    declared,
    part_order,
    purpose,
    same_order,
)
from runapi.tasks.file_inputs import file_named

FILE_ID = "file_" + "a" * 32
BASE = "https://api.example.com"


MISSING = object()


def body(**over):
    b = {"bytes": 100, "filename": "cat.png", "mime_type": "image/png", "purpose": "user_data", **over}
    return {k: v for k, v in b.items() if v is not MISSING}


def test_declared_accepts_what_the_sdks_send():
    d = declared(body(mime_type="Image/PNG"))
    assert (d.bytes, d.filename, d.mime_type, d.purpose) == (100, "cat.png", "image/png", "user_data")
    assert declared(body(mime_type="pdf")).mime_type == "pdf"  # OpenAI's own example; the bytes decide the type


@pytest.mark.parametrize(
    ("over", "error", "text"),
    [
        ({"bytes": MISSING}, MissingParameter, "bytes"),
        ({"bytes": 0}, BadRequest, "positive"),
        ({"bytes": True}, BadRequest, "positive"),
        ({"bytes": "100"}, BadRequest, "positive"),
        ({"bytes": files_policy.LOCAL_MAX_BYTES + 1}, TooLarge, "maximum file size"),
        ({"filename": ""}, MissingParameter, "filename"),
        ({"filename": "a\nb"}, BadRequest, "printable"),
        ({"filename": "x" * 256}, BadRequest, "255"),
        ({"mime_type": MISSING}, MissingParameter, "mime_type"),
        ({"mime_type": "image/png; x=<script>"}, BadRequest, "MIME"),
        ({"purpose": MISSING}, MissingParameter, "purpose"),
        ({"purpose": "anything"}, BadRequest, "Allowed values"),
    ],
)
def test_declared_refusals_name_the_field(over, error, text):
    with pytest.raises(error) as info:
        declared(body(**over))
    assert text in info.value.message


def test_declared_needs_an_object():
    with pytest.raises(BadRequest):
        declared([1, 2])


def test_purposes_are_openais():
    for p in ("assistants", "batch", "fine-tune", "vision", "user_data", "evals"):
        assert purpose(p) == p
    with pytest.raises(MissingParameter):
        purpose(" ")


def test_a_part_must_fit_the_declared_size():
    check_part(Received(100, 40, 1), 60)  # exactly the rest
    with pytest.raises(TooLarge) as info:
        check_part(Received(100, 40, 1), 61)
    assert info.value.code == "upload_too_large" and "101 bytes" in info.value.message
    with pytest.raises(BadRequest):
        check_part(Received(100, 0, 0), 0)
    with pytest.raises(TooLarge) as info:
        check_part(Received(10 * PART_MAX_BYTES, 0, 0), PART_MAX_BYTES + 1)
    assert info.value.code == "part_too_large"
    with pytest.raises(BadRequest) as info:
        check_part(Received(10**9, 10, MAX_PARTS), 1)
    assert info.value.code == "too_many_parts"


def test_part_order_is_the_clients_and_must_cover_the_declared_size():
    stored = {"part_a": 10, "part_b": 20, "part_c": 5}
    assert part_order(["part_b", "part_a"], stored, 30) == ["part_b", "part_a"]
    assert part_order(["part_c", "part_b", "part_a"], stored, 35) == ["part_c", "part_b", "part_a"]


@pytest.mark.parametrize(
    ("ids", "code", "text"),
    [
        (["part_a", "part_a"], "invalid_part_order", "listed twice"),
        (["part_a", "part_x"], "invalid_part_order", "not a part of this upload"),
        (["part_a"], "size_mismatch", "add up to 10 bytes"),
        ([], None, "at least one"),
        ("part_a", None, "array"),
        ([1], None, "array"),
    ],
)
def test_bad_part_lists_say_what_is_wrong(ids, code, text):
    with pytest.raises(BadRequest) as info:
        part_order(ids, {"part_a": 10, "part_b": 20}, 30)
    assert info.value.code == code and text in info.value.message


def test_missing_part_ids():
    with pytest.raises(MissingParameter):
        part_order(None, {}, 1)


def test_a_retried_completion_is_the_same_order():
    assert same_order(("a", "b"), ["a", "b"])
    assert not same_order(("a", "b"), ["b", "a"])
    assert not same_order(None, ["a"])


def test_an_upload_past_its_hour_reads_as_expired():
    up = Upload("upload_1", 1, None, FILE_ID, "a.png", "user_data", "image/png", 10, 0, 0,
                UploadStatus.PENDING, None, 0.0, 100.0)  # fmt: skip
    assert up.as_of(99.0).status is UploadStatus.PENDING
    assert up.as_of(100.0).status is UploadStatus.EXPIRED
    assert UploadStatus.COMPLETING.wire == "pending" and UploadStatus.CANCELLED.wire == "cancelled"


def test_file_ids_and_content_links_name_files():
    assert files_policy.is_file_id(FILE_ID) and not files_policy.is_file_id(FILE_ID + "0")
    assert file_named(FILE_ID, BASE) == FILE_ID
    assert file_named(f"{BASE}/v1/files/{FILE_ID}/content", BASE) == FILE_ID
    assert file_named(f"https://elsewhere.example/v1/files/{FILE_ID}/content", BASE) is None
    assert file_named(f"http://api.example.com/v1/files/{FILE_ID}/content", BASE) is None  # another origin
    assert file_named("https://example.com/cat.png", BASE) is None
    assert file_named("http://[", BASE) is None


def test_input_urls_take_file_ids_but_callbacks_do_not():
    source = Param("source_image_urls", type="array", items="string", format="url")
    callback = Param("callback_url", format="url")
    assert source.takes_input_file and not callback.takes_input_file
    _check_url("source_image_urls[0]", FILE_ID, source.takes_input_file)
    with pytest.raises(RunapiError) as info:
        _check_url("callback_url", FILE_ID, callback.takes_input_file)
    assert info.value.message == "Invalid value for callback_url: must be an http(s) URL"
    with pytest.raises(RunapiError) as info:
        _check_url("source_image_url", "file_nothex", True)
    assert "or a file id" in info.value.message
