"""The one path every new audio item takes (direct upload, two-step upload,
text to speech): sniff → normalise to MP3 → store → record.

Whatever fails, nothing is left behind: the scratch directory goes with the
request, and a stored object whose record could not be written is deleted.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import HTTPException

from adapters import Adapters
from app.schemas import TITLE_MAX
from core.records import AudioItem, new_id

ACCEPTED = "MP3, M4A/AAC, WAV, FLAC or OGG"


def audio_key(item_id: str) -> str:
    return f"audio/{item_id}.mp3"


@contextmanager
def scratch_dir(adapters: Adapters) -> Iterator[Path]:
    """A private directory for one request's files, removed afterwards.

    Under the data dir locally (same disk as the library), /tmp on Lambda."""
    settings = adapters.settings
    base = Path(tempfile.gettempdir()) if settings.use_aws else settings.data_dir / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="ingest-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def ingest(adapters: Adapters, src: Path, *, owner: str, title: str, source: str = "upload") -> AudioItem:
    """Normalise `src` and register it; 415 not audio, 422 unreadable."""
    from app import transcode

    if transcode.sniff(src) is None:
        raise HTTPException(415, f"this is not an audio file we accept ({ACCEPTED})")
    item_id = new_id()
    dst = src.parent / f"{item_id}.mp3"
    try:
        facts = transcode.normalize(src, dst, max_duration_s=adapters.settings.max_audio_minutes * 60)
    except transcode.UnsupportedAudio as exc:
        raise HTTPException(415, f"this is not an audio file we accept ({ACCEPTED}): {exc}") from None
    except transcode.UnreadableAudio as exc:
        raise HTTPException(422, f"the audio could not be read: {exc}") from None
    key = audio_key(item_id)
    info = adapters.storage.put_file(key, dst, "audio/mpeg")
    item = AudioItem(
        id=item_id,
        owner=owner,
        title=title,
        storage_key=key,
        size_bytes=info.size,
        duration_s=round(float(facts.duration_s), 3),
        format="mp3",
        source=source,
    )
    try:
        adapters.records.audio.add(item)
    except BaseException:
        adapters.storage.delete(key)
        raise
    return item


def title_from(title: str | None, filename: str | None) -> str:
    """The given title, else the file name without extension, else 'Untitled'
    (cut to the longest title the API accepts)."""
    for candidate in (title, Path(filename).stem if filename else None):
        if candidate and candidate.strip():
            return candidate.strip()[:TITLE_MAX]
    return "Untitled"
