"""The records the app and its ports carry: plain, frozen dataclasses.

They are the domain's types, not an adapter's: neither side leaks its ORM or
item format through them, and `services/`, `app/`, `infra/` and `mqtt/` import
them from here without pulling in any adapter.

Conventions: times are timezone-aware UTC `datetime`s; ids are opaque strings
chosen by the app (`new_id()`), never by the backend.
"""

from __future__ import annotations

import dataclasses
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


_ID_ALPHABET = string.ascii_letters + string.digits


def new_id(length: int = 16) -> str:
    """A random id of letters and digits (about 95 bits at the default length).

    Letters and digits only, so an id can name a storage object, sit in a URL
    path or a DynamoDB key without escaping. Records carry created_at for order.
    """
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


# What a save or update never changes: who a record is, whose, since when;
# `version` and `updated_at` are the store's to set.
KEPT_ON_SAVE = frozenset({"id", "owner", "created_at", "updated_at", "version"})


def saved_fields(record: Any) -> dict[str, Any]:
    """The fields of `record` a `save`/`update` replaces (all but `KEPT_ON_SAVE`)."""
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record) if f.name not in KEPT_ON_SAVE}


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class User:
    """A family member. `id` is the member id records are owned by (`services.members`):
    set where a user enters the services; empty, `owner_id` falls back to the username."""

    username: str
    is_admin: bool = False
    disabled: bool = False
    created_at: datetime = field(default_factory=utcnow)
    id: str = ""

    @property
    def owner_id(self) -> str:
        return self.id or self.username


@dataclass(frozen=True)
class AudioItem:
    """One normalised MP3 in the family library.

    `storage_key` names the object in audio storage. `stream_key` is the
    per-item secret the player stream token is signed with; rotating it revokes
    every URL handed out for the item.
    """

    id: str
    owner: str
    title: str
    storage_key: str
    size_bytes: int
    duration_s: float
    format: str = "mp3"
    stream_key: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    source: str = "upload"  # upload | tts
    created_at: datetime = field(default_factory=utcnow)
    # The listening level (docs/audio.md): the input's integrated loudness, the
    # stored file's, its sample peak and the gain applied; None where the item
    # predates the normalisation or had nothing to measure (silence).
    loudness_in_lufs: float | None = None
    loudness_lufs: float | None = None
    peak_dbfs: float | None = None
    gain_db: float | None = None


@dataclass(frozen=True)
class StreamRef:
    """What the player stream URL needs of an audio item and nothing more: the
    per-item key its token is signed with, and where its bytes are
    (`AudioRepository.stream_ref`, a narrow read on the player's hot path)."""

    stream_key: str
    storage_key: str


@dataclass(frozen=True)
class Usage:
    """What one member keeps in the library: how many items and their stored bytes (the storage quota)."""

    items: int
    bytes: int


@dataclass(frozen=True)
class PendingUpload:
    """A signed upload target handed to a client, waiting for its complete call."""

    id: str
    owner: str
    storage_key: str
    title: str | None
    filename: str | None
    max_bytes: int
    created_at: datetime = field(default_factory=utcnow)
    expires_at: datetime = field(default_factory=utcnow)


PLAY_MODES = ("sequential", "shuffle", "loop")


@dataclass(frozen=True)
class Playlist:
    """A live playlist: an ordered list of audio item ids a card streams.

    `play_mode` is one of `PLAY_MODES`; `card_id` names the `Card` that follows
    the playlist (None until it has one; a playlist never has two)."""

    id: str
    owner: str
    name: str
    audio_ids: tuple[str, ...] = ()
    version: int = 1
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    play_mode: str = "sequential"
    card_id: str | None = None
    storage: str = "stream"  # stream | yoto (core.storage_modes); older records streamed
    # A day-by-day card (core.day_by_day): chapter n opens on `opens_from` + n-1 steps of `opens_every`.
    opens_from: str | None = None  # "YYYY-MM-DD"; None: every chapter open
    opens_every: str = "day"  # day | week


@dataclass(frozen=True)
class Card:
    """A MYO card we made on the Yoto cloud, and what its tracks point at.

    One chapter per entry of `audio_ids`, in order. `track_titles` and
    `track_icons` are what the family asked for per track ("" where they left
    it to us: the item's title, the scorer's icon); `chosen_icons` are the
    icon media ids actually written. The three line up with `audio_ids`.

    A card that follows a playlist (`playlist_id`) records which playlist
    version its Yoto card holds (`synced_version`, 0: none yet or a rewrite is
    wanted) and when it was last written (`synced_at`): the debounce of
    `services.playlist_cards` reads both."""

    id: str
    owner: str
    title: str
    yoto_card_id: str | None = None
    playlist_id: str | None = None
    audio_ids: tuple[str, ...] = ()
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    description: str | None = None
    author: str | None = None
    cover_url: str | None = None
    track_titles: tuple[str, ...] = ()
    track_icons: tuple[str, ...] = ()
    chosen_icons: tuple[str, ...] = ()
    synced_version: int = 0
    synced_at: datetime | None = None
    storage: str = "stream"  # stream | yoto (core.storage_modes)
    story_id: str | None = None  # the branching story this interactive card plays (services.stories)


