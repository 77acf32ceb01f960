"""The card writer podcast cards use until `services.cards` lands on main.

One chapter per track, one `stream` track in it pointing at our stable signed
stream URL (`services.streams`), written on the owner's linked Yoto account;
a rewrite reads the card first and keeps whatever Yoto holds that we do not
set. The `Card` record is kept alongside, so `CardRepository.using_audio`
protects a podcast's items from deletion like any other card's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from core.errors import NotFound
from core.ports import AudioRepository, CardRepository
from core.records import Card, new_id, utcnow
from core.yoto import YotoCard, YotoChapter, YotoCloud, YotoTrack
from services import streams


class TokenCalls(Protocol):
    def call(self, account: str, fn: Callable[..., Any], *args: object, **kwargs: object) -> Any: ...


@dataclass(frozen=True)
class YotoCardWriter:
    cards: CardRepository
    audio: AudioRepository
    cloud: YotoCloud
    tokens: TokenCalls
    stream_key: bytes
    public_url: str

    def _chapters(self, tracks: Sequence[Any]) -> list[YotoChapter]:
        out = []
        for t in tracks:
            item = self.audio.get(t.audio_id)
            url = streams.url_for(self.public_url, self.stream_key, item)
            track = YotoTrack(title=t.title, track_url=url, duration=item.duration_s, file_size=item.size_bytes)
            out.append(YotoChapter(title=t.title, tracks=(track,), duration=item.duration_s))
        return out

    def write(self, owner: str, card_id: str | None, title: str, tracks: Sequence[Any]) -> Card:
        chapters = self._chapters(tracks)
        ids = tuple(t.audio_id for t in tracks)
        if card_id is None:
            saved = self.tokens.call(owner, self.cloud.save_card, YotoCard(title=title, chapters=chapters))
            card = Card(id=new_id(), owner=owner, title=title, yoto_card_id=saved.card_id, audio_ids=ids)
            try:
                self.cards.add(card)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.tokens.call(owner, self.cloud.delete_card, saved.card_id)
                raise
            return card
        card = self.cards.get(card_id)
        current = self.tokens.call(owner, self.cloud.get_card, card.yoto_card_id)
        self.tokens.call(owner, self.cloud.save_card, replace(current, title=title, chapters=chapters))
        return self.cards.update(replace(card, title=title, audio_ids=ids, updated_at=utcnow()))

    def remove(self, owner: str, card_id: str) -> None:
        try:
            card = self.cards.get(card_id)
        except NotFound:
            return
        if card.yoto_card_id:
            with contextlib.suppress(NotFound):
                self.tokens.call(owner, self.cloud.delete_card, card.yoto_card_id)
        self.cards.delete(card.id)
