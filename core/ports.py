"""The ports: small interfaces the services talk to.

Each port has a local implementation (`adapters/local/`), an AWS one
(`adapters/aws/`) and, for records and storage, an in-memory one
(`adapters/memory/`) for fast service tests; one contract suite in
`tests/contract/` runs against every implementation.

Conventions shared by every implementation:
- a missing record raises `core.errors.NotFound`, a duplicate `AlreadyExists`,
  a lost compare-and-swap `VersionConflict`, an unreachable backend
  `BackendUnavailable`;
- list methods page with an opaque `cursor` string: pass `Page.next_cursor`
  back to continue, `None` when there is nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from core.audio import AudioFacts
from core.records import (
    AudioItem,
    Card,
    Job,
    LocalBlob,
    ObjectInfo,
    Page,
    PasswordFallback,
    PendingUpload,
    PlayerEvent,
    PlayerState,
    Playlist,
    Podcast,
    Routine,
    Run,
    Session,
    Speech,
    Story,
    StreamRef,
    UploadTarget,
    Usage,
    User,
    Voice,
    YotoTokens,
)


class AudioRepository(Protocol):
    reads_locally: bool
    """True when `get` and `stream_ref` are answered on this machine (a SQLite
    file, memory) without network I/O, in microseconds: an async caller may then
    call them on its event loop instead of hopping to a worker thread."""

    def add(self, item: AudioItem) -> None:
        """Store a new item; `AlreadyExists` if the id is taken."""

    def get(self, item_id: str) -> AudioItem: ...

    def stream_ref(self, item_id: str) -> StreamRef:
        """Only the item's `stream_key` and `storage_key`, read as narrowly as the
        backend allows (the player stream checks a token with it on every
        request); always the stored values, never a cached copy, so a rotated
        key revokes at once. `NotFound` like `get`."""

    def list(
        self,
        *,
        owner: str | None = None,
        query: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[AudioItem]:
        """Newest first. `owner` narrows to one user's items; `query` is a
        case-insensitive substring match on the title."""

    def update(
        self,
        item_id: str,
        *,
        title: str | None = None,
        stream_key: str | None = None,
        owner: str | None = None,
    ) -> AudioItem:
        """Change the title, rotate the stream key and/or give the item to another
        owner (it moves to their listing and usage); returns the new record."""

    def delete(self, item_id: str) -> None: ...

    def usage(self, owner: str) -> Usage:
        """How many items `owner` has and their total `size_bytes` (0, 0 for nobody).
        On DynamoDB it reads an index, so an item added a moment ago may be missing."""


class UploadRepository(Protocol):
    def add(self, upload: PendingUpload) -> None: ...

    def get(self, upload_id: str) -> PendingUpload:
        """`NotFound` also for an upload whose `expires_at` has passed."""

    def delete(self, upload_id: str) -> None:
        """Idempotent: deleting a missing upload is not an error."""


class PlaylistRepository(Protocol):
    def add(self, playlist: Playlist) -> None: ...

    def get(self, playlist_id: str) -> Playlist: ...

    def list(self, *, owner: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[Playlist]:
        """Newest first."""

    def save(self, playlist: Playlist, *, expected_version: int) -> Playlist:
        """Replace every field but id/owner/created_at (name, audio_ids,
        play_mode, card_id, ...) if the stored version is `expected_version`;
        the returned record has version + 1 and a new updated_at. Else
        `VersionConflict` (`NotFound` for a missing playlist)."""

    def delete(self, playlist_id: str) -> None: ...

    def give(self, playlist_id: str, owner: str, *, expected_version: int) -> Playlist:
        """Pass the playlist to another owner (it moves to their listing), only while it
        is at `expected_version`; version + 1. Else `VersionConflict` (`NotFound`)."""

    def using_audio(self, audio_id: str) -> list[str]:
        """Ids of playlists that contain the audio item."""


class CardRepository(Protocol):
    def add(self, card: Card) -> None: ...

    def get(self, card_id: str) -> Card: ...

    def list(self, *, owner: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[Card]:
        """Newest first."""

    def update(self, card: Card) -> Card:
        """Replace every field but id/owner/created_at; sets updated_at."""

    def delete(self, card_id: str) -> None: ...

    def using_audio(self, audio_id: str) -> list[str]:
        """Ids of cards whose tracks point at the audio item directly."""


class TokenRepository(Protocol):
    def get(self, account: str) -> YotoTokens: ...

    def create(self, tokens: YotoTokens) -> None:
        """`AlreadyExists` if the account already has tokens."""

    def compare_and_swap(self, tokens: YotoTokens, *, expected_version: int) -> YotoTokens:
        """Store `tokens` (with version = expected_version + 1) only if the stored
        version is `expected_version`; else `VersionConflict`."""

    def delete(self, account: str) -> None: ...

    def list_accounts(self) -> list[str]:
        """Every account with stored tokens, sorted. On DynamoDB it reads an index,
        so an account linked a moment ago may be missing for about a second."""


class PlayerRepository(Protocol):
    def merge_state(self, player_id: str, changes: dict[str, Any]) -> PlayerState:
        """Merge partial state into the player's record (created on first use)."""

    def get_state(self, player_id: str) -> PlayerState: ...

    def list_states(self) -> list[PlayerState]: ...

    def add_event(self, event: PlayerEvent, *, keep_s: int = 7 * 24 * 3600) -> None:
        """Append an event that expires after `keep_s` seconds."""

    def add_events(self, events: list[PlayerEvent], *, keep_s: int = 7 * 24 * 3600) -> None:
        """Append many events at once (one transaction or batch where the backend has one)."""

    def recent_events(self, player_id: str, *, limit: int = 50) -> list[PlayerEvent]:
        """Newest first, expired ones left out."""

    def events_since(
        self, player_id: str, since: datetime, *, limit: int = 1000, cursor: str | None = None
    ) -> Page[PlayerEvent]:
        """Events at or after `since`, oldest first, expired ones left out; pages
        of at most `limit` (pass `next_cursor` back for the next one)."""


