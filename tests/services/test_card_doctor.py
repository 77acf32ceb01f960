"""The card doctor on the memory root and the in-process Yoto cloud: a healthy card of
either mode checks clean; what Yoto holds is then damaged behind our back (a wrong
duration, size or format, a foreign reference, a deleted item) and each is reported
on its track; `repair` rewrites the same card and it checks clean again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.errors import NotFound
from core.records import User
from services import card_doctor, cards
from services.cards import CardSpec, TrackSpec
from tests.audio_fixtures import write_tone
from tests.services.memory_root import add_item
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

MUM = User("mum", is_admin=True, id="mum")


def _audio(root: Root, tmp_path: Path, title: str, freq: float = 440.0) -> str:
    src = write_tone(tmp_path / f"{title}.mp3", "mp3", seconds=1.0, freq=freq)
    item_id = add_item(root, title, duration_s=1.0, size_bytes=src.stat().st_size)
    root.adapters.storage.put_file(root.records.audio.get(item_id).storage_key, src, "audio/mpeg")
    return item_id


def _damage(cloud: InProcessCloud, yoto_card_id: str | None, **track: Any) -> None:
    """Change the first track as Yoto holds it, as if another app had written the card."""
    stored = cloud.state.cards._cards[str(yoto_card_id)].card
    stored["content"]["chapters"][0]["tracks"][0].update(track)


def _problems(root: Root, card_id: str) -> list[str]:
    return [p for t in card_doctor.check(root.cards, MUM, card_id).tracks for p in t.problems]


def test_a_yoto_card_checks_clean_then_its_damage_is_named_and_repaired(
    root: Root, cloud: InProcessCloud, tmp_path: Path
) -> None:
    a, b = _audio(root, tmp_path, "Owl"), _audio(root, tmp_path, "Moon", 660.0)
    card = cards.create(root.cards, MUM, CardSpec("Night", [TrackSpec(a), TrackSpec(b)], storage="yoto"))
    found = card_doctor.check(root.cards, MUM, card.id)
    assert found.ok and [(t.kind, t.audio_id) for t in found.tracks] == [("audio", a), ("audio", b)]
    _damage(cloud, card.yoto_card_id, fileSize=1, format="mp3")
    problems = _problems(root, card.id)
    assert any("declared 1 bytes" in p for p in problems) and any("declared format mp3" in p for p in problems)
    _damage(cloud, card.yoto_card_id, trackUrl="yoto:#" + "0" * 64)
    assert _problems(root, card.id) == ["not a transcode this service put into Yoto's storage"]
    fixed = card_doctor.repair(root.cards, MUM, card.id)
    assert fixed.yoto_card_id == card.yoto_card_id
    assert card_doctor.check(root.cards, MUM, card.id).ok


def test_a_stream_card_checks_its_urls_and_items(root: Root, cloud: InProcessCloud, tmp_path: Path) -> None:
    a = _audio(root, tmp_path, "Owl")
    card = cards.create(root.cards, MUM, CardSpec("Night", [TrackSpec(a)], storage="stream"))
    assert card_doctor.check(root.cards, MUM, card.id).ok
    _damage(cloud, card.yoto_card_id, duration=300)
    assert _problems(root, card.id) == ["declared 300 s, the item lasts 1 s"]
    _damage(cloud, card.yoto_card_id, trackUrl="http://elsewhere.example/a.mp3")
    problems = _problems(root, card.id)
    assert problems[0].startswith("players fetch only https URLs") and "not a stream URL of this service" in problems[1]
    card_doctor.repair(root.cards, MUM, card.id)
    assert card_doctor.check(root.cards, MUM, card.id).ok
    root.records.audio.delete(a)
    assert _problems(root, card.id) == ["its audio item was deleted"]


def test_a_card_of_the_other_mode_is_named_and_another_members_card_is_not_found(
    root: Root, cloud: InProcessCloud, tmp_path: Path
) -> None:
    a = _audio(root, tmp_path, "Owl")
    card = cards.create(root.cards, MUM, CardSpec("Night", [TrackSpec(a)], storage="stream"))
    root.records.cards.update(card.__class__(**{**vars(card), "storage": "yoto"}))
    assert card_doctor.check(root.cards, MUM, card.id).problems == ["the card is a yoto card but holds stream tracks"]
    root.adapters.identity.create_user("kid", "purple monkey dishwasher")
    with pytest.raises(NotFound):
        card_doctor.check(root.cards, User("kid", id="kid"), card.id)
