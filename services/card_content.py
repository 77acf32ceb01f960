"""What goes on a streaming card: the rules a card's content must meet before
anything is sent to Yoto, and the chapters built from audio items.

Shared by hand-made cards (`services.cards`) and cards that follow a playlist
(`services.playlist_cards`): one chapter per audio item, one `stream` track in
it whose URL is our stable signed stream URL (`services.streams`), never a
presigned storage URL. Keys and the `yoto:#` icon form are the Yoto adapter's
business (`adapters/yoto/cards.py`); this module only says which chapters.

Read-modify-write: when a card is rewritten, a chapter whose track streamed
the same audio item keeps the JSON Yoto held for it (ambient colours, fields
we do not model), with our title, icon, URL and duration laid over it.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, tzinfo
from typing import Protocol
from urllib.parse import urlsplit

from core import storage_modes
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.ports import AudioRepository, CardRepository
from core.records import AudioItem, Card, User
from core.settings import Settings
from core.usernames import name_of
from core.yoto.cloud import YotoChapter, YotoCloud, YotoTrack
from core.yoto.limits import CardLimits
from core.yoto.uploads import Transcoded
from services import access, streams
from services.icons import IconCatalog, IconIndex
from services.long_audio import part_title
from services.yoto_storage import YotoStoragePorts
from services.yoto_tokens import YotoTokenService

TITLE_MAX = 100  # Yoto's limit for card and track titles
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class UserLookup(Protocol):
    """Users by member id, for the ownership rule (`services.members.MemberLookup`)."""

    def get_user(self, owner: str) -> User: ...


@dataclass(frozen=True)
class CardRules:
    public_url: str
    allow_http: bool
    max_tracks: int
    max_cover_bytes: int
    limits: CardLimits = field(default_factory=CardLimits)
    zone: tzinfo = UTC  # the family's clock (FAMILY_TIMEZONE): when a day-by-day card's chapters open

    @classmethod
    def of(cls, settings: Settings) -> CardRules:
        return cls(
            public_url=settings.public_url.rstrip("/"),
            allow_http=settings.allow_http_public_url,
            max_tracks=settings.max_card_tracks,
            max_cover_bytes=settings.max_cover_bytes,
            limits=CardLimits.of(settings),
            zone=settings.family_tz,
        )

    def storage(self, asked: str | None, current: str | None = None) -> str:
        """The mode a write uses: the one asked for, else the card's own, else the install's default."""
        return storage_modes.checked(asked if asked is not None else current, self.public_url, self.allow_http)


@dataclass(frozen=True)
class YotoAccess:
    """The Yoto cloud with a linked account's tokens, and the icon catalogue."""

    cloud: YotoCloud
    tokens: YotoTokenService
    icons: IconCatalog

    def icon_index(self, account: str) -> IconIndex:
        return self.tokens.call(account, self.icons.index)


@dataclass(frozen=True)
class CardPorts:
    audio: AudioRepository
    cards: CardRepository
    users: UserLookup
    yoto: YotoAccess
    stream_key: bytes
    rules: CardRules
    media: YotoStoragePorts | None = None  # uploads to Yoto's storage (`yoto` cards)


# --------------------------------------------------------------------------- rules


def require_https_public_url(rules: CardRules) -> None:
    """`Conflict` unless players can fetch our URLs: PUBLIC_URL https://, or http:// allowed."""
    scheme = urlsplit(rules.public_url).scheme
    if scheme == "https" or (scheme == "http" and rules.allow_http):
        return
    raise Conflict(
        f"PUBLIC_URL is {rules.public_url!r}, but Yoto players fetch our track URLs themselves, so it must be"
        " the service's https:// address: set PUBLIC_URL=https://…, or ALLOW_HTTP_PUBLIC_URL=true for"
        " development and tests"
    )


def check_title(title: str, what: str = "title") -> str:
    title = title.strip()
    if not title:
        raise Invalid(f"{what} is empty")
    if len(title) > TITLE_MAX:
        raise Invalid(f"{what} is longer than {TITLE_MAX} characters")
    return title


def listing_owner(user: User, everyone: bool) -> str | None:
    """Whose records a listing shows: the caller's, or with `everyone` (admins only) all."""
    if not everyone:
        return user.owner_id
    if not user.is_admin:
        raise Forbidden("only an admin may list everyone's")
    return None


def get_card(cards: CardRepository, user: User, card_id: str) -> Card:
    card = access.found(cards.get, "card", card_id)
    access.visible(user, card.owner, "card", card_id)
    return card


def usable_audio(audio: AudioRepository, users: UserLookup, user: User, ids: Sequence[str]) -> dict[str, AudioItem]:
    """The items for `ids`, each existing and the caller's (an admin's items, and
    for an admin every item, also do); `Invalid` naming the first that is not."""
    found: dict[str, AudioItem] = {}
    admins: dict[str, bool] = {}
    for audio_id in ids:
        if audio_id in found:
            continue
        try:
            item = audio.get(audio_id)
        except NotFound:
            raise Invalid(f"no audio item {audio_id}") from None
        if not user.is_admin and item.owner != user.owner_id:
            if item.owner not in admins:
                try:
                    admins[item.owner] = users.get_user(item.owner).is_admin
                except NotFound:
                    admins[item.owner] = False
            if not admins[item.owner]:
                raise Invalid(f"audio item {audio_id} is {name_of(item.owner)}'s: use your own items or an admin's")
        found[audio_id] = item
    return found


