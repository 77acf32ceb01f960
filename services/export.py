"""A backup of everything the family owns, as one ZIP streamed while it is made.

Each audio item's object goes in as stored (`audio/<item id>.<format>`), hashed as it
passes; `manifest.json` comes last: the records of every exported kind (the migration's
`kinds.COPIED`, less what is not family content) and each file's size and SHA-256.
docs/migration.md 'Export' says what is in it, what is not, and why.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.codec import SCALARS, Conversion, RecordCodec, ids_tuple
from core.errors import Conflict, NotFound
from core.ports import AudioStorage, Records
from core.records import AudioItem, Card, Job, Playlist, Podcast, Routine, Story, utcnow
from core.settings import VERSION, Settings
from services.migration.kinds import COPIED, RecordKind

FORMAT = "yoto-smart-stream-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNK = 1024 * 1024
# The kinds a backup carries (by `Records` attribute) and their record types; the
# migration's other kinds (Yoto tokens, settings, player states) are secrets or the install's own.
RECORD_TYPES: dict[str, type] = {
    "audio": AudioItem,
    "playlists": Playlist,
    "cards": Card,
    "podcasts": Podcast,
    "routines": Routine,
    "stories": Story,
    "jobs": Job,
}
KINDS: tuple[RecordKind[Any], ...] = tuple(k for k in COPIED if k.repository in RECORD_TYPES)
if {k.repository for k in KINDS} != set(RECORD_TYPES):  # pragma: no cover - a kind renamed in the migration
    raise ImportError("services.export names a kind the migration no longer lists")

_JSON: dict[type, Conversion] = {
    **SCALARS,
    datetime: Conversion(lambda t: t.isoformat(), datetime.fromisoformat),
    tuple: Conversion(lambda ids: list(ids_tuple(ids)), tuple),
    dict: Conversion(dict, dict),
    list: Conversion(list, list),
}
CODECS: dict[str, RecordCodec[Any]] = {name: RecordCodec(t, _JSON) for name, t in RECORD_TYPES.items()}


def served_here(settings: Settings) -> None:
    """Backups are made and restored where the audio is a local file: never through Lambda."""
    if settings.use_aws:
        raise Conflict(
            "backups are not served on AWS (audio never passes through the Lambda): move the family to a laptop"
            " with `python -m app migrate --to-local`, export there; restore there, then migrate --to-aws"
        )


def archive_path(item: AudioItem) -> str:
    return f"audio/{item.id}.{item.format}"


@dataclass
class _Spout:
    """The write-only file the ZIP is written to; the generator takes what it holds after each write."""

    parts: list[bytes]

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def _stamp(moment: datetime) -> tuple[int, int, int, int, int, int]:
    t = moment if moment.year >= 1980 else datetime(1980, 1, 1)
    return (t.year, t.month, t.day, t.hour, t.minute, t.second)


def _chunks(storage: AudioStorage, key: str, size: int) -> Iterator[bytes]:
    path = storage.local_path(key)
    if path is not None:
        with open(path, "rb") as source:
            while chunk := source.read(CHUNK):
                yield chunk
        return
    for start in range(0, size, CHUNK):
        yield storage.read_range(key, start, min(size, start + CHUNK) - 1)


def snapshot(records: Records) -> dict[str, list[Any]]:
    """Every exported record, by kind, in id order."""
    return {k.repository: sorted(k.list_all(records), key=k.key) for k in KINDS}


def stream(records: Records, storage: AudioStorage, *, now: datetime | None = None) -> Iterator[bytes]:
    """The backup ZIP, in pieces of about `CHUNK` bytes; nothing is read before the first piece is asked for."""
    held = snapshot(records)
    spout = _Spout([])
    files: list[dict[str, Any]] = []
    missing: list[dict[str, str]] = []
    kept: list[AudioItem] = []
    with zipfile.ZipFile(spout, "w", allowZip64=True) as archive:  # type: ignore[arg-type]
        for item in held["audio"]:
            try:
                info = storage.head(item.storage_key)
            except NotFound:
                missing.append({"item_id": item.id, "storage_key": item.storage_key})
                continue
            entry = zipfile.ZipInfo(archive_path(item), date_time=_stamp(item.created_at))
            entry.compress_type = zipfile.ZIP_STORED
            entry.file_size = info.size
            digest = hashlib.sha256()
            written = 0
            with archive.open(entry, "w", force_zip64=info.size >= zipfile.ZIP64_LIMIT) as out:
                for chunk in _chunks(storage, item.storage_key, info.size):
                    digest.update(chunk)
                    written += len(chunk)
                    out.write(chunk)
                    yield spout.take()
            if written != info.size:
                raise OSError(f"{item.storage_key} changed while it was exported")
            files.append(
                {
                    "path": entry.filename,
                    "item_id": item.id,
                    "storage_key": item.storage_key,
                    "size": written,
                    "sha256": digest.hexdigest(),
                    "content_type": info.content_type,
                }
            )
            kept.append(item)
            yield spout.take()
        held["audio"] = kept
        body = manifest_bytes(held, files, missing, now or utcnow())
        entry = zipfile.ZipInfo(MANIFEST, date_time=_stamp(now or utcnow()))
        entry.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(entry, body)
    yield spout.take()


def manifest_bytes(
    held: dict[str, list[Any]], files: list[dict[str, Any]], missing: list[dict[str, str]], now: datetime
) -> bytes:
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "app_version": VERSION,
        "exported_at": now.isoformat(),
        "records": {name: [CODECS[name].dump(r) for r in rows] for name, rows in held.items()},
        "files": files,
        "missing": missing,
    }
    return json.dumps(manifest, ensure_ascii=False, allow_nan=False, sort_keys=True, indent=1).encode()
