"""A card's audio put into Yoto's storage: each item sent once per account, all or nothing.

Every item's stored MP3 goes through Yoto's upload flow (`AudioUploader`);
what Yoto gives back is kept per account and item in the settings records,
so making a card again from the same items sends nothing. Tracks come back
only when every item is ready (docs/yoto.md, "Audio in Yoto's storage").
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from core.errors import DomainError, NotFound
from core.ports import AudioStorage, SettingsRepository
from core.records import AudioItem
from core.yoto.uploads import AudioUploader, Transcoded, UploadProgress
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
    """`gate` (shared by every call, built once by the root) bounds the uploads running at
    once in this process to `at_once`: the family's share of Yoto."""

    storage: AudioStorage
    uploader: AudioUploader
    settings: SettingsRepository
    tokens: YotoTokenService
    scratch: Path
    gate: threading.BoundedSemaphore
    at_once: int = 2


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
    def progress(p: UploadProgress) -> None:
        tell(TrackProgress(index, item.id, item.title, p.phase, p.percent))

    local = ports.storage.local_path(item.storage_key)
    with contextlib.ExitStack() as stack:
        if local is None:
            ports.scratch.mkdir(parents=True, exist_ok=True)
            local = ports.scratch / f"{item.id}.{item.format or 'mp3'}"
            stack.callback(local.unlink, missing_ok=True)
            ports.storage.download_to(item.storage_key, local)
        return ports.tokens.call(
            account,
            lambda token: ports.uploader.upload(
                token,
                local,
                filename=f"{item.id}.{item.format or 'mp3'}",
                content_type="audio/mpeg" if (item.format or "mp3") == "mp3" else "application/octet-stream",
                on_progress=progress,
            ),
        )
