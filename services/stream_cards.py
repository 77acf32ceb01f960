"""The card writer of podcast cards: `services.cards` acting as the podcast's owner.

A podcast card is an ordinary card (listed under `/api/cards`, one chapter per
track, icons chosen by the scorer) in the podcast's storage mode, made and
rewritten in place through the same use cases as a hand-made one; a `yoto`
card's uploads run inline. If the family deleted the card, a new one is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core import storage_modes
from core.errors import Conflict, NotFound
from core.records import Card, User
from core.usernames import name_of
from services import card_content as content
from services import cards
from services.card_content import CardPorts


@dataclass(frozen=True)
class ServiceCardWriter:
    ports: CardPorts

    def storage(self, asked: str | None) -> str:
        """The mode a podcast gets: `asked`, else the install's default; refused as a card
        write would refuse it (stream without a reachable PUBLIC_URL, yoto without uploads)."""
        mode = self.ports.rules.storage(asked)
        if mode == storage_modes.STREAM:
            content.require_https_public_url(self.ports.rules)
        elif self.ports.media is None:
            raise Conflict("this install cannot upload to Yoto's storage; choose storage 'stream'")
        return mode

    def write(
        self, owner: str, card_id: str | None, title: str, tracks: Sequence[Any], storage: str | None = None
    ) -> Card:
        user = User(username=name_of(owner), id=owner)
        spec = cards.CardSpec(
            title=title, tracks=[cards.TrackSpec(t.audio_id, title=t.title) for t in tracks], storage=storage
        )
        if card_id is not None:
            try:
                self.ports.cards.get(card_id)
            except NotFound:
                card_id = None  # deleted by hand: make a new one
        if card_id is None:
            return cards.create(self.ports, user, spec)
        return cards.update(self.ports, user, card_id, spec)

    def remove(self, owner: str, card_id: str) -> None:
        try:
            card = self.ports.cards.get(card_id)
        except NotFound:
            return
        cards.delete_on_yoto_and_here(self.ports, card)