def existing_audio(audio: AudioRepository, ids: Iterable[str]) -> dict[str, AudioItem]:
    """The items of `ids` that still exist: one deleted with ?force=true is left out, never sent as a dead URL."""
    found: dict[str, AudioItem] = {}
    for audio_id in dict.fromkeys(ids):
        try:
            found[audio_id] = audio.get(audio_id)
        except NotFound:
            continue
    return found


# --------------------------------------------------------------------------- chapters


@dataclass(frozen=True)
class Entry:
    """One chapter to write: an item, the title asked for ("" = the item's) and the icon asked for ("" = choose)."""

    item: AudioItem
    title: str = ""
    icon: str = ""


@dataclass(frozen=True)
class Built:
    chapters: tuple[YotoChapter, ...]
    audio_ids: tuple[str, ...]
    chosen_icons: tuple[str, ...]


_SHA256 = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


def _item_of(track: YotoTrack, public_url: str, by_sha: Mapping[str, str]) -> str | None:
    """Which item an old track played: our stream URL names it; a `yoto:#` reference, or
    the signed media URL Yoto may return in its place, names a transcode we hold."""
    url = track.track_url or ""
    if url.startswith("yoto:#"):
        return by_sha.get(url.removeprefix("yoto:#"))
    item_id = streams.item_id_of_url(public_url, url)
    if item_id or track.type != "audio":
        return item_id
    return next((by_sha[sha] for sha in _SHA256.findall(url.lower()) if sha in by_sha), None)


def _reusable(old: Sequence[YotoChapter], public_url: str, by_sha: Mapping[str, str]) -> dict[str, deque[YotoChapter]]:
    by_item: dict[str, deque[YotoChapter]] = defaultdict(deque)
    for chapter in old:
        for track in chapter.tracks[:1]:
            item_id = _item_of(track, public_url, by_sha)
            if item_id:
                by_item[item_id].append(chapter)
    return by_item


def _track(
    item: AudioItem, title: str, icon: str, url_of: Callable[[AudioItem], str], held: Transcoded | None
) -> YotoTrack:
    if held is not None:
        return held.track(title, icon=icon or None)
    return YotoTrack(
        title=title,
        track_url=url_of(item),
        type="stream",
        format=item.format or "mp3",
        duration=item.duration_s,
        icon=icon or None,
    )


def build_chapters(
    entries: Sequence[Entry],
    index: IconIndex,
    card_title: str,
    *,
    url_of: Callable[[AudioItem], str],
    public_url: str,
    old: Sequence[YotoChapter] = (),
    media: Mapping[str, Transcoded | Sequence[Transcoded]] | None = None,
) -> Built:
    """One chapter per entry, in order, each with one track: Yoto's stored transcode when
    `media` holds the item (a `yoto` card), else our stream URL; icons from the scorer
    unless the entry names one. Chapters of `old` that played the same item keep their
    JSON (read-modify-write), and a track of the same kind its own; keys are renumbered."""
    parts = {
        item_id: (held,) if isinstance(held, Transcoded) else tuple(held) for item_id, held in (media or {}).items()
    }
    reuse = _reusable(old, public_url, {one.sha256: item_id for item_id, held in parts.items() for one in held})
    chapters: list[YotoChapter] = []
    icons: list[str] = []
    for entry in entries:
        item = entry.item
        title = entry.title or item.title[:TITLE_MAX]
        choice = index.choose(title, card_title) if not entry.icon else None
        icon = entry.icon or (choice.media_id if choice else "")
        pieces = parts.get(item.id, ())
        held = pieces[0] if len(pieces) == 1 else None
        track = _track(item, title, icon, url_of, held)
        queue = reuse.get(item.id)
        if queue:
            before = queue.popleft()
            kept = before.tracks[0]
            if kept.type == track.type and held is None:
                track = replace(track, raw=kept.raw, file_size=kept.file_size)
            elif kept.type == track.type:
                track = replace(track, raw={**kept.raw, **track.raw})
            chapter = replace(
                before, title=title, tracks=(track,), icon=icon or None, key=None, overlay_label=None, duration=None
            )
        else:
            chapter = YotoChapter(title=title, tracks=(track,), icon=icon or None)
        if len(pieces) > 1:  # cut at its quiet moments: one track per part, in one chapter
            split = tuple(p.track(part_title(title, n), icon=icon or None) for n, p in enumerate(pieces, start=1))
            chapter = replace(chapter, tracks=split)
        chapters.append(chapter)
        icons.append(icon)
    return Built(tuple(chapters), tuple(e.item.id for e in entries), tuple(icons))


def stream_url_maker(ports: CardPorts) -> Callable[[AudioItem], str]:
    return lambda item: streams.url_for(ports.rules.public_url, ports.stream_key, item)
