"""A Yoto card that follows a live playlist, rewritten in place, debounced.

Every change to the playlist rewrites the SAME Yoto card (one chapter per
item; `shuffle` a fresh order on each write) and never makes a second one.
A card cannot repeat (repeat-all is the player's setting): a playlist stored
with the old `loop` mode plays in order. A burst of edits is one write:

- the card record keeps which playlist version its Yoto card holds
  (`synced_version`) and when it was last written (`synced_at`);
- after an edit (`sync`), a card whose last write is older than the debounce
  window is written at once, inside the request. Otherwise it is only
  *dirty*: the answer says `pending` with the seconds until it is due, and
  the write happens at the first of (a) a timer in this process at the end of
  the window (long-running servers: `make run`, `make demo`), (b) the next
  request that reads or edits the playlist or its card once the window has
  passed. Lambda keeps no thread alive between requests, so there (b) alone
  applies, and the UI reads the playlist again after `due_in_s` (which flushes);
- writers of one playlist version are serialised by a lease in the counters
  (`services.leases`), renewed for as long as the write runs (a `yoto`
  playlist's uploads can take many minutes), so two processes never write the
  same version twice; and the playlist itself is only ever re-read, never
  held: a write always sends the playlist as it is at that moment.

An edit is never refused because Yoto failed: the playlist is the truth, the
card stays dirty, the answer says `failed` with Yoto's reason, and the next
sync tries again. A `yoto` playlist (its `storage`) uploads the items Yoto
lacks before each write, after Yoto's limits are checked; a failed upload is
such a failure and leaves the card as it was (docs/cards.md, "Playlists").
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from typing import Any, Literal

from core import storage_modes
from core.day_by_day import Opens, iso
from core.errors import Conflict, DomainError, NotFound, UpstreamError, VersionConflict
from core.ports import CounterRepository, PlaylistRepository
from core.records import Card, Playlist, User, new_id, utcnow
from core.yoto import limits
from core.yoto.cloud import YotoCard, YotoChapter
from core.yoto.uploads import Transcoded
from services import access, yoto_storage
from services import card_content as content
from services.card_content import CardPorts, Entry
from services.cards import delete_on_yoto_and_here, forget_on_yoto
from services.leases import Lease, Renewal, Schedule, Scheduled, start_timer

log = logging.getLogger("yss.playlist_cards")

# A writer's lease is renewed every third of a slice while it writes (uploads included);
# a writer that dies frees it within two slices.
LEASE_SLICE_S = 60.0
LEGACY_LOOP = "loop"


def play_mode_of(playlist: Playlist) -> str:
    """The mode a playlist plays in: one stored as `loop` by an earlier version plays in order."""
    return "sequential" if playlist.play_mode == LEGACY_LOOP else playlist.play_mode


@dataclass(frozen=True)
class SyncState:
    """Where a playlist's card stands: no card, in step, waiting for the debounce
    window (`due_in_s`), or the last try failed (`detail` says why)."""

    state: Literal["none", "synced", "pending", "failed"]
    due_in_s: float | None = None
    detail: str | None = None


@dataclass(frozen=True)
class DaySchedule:
    """A day-by-day card's chapters: when each opens (UTC) and how many are open now."""

    opens: Opens
    opens_at: tuple[datetime, ...]
    open_now: int


NO_CARD = SyncState("none")
SYNCED = SyncState("synced")


def same_content(a: Playlist, b: Playlist) -> bool:
    def written(p: Playlist) -> tuple[object, ...]:
        return p.name, tuple(p.audio_ids), play_mode_of(p), p.storage, p.opens_from, p.opens_every

    return written(a) == written(b)


def opens_of(playlist: Playlist) -> Opens | None:
    """The playlist's day-by-day schedule, None when every chapter is open."""
    return Opens.parse(playlist.opens_from, playlist.opens_every) if playlist.opens_from else None


def scheduled(chapters: tuple[YotoChapter, ...], opens: Opens | None, zone: tzinfo) -> tuple[YotoChapter, ...]:
    """The chapters with the instant each opens (`availableFrom`), or none when `opens` is None."""
    if opens is None or not chapters:
        return tuple(replace(c, available_from=None) for c in chapters)
    at = opens.instants(len(chapters), zone)
    return tuple(replace(c, available_from=iso(when)) for c, when in zip(chapters, at, strict=True))


