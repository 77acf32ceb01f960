"""MYO cards made by hand: create, list, read, rewrite in place, delete, cover.

A card's `storage` is `stream` (our signed URLs) or `yoto` (each item uploaded
to Yoto's storage once per account, `services.yoto_storage`); a rewrite may
move it between the two and keeps its Yoto card id. Order of work, so a
failure leaves nothing half-made:
1. every check that needs no Yoto call (the mode, PUBLIC_URL for streaming,
   title, track count, Yoto's limits for stored audio, each audio item
   existing and usable by the caller): a refusal here means Yoto saw no request;
2. the Yoto calls (uploads of what Yoto lacks, icon list, read of the card for a
   rewrite, the write): a track that cannot be uploaded writes nothing;
3. the record. A create whose record cannot be stored deletes the Yoto card
   again; a rewrite that Yoto refuses leaves the record as it was.

A card lives on its owner's Yoto account: a rewrite, cover or delete by an
admin uses the owner's link.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from core import storage_modes
from core.errors import Conflict, Invalid
from core.records import AudioItem, Card, Page, User, new_id, utcnow
from core.yoto import limits
from core.yoto.cloud import Icon, YotoCard
from core.yoto.uploads import Transcoded
from services import access, yoto_storage
from services import card_content as content
from services.card_content import CardPorts, Entry
from services.images import image_kind_and_size
from services.library import paged
from services.yoto_storage import TrackProgress

log = logging.getLogger("yss.cards")


@dataclass(frozen=True)
class TrackSpec:
    """One track as the family asks for it: an item, and optionally its title and icon (a media id)."""

    audio_id: str
    title: str | None = None
    icon: str | None = None


@dataclass(frozen=True)
class CardSpec:
    title: str
    tracks: Sequence[TrackSpec]
    description: str | None = None
    author: str | None = None
    storage: str | None = None  # stream | yoto; None: the card's own, else the install's default


Progress = Callable[[TrackProgress], None]


@dataclass(frozen=True)
class Checked:
    title: str
    entries: list[Entry]
    storage: str


def _checked(
    ports: CardPorts, user: User, spec: CardSpec, *, known: Sequence[str] = (), current: str | None = None
) -> Checked:
    """The title, entries and mode of a valid spec, before any Yoto call. Items in
    `known` (the card's current tracks) that were deleted meanwhile are skipped."""
    storage = ports.rules.storage(spec.storage, current)
    if storage == storage_modes.STREAM:
        content.require_https_public_url(ports.rules)
    elif ports.media is None:
        raise Conflict("this install cannot upload to Yoto's storage; make a streaming card")
    title = content.check_title(spec.title)
    limit = ports.rules.max_tracks
    if not 1 <= len(spec.tracks) <= limit:
        raise Invalid(f"a card holds 1 to {limit} tracks, not {len(spec.tracks)}")
    gone = set(known) - set(content.existing_audio(ports.audio, known))
    wanted = [t.audio_id for t in spec.tracks if t.audio_id not in gone]
    items = content.usable_audio(ports.audio, ports.users, user, wanted)
    entries = []
    for i, t in enumerate(spec.tracks, start=1):
        if t.audio_id in gone:
            continue
        track_title = content.check_title(t.title, f"tracks[{i}].title") if t.title is not None else ""
        entries.append(Entry(items[t.audio_id], track_title, t.icon or ""))
    if not entries:
        raise Invalid("none of the card's tracks exist any more: add at least one")
    if storage == storage_modes.YOTO:
        limits.check(ports.rules.limits, [s for e in entries for s in _sized(ports, e)])
    return Checked(title, entries, storage)


def _sized(ports: CardPorts, entry: Entry) -> list[limits.Sized]:
    return yoto_storage.planned(ports.media, entry.item, entry.title or entry.item.title)


def _media(
    ports: CardPorts, account: str, checked: Checked, on_progress: Progress | None
) -> dict[str, tuple[Transcoded, ...]]:
    """For a `yoto` card, each item's transcodes in Yoto's storage (uploading what it lacks;
    an item too long for one track as its parts)."""
    if checked.storage != storage_modes.YOTO or ports.media is None:
        return {}
    items = list({e.item.id: e.item for e in checked.entries}.values())
    done = yoto_storage.put_tracks(ports.media, account, items, on_progress=on_progress)
    return {item.id: held for item, held in zip(items, done, strict=True)}


def missing_uploads(ports: CardPorts, user: User, spec: CardSpec, card_id: str | None = None) -> list[AudioItem]:
    """The items a write of `spec` would have to upload first (none for a streaming card),
    after every check a write makes before calling Yoto."""
    current = content.get_card(ports.cards, user, card_id) if card_id else None
    if current is not None:
        access.may_change(user, current.owner, "card")
    checked = _checked(
        ports,
        user,
        spec,
        known=current.audio_ids if current else (),
        current=current.storage if current else None,
    )
    if checked.storage != storage_modes.YOTO or ports.media is None:
        return []
    account = current.owner if current else user.owner_id
    items = {e.item.id: e.item for e in checked.entries}
    return [item for item in items.values() if not yoto_storage.is_held(ports.media, account, item)]


def _record_fields(spec: CardSpec, checked: Checked, chosen: tuple[str, ...]) -> dict[str, object]:
    entries = checked.entries
    return {
        "title": checked.title,
        "description": spec.description,
        "author": spec.author,
        "audio_ids": tuple(e.item.id for e in entries),
        "track_titles": tuple(e.title for e in entries),
        "track_icons": tuple(e.icon for e in entries),
        "chosen_icons": chosen,
        "storage": checked.storage,
    }


def create(
    ports: CardPorts, user: User, spec: CardSpec, *, card_id: str | None = None, on_progress: Progress | None = None
) -> Card:
    """A new card on the caller's Yoto account (`card_id`: the id it gets here, for a queued upload)."""
    checked = _checked(ports, user, spec)
    title = checked.title
    media = _media(ports, user.owner_id, checked, on_progress)
    yoto = ports.yoto
    index = yoto.icon_index(user.owner_id)
    built = content.build_chapters(
        checked.entries,
        index,
        title,
        url_of=content.stream_url_maker(ports),
        public_url=ports.rules.public_url,
        media=media,
    )
    new = YotoCard(title=title, chapters=built.chapters, description=spec.description, author=spec.author)
    saved = yoto.tokens.call(user.owner_id, yoto.cloud.save_card, new)
    now = utcnow()
    card = Card(
        id=card_id or new_id(),
        owner=user.owner_id,
        yoto_card_id=saved.card_id,
        created_at=now,
        updated_at=now,
        **_record_fields(spec, checked, built.chosen_icons),  # type: ignore[arg-type]
    )
    try:
        ports.cards.add(card)
    except Exception:
        forget_on_yoto(ports, user.owner_id, saved.card_id)
        raise
    return card


def forget_on_yoto(ports: CardPorts, account: str, yoto_card_id: str | None) -> None:
    """Best effort: delete a Yoto card whose record could not be kept."""
    if not yoto_card_id:
        return
    try:
        ports.yoto.tokens.call(account, ports.yoto.cloud.delete_card, yoto_card_id)
    except Exception:
        log.exception("could not delete Yoto card %s after its record failed", yoto_card_id)


def list_cards(ports: CardPorts, user: User, *, everyone: bool, limit: int, cursor: str | None) -> Page[Card]:
    owner = content.listing_owner(user, everyone)
    return paged(lambda: ports.cards.list(owner=owner, limit=limit, cursor=cursor))


def get(ports: CardPorts, user: User, card_id: str) -> Card:
    return content.get_card(ports.cards, user, card_id)


def _read_on_yoto(ports: CardPorts, card: Card) -> YotoCard:
    if not card.yoto_card_id:
        raise Conflict("this card has no Yoto card (yet); delete it and make a new one")
    return ports.yoto.tokens.call(card.owner, ports.yoto.cloud.get_card, card.yoto_card_id)


def update(ports: CardPorts, user: User, card_id: str, spec: CardSpec, *, on_progress: Progress | None = None) -> Card:
    """Rewrite the same Yoto card in place, keeping every field Yoto holds that we do not set
    (also when it moves between `stream` and `yoto`: the physical card keeps working)."""
    card = content.get_card(ports.cards, user, card_id)
    access.may_change(user, card.owner, "card")
    if card.playlist_id:
        raise Conflict(f"this card follows playlist {card.playlist_id}: change the playlist instead")
    if card.story_id:
        raise Conflict(f"this card plays story {card.story_id}: change the story and make its card again")
    checked = _checked(ports, user, spec, known=card.audio_ids, current=card.storage)
    title = checked.title
    if not card.yoto_card_id:
        raise Conflict("this card has no Yoto card (yet); delete it and make a new one")
    media = _media(ports, card.owner, checked, on_progress)
    yoto = ports.yoto
    index = yoto.icon_index(card.owner)
    current = _read_on_yoto(ports, card)
    built = content.build_chapters(
        checked.entries,
        index,
        title,
        url_of=content.stream_url_maker(ports),
        public_url=ports.rules.public_url,
        old=current.chapters,
        media=media,
    )
    changed = replace(
        current,
        title=title,
        chapters=built.chapters,
        # None keeps what Yoto holds; a value we held before and the family removed is cleared.
        description=spec.description if spec.description is not None else ("" if card.description else None),
        author=spec.author if spec.author is not None else ("" if card.author else None),
        card_id=card.yoto_card_id,
    )
    yoto.tokens.call(card.owner, yoto.cloud.save_card, changed)
    return ports.cards.update(replace(card, **_record_fields(spec, checked, built.chosen_icons)))  # type: ignore[arg-type]


def delete_on_yoto_and_here(ports: CardPorts, card: Card) -> None:
    """Yoto first: if Yoto fails, the record stays and the delete can be retried."""
    if card.yoto_card_id:
        ports.yoto.tokens.call(card.owner, ports.yoto.cloud.delete_card, card.yoto_card_id)
    ports.cards.delete(card.id)


def delete(ports: CardPorts, user: User, card_id: str, *, detach: Callable[[Card], None]) -> None:
    """Delete on Yoto, then here; `detach` then unhooks a playlist's card from its playlist."""
    card = content.get_card(ports.cards, user, card_id)
    access.may_change(user, card.owner, "card")
    delete_on_yoto_and_here(ports, card)
    detach(card)


# --------------------------------------------------------------------------- cover


def set_cover(ports: CardPorts, user: User, card_id: str, data: bytes) -> Card:
    card = content.get_card(ports.cards, user, card_id)
    access.may_change(user, card.owner, "card")
    if not data:
        raise Invalid("the cover image is empty")
    content_type, _width, _height = image_kind_and_size(data)  # read from its structure, not its first bytes
    yoto = ports.yoto
    current = _read_on_yoto(ports, card)
    cover = yoto.tokens.call(card.owner, yoto.cloud.upload_cover, data, content_type)
    yoto.tokens.call(card.owner, yoto.cloud.save_card, replace(current, cover_url=cover.media_url))
    return ports.cards.update(replace(card, cover_url=cover.media_url))


def search_icons(ports: CardPorts, user: User, q: str, *, limit: int) -> list[Icon]:
    """Yoto's public icons matching `q`, best first (the list needs a linked account's token)."""
    return ports.yoto.icon_index(user.owner_id).search(q, limit=limit)
