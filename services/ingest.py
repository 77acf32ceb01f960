"""The one path every new audio item takes (direct upload, two-step upload,
text to speech, later podcast episodes): sniff → check the quota → normalise
to MP3 → store → record.

Whatever fails, nothing is left behind: the scratch directory goes with the
request, and a stored object whose record could not be written is deleted.

Normalising is the one CPU-heavy thing the service does, and audio is cheap to
make large (a few MB of FLAC silence decode to hours). So each member has a
storage quota, checked against the length the headers promise before any
decoding and against the real size after; and at most `max_transcodes`
normalisations run at once in a process, each in a thread of lowered priority,
so one upload cannot starve the family's other requests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.audio import TARGET_BITRATE, AudioError, UnreadableAudio, UnsupportedAudio
from core.errors import BackendUnavailable, Invalid, TooLarge, Unsupported
from core.ports import AudioRepository, AudioStorage, Transcoder
from core.records import AudioItem, new_id
from core.settings import Settings
from core.storage_keys import audio_key

ACCEPTED = "MP3, M4A/AAC, WAV, FLAC or OGG"
TITLE_MAX = 200
# A normalising thread yields to request threads (Linux thread niceness).
TRANSCODE_NICENESS = 10


@dataclass(frozen=True)
class IngestLimits:
    max_duration_s: float
    quota_bytes: int
    bitrate: int
    max_transcodes: int
    wait_s: float

    @classmethod
    def of(cls, settings: Settings) -> IngestLimits:
        return cls(
            max_duration_s=settings.max_audio_minutes * 60,
            quota_bytes=settings.storage_quota_bytes,
            bitrate=TARGET_BITRATE,
            max_transcodes=settings.max_concurrent_transcodes,
            wait_s=settings.transcode_wait_s,
        )


@dataclass(frozen=True)
class IngestPorts:
    """What bringing audio in needs: the library's records and bytes, the
    limits, the transcoder and the scratch space (`scratch_base`)."""

    audio: AudioRepository
    storage: AudioStorage
    limits: IngestLimits
    transcoder: Transcoder
    scratch: Path


@contextmanager
def scratch_dir(base: Path) -> Iterator[Path]:
    """A private directory for one request's files under `base`, removed afterwards."""
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="ingest-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def scratch_base(settings: Settings) -> Path:
    """Under the data dir locally (same disk as the library), /tmp on Lambda."""
    return Path(tempfile.gettempdir()) if settings.use_aws else settings.data_dir / "tmp"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def title_from(title: str | None, filename: str | None) -> str:
    """The given title, else the file name without extension, else 'Untitled'
    (cut to the longest title the API accepts)."""
    for candidate in (title, Path(filename).stem if filename else None):
        if candidate and candidate.strip():
            return candidate.strip()[:TITLE_MAX]
    return "Untitled"


# --------------------------------------------------------------------------- quota


def quota_left(audio: AudioRepository, owner: str, quota_bytes: int) -> int:
    return max(0, quota_bytes - audio.usage(owner).bytes)


def _over_quota(left: int, needed: int, quota_bytes: int) -> TooLarge:
    return TooLarge(
        f"this would pass your storage quota of {quota_bytes // (1024 * 1024)} MB: "
        f"{left // (1024 * 1024)} MB left, the audio needs about {max(1, needed // (1024 * 1024))} MB",
        quota_left_bytes=left,
    )


# --------------------------------------------------------------------------- normalising, bounded


_gate_lock = threading.Lock()
_gates: dict[int, threading.BoundedSemaphore] = {}


def _gate(slots: int) -> threading.BoundedSemaphore:
    with _gate_lock:
        gate = _gates.get(slots)
        if gate is None:
            gate = _gates[slots] = threading.BoundedSemaphore(max(1, slots))
        return gate


@contextmanager
def _transcode_slot(limits: IngestLimits) -> Iterator[None]:
    gate = _gate(limits.max_transcodes)
    if not gate.acquire(timeout=limits.wait_s):
        raise BackendUnavailable(
            "the server is busy converting other audio; try again in a minute", headers={"Retry-After": "30"}
        )
    me = threading.get_native_id()
    before: int | None = None
    with contextlib.suppress(OSError, AttributeError):
        before = os.getpriority(os.PRIO_PROCESS, me)
        os.setpriority(os.PRIO_PROCESS, me, before + TRANSCODE_NICENESS)
    try:
        yield
    finally:
        # Raising a thread's priority back needs privileges; a pool thread that
        # keeps the lower one only ever serves slower, never wrongly.
        if before is not None:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, me, before)
        gate.release()


def normalise_unregistered(ports: IngestPorts, src: Path, dst: Path, *, max_duration_s: float) -> float:
    """Normalise `src` to our MP3 layout without registering it, in one of the
    bounded transcode slots (a podcast episode over the per-track limit, to be
    split into parts that then come through `ingest`); returns its seconds."""
    limits, transcoder = ports.limits, ports.transcoder
    if transcoder.sniff(src) is None:
        raise Unsupported(f"this is not an audio file we accept ({ACCEPTED})")
    try:
        with _transcode_slot(limits):
            facts = transcoder.normalize(src, dst, max_duration_s=max_duration_s, bitrate=limits.bitrate)
        return float(facts.duration_s)
    except UnsupportedAudio as exc:
        raise Unsupported(f"this is not an audio file we accept ({ACCEPTED}): {exc}") from None
    except UnreadableAudio as exc:
        raise Invalid(f"the audio could not be read: {exc}") from None


def ingest(ports: IngestPorts, src: Path, *, owner: str, title: str, source: str = "upload") -> AudioItem:
    """Normalise `src` and register it: `Unsupported` not audio, `Invalid`
    unreadable or too long, `TooLarge` over the owner's quota."""
    audio, storage, limits, transcoder = ports.audio, ports.storage, ports.limits, ports.transcoder
    if transcoder.sniff(src) is None:
        raise Unsupported(f"this is not an audio file we accept ({ACCEPTED})")
    left = quota_left(audio, owner, limits.quota_bytes)
    with contextlib.suppress(AudioError, OSError):
        promised = transcoder.probe(src).duration_s * limits.bitrate / 8
        if promised > left:
            raise _over_quota(left, int(promised), limits.quota_bytes)
    item_id = new_id()
    dst = src.parent / f"{item_id}.mp3"
    try:
        with _transcode_slot(limits):
            facts = transcoder.normalize(src, dst, max_duration_s=limits.max_duration_s, bitrate=limits.bitrate)
    except UnsupportedAudio as exc:
        raise Unsupported(f"this is not an audio file we accept ({ACCEPTED}): {exc}") from None
    except UnreadableAudio as exc:
        raise Invalid(f"the audio could not be read: {exc}") from None
    if facts.size_bytes > left:
        raise _over_quota(left, facts.size_bytes, limits.quota_bytes)
    key = audio_key(item_id)
    info = storage.put_file(key, dst, "audio/mpeg")
    item = AudioItem(
        id=item_id,
        owner=owner,
        title=title,
        storage_key=key,
        size_bytes=info.size,
        duration_s=round(float(facts.duration_s), 3),
        format="mp3",
        source=source,
        loudness_in_lufs=_rounded(facts.loudness_in_lufs),
        loudness_lufs=_rounded(facts.loudness_lufs),
        peak_dbfs=_rounded(facts.peak_dbfs),
        gain_db=_rounded(facts.gain_db),
    )
    try:
        audio.add(item)
    except BaseException:
        storage.delete(key)
        raise
    return item