def require_playable(ports: CardPorts, mode: str) -> None:
    """`Conflict` unless this install can write a card in `mode`: players reach PUBLIC_URL
    for `stream`, an uploader is wired for `yoto`."""
    if mode == storage_modes.STREAM:
        content.require_https_public_url(ports.rules)
    elif ports.media is None:
        raise Conflict("this install cannot upload to Yoto's storage; make the playlist stream")


def _as_cause(exc: yoto_storage.TrackNotReady) -> DomainError:
    """The refusal a request answers for a track that could not go to Yoto: the kind of what
    stopped it (a relink, Yoto's refusal or outage), with the message naming the track."""
    cause = exc.__cause__
    if isinstance(cause, DomainError):
        return type(cause)(str(exc), headers=cause.headers, **cause.extra)
    return UpstreamError(str(exc))


class PlaylistCards:
    def __init__(
        self,
        ports: CardPorts,
        playlists: PlaylistRepository,
        counters: CounterRepository,
        *,
        debounce_s: float,
        timer: bool,
        now: Callable[[], datetime] = utcnow,
        shuffle: Callable[[list[Any]], None] = random.shuffle,
        schedule: Schedule = start_timer,
        renew: Schedule = start_timer,
    ) -> None:
        self.ports = ports
        self.playlists = playlists
        self._counters = counters
        self._debounce_s = debounce_s
        self._timer_on = timer
        self._now = now
        self._shuffle = shuffle
        self._start_timer = schedule
        self._renew_timer = renew  # renews a write's lease while it runs
        self._lock = threading.Lock()
        self._timers: dict[str, Scheduled] = {}

    # ------------------------------------------------------------------ helpers

    @contextlib.contextmanager
    def _leased(self, key: str) -> Iterator[Lease | None]:
        """The write lease `key`, renewed (by the scheduler) while the block runs; None when
        another writer holds it. The block's end stops the renewal; letting go is the caller's."""
        lease = Lease(self._counters, key, slice_s=LEASE_SLICE_S, clock=lambda: self._now().timestamp())
        if not lease.claim():
            yield None
            return
        renewal = Renewal(lease, self._renew_timer).start()
        try:
            yield lease
        finally:
            renewal.stop()

    @staticmethod
    def _still_held(lease: Lease | None) -> None:
        """Before the Yoto write: `Conflict` when the lease was lost while the audio uploaded."""
        if lease is not None and not lease.renew():
            raise Conflict("another writer took this card over while its audio uploaded; it writes the card")

    def _entries(self, playlist: Playlist) -> list[Entry]:
        items = content.existing_audio(self.ports.audio, playlist.audio_ids)
        entries = [Entry(items[a]) for a in playlist.audio_ids if a in items]
        if play_mode_of(playlist) == "shuffle":
            self._shuffle(entries)
        return entries

    def _checked_mode(self, playlist: Playlist, entries: list[Entry]) -> str:
        """The playlist's mode, once its own checks pass (no Yoto call): PUBLIC_URL for
        streaming; for stored audio an uploader, and Yoto's limits on the items."""
        rules = self.ports.rules
        mode = rules.storage(playlist.storage)
        require_playable(self.ports, mode)
        if mode == storage_modes.YOTO:
            planned = [s for e in entries for s in yoto_storage.planned(self.ports.media, e.item, e.item.title)]
            limits.check(rules.limits, planned)
        return mode

    def _media(self, playlist: Playlist, mode: str, entries: list[Entry]) -> dict[str, tuple[Transcoded, ...]]:
        """For a `yoto` playlist, each item's transcodes in Yoto's storage (uploading what it
        lacks; an item too long for one track as its parts)."""
        if mode != storage_modes.YOTO or self.ports.media is None:
            return {}
        items = list({e.item.id: e.item for e in entries}.values())
        try:
            done = yoto_storage.put_tracks(self.ports.media, playlist.owner, items)
        except yoto_storage.TrackNotReady as exc:
            raise _as_cause(exc) from exc
        return {item.id: held for item, held in zip(items, done, strict=True)}

    def _write_yoto(
        self,
        playlist: Playlist,
        entries: list[Entry],
        current: YotoCard | None,
        media: dict[str, tuple[Transcoded, ...]],
    ) -> tuple[Any, str]:
        """Write the playlist's content onto `current` (or a new card); answers (Built, Yoto card id)."""
        yoto = self.ports.yoto
        index = yoto.icon_index(playlist.owner)
        built = content.build_chapters(
            entries,
            index,
            playlist.name,
            url_of=content.stream_url_maker(self.ports),
            public_url=self.ports.rules.public_url,
            old=current.chapters if current else (),
            media=media,
        )
        title = content.check_title(playlist.name, "the playlist's name")
        base = current or YotoCard(title=title)
        chapters = scheduled(built.chapters, opens_of(playlist), self.ports.rules.zone)
        card = replace(base, title=title, chapters=chapters)
        saved = yoto.tokens.call(playlist.owner, yoto.cloud.save_card, card)
        return built, saved.card_id or ""

    def _rewrite(self, playlist: Playlist, card: Card, lease: Lease | None = None) -> Card:
        """Write the playlist as it is now onto the card's Yoto card, in the playlist's mode
        (uploads first for `yoto`); raises what Yoto raised, with the card as it was."""
        entries = self._entries(playlist)
        mode = self._checked_mode(playlist, entries)
        if not card.yoto_card_id:
            raise Conflict("this card has no Yoto card: delete it and make a new one")
        media = self._media(playlist, mode, entries)
        self._still_held(lease)
        yoto = self.ports.yoto
        current = yoto.tokens.call(card.owner, yoto.cloud.get_card, card.yoto_card_id)
        built, _ = self._write_yoto(playlist, entries, current, media)
        return self.ports.cards.update(
            replace(
                card,
                title=playlist.name,
                storage=mode,
                audio_ids=built.audio_ids,
                track_titles=(),
                track_icons=(),
                chosen_icons=built.chosen_icons,
                synced_version=playlist.version,
                synced_at=self._now(),
            )
        )

    def _save_card_id(self, playlist_id: str, card_id: str | None, *, only_if: str | None = None) -> Playlist:
        """Point the playlist at `card_id` (None: at nothing), retrying lost races."""
        for _ in range(10):
            current = self.playlists.get(playlist_id)
            if only_if is not None and current.card_id != only_if:
                return current
            if card_id is not None and current.card_id not in (None, card_id):
                raise Conflict(f"the playlist already has card {current.card_id}", card_id=current.card_id)
            try:
                return self.playlists.save(replace(current, card_id=card_id), expected_version=current.version)
            except VersionConflict:
                continue
        raise VersionConflict("the playlist kept changing; try again")

    def get_playlist(self, user: User, playlist_id: str) -> Playlist:
        playlist = access.found(self.playlists.get, "playlist", playlist_id)
        access.visible(user, playlist.owner, "playlist", playlist_id)
        return playlist

    # ------------------------------------------------------------------ use cases

    def create(self, user: User, playlist_id: str) -> tuple[Card, Playlist, SyncState]:
        """Make the playlist's one card (on the playlist owner's Yoto account)."""
        playlist = self.get_playlist(user, playlist_id)
        access.may_change(user, playlist.owner, "playlist")
        if playlist.card_id:
            raise Conflict(f"the playlist already has card {playlist.card_id}", card_id=playlist.card_id)
        entries = self._entries(playlist)
        if not entries:
            raise Conflict("the playlist holds no audio: add items before making its card")
        mode = self._checked_mode(playlist, entries)
        with self._leased(f"playlist-card:{playlist.id}") as lease:
            if lease is None:
                raise Conflict("a card is being made for this playlist right now")
            try:
                card, attached = self._make(playlist, entries, mode, lease)
            finally:
                lease.release()
        return card, attached, self.sync(attached)

    def _make(self, playlist: Playlist, entries: list[Entry], mode: str, lease: Lease) -> tuple[Card, Playlist]:
        """`create` under its lease: upload, write the Yoto card, record it (undone if recording fails)."""
        media = self._media(playlist, mode, entries)
        self._still_held(lease)
        built, yoto_card_id = self._write_yoto(playlist, entries, None, media)
        now = self._now()
        card = Card(
            id=new_id(),
            owner=playlist.owner,
            title=playlist.name,
            yoto_card_id=yoto_card_id,
            playlist_id=playlist.id,
            audio_ids=built.audio_ids,
            chosen_icons=built.chosen_icons,
            synced_version=0,
            synced_at=now,
            created_at=now,
            updated_at=now,
            storage=mode,
        )
        try:
            self.ports.cards.add(card)
            attached = self._save_card_id(playlist.id, card.id)
        except Exception:
            with contextlib.suppress(NotFound):
                self.ports.cards.delete(card.id)
            forget_on_yoto(self.ports, playlist.owner, yoto_card_id)
            raise
        if same_content(attached, playlist):
            card = self.ports.cards.update(replace(card, synced_version=attached.version))
        return card, attached

    def state_of(self, playlist: Playlist, card: Card | None) -> SyncState:
        """The state without writing anything (for listings)."""
        if card is None:
            return NO_CARD
        if card.synced_version == playlist.version:
            return SYNCED
        return SyncState("pending", due_in_s=self._due_in(card))

    def _due_in(self, card: Card) -> float:
        if card.synced_at is None:
            return 0.0
        return max(0.0, self._debounce_s - (self._now() - card.synced_at).total_seconds())

    def schedule_of(self, playlist: Playlist, card: Card | None) -> DaySchedule | None:
        """When each chapter of a day-by-day playlist's card opens, and how many are open now."""
        opens = opens_of(playlist)
        if opens is None:
            return None
        chapters = len(card.audio_ids) if card is not None and card.audio_ids else len(playlist.audio_ids)
        if not chapters:
            return DaySchedule(opens, (), 0)
        at = tuple(opens.instants(chapters, self.ports.rules.zone))
        now = self._now()
        return DaySchedule(opens, at, sum(1 for when in at if when <= now))

    def card_of(self, playlist: Playlist) -> Card | None:
        if not playlist.card_id:
            return None
        try:
            return self.ports.cards.get(playlist.card_id)
        except NotFound:
            return None

    def sync(self, playlist: Playlist) -> SyncState:
        """Bring the playlist's card in step: now when the window has passed, else later."""
        card = self.card_of(playlist)
        if card is None:
            return NO_CARD
        if card.synced_version == playlist.version:
            return SYNCED
        due = self._due_in(card)
        if due > 0:
            self._schedule(playlist.id, due)
            return SyncState("pending", due_in_s=due)
        with self._leased(f"card-sync:{card.id}:{playlist.version}") as lease:
            if lease is None:
                return SyncState("pending", due_in_s=0.0, detail="another request is writing this card")
            try:
                self._rewrite(playlist, card, lease)
            except DomainError as exc:
                lease.release()  # the next sync of this version may try again at once
                log.warning("the card of playlist %s was not rewritten: %s", playlist.id, exc)
                return SyncState("failed", detail=str(exc))
            except BaseException:
                lease.release()
                raise
            lease.lapse()  # written: the lease runs out by itself, so a late twin finds it taken
        return SYNCED

    def reshuffle(self, user: User, playlist_id: str) -> tuple[Card, Playlist]:
        """A fresh order on the card now (shuffle playlists only); Yoto's errors are the caller's."""
        playlist = self.get_playlist(user, playlist_id)
        access.may_change(user, playlist.owner, "playlist")
        if play_mode_of(playlist) != "shuffle":
            raise Conflict(f"the playlist plays {play_mode_of(playlist)}: set play_mode to shuffle first")
        card = self.card_of(playlist)
        if card is None:
            raise Conflict("the playlist has no card yet: make one with POST /api/playlists/{id}/card")
        return self._rewrite(playlist, card), playlist

    def forget(self, playlist: Playlist) -> None:
        """Delete the playlist's card on Yoto and here (before the playlist goes)."""
        card = self.card_of(playlist)
        self._cancel(playlist.id)
        if card is not None:
            delete_on_yoto_and_here(self.ports, card)

    def detach(self, card: Card) -> None:
        """After a playlist's card was deleted: the playlist points at no card."""
        if not card.playlist_id:
            return
        self._cancel(card.playlist_id)
        with contextlib.suppress(NotFound):
            self._save_card_id(card.playlist_id, None, only_if=card.id)

    # ------------------------------------------------------------------ the timer

    def _schedule(self, playlist_id: str, delay_s: float) -> None:
        if not self._timer_on:
            return
        with self._lock:
            if playlist_id in self._timers:
                return  # the one already waiting fires at the end of the same window
            self._timers[playlist_id] = self._start_timer(delay_s + 0.05, lambda: self._fire(playlist_id))

    def _fire(self, playlist_id: str) -> None:
        with self._lock:
            self._timers.pop(playlist_id, None)
        try:
            self.sync(self.playlists.get(playlist_id))
        except NotFound:
            pass
        except Exception:
            log.exception("the delayed rewrite of playlist %s's card failed", playlist_id)

    def _cancel(self, playlist_id: str) -> None:
        with self._lock:
            timer = self._timers.pop(playlist_id, None)
        if timer is not None:
            timer.cancel()

    def pending_timers(self) -> int:
        with self._lock:
            return len(self._timers)

    def cancel_timers(self) -> None:
        with self._lock:
            timers, self._timers = list(self._timers.values()), {}
        for timer in timers:
            timer.cancel()
