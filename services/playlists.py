"""Live playlists: an ordered list of audio items, a play mode, and the card that follows it.

Every edit is a compare-and-swap on the playlist's version: one the caller
names (`version`, from the playlist it last read) must still be current, and
a race lost between our read and our write is a `VersionConflict` (409) too;
the caller reloads and tries again. After each saved edit the playlist's card
is brought in step (`PlaylistCards.sync`, debounced).

Items are checked like a card's tracks: a new item must exist and be usable by
the playlist's editor; items already on the playlist that were deleted with
?force=true stay in the list (so indexes do not shift under the family) and
are skipped whenever the card is written.

`storage` (stream | yoto) is where the card's audio lives; a new playlist that
names none gets the install's default, an edit that names none keeps its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from core.day_by_day import Opens, OpensError
from core.errors import Invalid, VersionConflict
from core.ports import PlaylistRepository
from core.records import Card, Page, Playlist, User, new_id, utcnow
from services import access
from services import card_content as content
from services.library import paged
from services.playlist_cards import (
    LEGACY_LOOP,
    DaySchedule,
    PlaylistCards,
    SyncState,
    play_mode_of,
    require_playable,
)

KEEP: Any = object()  # an argument left out: the field stays as it is

PLAY_MODES = ("sequential", "shuffle")
LOOP_REFUSED = (
    "play_mode loop is not offered: a card cannot repeat, repeat-all is the player's own setting"
    " (which the player settings will offer); choose sequential or shuffle"
)


@dataclass(frozen=True)
class PlaylistView:
    playlist: Playlist
    yoto_card_id: str | None
    sync: SyncState
    schedule: DaySchedule | None = None


class Playlists:
    """The playlist use cases over their own repository; `followers` keeps each
    playlist's card in step (the debounce timers are its state)."""

    def __init__(self, playlists: PlaylistRepository, followers: PlaylistCards) -> None:
        self._repo = playlists
        self._followers = followers
        self._ports = followers.ports

    def _get(self, user: User, playlist_id: str) -> Playlist:
        playlist = access.found(self._repo.get, "playlist", playlist_id)
        access.visible(user, playlist.owner, "playlist", playlist_id)
        return playlist

    # ------------------------------------------------------------------ checks

    def _name(self, name: str) -> str:
        return content.check_title(name, "name")

    def _mode(self, mode: str) -> str:
        if mode == LEGACY_LOOP:
            raise Invalid(LOOP_REFUSED)
        if mode not in PLAY_MODES:
            raise Invalid(f"play_mode must be one of {', '.join(PLAY_MODES)}")
        return mode

    def _storage(self, asked: str | None, current: str | None = None) -> str:
        """The mode asked for (which this install must be able to play), else `current`, else the default."""
        mode = self._ports.rules.storage(asked, current)
        if asked is not None:
            require_playable(self._ports, mode)
        return mode

    def _items(self, user: User, ids: Sequence[str], *, known: Sequence[str] = ()) -> tuple[str, ...]:
        limit = self._ports.rules.max_tracks
        if len(ids) > limit:
            raise Invalid(f"a playlist holds at most {limit} items (one chapter each on its card), not {len(ids)}")
        kept = set(known)
        content.usable_audio(self._ports.audio, self._ports.users, user, [a for a in ids if a not in kept])
        return tuple(ids)

    def _view(self, playlist: Playlist, sync: SyncState | None = None) -> PlaylistView:
        card = self._followers.card_of(playlist)
        state = sync if sync is not None else self._followers.state_of(playlist, card)
        shown = replace(playlist, play_mode=play_mode_of(playlist))
        schedule = self._followers.schedule_of(playlist, card)
        return PlaylistView(shown, card.yoto_card_id if card else None, state, schedule)

    @staticmethod
    def _opens(opens: Mapping[str, str] | None) -> tuple[str | None, str]:
        """A day-by-day schedule `{"from", "every"}` as the record keeps it; None: every chapter open."""
        if opens is None:
            return None, "day"
        try:
            parsed = Opens.parse(opens.get("from", ""), opens.get("every", "day"))
        except OpensError as exc:
            raise Invalid(str(exc)) from None
        return parsed.first.isoformat(), parsed.every

    # ------------------------------------------------------------------ reading

    def create(
        self,
        user: User,
        name: str,
        audio_ids: Sequence[str] = (),
        play_mode: str = "sequential",
        storage: str | None = None,
    ) -> PlaylistView:
        now = utcnow()
        playlist = Playlist(
            id=new_id(),
            owner=user.owner_id,
            name=self._name(name),
            audio_ids=self._items(user, audio_ids),
            play_mode=self._mode(play_mode),
            storage=self._storage(storage),
            created_at=now,
            updated_at=now,
        )
        self._repo.add(playlist)
        return self._view(playlist)

    def list(self, user: User, *, everyone: bool, limit: int, cursor: str | None) -> Page[PlaylistView]:
        owner = content.listing_owner(user, everyone)
        page = paged(lambda: self._repo.list(owner=owner, limit=limit, cursor=cursor))
        return Page([self._view(p) for p in page.items], page.next_cursor)

    def get(self, user: User, playlist_id: str) -> PlaylistView:
        """The playlist; a card left dirty by an earlier burst of edits is written now if due."""
        playlist = self._get(user, playlist_id)
        return self._view(playlist, self._followers.sync(playlist))

    # ------------------------------------------------------------------ editing

    def _edit(
        self, user: User, playlist_id: str, version: int | None, change: Callable[[Playlist], Playlist]
    ) -> PlaylistView:
        current = self._get(user, playlist_id)
        access.may_change(user, current.owner, "playlist")
        if version is not None and version != current.version:
            raise VersionConflict(
                f"the playlist changed meanwhile (it is at version {current.version}, not {version}): reload it"
            )
        changed = change(current)
        # An edit stores a legacy `loop` as the mode it plays in.
        changed = replace(changed, play_mode=play_mode_of(changed))
        saved = self._repo.save(changed, expected_version=current.version)
        return self._view(saved, self._followers.sync(saved))

    def update(
        self,
        user: User,
        playlist_id: str,
        *,
        name: str | None = None,
        audio_ids: Sequence[str] | None = None,
        play_mode: str | None = None,
        storage: str | None = None,
        opens: Any = KEEP,
        version: int | None = None,
    ) -> PlaylistView:
        """`opens`: a day-by-day schedule `{"from", "every"}`, None to open every chapter, KEEP (left out) as it is."""
        schedule = None if opens is KEEP else self._opens(opens)

        def change(p: Playlist) -> Playlist:
            if schedule is not None:
                p = replace(p, opens_from=schedule[0], opens_every=schedule[1])
            return replace(
                p,
                name=self._name(name) if name is not None else p.name,
                audio_ids=self._items(user, audio_ids, known=p.audio_ids) if audio_ids is not None else p.audio_ids,
                play_mode=self._mode(play_mode) if play_mode is not None else p.play_mode,
                storage=self._storage(storage, p.storage),
            )

        return self._edit(user, playlist_id, version, change)

    def add_item(
        self, user: User, playlist_id: str, audio_id: str, *, at: int | None = None, version: int | None = None
    ) -> PlaylistView:
        def change(p: Playlist) -> Playlist:
            ids = list(p.audio_ids)
            where = len(ids) if at is None else at
            if not 0 <= where <= len(ids):
                raise Invalid(f"at must be between 0 and {len(ids)} (the number of items)")
            ids.insert(where, audio_id)
            return replace(p, audio_ids=self._items(user, ids, known=p.audio_ids))

        return self._edit(user, playlist_id, version, change)

    @staticmethod
    def _index(p: Playlist, index: int, what: str) -> int:
        if not 0 <= index < len(p.audio_ids):
            raise Invalid(f"{what} {index} is not an item of the playlist (it holds {len(p.audio_ids)})")
        return index

    def remove_item(self, user: User, playlist_id: str, index: int, *, version: int | None = None) -> PlaylistView:
        def change(p: Playlist) -> Playlist:
            ids = list(p.audio_ids)
            del ids[self._index(p, index, "index")]
            return replace(p, audio_ids=tuple(ids))

        return self._edit(user, playlist_id, version, change)

    def move_item(
        self, user: User, playlist_id: str, source: int, target: int, *, version: int | None = None
    ) -> PlaylistView:
        def change(p: Playlist) -> Playlist:
            ids = list(p.audio_ids)
            item = ids.pop(self._index(p, source, "from"))
            ids.insert(self._index(p, target, "to"), item)
            return replace(p, audio_ids=tuple(ids))

        return self._edit(user, playlist_id, version, change)

    def clear(self, user: User, playlist_id: str, *, version: int | None = None) -> PlaylistView:
        return self._edit(user, playlist_id, version, lambda p: replace(p, audio_ids=()))

    def delete(self, user: User, playlist_id: str) -> None:
        """The playlist's card goes too (on Yoto first: if Yoto fails, nothing is deleted)."""
        playlist = self._get(user, playlist_id)
        access.may_change(user, playlist.owner, "playlist")
        self._followers.forget(playlist)
        self._repo.delete(playlist.id)

    # ------------------------------------------------------------------ the card

    def make_card(self, user: User, playlist_id: str, *, opens: Mapping[str, str] | None = None) -> Card:
        """The playlist's card; with `opens` a day-by-day card (the schedule is kept on the playlist)."""
        if opens is not None:
            first, every = self._opens(opens)
            playlist = self._get(user, playlist_id)
            access.may_change(user, playlist.owner, "playlist")
            if playlist.card_id:  # refused by `create` below, before anything changes
                self._followers.create(user, playlist_id)
            self._repo.save(replace(playlist, opens_from=first, opens_every=every), expected_version=playlist.version)
        card, _, _ = self._followers.create(user, playlist_id)
        return card

    def reshuffle(self, user: User, playlist_id: str) -> Card:
        card, _ = self._followers.reshuffle(user, playlist_id)
        return card
