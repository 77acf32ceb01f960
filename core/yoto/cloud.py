"""The Yoto cloud as the services see it: typed values and the `YotoCloud` port.

The one httpx implementation lives in `adapters/yoto/`; it alone turns these
values into Yoto's JSON and back. Two conversions every side needs are written
once here because they are pure facts of Yoto's data, not of HTTP:
zero-padded chapter/track keys and the `yoto:#<mediaId>` icon reference. (The
0–16 / 0–100 volume scales are converted in `mqtt/protocol.py`.)

Cards are read-modify-written: every card, chapter and track keeps the JSON it
was read from in `raw`, and the adapter writes `raw` back with the typed fields
laid over it, so icons, durations, ambient colours and keys we do not know
survive an update. A typed field left `None` keeps what `raw` holds, except
`key` and `overlay_label`: None there means "number by position" ("01", "1"),
so a reordered chapter list is renumbered by clearing them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from core.errors import UpstreamError

# The scopes the service uses (docs/yoto.md, "Scopes"): refresh tokens, MYO cards
# and covers, the player list and config reads, MQTT commands and live state.
DEFAULT_SCOPES = "offline_access user:content:manage family:devices:view family:devices:manage family:devices:control"

# The `content.config` keys Yoto's card content schema documents; a card holds no other.
CONTENT_CONFIG_KEYS = frozenset(
    {"autoadvance", "resumeTimeout", "systemActivity", "trackNumberOverlayTimeout", "onlineOnly", "shuffle"}
)

# --------------------------------------------------------------------------- keys and icons


def pad_key(position: int) -> str:
    """The key of the `position`-th chapter or track (1-based): "01", "02" … "10", "100".

    Firmware has been seen to refuse unpadded keys ("8" for "08")."""
    if position < 1:
        raise ValueError(f"keys start at 1, not {position}")
    return f"{position:02d}"


ICON_REF_PREFIX = "yoto:#"


def icon_ref(media_id: str) -> str:
    """The `display.icon16x16` value naming a Yoto media id."""
    if not media_id or media_id.startswith(ICON_REF_PREFIX):
        raise ValueError(f"not a bare media id: {media_id!r}")
    return ICON_REF_PREFIX + media_id


def media_id_of(ref: str | None) -> str | None:
    """The media id in a `yoto:#<mediaId>` reference; None for anything else."""
    if ref and ref.startswith(ICON_REF_PREFIX) and len(ref) > len(ICON_REF_PREFIX):
        return ref[len(ICON_REF_PREFIX) :]
    return None


# --------------------------------------------------------------------------- errors


RELINK_MESSAGE = "relink your Yoto account"
NOT_LINKED_MESSAGE = "no Yoto account is linked: link one first"


class AccessTokenRejected(UpstreamError):
    """Yoto answered 401 to an access token. `services.yoto_tokens` refreshes and
    retries once; a second 401 becomes `RelinkNeeded`."""


# --------------------------------------------------------------------------- OAuth values


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint answered. `refresh_token` is None when Yoto did
    not rotate it (keep the old one)."""

    access_token: str
    expires_in: int
    refresh_token: str | None = None
    token_type: str = "Bearer"
    scope: str | None = None

    def expires_at(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.expires_in)


@dataclass(frozen=True)
class PkceRequest:
    """A prepared authorization-code login: send the browser to `url`, keep
    `state` and `code_verifier` (server side) until the callback comes back."""

    url: str
    state: str
    code_verifier: str
    redirect_uri: str