@dataclass(frozen=True)
class YotoTokens:
    """The Yoto OAuth tokens of one linked account.

    `version` starts at 1 and grows by one with every successful
    compare-and-swap, so two processes refreshing at once cannot both win.
    """

    account: str
    access_token: str
    refresh_token: str
    expires_at: datetime
    version: int = 1
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class PlayerState:
    """The merged last-known state of one Yoto player (events are partial)."""

    player_id: str
    state: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class PlayerEvent:
    player_id: str
    at: datetime
    kind: str  # events | status | response | presence
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Session:
    """A login session; the cookie carries only the signed id. `member_id` is the
    member id resolved at login ("" in sessions made before ids existed)."""

    id: str
    username: str
    created_at: datetime
    expires_at: datetime
    member_id: str = ""


@dataclass(frozen=True)
class UploadTarget:
    """Where and how a client sends the bytes of a two-step upload.

    `method` is POST (multipart form: `fields` first, then the file under
    `file_field`) or PUT (raw body with `headers`)."""

    url: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    file_field: str = "file"
    expires_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str


@dataclass(frozen=True)
class LocalBlob:
    """An object a signed blob URL may read, as a file on this machine.

    `max_age_s` is how long the URL stays valid: the longest a client may cache it."""

    path: Path
    content_type: str
    max_age_s: int


@dataclass(frozen=True)
class Voice:
    id: str
    name: str
    language: str
    engine: str


@dataclass(frozen=True)
class Speech:
    audio: bytes
    format: str  # "mp3"
    voice: str
    engine: str
    characters: int


# --------------------------------------------------------------------------- scheduled work


PODCAST_ORDERS = ("newest_first", "oldest_first")


@dataclass(frozen=True)
class Podcast:
    """A feed a card follows: the newest `episodes` episodes (or the oldest, for a serial).

    `held` lists the episodes the card holds, in card order, each
    `{"guid", "title", "audio_ids": [...]}` (an episode over the per-track
    limit is several items). `etag`/`last_modified` are the feed's validators
    for the next conditional GET. `last_error` is why the last refresh failed
    (None after a good one); the card is left as it was when one fails."""

    id: str
    owner: str
    feed_url: str
    title: str
    episodes: int = 5
    order: str = "newest_first"
    refresh_hours: float = 6.0
    card_id: str | None = None
    yoto_card_id: str | None = None
    storage: str = "stream"  # stream | yoto (core.storage_modes); older records streamed
    held: list[dict[str, Any]] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    status: str = "new"  # new | ok | failed
    last_error: str | None = None
    checked_at: datetime | None = None
    version: int = 1
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Routine:
    """Steps for one player at a clock time (`at`, "HH:MM" in FAMILY_TIMEZONE) on `days`.

    Each step is a body of `POST /api/players/{id}/commands` (`{"action": ...}`)."""

    id: str
    owner: str
    name: str
    player_id: str
    at: str
    days: tuple[str, ...] = ()
    steps: list[dict[str, Any]] = field(default_factory=list)
    enabled: bool = True
    version: int = 1
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Story:
    """A branching story (`core.stories`): scenes and what each button leads to, from `start`.

    Each scene is `{"id", "title", "audio_id", "left", "right", "next", "ending"}`;
    `card_id` names the interactive `Card` made from it (None until one is made)."""

    id: str
    owner: str
    title: str
    start: str
    scenes: list[dict[str, Any]] = field(default_factory=list)
    card_id: str | None = None
    version: int = 1
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Job:
    """When a podcast or routine runs by itself: every `every_s` seconds, or at
    `at` ("HH:MM", family time) on `days`. `id` is the subject's id (one job each).

    `next_run_at` is the next due moment (UTC); a scheduler claims a due job by
    compare-and-swap on `version`, moving `next_run_at` past now, so a run
    missed while nothing was running happens once, and two schedulers never
    both run it."""

    id: str
    owner: str
    kind: str  # podcast | routine
    every_s: int | None = None
    at: str | None = None
    days: tuple[str, ...] = ()
    enabled: bool = True
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    last_run_id: str | None = None
    version: int = 1
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


RUN_STATUSES = ("queued", "running", "ok", "partial", "failed")


@dataclass(frozen=True)
class Run:
    """One run of a job (a podcast refresh, a routine): queued, then running, then
    `ok`, `partial` (some routine steps failed) or `failed` with `detail`.
    `results` holds a routine's step results in order."""

    id: str
    owner: str
    subject_id: str
    kind: str  # podcast | routine
    trigger: str = "manual"  # manual | schedule | create
    status: str = "queued"
    detail: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    version: int = 1
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class PasswordFallback:
    """A secret kept for a user while their identity side cannot check it itself.

    Written by the migration only. `purpose` says what the hash (an argon2id
    string) is of: `"password"`, the user's own password copied from the local
    side, which the first sign-in on AWS accepts once (then Cognito holds it
    and the record goes); `"reset"`, a one-time reset code printed for the admin
    when users move from Cognito to the local side, redeemed by
    `python -m app reset-password`. Expired records read as missing. No API
    route reads these records (docs/migration.md).
    """

    username: str
    secret_hash: str
    purpose: str  # password | reset
    created_at: datetime = field(default_factory=utcnow)
    expires_at: datetime = field(default_factory=utcnow)
