"""The podcast card writer over the composition root on the memory adapters and the in-process Yoto cloud."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.errors import NotFound
from services.stream_cards import ServiceCardWriter
from tests.services.memory_root import add_item
from tests.yoto_inprocess import InProcessCloud
from wiring import Root


@dataclass(frozen=True)
class Track:
    audio_id: str
    title: str


def _episode(root: Root, title: str) -> Track:
    return Track(add_item(root, title, size_bytes=100, duration_s=600.0, source="podcast"), title)


def _titles(cloud: InProcessCloud, yoto_card_id: str | None) -> list[str]:
    card = cloud.card(str(yoto_card_id))
    assert card is not None
    return [c["title"] for c in card["content"]["chapters"]]


def test_a_podcast_card_is_made_then_rewritten_in_place_and_remade_when_deleted_by_hand(
    root: Root, cloud: InProcessCloud
) -> None:
    writer = ServiceCardWriter(root.cards)
    first = writer.write("mum", None, "Bedtime Stories", [_episode(root, "Ep 1")])
    again = writer.write("mum", first.id, "Bedtime Stories", [_episode(root, "Ep 2"), _episode(root, "Ep 1")])
    assert again.id == first.id and again.yoto_card_id == first.yoto_card_id
    assert _titles(cloud, again.yoto_card_id) == ["Ep 2", "Ep 1"]
    root.records.cards.delete(first.id)  # the family deleted it
    remade = writer.write("mum", first.id, "Bedtime Stories", [_episode(root, "Ep 3")])
    assert remade.id != first.id and _titles(cloud, remade.yoto_card_id) == ["Ep 3"]


def test_remove_deletes_on_yoto_and_here_and_an_unknown_card_is_nothing(root: Root, cloud: InProcessCloud) -> None:
    writer = ServiceCardWriter(root.cards)
    card = writer.write("mum", None, "Bedtime Stories", [_episode(root, "Ep 1")])
    writer.remove("mum", card.id)
    with pytest.raises(NotFound):
        root.records.cards.get(card.id)
    assert str(card.yoto_card_id) not in cloud.cards()
    writer.remove("mum", card.id)  # twice: nothing left to remove