@dataclass(frozen=True)
class DeviceCodeStart:
    """The start of a device-code login: show `user_code` / `verification_uri`
    to the person, poll with `device_code` every `interval` seconds."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: int
    interval: float


@dataclass(frozen=True)
class DevicePoll:
    """One poll of a device-code login.

    `pending`: not approved yet; `slow_down`: the same, and poll 5 s less often
    (`interval` is the new one); `expired`: start again; `denied`: the person
    refused; `linked`: `grant` holds the tokens."""

    status: Literal["pending", "slow_down", "expired", "denied", "linked"]
    grant: TokenGrant | None = None
    interval: float | None = None


# --------------------------------------------------------------------------- players


@dataclass(frozen=True)
class Device:
    """One player of the account (`GET /device-v2/devices/mine`)."""

    device_id: str
    name: str
    online: bool
    device_type: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeviceStatus:
    """A player's last reported status: the device shadow's `device.status` block
    of `GET /device-v2/{id}/config`, and `device.online`. Every field is optional
    (a player that never reported has none); `updated_at` says how old it is.

    `volume_percent` is the user's volume (`userVolume`), `max_volume_percent`
    the system volume (`volume`), both 0-100; `free_disk_bytes` and
    `total_disk_bytes` are Yoto's KiB figures times 1024; `day_mode` is True by
    day, False at night; `card_inserted` 0 none, 1 physical, 2 remote."""

    device_id: str
    online: bool | None = None
    battery_percent: int | None = None
    charging: bool | None = None
    volume_percent: int | None = None
    active_card: str | None = None
    max_volume_percent: int | None = None
    headphones: bool | None = None
    wifi_strength: int | None = None  # dBm
    ssid: str | None = None
    uptime_s: int | None = None
    free_disk_bytes: int | None = None
    total_disk_bytes: int | None = None
    temperature_c: int | None = None
    battery_temperature_c: int | None = None
    card_inserted: int | None = None
    day_mode: bool | None = None
    updated_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeviceConfig:
    """A player's settings block. A PUT replaces the WHOLE block (keys left out
    fall back to firmware defaults), so always read, `merged`, then write."""

    device_id: str
    config: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)

    def merged(self, changes: Mapping[str, Any]) -> DeviceConfig:
        return DeviceConfig(self.device_id, {**self.config, **changes}, self.raw)


# --------------------------------------------------------------------------- cards


@dataclass(frozen=True)
class YotoTrack:
    """A track. `type="stream"` tracks carry our https `track_url`; `icon` is
    a media id (the chapter's icon applies when None); `key` None means its
    position in the chapter ("01", …)."""

    title: str
    track_url: str | None = None
    type: str = "stream"
    format: str | None = "mp3"
    duration: float | None = None
    file_size: int | None = None
    icon: str | None = None
    key: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class YotoChapter:
    title: str
    tracks: Sequence[YotoTrack] = ()
    icon: str | None = None
    key: str | None = None
    overlay_label: str | None = None
    duration: float | None = None
    available_from: str | None = None  # the instant it opens (ISO 8601, UTC); None: always open
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class YotoCard:
    """A MYO card. `card_id` None means "create"; otherwise an update in place.

    `content_config` keys (`CONTENT_CONFIG_KEYS` only) are laid over whatever
    `content.config` the card already had. `read_only` marks a card read for
    playback (`card_for_playback`, a shop card perhaps): it is never written."""

    title: str
    chapters: Sequence[YotoChapter] = ()
    card_id: str | None = None
    description: str | None = None
    author: str | None = None
    cover_url: str | None = None
    playback_type: str | None = None
    content_config: Mapping[str, Any] = field(default_factory=dict)
    read_only: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tracks(self) -> list[YotoTrack]:
        return [t for c in self.chapters for t in c.tracks]


@dataclass(frozen=True)
class CardSummary:
    """A card as `GET /content/mine` lists it: without chapters, so it is never
    written back (read the full card with `get_card` first)."""

    card_id: str
    title: str
    raw: Mapping[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- media


@dataclass(frozen=True)
class Icon:
    """A 16×16 display icon; use it on a chapter as `icon_ref(media_id)`."""

    media_id: str
    title: str
    tags: tuple[str, ...] = ()
    url: str | None = None


@dataclass(frozen=True)
class CoverImage:
    """An uploaded cover; `media_url` goes into `metadata.cover.imageL`."""

    media_id: str | None
    media_url: str


# --------------------------------------------------------------------------- the port


class YotoCloud(Protocol):
    """Every call the services make to the Yoto cloud.

    Errors: `UpstreamTimeout` (no answer in time), `UpstreamError` (5xx that
    persisted through retries, unreachable, nonsense answers), `RateLimited`
    (429 beyond the retry budget; `headers` carries Retry-After),
    `UpstreamRejected` (a 4xx; the message is Yoto's own), `NotFound`,
    `AccessTokenRejected` (401 on a REST call), `RelinkNeeded` (the refresh
    token is no longer accepted), `ConfigError` (no YOTO_CLIENT_ID).
    """

    # OAuth (login.yotoplay.com)
    def authorize_request(self, redirect_uri: str, *, state: str | None = None) -> PkceRequest: ...

    def exchange_code(self, code: str, *, code_verifier: str, redirect_uri: str) -> TokenGrant: ...

    def start_device_login(self) -> DeviceCodeStart: ...

    def poll_device_login(self, device_code: str, *, interval: float | None = None) -> DevicePoll: ...

    def refresh(self, refresh_token: str) -> TokenGrant:
        """Never retried after a request may have reached Yoto without an answer
        (a 5xx, a timeout, a dropped connection): a rotated refresh token used
        twice can revoke the whole chain. The same holds for every token call."""

    # players
    def list_devices(self, token: str) -> list[Device]: ...

    def device_status(self, token: str, device_id: str) -> DeviceStatus | None:
        """The status block of the player's config (never `/status`, whose scope
        Yoto refuses to third-party apps); None when Yoto refuses the read (403)."""

    def get_config(self, token: str, device_id: str) -> DeviceConfig: ...

    def put_config(self, token: str, config: DeviceConfig) -> DeviceConfig: ...

    # cards
    def save_card(self, token: str, card: YotoCard) -> YotoCard:
        """Create (`card_id` None) or update in place; answers the stored card.
        A create whose answer was lost is reconciled, never blindly resent."""

    def get_card(self, token: str, card_id: str) -> YotoCard:
        """One of the family's own (MYO) cards; `NotFound` for anything else."""

    def card_for_playback(self, token: str, card_id: str) -> YotoCard:
        """Any card the family can play, shop cards included, for reading its
        chapters (next/previous); answers a `read_only` card, never written."""

    def my_cards(self, token: str) -> list[CardSummary]: ...

    def delete_card(self, token: str, card_id: str) -> None:
        """Idempotent: a card Yoto no longer has is not an error."""

    # media
    def public_icons(self, token: str) -> list[Icon]: ...

    def upload_cover(self, token: str, data: bytes, content_type: str) -> CoverImage: ...
