"""Restoring a backup `services.export` made, into an empty or a populated install.

The archive is checked whole before anything is written: its entries (count, names,
declared and compressed sizes), the manifest, and each file's size and SHA-256. Then an
audio item whose bytes the install already holds is that item (matched by SHA-256); the
others keep their ids and storage keys where free; every other record is added unless
its id is taken. docs/migration.md 'Export' has the rules.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from core.errors import AlreadyExists, Invalid, NotFound, TooLarge
from core.ports import AudioStorage, Identity, Records
from core.records import AudioItem, new_id
from core.usernames import name_of
from services.export import CODECS, FORMAT, FORMAT_VERSION, KINDS, MANIFEST
from services.members import Members
from services.migration import objects
from services.migration.kinds import AUDIO

READ = 1024 * 1024
_AUDIO_ENTRY = re.compile(r"audio/[A-Za-z0-9][A-Za-z0-9_-]{0,127}\.[a-z0-9]{1,8}")
_STORAGE_KEY = re.compile(r"audio/[A-Za-z0-9][A-Za-z0-9_./-]{0,250}")
_MAX_MANIFEST = 64 * 1024 * 1024
_MAX_RATIO = 100  # expanded / compressed, for a compressed entry (the audio is stored, not compressed)


@dataclass(frozen=True)
class Limits:
    max_bytes: int  # the archive, and what its entries expand to
    max_files: int


@dataclass
class Outcome:
    added: dict[str, int] = field(default_factory=dict)
    there: dict[str, int] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)  # audio item id in the backup -> the install's
    kept_own: list[str] = field(default_factory=list)  # "<kind> <id>": the install's differing record stays
    unknown_owners: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # items the backup lists without their audio


class ArchiveSink:
    """Where an uploaded backup lands: a temporary file, refused past `max_bytes` while it arrives."""

    def __init__(self, max_bytes: int, scratch: Path | None = None) -> None:
        if scratch is not None:
            scratch.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="yss-backup-", dir=scratch)  # noqa: SIM115 - close()
        self._max = max_bytes
        self._size = 0

    def write(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._max:
            self.close()
            raise TooLarge(f"a backup may be at most {self._max} bytes (BACKUP_MAX_MB)")
        self._file.write(chunk)

    @property
    def file(self) -> IO[bytes]:
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        self._file.close()


# --------------------------------------------------------------------------- checking the archive


def _entries(archive: zipfile.ZipFile, limits: Limits) -> dict[str, zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > limits.max_files + 1:
        raise TooLarge(f"the backup has {len(infos)} entries; at most {limits.max_files} files are accepted")
    out: dict[str, zipfile.ZipInfo] = {}
    expanded = 0
    for info in infos:
        name = info.filename
        if name != MANIFEST and not _AUDIO_ENTRY.fullmatch(name):
            raise Invalid(f"the backup holds {name!r}, which no backup has (only {MANIFEST} and audio/<file>)")
        if name in out:
            raise Invalid(f"the backup holds {name} twice")
        if info.flag_bits & 0x1:
            raise Invalid(f"{name} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise Invalid(f"{name} is compressed with a method backups do not use")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise Invalid(f"{name}: its sizes disagree")
        if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > _MAX_RATIO * max(info.compress_size, 1):
            raise TooLarge(f"{name} expands more than {_MAX_RATIO} times: refused as a ZIP bomb")
        expanded += info.file_size
        if expanded > limits.max_bytes:
            raise TooLarge(f"the backup expands past {limits.max_bytes} bytes (BACKUP_MAX_MB)")
        out[name] = info
    if MANIFEST not in out:
        raise Invalid(f"the backup has no {MANIFEST}")
    if out[MANIFEST].file_size > _MAX_MANIFEST:
        raise TooLarge(f"{MANIFEST} is larger than {_MAX_MANIFEST} bytes")
    return out


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """An entry's bytes, never more than it declares (zipfile checks its CRC at the end)."""
    left = info.file_size
    try:
        with archive.open(info) as source:
            while chunk := source.read(READ):
                left -= len(chunk)
                if left < 0:
                    raise TooLarge(f"{info.filename} holds more than it declares")
                yield chunk
    except zipfile.BadZipFile as exc:
        raise Invalid(f"{info.filename} is damaged: {exc}") from None
    if left:
        raise Invalid(f"{info.filename} is shorter than it declares")


