"""A whole collection in at once: a ZIP (or one audio file) becomes items and playlists.

The request receives the archive, checks it whole (names, count, depth, and every
entry it will use expanded once under the size and ratio caps) and refuses it with
nothing kept; a good one is staged in storage and imported by an `import` run that
reports each file as it goes. Rules in docs/audio.md, "Import".
"""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from core.errors import Conflict, DomainError, Invalid, NotFound, TooLarge, Unsupported
from core.ports import AudioTags, Chapter, RunQueue, RunRepository, TagReader
from core.records import Run, User, new_id
from core.settings import Settings
from core.storage_keys import staging_key
from services import jobs, uploads
from services.card_content import UserLookup
from services.images import image_kind_and_size
from services.ingest import TITLE_MAX, IngestPorts, ingest, normalise_unregistered, quota_left, scratch_dir, title_from
from services.playlists import Playlists
from services.uploads import Started, UploadPorts

KIND = "import"
AUDIO_SUFFIXES = frozenset({".mp3", ".m4a", ".m4b", ".aac", ".wav", ".flac", ".ogg", ".oga", ".opus"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})
# What operating systems add to a folder; never imported, never reported.
_NOISE = frozenset({"__macosx", "thumbs.db", "desktop.ini"})
BOOK_MAX_S = 24 * 3600.0  # the longest audiobook cut into chapters
COVER_MAX_BYTES = 5 * 1024 * 1024
_CHUNK = 64 * 1024
REASON_MAX = 200  # a run's rows are one record: DynamoDB holds at most 400 KB of it
# An entry may expand past the ratio cap until it has produced this much (tiny files compress oddly).
RATIO_FLOOR_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ImportLimits:
    max_bytes: int
    max_files: int
    max_depth: int
    max_expanded_bytes: int
    max_ratio: float

    @classmethod
    def of(cls, settings: Settings) -> ImportLimits:
        return cls(
            max_bytes=settings.import_max_mb * 1024 * 1024,
            max_files=settings.import_max_files,
            max_depth=settings.import_max_depth,
            max_expanded_bytes=settings.import_max_expanded_mb * 1024 * 1024,
            max_ratio=settings.import_max_ratio,
        )


@dataclass(frozen=True)
class ImportPorts:
    """What an import needs: the ingest path, the playlists, the tag reader, the runs and their queue."""

    ingest: IngestPorts
    playlists: Playlists
    tags: TagReader
    runs: RunRepository
    queue: RunQueue
    users: UserLookup
    limits: ImportLimits
    max_tracks: int
    report_every_s: float = 1.0


# --------------------------------------------------------------------------- the archive's entries


