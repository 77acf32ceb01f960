"""What a deleted member leaves behind: passed to an heir (the admin who deleted
them), or deleted. Nothing here calls Yoto: the member's Yoto link is forgotten
first (`services.users.delete_user`), and the cards on that account stay there.

- card records go (we can no longer write to that Yoto account);
- playlists pass on (or go) without their card;
- podcasts pass on with their jobs, their card forgotten so that the next
  refresh makes one on the heir's account (or go with their jobs and runs);
- routines pass on with their jobs (or go with their jobs and runs);
- stories pass on without their card (or go with their runs);
- audio items pass on with new stream keys (or go, even where others' cards
  and playlists use them); then any job still in the member's name.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from core.errors import Conflict, NotFound, VersionConflict
from core.ports import AudioStorage, Records
from core.records import Page
from services import jobs, library

R = TypeVar("R")
_TRIES = 10


@dataclass
class Left:
    """How many of each the member left (passed on or deleted)."""

    cards: int = 0
    playlists: int = 0
    podcasts: int = 0
    routines: int = 0
    stories: int = 0
    items: int = 0


def owned(listing: Callable[..., Page[R]], owner: str) -> Iterator[R]:
    """Every record of `owner`, read in full before any is touched (a listing may be
    an index that lags: each is read again before it is changed)."""
    found: list[R] = []
    cursor: str | None = None
    while True:
        page = listing(owner=owner, limit=200, cursor=cursor)
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return iter(found)


def _still_theirs(get: Callable[[str], Any], record_id: str, owner: str) -> Any | None:
    try:
        record = get(record_id)
    except NotFound:
        return None
    return record if record.owner == owner else None


def _pass(repo: Any, record_id: str, owner: str, heir: str, change: Callable[[Any], Any] | None = None) -> bool:
    """`change` saved (if any), then the record given to `heir`; retried over concurrent edits.
    False when it is gone or no longer the member's."""
    for _ in range(_TRIES):
        record = _still_theirs(repo.get, record_id, owner)
        if record is None:
            return False
        try:
            if change is not None and change(record) != record:
                record = repo.save(change(record), expected_version=record.version)
            repo.give(record_id, heir, expected_version=record.version)
            return True
        except (VersionConflict, NotFound):
            continue
    raise Conflict(f"{record_id} kept changing while it was passed on; delete the member again")


def _forget_runs(records: Records, subject_id: str) -> None:
    jobs.drop_job(records.jobs, subject_id)
    for run in records.runs.recent(subject_id, limit=jobs.RUNS_KEPT + 20):
        with contextlib.suppress(NotFound):
            records.runs.delete(run.id)


def _without_card(podcast: Any) -> Any:
    return replace(podcast, card_id=None, yoto_card_id=None)


def _scheduled(
    records: Records, repo: Any, owner: str, heir: str | None, change: Callable[[Any], Any] | None = None
) -> int:
    """Podcasts, routines or stories: passed on with their jobs, or deleted with their jobs and runs."""
    count = 0
    for record in owned(repo.list, owner):
        if heir is None:
            _forget_runs(records, record.id)
            with contextlib.suppress(NotFound):
                repo.delete(record.id)
            count += 1
        elif _pass(repo, record.id, owner, heir, change):
            _pass(records.jobs, record.id, owner, heir)
            count += 1
    return count


def hand_over(records: Records, storage: AudioStorage, owner: str, heir: str | None) -> Left:
    """Everything `owner` owns to `heir`, or (heir None) deleted; in the order of the module docstring."""
    left = Left()
    for card in owned(records.cards.list, owner):
        with contextlib.suppress(NotFound):
            records.cards.delete(card.id)
            left.cards += 1
    for playlist in owned(records.playlists.list, owner):
        if heir is None:
            with contextlib.suppress(NotFound):
                records.playlists.delete(playlist.id)
            left.playlists += 1
        elif _pass(records.playlists, playlist.id, owner, heir, lambda p: replace(p, card_id=None)):
            left.playlists += 1
    left.podcasts = _scheduled(records, records.podcasts, owner, heir, _without_card)
    left.routines = _scheduled(records, records.routines, owner, heir)
    left.stories = _scheduled(records, records.stories, owner, heir, lambda s: replace(s, card_id=None))
    ports = library.LibraryPorts(records.audio, records.playlists, records.cards, storage)
    for item in owned(records.audio.list, owner):
        current = _still_theirs(records.audio.get, item.id, owner)
        if current is None:
            continue
        if heir is None:
            library.remove(ports, current, force=True)
        else:
            records.audio.update(item.id, owner=heir, stream_key=secrets.token_urlsafe(16))
        left.items += 1
    for job in owned(records.jobs.list, owner):
        if heir is None:
            jobs.drop_job(records.jobs, job.id)
        else:
            _pass(records.jobs, job.id, owner, heir)
    return left