class SettingsRepository(Protocol):
    """Small JSON values by key (feature flags, linked-account choice, ...)."""

    def get(self, key: str) -> Any: ...

    def put(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...

    def list_keys(self) -> list[str]:
        """Every key with a value, sorted (the migration copies them all). On
        DynamoDB it reads an index, so a key put a moment ago may be missing."""


class PasswordFallbackRepository(Protocol):
    """Migration records: one `PasswordFallback` per user at most (core/records.py)."""

    def put(self, fallback: PasswordFallback) -> None:
        """Store it, replacing the user's previous one."""

    def get(self, username: str) -> PasswordFallback:
        """`NotFound` also for a record whose `expires_at` has passed."""

    def delete(self, username: str) -> bool:
        """Idempotent; True when this call removed a live record (so of two
        callers redeeming the same record, exactly one sees True)."""


class SessionRepository(Protocol):
    def add(self, session: Session) -> None: ...

    def get(self, session_id: str) -> Session:
        """`NotFound` also for an expired session."""

    def delete(self, session_id: str) -> None:
        """Idempotent."""

    def delete_for_user(self, username: str) -> int:
        """Revoke every session of a user; returns how many were removed."""


class CounterRepository(Protocol):
    """Atomic counters in fixed windows: login throttling and TTS quotas.

    A counter is created at its first `add` and vanishes `ttl_s` seconds later
    (the window does not slide when it grows)."""

    def add(self, key: str, amount: int, *, ttl_s: int) -> int:
        """Add `amount` atomically and return the new total."""

    def get(self, key: str) -> int:
        """0 for a missing or expired counter."""

    def reset(self, key: str) -> None: ...


R = TypeVar("R")


class VersionedRepository(Protocol[R]):
    """Records with an owner and a `version`: podcasts, routines, scheduled jobs, runs.

    `save` replaces every field but id, owner and created_at when the stored
    version is `expected_version`, and returns the record with version + 1 and
    a fresh `updated_at`; else `VersionConflict` (`NotFound` when it is gone)."""

    def add(self, record: R) -> None: ...

    def get(self, record_id: str) -> R: ...

    def save(self, record: R, *, expected_version: int) -> R: ...

    def delete(self, record_id: str) -> None:
        """`NotFound` when there is no such record."""

    def list(self, *, owner: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[R]:
        """Newest first."""

    def give(self, record_id: str, owner: str, *, expected_version: int) -> R:
        """Pass the record to another owner (the one change `save` never makes), only
        while it is at `expected_version`; version + 1. Else `VersionConflict` (`NotFound`)."""


PodcastRepository = VersionedRepository[Podcast]
RoutineRepository = VersionedRepository[Routine]
StoryRepository = VersionedRepository[Story]
JobRepository = VersionedRepository[Job]


class RunRepository(Protocol):
    """Like `VersionedRepository`, but listed by what ran, not by owner."""

    def add(self, record: Run) -> None: ...

    def get(self, record_id: str) -> Run: ...

    def save(self, record: Run, *, expected_version: int) -> Run: ...

    def delete(self, record_id: str) -> None: ...

    def recent(self, subject_id: str, *, limit: int = 20) -> list[Run]:
        """The runs of one podcast or routine, newest first (on DynamoDB read from
        an index, so a run added a moment ago may be missing)."""


class RunQueue(Protocol):
    """Where work goes that must not run inside an HTTP request (podcast episodes
    to fetch and normalise): on AWS an asynchronous invocation of the worker
    function, with its own timeout; locally the process's worker threads."""

    def submit(self, run: Run) -> bool:
        """True when the run was handed to a worker; False when the caller must run it itself.
        May raise `RateLimited` (the member's cap of jobs) or `BackendUnavailable` (stopping)."""


@dataclass(frozen=True)
class Fetched:
    """What a GET answered after its redirects: the final URL, status, headers
    (lower-case names) and the body (empty when it went to a file)."""

    status: int
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    size: int = 0


class PlayerListener(Protocol):
    """The long-lived MQTT listener as its runner sees it (`services.listener_runner`)."""

    def run(self) -> None:
        """Block until `stop()`, keeping every linked account's players in the records."""

    def stop(self) -> None: ...

    def health(self) -> dict[str, Any]:
        """last_contact, accounts, connected_accounts and counts (what the heartbeat records)."""
        ...


class ListenerStarter(Protocol):
    """Starts an on-demand MQTT listener (the AWS side invokes its Lambda function)."""

    def start(self) -> None: ...


class WebFetcher(Protocol):
    """GETs of user-supplied URLs (podcast feeds, enclosures), checked at every hop."""

    def precheck(self, url: str) -> None:
        """`Invalid` for a URL refused by its form or a literal address, without
        asking DNS (a host name is judged when it is fetched)."""

    def get(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        max_bytes: int,
        timeout_s: float,
        to: Path | None = None,
    ) -> Fetched:
        """`Invalid` for a URL (or redirect) the address check refuses, before any
        connection to it; `TooLarge` past `max_bytes`; `UpstreamTimeout` past
        `timeout_s` for the whole transfer; `UpstreamError` when it cannot be
        reached. A 200 body goes to `to` when given (nothing left there on failure)."""


class Records(Protocol):
    """All repositories over one database."""

    audio: AudioRepository
    uploads: UploadRepository
    playlists: PlaylistRepository
    cards: CardRepository
    tokens: TokenRepository
    players: PlayerRepository
    settings: SettingsRepository
    sessions: SessionRepository
    counters: CounterRepository
    podcasts: PodcastRepository
    routines: RoutineRepository
    stories: StoryRepository
    jobs: JobRepository
    runs: RunRepository
    fallbacks: PasswordFallbackRepository


class UploadSink(Protocol):
    """The bytes of one signed upload on their way to its object (see `AudioStorage.signed_upload`)."""

    key: str

    def write(self, chunk: bytes) -> None:
        """Append bytes; `TooLarge` (and nothing kept) past the size the form allows."""

    def commit(self) -> ObjectInfo:
        """Make the bytes the object, atomically; the form is then used up."""

    def abort(self) -> None:
        """Drop what was written; the form may be used again while it is valid."""


class AudioStorage(Protocol):
    """Objects by key. Writes are atomic: a failed write leaves nothing."""

    def put_file(self, key: str, path: Path, content_type: str) -> ObjectInfo: ...

    def put_bytes(self, key: str, data: bytes, content_type: str) -> ObjectInfo: ...

    def head(self, key: str) -> ObjectInfo: ...

    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes start..end inclusive; `InvalidRange` when start is past the end."""

    def download_to(self, key: str, path: Path) -> None: ...

    def delete(self, key: str) -> None:
        """Idempotent."""

    def download_url(self, key: str, *, expires_s: int) -> str:
        """A URL that returns the object's bytes without cookies, for at most
        `expires_s` seconds (capped at 900)."""

    def upload_target(self, key: str, *, max_bytes: int, expires_s: int) -> UploadTarget:
        """A signed target a client can send at most `max_bytes` to."""

    def local_path(self, key: str) -> Path | None:
        """The file behind the key when the bytes live on this machine, else None."""

    def delete_stale(self, prefix: str, older_than_s: int) -> int:
        """Delete the objects whose key starts with `prefix` and that were last
        written more than `older_than_s` seconds ago; returns how many went."""

    def signed_blob(self, key: str, query: dict[str, str]) -> LocalBlob:
        """The object a `download_url` (its key and query parameters) grants.
        `Forbidden` for a bad or expired signature, `Invalid` for a bad key,
        `NotFound` when there is no object, `NotSupportedHere` where the storage
        answers its URLs itself (S3) or has none to answer (memory)."""

    def signed_upload(self, fields: dict[str, str], content_type: str | None) -> UploadSink:
        """A sink for the file of an `upload_target` form whose `fields` arrived
        before the file. `Forbidden` for a bad or expired signature, `Conflict`
        when the form has already been used (a form is single-use), `Invalid`
        for bad fields or content type, `NotSupportedHere` as for `signed_blob`."""


class TextToSpeech(Protocol):
    def voices(self) -> list[Voice]: ...

    def synthesize(self, text: str, *, voice: str | None = None, language: str | None = None) -> Speech:
        """MP3 audio of `text`. `BackendUnavailable` when the engine cannot be reached."""


class Identity(Protocol):
    """Family users and their passwords (argon2 in the records DB, or Cognito)."""

    def create_user(self, username: str, password: str, *, is_admin: bool = False) -> User: ...

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password is right and the user is enabled, else None.
        Must not reveal whether the user exists (same answer, similar time)."""

    def get_user(self, username: str) -> User: ...

    def list_users(self) -> list[User]: ...

    def update_user(
        self,
        username: str,
        *,
        password: str | None = None,
        is_admin: bool | None = None,
        disabled: bool | None = None,
    ) -> User: ...

    def delete_user(self, username: str) -> None: ...

    def password_hash(self, username: str) -> str | None:
        """The stored argon2id hash of the user's password where this side keeps
        one (local), None where the passwords never leave the service (Cognito).
        Only the migration asks, to carry passwords over. `NotFound` for no user."""


class SecretHasher(Protocol):
    """Slow one-way hashes of passwords and reset codes (argon2id)."""

    def hash(self, secret: str) -> str: ...

    def verify(self, stored: str, secret: str) -> bool:
        """True when `secret` is the one `stored` was made from; False for a
        mismatch or a malformed hash, never an exception."""


@dataclass(frozen=True)
class Chapter:
    """A chapter mark of an audio file (M4B/M4A chapters, MP3 CHAP frames): its title ("" when it has none)."""

    title: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class AudioTags:
    """What a file's tags say about it: its title and album (None when absent) and its chapter marks, in order."""

    title: str | None = None
    album: str | None = None
    chapters: tuple[Chapter, ...] = ()


class TagReader(Protocol):
    def read(self, path: Path) -> AudioTags:
        """The tags of `path`; empty tags (never an error) for a file whose tags cannot be read."""


class Transcoder(Protocol):
    """Audio in any accepted format to the stored layout (`core.audio`);
    `UnsupportedAudio` for what is not audio, `UnreadableAudio` for what cannot
    be decoded in full or runs past `max_duration_s`."""

    def sniff(self, path: Path) -> str | None:
        """The format the file's content announces (mp3, aac, m4a, wav, flac, ogg), or None."""

    def probe(self, path: Path) -> AudioFacts:
        """What the headers say (duration, rate, channels), without decoding."""

    def normalize(self, src: Path, dst: Path, *, max_duration_s: float, bitrate: int) -> AudioFacts:
        """Decode `src` in full and write the stored layout to `dst` (only when all went well)."""

    def split(self, path: Path, work: Path, parts: int) -> list[Path]:
        """Cut a stored-layout MP3 into `parts` files of equal frame counts in `work`."""

    def levels(self, path: Path, step_s: float) -> list[float]:
        """The loudness (dB, any monotonic scale) of each `step_s` seconds of a stored MP3."""

    def cut(self, path: Path, work: Path, at_s: Sequence[float]) -> list[Path]:
        """Cut a stored-layout MP3 at the frame boundaries nearest `at_s` into files in `work`."""
