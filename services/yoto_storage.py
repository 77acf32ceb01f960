"""A card's audio put into Yoto's storage: each item sent once per account, all or nothing.

Every item's stored MP3 goes through Yoto's upload flow (`AudioUploader`);
what Yoto gives back is kept per account and item in the settings records,
so making a card again from the same items sends nothing. Tracks come back
only when every item is ready (docs/yoto.md, "Audio in Yoto's storage").
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from core.errors import DomainError, NotFound
from core.ports import AudioStorage, SettingsRepository, Transcoder
from core.records import AudioItem
from core.yoto.limits import Sized
from core.yoto.uploads import AudioUploader, Transcoded, UploadProgress
from services.long_audio import cut_quietly, part_title
from services.yoto_tokens import YotoTokenService

log = logging.getLogger(__name__)


def held_key(account: str, item_id: str) -> str:
    return f"yoto-media:{account}:{item_id}"


@dataclass(frozen=True)
class TrackProgress:
    """One item's upload as it goes: its position on the card, our phase and percent."""

    index: int
    item_id: str
    title: str
    phase: str  # hashing | uploading | transcoding | complete | held (nothing to send)
    percent: int


@dataclass(frozen=True)
class YotoStoragePorts:
    """`gate` (shared by every call, built once by the root: `card_uploads.upload_gate`) bounds
    the family's uploads running at once, across processes, to `at_once`: its share of Yoto."""

    storage: AudioStorage
    uploader: AudioUploader
    settings: SettingsRepository
    tokens: YotoTokenService
    scratch: Path
    gate: contextlib.AbstractContextManager[object]
    at_once: int = 2
    transcoder: Transcoder | None = None  # cuts an item longer than `track_limit_s` into parts
    track_limit_s: float = 3600.0


class TrackNotReady(DomainError):
    """One item could not be put into Yoto's storage; the message names its track and why."""


def held(ports: YotoStoragePorts, account: str, item: AudioItem) -> Transcoded | None:
    """What Yoto gave back for this item and account, if it was sent before (and is still the same bytes)."""
    try:
        body = ports.settings.get(held_key(account, item.id))
    except NotFound:
        return None
    try:
        found = Transcoded(**body)
    except TypeError:
        log.warning("the Yoto media record of item %s is unreadable; sending the item again", item.id)
        return None
    return found if body.get("file_size") and found.sha256 else None


def _held_parts(ports: YotoStoragePorts, account: str, item: AudioItem) -> tuple[Transcoded, ...] | None:
    try:
        body = ports.settings.get(held_key(account, item.id))
    except NotFound:
        return None
    try:
        parts = tuple(Transcoded(**part) for part in body["parts"])
    except (TypeError, KeyError):
        return None
    return parts or None


def too_long(ports: YotoStoragePorts, item: AudioItem) -> bool:
    return ports.transcoder is not None and (item.duration_s or 0.0) >= ports.track_limit_s


