"""The card doctor: what a player would meet on each track of a card, and the repair.

`check` reads the card as Yoto holds it and, per track: for a `stream` track,
whether it is one of our stream URLs on an address players can reach, signed
for an item that exists, whose bytes answer a range read, with the card's
duration the item's; for a `yoto` track, whether its `yoto:#` reference is a
transcode we put there and its declared format, duration, size and channels
are that transcode's. `repair` rewrites the card in place from its record,
which rebuilds every track (docs/cards.md, "The card doctor").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from core import storage_modes
from core.errors import Conflict, NotFound
from core.records import AudioItem, Card, User
from core.yoto.cloud import YotoTrack
from core.yoto.uploads import Transcoded
from services import access, cards, streams, yoto_storage
from services import card_content as content
from services.card_content import CardPorts
from services.cards import CardSpec, TrackSpec

DURATION_SLACK_S = 1.0  # a declared duration this close to the real one is fine


@dataclass(frozen=True)
class TrackCheck:
    chapter: int
    track: int
    title: str
    kind: str  # stream | audio | other
    audio_id: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class CardCheck:
    card: Card
    tracks: list[TrackCheck]
    problems: list[str]  # the card's own (limits, a missing Yoto card)

    @property
    def ok(self) -> bool:
        return not self.problems and all(t.ok for t in self.tracks)


def check(ports: CardPorts, user: User, card_id: str) -> CardCheck:
    card = content.get_card(ports.cards, user, card_id)
    if not card.yoto_card_id:
        return CardCheck(card, [], ["the card has no Yoto card (yet)"])
    held = _held_by_sha(ports, card)
    current = ports.yoto.tokens.call(card.owner, ports.yoto.cloud.get_card, card.yoto_card_id)
    found: list[TrackCheck] = []
    for c, chapter in enumerate(current.chapters, start=1):
        for t, track in enumerate(chapter.tracks, start=1):
            found.append(_track(ports, card, c, t, track, held))
    problems = []
    if not found:
        problems.append("the card has no tracks")
    modes = {t.kind for t in found}
    wanted = "audio" if card.storage == storage_modes.YOTO else "stream"
    if found and modes != {wanted}:
        problems.append(f"the card is a {card.storage} card but holds {', '.join(sorted(modes - {wanted}))} tracks")
    return CardCheck(card, found, problems)


def repair(ports: CardPorts, user: User, card_id: str) -> Card:
    """Rewrite the card in place from its record (same Yoto card id, every track rebuilt)."""
    card = content.get_card(ports.cards, user, card_id)
    access.may_change(user, card.owner, "card")
    if card.playlist_id:
        raise Conflict(f"this card follows playlist {card.playlist_id}: its next sync rewrites it")
    if card.story_id:
        raise Conflict(f"this card plays story {card.story_id}: make the story's card again to rewrite it")
    tracks = [
        TrackSpec(a, (card.track_titles[i] if i < len(card.track_titles) else "") or None, _at(card.track_icons, i))
        for i, a in enumerate(card.audio_ids)
    ]
    spec = CardSpec(card.title, tracks, card.description, card.author, card.storage)
    return cards.update(ports, user, card.id, spec)


def _at(values: tuple[str, ...], i: int) -> str | None:
    return (values[i] or None) if i < len(values) else None


def _held_by_sha(ports: CardPorts, card: Card) -> dict[str, tuple[AudioItem, Transcoded]]:
    media = ports.media
    if media is None:
        return {}
    out: dict[str, tuple[AudioItem, Transcoded]] = {}
    for item in content.existing_audio(ports.audio, card.audio_ids).values():
        try:
            body = media.settings.get(yoto_storage.held_key(card.owner, item.id))
        except NotFound:
            continue
        for part in body.get("parts", [body]):
            try:
                one = Transcoded(**part)
            except TypeError:
                continue
            out[one.sha256] = (item, one)
    return out


def _track(
    ports: CardPorts, card: Card, c: int, t: int, track: YotoTrack, held: dict[str, tuple[AudioItem, Transcoded]]
) -> TrackCheck:
    url = track.track_url or ""
    if track.type == "stream":
        return _stream(ports, c, t, track, url)
    if track.type == "audio":
        return _audio(c, t, track, url, held)
    return TrackCheck(c, t, track.title, "other", None, [f"a {track.type!r} track: neither stream nor audio"])


def _stream(ports: CardPorts, c: int, t: int, track: YotoTrack, url: str) -> TrackCheck:
    rules = ports.rules
    problems: list[str] = []
    scheme = urlsplit(url).scheme
    if scheme != "https" and not (scheme == "http" and rules.allow_http):
        problems.append(f"players fetch only https URLs, and this one is {scheme or 'not a URL'}")
    item_id = streams.item_id_of_url(rules.public_url, url)
    if item_id is None:
        problems.append(f"not a stream URL of this service ({rules.public_url})")
        return TrackCheck(c, t, track.title, "stream", None, problems)
    token = url[len(streams.stream_url(rules.public_url, "")) - len(".mp3") : -len(".mp3")]
    try:
        item = ports.audio.get(item_id)
    except NotFound:
        return TrackCheck(c, t, track.title, "stream", item_id, [*problems, "its audio item was deleted"])
    parts = streams.split_token(token)
    if parts is None or not streams.token_matches(ports.stream_key, item_id, item.stream_key, parts[1]):
        problems.append("its signature is no longer valid (the item's stream link was revoked)")
    storage = ports.media.storage if ports.media is not None else None
    if storage is not None:
        try:
            info = storage.head(item.storage_key)
            if info.size < 2 or len(storage.read_range(item.storage_key, 0, 1)) != 2:
                problems.append("a range read of its bytes does not answer 2 bytes (a player would get no 206)")
        except NotFound:
            problems.append("its audio file is missing")
    if track.format not in (None, item.format or "mp3"):
        problems.append(f"declared {track.format}, the item is {item.format or 'mp3'}")
    if track.duration is not None and abs(track.duration - (item.duration_s or 0.0)) > DURATION_SLACK_S:
        problems.append(f"declared {track.duration:g} s, the item lasts {item.duration_s:g} s")
    return TrackCheck(c, t, track.title, "stream", item_id, problems)


def _audio(c: int, t: int, track: YotoTrack, url: str, held: dict[str, tuple[AudioItem, Transcoded]]) -> TrackCheck:
    if not url.startswith("yoto:#"):
        return TrackCheck(c, t, track.title, "audio", None, [f"its trackUrl is not a yoto:# reference ({url[:40]!r})"])
    found = held.get(url.removeprefix("yoto:#"))
    if found is None:
        return TrackCheck(c, t, track.title, "audio", None, ["not a transcode this service put into Yoto's storage"])
    item, info = found
    problems: list[str] = []
    if track.format != info.format:
        problems.append(f"declared format {track.format}, the transcode is {info.format}")
    if track.duration is None or abs(track.duration - info.duration_s) > DURATION_SLACK_S:
        problems.append(f"declared {track.duration} s, the transcode lasts {info.duration_s:g} s")
    if track.file_size != info.file_size:
        problems.append(f"declared {track.file_size} bytes, the transcode is {info.file_size}")
    channels = track.raw.get("channels")
    if channels != info.channels:
        problems.append(f"declared channels {channels}, the transcode is {info.channels}")
    return TrackCheck(c, t, track.title, "audio", item.id, problems)