@dataclass(frozen=True)
class Entry:
    info: zipfile.ZipInfo
    parts: tuple[str, ...]  # folders then the file name, the archive's own top folder left out

    @property
    def path(self) -> str:
        return "/".join(self.parts)

    @property
    def folder(self) -> tuple[str, ...]:
        return self.parts[:-1]

    @property
    def kind(self) -> str:
        suffix = Path(self.parts[-1]).suffix.lower()
        return "audio" if suffix in AUDIO_SUFFIXES else "image" if suffix in IMAGE_SUFFIXES else "other"


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """'Track 2' before 'Track 10'; case does not count."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text.casefold()) if p)


def _parts(raw: str) -> tuple[str, ...]:
    name = raw.replace("\\", "/")
    if "\x00" in name or name.startswith("/") or re.match(r"[A-Za-z]:", name):
        raise Invalid(f"the archive's entry {raw!r} names a place outside the import: nothing was imported")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise Invalid(f"the archive's entry {raw!r} names a place outside the import: nothing was imported")
    return parts


def _is_noise(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p.casefold() in _NOISE for p in parts)


def _bomb(info: zipfile.ZipInfo, limits: ImportLimits) -> TooLarge:
    return TooLarge(
        f"the archive's entry {info.filename!r} expands more than {limits.max_ratio:g} times "
        "(IMPORT_MAX_RATIO): a ZIP bomb is refused, nothing was imported"
    )


def _swells(limits: ImportLimits) -> TooLarge:
    return TooLarge(
        f"the archive expands more than {limits.max_ratio:g} times its own size (IMPORT_MAX_RATIO): "
        "a ZIP bomb is refused, nothing was imported"
    )


def _too_big(limits: ImportLimits) -> TooLarge:
    return TooLarge(
        f"the archive expands past {limits.max_expanded_bytes // (1024 * 1024)} MB (IMPORT_MAX_EXPANDED_MB): "
        "nothing was imported"
    )


def _swell_cap(limits: ImportLimits, archive_bytes: int) -> float:
    return limits.max_ratio * max(archive_bytes, RATIO_FLOOR_BYTES)


def plan(archive: zipfile.ZipFile, limits: ImportLimits, archive_bytes: int) -> list[Entry]:
    """The archive's files in import order (folders, then files, by name), checked from the
    directory: no name outside the import or link, at most `max_files` and `max_depth`, and
    what the headers declare within the caps (`archive_bytes`: the archive's real size).
    Reading checks the caps again (`Budget`): headers can lie."""
    files = [i for i in archive.infolist() if not i.is_dir()]
    if len(files) > limits.max_files:
        raise TooLarge(
            f"the archive holds {len(files)} files, more than {limits.max_files} (IMPORT_MAX_FILES): "
            "nothing was imported"
        )
    declared = 0
    entries: list[Entry] = []
    for info in files:
        parts = _parts(info.filename)
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise Invalid(f"the archive's entry {info.filename!r} is a symbolic link: nothing was imported")
        if len(parts) - 1 > limits.max_depth:
            raise Invalid(
                f"the archive's entry {info.filename!r} is {len(parts) - 1} folders deep, more than "
                f"{limits.max_depth} (IMPORT_MAX_DEPTH): nothing was imported"
            )
        if info.compress_size > archive_bytes:
            raise Invalid(f"the archive's entry {info.filename!r} has a damaged header: nothing was imported")
        declared += info.file_size
        if declared > limits.max_expanded_bytes:
            raise _too_big(limits)
        if declared > _swell_cap(limits, archive_bytes):
            raise _swells(limits)
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > limits.max_ratio * max(1, info.compress_size):
            raise _bomb(info, limits)
        if parts and not _is_noise(parts):
            entries.append(Entry(info, parts))
    tops = {e.parts[0] for e in entries}
    # A zipped folder of folders: its contents are the import (a folder of files alone stays a playlist).
    if len(tops) == 1 and all(len(e.parts) > 1 for e in entries) and any(len(e.parts) > 2 for e in entries):
        entries = [Entry(e.info, e.parts[1:]) for e in entries]
    return sorted(entries, key=lambda e: (tuple(natural_key(p) for p in e.folder), natural_key(e.parts[-1])))


class Budget:
    """The expanded bytes of one archive, counted while read: past the total, the archive's
    size times the ratio, or an entry's compressed size times the ratio, `TooLarge`."""

    def __init__(self, limits: ImportLimits, archive_bytes: int) -> None:
        self.limits = limits
        self.swell_cap = _swell_cap(limits, archive_bytes)
        self.total = 0

    def copy(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, out: BinaryIO | None) -> int:
        written = 0
        allowed = max(RATIO_FLOOR_BYTES, self.limits.max_ratio * max(1, info.compress_size))
        with archive.open(info) as src:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                self.total += len(chunk)
                if written > allowed:
                    raise _bomb(info, self.limits)
                if self.total > self.limits.max_expanded_bytes:
                    raise _too_big(self.limits)
                if self.total > self.swell_cap:
                    raise _swells(self.limits)
                if out is not None:
                    out.write(chunk)
        return written


def _used(entries: list[Entry]) -> Iterator[Entry]:
    return (e for e in entries if e.kind != "other" and not e.info.flag_bits & 0x1)


def survey(archive_path: Path, limits: ImportLimits) -> list[Entry]:
    """Check the archive whole before anything is kept: `plan`, then every entry the import
    will read expanded once under the caps (a broken entry is left for the run to skip)."""
    try:
        size = archive_path.stat().st_size
        with zipfile.ZipFile(archive_path) as archive:
            entries = plan(archive, limits, size)
            budget = Budget(limits, size)
            for entry in _used(entries):
                try:
                    budget.copy(archive, entry.info, None)
                except (zipfile.BadZipFile, NotImplementedError, EOFError, OSError):
                    continue
    except zipfile.BadZipFile as exc:
        raise Invalid(f"the archive could not be read: {exc}") from None
    if not any(e.kind == "audio" for e in entries):
        raise Invalid(f"the archive holds no audio file ({', '.join(sorted(AUDIO_SUFFIXES))})")
    return entries


def as_archive(src: Path, filename: str | None, dest: Path) -> Path:
    """`src` itself when it is a ZIP, else one audio file wrapped (stored) as a one-entry ZIP at `dest`."""
    if zipfile.is_zipfile(src):
        return src
    name = Path((filename or "").replace("\\", "/")).name or "audio"
    if Path(name).suffix.lower() not in AUDIO_SUFFIXES:
        raise Unsupported(f"send a ZIP of audio, or one audio file ({', '.join(sorted(AUDIO_SUFFIXES))})")
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as archive:
        archive.write(src, name)
    return dest


# --------------------------------------------------------------------------- starting


def start(ports: ImportPorts, user: User, upload: Path, filename: str | None) -> Run:
    """Check the upload (see `survey`), stage it and start its run: the run, queued, or
    finished when the queue hands it back (then it ran here)."""
    storage = ports.ingest.storage
    with scratch_dir(ports.ingest.scratch) as work:
        archive = as_archive(upload, filename, work / "one.zip")
        survey(archive, ports.limits)
        if quota_left(ports.ingest.audio, user.owner_id, ports.ingest.limits.quota_bytes) == 0:
            raise TooLarge("your storage quota is used up: delete something first", quota_left_bytes=0)
        run = jobs.new_run(KIND, new_id(), user.owner_id, "manual")
        key = staging_key(run.id)
        storage.put_file(key, archive, "application/zip")
    try:
        queued = jobs.start(ports.runs, ports.queue, run)
    except BaseException:
        storage.delete(key)
        raise
    if queued:
        return run
    return jobs.execute(ports.runs, {KIND: lambda r: run_import(ports, r)}, run.id)


def start_upload(
    ports: ImportPorts, uploads_ports: UploadPorts, user: User, filename: str | None, size_bytes: int | None
) -> Started:
    """A signed target for an archive too large to come through the API (Lambda's payload
    limit): the two-step upload of `services.uploads`, capped at IMPORT_MAX_MB."""
    capped = replace(uploads_ports, max_bytes=ports.limits.max_bytes)
    return uploads.start(capped, user, filename=filename, size_bytes=size_bytes)


def complete_upload(ports: ImportPorts, uploads_ports: UploadPorts, user: User, upload_id: str) -> Run:
    """Claim the sent archive (once, as `uploads.complete` does), then `start` it; the
    staged bytes go whether it is refused or not."""
    pending = uploads.pending_of(uploads_ports.uploads, upload_id, user)
    claim = f"upload-complete:{pending.id}"
    if uploads_ports.counters.add(claim, 1, ttl_s=uploads_ports.claim_ttl_s) > 1:
        raise Conflict("this upload is already being completed")
    storage = ports.ingest.storage
    try:
        try:
            info = storage.head(pending.storage_key)
        except NotFound:
            raise Conflict("no bytes have been sent to this upload's target yet") from None
        try:
            if info.size > pending.max_bytes:
                raise uploads.too_large(pending.max_bytes)
            with scratch_dir(ports.ingest.scratch) as work:
                storage.download_to(pending.storage_key, work / "upload")
                return start(ports, user, work / "upload", pending.filename)
        finally:
            storage.delete(pending.storage_key)
            uploads_ports.uploads.delete(pending.id)
    finally:
        uploads_ports.counters.reset(claim)


# --------------------------------------------------------------------------- the run


@dataclass
class _Progress:
    """The run's rows, saved at most every `report_every_s` (each save rewrites them all)."""

    ports: ImportPorts
    run_id: str
    rows: list[dict[str, object]]
    last: float = 0.0

    def set(self, index: int, **row: object) -> None:
        if isinstance(row.get("reason"), str):
            row["reason"] = str(row["reason"])[:REASON_MAX]
        self.rows[index] = {**self.rows[index], **row}
        if time.monotonic() - self.last >= self.ports.report_every_s:
            self.save()

    def save(self) -> None:
        jobs.report(self.ports.runs, self.run_id, list(self.rows))
        self.last = time.monotonic()


def _chunks(name: str, ids: list[str], size: int) -> Iterator[tuple[str, list[str]]]:
    count = (len(ids) + size - 1) // size
    for n in range(count):
        label = name if count == 1 else f"{name}, part {n + 1}"
        yield label[:TITLE_MAX], ids[n * size : (n + 1) * size]


def _playlists(ports: ImportPorts, user: User, name: str, ids: list[str]) -> list[str]:
    made = []
    for label, chunk in _chunks(name, ids, ports.max_tracks):
        made.append(ports.playlists.create(user, label, chunk).playlist.id)
    return made


def _chapter_title(book: str, chapter: Chapter, n: int) -> str:
    return title_from(chapter.title or f"{book}, Chapter {n}", None)


def _book(ports: ImportPorts, src: Path, work: Path, owner: str, book: str, tags: AudioTags) -> list[str]:
    """An audiobook with chapter marks: one item per chapter, in order; the ids made."""
    whole = work / "book.mp3"
    normalise_unregistered(ports.ingest, src, whole, max_duration_s=BOOK_MAX_S)
    parts = ports.ingest.transcoder.cut(whole, work, [c.start_s for c in tags.chapters[1:]])
    if len(parts) != len(tags.chapters):
        raise Invalid(f"its {len(tags.chapters)} chapter marks could not be cut apart ({len(parts)} parts)")
    made: list[str] = []
    for n, (chapter, part) in enumerate(zip(tags.chapters, parts, strict=True), start=1):
        made.append(ingest(ports.ingest, part, owner=owner, title=_chapter_title(book, chapter, n), source="import").id)
        part.unlink(missing_ok=True)
    return made


def _cover_row(data: bytes, folder: str) -> dict[str, object]:
    if len(data) > COVER_MAX_BYTES:
        raise TooLarge(f"a cover may be at most {COVER_MAX_BYTES // (1024 * 1024)} MB")
    image_kind_and_size(data)
    where = f"the playlist {folder!r}" if folder else "the import"
    return {
        "status": "skipped",
        "reason": f"the cover of {where}: playlists keep no cover image yet (set one on its card instead)",
    }


def run_import(ports: ImportPorts, run: Run) -> jobs.Outcome:
    """Import the staged archive of `run` file by file (see the module docstring)."""
    storage = ports.ingest.storage
    key = staging_key(run.id)
    try:
        user = ports.users.get_user(run.owner)
        with scratch_dir(ports.ingest.scratch) as work:
            try:
                storage.download_to(key, work / "import.zip")
            except NotFound:
                return jobs.Outcome("failed", "the archive is gone (the run was started twice, or it expired)")
            return _import(ports, run, user, work)
    finally:
        storage.delete(key)


def _import(ports: ImportPorts, run: Run, user: User, work: Path) -> jobs.Outcome:
    size = (work / "import.zip").stat().st_size
    with zipfile.ZipFile(work / "import.zip") as archive:
        entries = plan(archive, ports.limits, size)
        used = {id(e) for e in _used(entries)}
        rows: list[dict[str, object]] = [
            {"path": e.path, "kind": e.kind, "status": "waiting"}
            if id(e) in used
            else {"path": e.path, "kind": e.kind, "status": "skipped", "reason": _why_not(e)}
            for e in entries
        ]
        progress = _Progress(ports, run.id, rows)
        progress.save()
        budget = Budget(ports.limits, size)
        folders: dict[tuple[str, ...], list[str]] = {}
        books = playlists = items = 0
        for index, entry in enumerate(entries):
            if rows[index]["status"] != "waiting":
                continue
            dest = work / f"entry-{index}{Path(entry.parts[-1]).suffix.lower()}"
            try:
                with open(dest, "wb") as out:
                    budget.copy(archive, entry.info, out)
                if entry.kind == "image":
                    progress.set(index, **_cover_row(dest.read_bytes(), " / ".join(entry.folder)))
                    continue
                tags = ports.tags.read(dest)
                name = Path(entry.parts[-1]).stem
                if len(tags.chapters) >= 2:
                    book = title_from(tags.title or tags.album, entry.parts[-1])
                    ids = _book(ports, dest, work, run.owner, book, tags)
                    made = _playlists(ports, user, book, ids)
                    books, playlists, items = books + 1, playlists + len(made), items + len(ids)
                    progress.set(index, status="ok", title=book, item_ids=ids, playlist_ids=made)
                    continue
                item = ingest(ports.ingest, dest, owner=run.owner, title=title_from(tags.title, name), source="import")
                items += 1
                if entry.folder:
                    folders.setdefault(entry.folder, []).append(item.id)
                progress.set(index, status="ok", title=item.title, item_id=item.id)
            except (DomainError, zipfile.BadZipFile, NotImplementedError, EOFError, OSError) as exc:
                progress.set(index, status="skipped", reason=_reason(exc))
            finally:
                dest.unlink(missing_ok=True)
    for folder, ids in folders.items():
        made = _playlists(ports, user, " / ".join(folder), ids)
        playlists += len(made)
        rows.append({"path": "/".join(folder), "kind": "playlist", "status": "ok", "playlist_ids": made})
    jobs.report(ports.runs, run.id, list(rows))
    skipped = sum(1 for r in rows if r["status"] == "skipped" and r["kind"] == "audio")
    audio = sum(1 for r in rows if r["kind"] == "audio")
    detail = (
        f"{audio - skipped} of {audio} audio files imported: {items} items, {playlists} playlists"
        + (f" ({books} audiobooks by chapter)" if books else "")
        + (f"; {skipped} skipped, each with its reason" if skipped else "")
    )
    status = "failed" if items == 0 else "partial" if skipped else "ok"
    return jobs.Outcome(status, detail, rows)


def _why_not(entry: Entry) -> str:
    if entry.info.flag_bits & 0x1:
        return "the entry is encrypted"
    return f"not an audio file ({', '.join(sorted(AUDIO_SUFFIXES))}) or a cover image (PNG, JPEG)"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, DomainError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, NotImplementedError):
        return f"the entry's compression is not supported: {exc}"
    return f"the entry could not be read: {exc}"
