"""Suno sandbox plumbing shared by the generators: ids and seeds, decoding inputs, the referenced tasks'
tracks and the per-account track index (so a track can be named by `audio_id` alone)."""

from __future__ import annotations

import json
import random
import re
import uuid
from typing import Any

import numpy as np

from ....catalog.sandbox_schema import SunoMusicSpec, SunoSoundSpec
from ....domain.task import Task
from ...base import TaskFailed, TaskInput
from .. import images, limits, media
from ..base import Inputs, task_seed
from ..dsp import SR

NAMESPACE = uuid.UUID("7f6b1c52-3d0e-4f8a-9b1d-5c2e8a4f9d31")


UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


INDEX_PREFIX = "suno/audios/"


MAX_UPLOAD_SECONDS = 480  # "最长 8 分钟" for uploaded audio


TRACKS_PER_TASK = 2


def _sid(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(str(p) for p in parts)))


def _audio_id(task: TaskInput, index: int) -> str:
    return _sid("audio", task_seed(task, 1000 + index).hex())


def _rng(seed: bytes) -> random.Random:
    return random.Random(seed)


def _sub(seed: bytes, *parts: object) -> bytes:
    return images.seed_bytes(seed.hex(), *parts)


def _decode(data: bytes, what: str = "audio") -> np.ndarray:
    try:
        samples = media.decode_audio(data, limit_seconds=MAX_UPLOAD_SECONDS + 60)
    except Exception as exc:  # not a decodable media file
        raise TaskFailed(f"Failed to read the {what}: not a supported audio file") from exc
    if len(samples) < SR // 10:
        raise TaskFailed(f"Failed to read the {what}: it contains no audio")
    return samples


def _seconds(samples: np.ndarray) -> float:
    return round(len(samples) / SR, 2)


async def _stored(inputs: Inputs, ref: Any, what: str = "source audio") -> bytes:
    key = ref.get("$key") if isinstance(ref, dict) else None
    data = await inputs.storage.read(key) if key and inputs.storage else None
    if data is None:
        raise TaskFailed(f"The {what} is no longer available")
    return data


def _row_tracks(row: Task) -> list[dict[str, Any]]:
    extra = (row.result or {}).get("extra") or {}
    tracks = [t for t in extra.get("audios") or [] if isinstance(t, dict)]
    if isinstance(extra.get("track"), dict):
        tracks.append(extra["track"])
    return tracks


def _ref(task: TaskInput, param: str = "task_id") -> Task:
    row = task.refs.get(param)
    if row is None:
        raise TaskFailed(f"{param} does not name a completed task of this account")
    return row


async def _track(
    inputs: Inputs, task: TaskInput, audio_id: str | None, param: str = "task_id"
) -> tuple[dict[str, Any], np.ndarray, Task]:
    """The track `audio_id` of the task named by `param` (its first track when audio_id is None)."""
    row = _ref(task, param)
    tracks = _row_tracks(row)
    chosen = next((t for t in tracks if audio_id is None or t.get("id") == audio_id), None)
    if chosen is None:
        if not tracks:
            raise TaskFailed(f"Task {row.id} has no audio tracks")
        raise TaskFailed(f"audio_id {audio_id} is not a track of task {row.id}")
    data = await _stored(inputs, chosen.get("audio_url"))
    samples = await limits.run(_decode, data, "source audio")
    return chosen, samples, row


async def _upload(inputs: Inputs, url: str, what: str = "upload_url audio") -> np.ndarray:
    data = await inputs.fetch(url, what="audio")
    samples = await limits.run(_decode, data, what)
    if len(samples) > MAX_UPLOAD_SECONDS * SR:
        raise TaskFailed(f"The {what} is longer than 8 minutes")
    return samples


def _public(track: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in track.items() if k not in ("audio_url", "stream_audio_url", "image_url")}


def _index_key(task: TaskInput, audio_id: str) -> str:
    """Per account: a track id names only tracks the caller's own account produced."""
    return f"{INDEX_PREFIX}{task.account_id}/{audio_id.lower()}"


async def _index(inputs: Inputs, task: TaskInput, meta: dict[str, Any], mp3: bytes) -> None:
    """Remember a produced track under its id, so that it can later be named by audio_id alone."""
    if inputs.storage is None:
        return
    key = _index_key(task, meta["id"])
    await inputs.storage.put(key + ".mp3", mp3, "audio/mpeg")
    await inputs.storage.put(key + ".json", json.dumps(meta, ensure_ascii=False).encode(), "application/json")


async def _indexed(inputs: Inputs, task: TaskInput, audio_id: str) -> tuple[dict[str, Any], np.ndarray]:
    if not UUID_RE.match(audio_id or "") or inputs.storage is None:
        raise TaskFailed(f"Unknown audio_id {audio_id}")
    meta_raw = await inputs.storage.read(_index_key(task, audio_id) + ".json")
    audio = await inputs.storage.read(_index_key(task, audio_id) + ".mp3")
    if meta_raw is None or audio is None:
        raise TaskFailed(f"Unknown audio_id {audio_id}")
    meta = json.loads(meta_raw.decode("utf-8"))
    samples = await limits.run(_decode, audio, "source audio")
    return meta, samples


def _model_name(task: TaskInput, spec: SunoMusicSpec | SunoSoundSpec) -> str:
    return str(spec.model_name or (task.model.id if task.model else "chirp-v4-5"))


def _max_seconds(spec: SunoMusicSpec | SunoSoundSpec) -> float:
    return spec.max_seconds  # its default is MAX_UPLOAD_SECONDS (the catalog cannot import it)


def _song_seconds(seed: bytes, spec: SunoMusicSpec, words: int = 0) -> float:
    """Sandbox song length: `song_seconds` [30, 45] by seed, longer for long exact lyrics (≤ `max_song`)."""
    lo, hi = spec.song_seconds
    base: float = lo + (int.from_bytes(_sub(seed, "len")[:4], "big") % (int(hi - lo) * 10 + 1)) / 10
    return min(max(base, words * 0.5 + 12), spec.max_song, _max_seconds(spec))
