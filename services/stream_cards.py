"""The card writer of podcast cards: `services.cards` acting as the podcast's owner.

A podcast card is an ordinary streaming card (listed under `/api/cards`, one
chapter per track, our signed stream URLs, icons chosen by the scorer), made
and rewritten in place through the same use cases as a hand-made one. If the
family deleted the card meanwhile, the next refresh makes a new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import NotFound
from core.records import Card, User
from core.usernames import name_of
from services import cards
from services.card_content import CardPorts


@dataclass(frozen=True)
class ServiceCardWriter:
    ports: CardPorts

    def write(self, owner: str, card_id: str | None, title: str, tracks: Sequence[Any]) -> Card:
        user = User(username=name_of(owner), id=owner)
        spec = cards.CardSpec(title=title, tracks=[cards.TrackSpec(t.audio_id, title=t.title) for t in tracks])
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