def _manifest(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, Any]:
    try:
        manifest = json.loads(b"".join(_read(archive, info)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid(f"{MANIFEST} is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Invalid(f"{MANIFEST} is not a yoto-smart-stream backup's")
    if manifest.get("version") != FORMAT_VERSION:
        raise Invalid(f"backup format version {manifest.get('version')!r}; this install reads {FORMAT_VERSION}")
    if not isinstance(manifest.get("records"), dict) or not isinstance(manifest.get("files"), list):
        raise Invalid(f"{MANIFEST} lacks its records or files")
    unknown = sorted(set(manifest["records"]) - set(CODECS))
    if unknown:
        raise Invalid(f"{MANIFEST} has records of kinds this install does not know: {', '.join(unknown)}")
    return manifest


def _decoded(manifest: dict[str, Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for kind in KINDS:
        rows = manifest["records"].get(kind.repository, [])
        if not isinstance(rows, list):
            raise Invalid(f"{MANIFEST}: {kind.repository} is not a list")
        records = []
        for n, row in enumerate(rows):
            try:
                record = CODECS[kind.repository].load(row)
                if not isinstance(getattr(record, "id", None), str) or not record.id:
                    raise ValueError("no id")
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise Invalid(f"{MANIFEST}: {kind.repository} #{n} is unreadable: {exc}") from None
            records.append(record)
        out[kind.repository] = records
    return out


@dataclass(frozen=True)
class _File:
    info: zipfile.ZipInfo
    sha256: str
    size: int
    content_type: str


def _files(
    archive: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo], manifest: dict[str, Any], items: list[AudioItem]
) -> dict[str, _File]:
    """Each item's file, checked against the manifest: every byte read and hashed."""
    ids = {i.id for i in items}
    by_item: dict[str, _File] = {}
    named = {MANIFEST}
    for n, row in enumerate(manifest["files"]):
        try:
            path, item_id, size, sha = row["path"], row["item_id"], row["size"], row["sha256"]
            content_type = str(row.get("content_type") or "audio/mpeg")
        except (KeyError, TypeError):
            raise Invalid(f"{MANIFEST}: file #{n} lacks its path, item_id, size or sha256") from None
        if path not in entries:
            raise Invalid(f"{MANIFEST} names {path!r}, which the backup does not hold")
        if item_id not in ids or item_id in by_item:
            raise Invalid(f"{MANIFEST}: {path} names item {item_id!r}, which it lists no record of (or twice)")
        info = entries[path]
        if info.file_size != size:
            raise Invalid(f"{path}: {info.file_size} bytes, the manifest says {size}")
        digest = hashlib.sha256()
        for chunk in _read(archive, info):
            digest.update(chunk)
        if digest.hexdigest() != sha:
            raise Invalid(f"{path}: its SHA-256 does not match the manifest (the file was changed or damaged)")
        named.add(path)
        by_item[item_id] = _File(info, sha, size, content_type)
    extra = sorted(set(entries) - named)
    if extra:
        raise Invalid(f"the backup holds files its manifest does not name: {', '.join(extra[:5])}")
    for item in items:
        if not _STORAGE_KEY.fullmatch(item.storage_key) or ".." in item.storage_key:
            raise Invalid(f"{MANIFEST}: audio item {item.id} has a storage key no install makes")
    return by_item


# --------------------------------------------------------------------------- restoring


class _Library:
    """The install's audio items by size, each one's SHA-256 worked out once when asked."""

    def __init__(self, records: Records, storage: AudioStorage) -> None:
        self._storage = storage
        self._by_size: dict[int, list[AudioItem]] = {}
        for item in AUDIO.list_all(records):
            self._by_size.setdefault(item.size_bytes, []).append(item)
        self._digests: dict[str, str | None] = {}

    def digest(self, key: str) -> str | None:
        if key not in self._digests:
            try:
                self._digests[key] = objects.sha256(self._storage, key)
            except NotFound:
                self._digests[key] = None
        return self._digests[key]

    def holding(self, sha: str, size: int) -> AudioItem | None:
        return next((i for i in self._by_size.get(size, []) if self.digest(i.storage_key) == sha), None)

    def add(self, item: AudioItem, sha: str) -> None:
        self._by_size.setdefault(item.size_bytes, []).append(item)
        self._digests[item.storage_key] = sha


def _free_id(records: Records, item_id: str) -> bool:
    try:
        records.audio.get(item_id)
        return False
    except NotFound:
        return True


def _audio(
    archive: zipfile.ZipFile,
    records: Records,
    storage: AudioStorage,
    items: list[AudioItem],
    files: dict[str, _File],
    scratch: Path | None,
    outcome: Outcome,
) -> dict[str, str]:
    library = _Library(records, storage)
    ids: dict[str, str] = {}
    for item in items:
        file = files.get(item.id)
        if file is None:
            outcome.missing.append(item.id)
            continue
        same = library.holding(file.sha256, file.size)
        if same is not None:
            ids[item.id] = same.id
            outcome.there["audio"] = outcome.there.get("audio", 0) + 1
            continue
        item_id = item.id if _free_id(records, item.id) else new_id()
        key = item.storage_key
        try:
            storage.head(key)
            if library.digest(key) != file.sha256:
                key = f"audio/{item_id}.{item.format}" if item_id != item.id else f"audio/{new_id()}.{item.format}"
        except NotFound:
            pass
        placed = replace(item, id=item_id, storage_key=key, size_bytes=file.size)
        _put(archive, storage, file, key, scratch)
        try:
            records.audio.add(placed)
        except AlreadyExists:
            placed = replace(placed, id=new_id())
            records.audio.add(placed)
        library.add(placed, file.sha256)
        ids[item.id] = placed.id
        if placed.id != item.id:
            outcome.renamed[item.id] = placed.id
        outcome.added["audio"] = outcome.added.get("audio", 0) + 1
    return ids


def _put(archive: zipfile.ZipFile, storage: AudioStorage, file: _File, key: str, scratch: Path | None) -> None:
    with tempfile.NamedTemporaryFile(prefix="yss-restore-", suffix=".part", dir=scratch, delete=False) as out:
        tmp = Path(out.name)
        for chunk in _read(archive, file.info):
            out.write(chunk)
    try:
        storage.put_file(key, tmp, file.content_type)
    finally:
        tmp.unlink(missing_ok=True)


def _remapped(kind: str, record: Any, ids: dict[str, str]) -> Any:
    """A record whose audio ids name the install's items (a reused or renamed item's id)."""

    def one(audio_id: Any) -> Any:
        return ids.get(audio_id, audio_id) if isinstance(audio_id, str) else audio_id

    if kind in ("playlists", "cards"):
        return replace(record, audio_ids=tuple(one(a) for a in record.audio_ids))
    if kind == "podcasts":
        held = [{**h, "audio_ids": [one(a) for a in h.get("audio_ids", [])]} for h in record.held]
        return replace(record, held=held)
    if kind == "stories":
        return replace(record, scenes=[{**s, "audio_id": one(s.get("audio_id"))} for s in record.scenes])
    return record


def member_test(identity: Identity, members: Members) -> Callable[[str], bool]:
    """Whether an owner (a member id) is a member of this install now."""

    def known(owner: str) -> bool:
        name = name_of(owner)
        try:
            identity.get_user(name)
            return members.id_of(name) == owner
        except NotFound:
            return False

    return known


def restore(
    records: Records,
    storage: AudioStorage,
    archive_file: IO[bytes],
    limits: Limits,
    *,
    scratch: Path | None = None,
    owner_known: Callable[[str], bool] | None = None,
) -> Outcome:
    """Check the whole backup, then bring in what the install lacks; a second restore adds nothing."""
    if scratch is not None:
        scratch.mkdir(parents=True, exist_ok=True)
    try:
        archive = zipfile.ZipFile(archive_file)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Invalid(f"the backup is not a ZIP archive: {exc}") from None
    with archive:
        entries = _entries(archive, limits)
        manifest = _manifest(archive, entries[MANIFEST])
        decoded = _decoded(manifest)
        files = _files(archive, entries, manifest, decoded["audio"])
        outcome = Outcome()
        if owner_known is not None:
            owners = {r.owner for rows in decoded.values() for r in rows}
            outcome.unknown_owners = sorted(o for o in owners if not owner_known(o))
        ids = _audio(archive, records, storage, decoded["audio"], files, scratch, outcome)
        for kind in (k for k in KINDS if k is not AUDIO):
            for record in decoded[kind.repository]:
                record = _remapped(kind.repository, record, ids)
                try:
                    present = kind.get(records, kind.key(record))
                except NotFound:
                    present = None
                if present is None:
                    try:
                        kind.add(records, record)
                        outcome.added[kind.repository] = outcome.added.get(kind.repository, 0) + 1
                        continue
                    except AlreadyExists:
                        present = kind.get(records, kind.key(record))
                outcome.there[kind.repository] = outcome.there.get(kind.repository, 0) + 1
                if present != record:
                    outcome.kept_own.append(f"{kind.repository} {kind.key(record)}")
    return outcome