def planned(ports: YotoStoragePorts | None, item: AudioItem, title: str) -> list[Sized]:
    """What Yoto will hold for an item, for the limits: itself, or the parts an item too long
    for one track is cut into (each at most 55/60 of the limit; their count is what counts)."""
    seconds = item.duration_s or 0.0
    if ports is None or not too_long(ports, item):
        return [Sized(title, seconds, item.size_bytes)]
    n = math.ceil(seconds / (ports.track_limit_s * 50 / 60))
    return [Sized(part_title(title, i), seconds / n, item.size_bytes // n) for i in range(1, n + 1)]


def is_held(ports: YotoStoragePorts, account: str, item: AudioItem) -> bool:
    found = _held_parts(ports, account, item) if too_long(ports, item) else held(ports, account, item)
    return found is not None


def put_tracks(
    ports: YotoStoragePorts,
    account: str,
    items: Sequence[AudioItem],
    *,
    on_progress: Callable[[TrackProgress], None] | None = None,
) -> list[tuple[Transcoded, ...]]:
    """`put_items`, where an item longer than a track may last goes up as the parts it is
    cut into at its quiet moments (`services.long_audio`): each item's transcodes, in order."""
    long = [item for item in items if too_long(ports, item)]
    short = [item for item in items if not too_long(ports, item)]
    tell = on_progress or (lambda _p: None)
    index = {item.id: i for i, item in enumerate(items)}

    def renumbered(p: TrackProgress) -> None:
        tell(TrackProgress(index[p.item_id], p.item_id, p.title, p.phase, p.percent))

    got: dict[str, tuple[Transcoded, ...]] = {}
    done = put_items(ports, account, short, on_progress=renumbered) if short else []
    got.update({item.id: (one,) for item, one in zip(short, done, strict=True)})
    for item in long:
        got[item.id] = _put_long(ports, account, index[item.id], item, tell)
    return [got[item.id] for item in items]


def _put_long(
    ports: YotoStoragePorts, account: str, index: int, item: AudioItem, tell: Callable[[TrackProgress], None]
) -> tuple[Transcoded, ...]:
    found = _held_parts(ports, account, item)
    if found is not None:
        tell(TrackProgress(index, item.id, item.title, "held", 100))
        return found
    assert ports.transcoder is not None
    ports.scratch.mkdir(parents=True, exist_ok=True)
    work = ports.scratch / f"parts-{item.id}-{threading.get_ident()}"
    work.mkdir(exist_ok=True)
    try:
        local = ports.storage.local_path(item.storage_key)
        if local is None:
            local = work / f"{item.id}.mp3"
            ports.storage.download_to(item.storage_key, local)
        pieces = cut_quietly(ports.transcoder, local, work, item.duration_s or 0.0, limit_s=ports.track_limit_s)
        parts: list[Transcoded] = []
        for n, piece in enumerate(pieces, start=1):
            try:
                with ports.gate:
                    parts.append(_upload(ports, account, index, item, piece, f"{item.id}-part{n}.mp3", tell))
            except BaseException as exc:
                raise TrackNotReady(
                    f"track {index + 1} “{item.title}” (part {n} of {len(pieces)}) could not go to Yoto: {exc}"
                ) from exc
    finally:
        for leftover in work.iterdir():
            leftover.unlink(missing_ok=True)
        work.rmdir()
    ports.settings.put(held_key(account, item.id), {"parts": [asdict(p) for p in parts]})
    return tuple(parts)


def put_items(
    ports: YotoStoragePorts,
    account: str,
    items: Sequence[AudioItem],
    *,
    on_progress: Callable[[TrackProgress], None] | None = None,
) -> list[Transcoded]:
    """The transcode of each item, in order; items sent before are not sent again. The first
    item that fails raises `TrackNotReady` naming its track, after the others have finished
    (what they sent is kept, so a retry sends only what is missing)."""
    tell = on_progress or (lambda _p: None)
    results: list[Transcoded | BaseException | None] = [None] * len(items)

    def one(index: int, item: AudioItem) -> None:
        found = held(ports, account, item)
        if found is not None:
            tell(TrackProgress(index, item.id, item.title, "held", 100))
            results[index] = found
            return
        try:
            with ports.gate:
                done = _send(ports, account, index, item, tell)
        except BaseException as exc:
            results[index] = exc
            return
        ports.settings.put(held_key(account, item.id), asdict(done))
        results[index] = done

    workers = max(1, min(len(items), ports.at_once))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="yoto-upload") as pool:
        for future in [pool.submit(one, i, item) for i, item in enumerate(items)]:
            future.result()
    out: list[Transcoded] = []
    for index, (item, result) in enumerate(zip(items, results, strict=True)):
        if isinstance(result, BaseException):
            raise TrackNotReady(f"track {index + 1} “{item.title}” could not go to Yoto: {result}") from result
        assert result is not None
        out.append(result)
    return out


def _send(
    ports: YotoStoragePorts, account: str, index: int, item: AudioItem, tell: Callable[[TrackProgress], None]
) -> Transcoded:
    local = ports.storage.local_path(item.storage_key)
    with contextlib.ExitStack() as stack:
        if local is None:
            ports.scratch.mkdir(parents=True, exist_ok=True)
            local = ports.scratch / f"{item.id}.{item.format or 'mp3'}"
            stack.callback(local.unlink, missing_ok=True)
            ports.storage.download_to(item.storage_key, local)
        return _upload(ports, account, index, item, local, f"{item.id}.{item.format or 'mp3'}", tell)


def _upload(
    ports: YotoStoragePorts,
    account: str,
    index: int,
    item: AudioItem,
    local: Path,
    filename: str,
    tell: Callable[[TrackProgress], None],
) -> Transcoded:
    def progress(p: UploadProgress) -> None:
        tell(TrackProgress(index, item.id, item.title, p.phase, p.percent))

    content_type = "audio/mpeg" if filename.endswith(".mp3") else "application/octet-stream"
    return ports.tokens.call(
        account,
        lambda token: ports.uploader.upload(
            token, local, filename=filename, content_type=content_type, on_progress=progress
        ),
    )
