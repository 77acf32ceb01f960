"""The migration keeps branching stories: a story moves to the other side whole (its scenes,
its card's id, its version) and is verified there; a second run copies nothing."""

from __future__ import annotations

from adapters.hashing import Argon2Hasher
from core.records import Story, new_id
from services.migration.run import Options, Side, migrate
from tests.services.test_migration import _side, source

__all__ = ["source"]


def test_a_story_is_copied_and_verified(source: Side) -> None:
    scenes = [
        {"id": "door", "title": "Door", "audio_id": None, "left": "home", "right": None, "next": None},
        {"id": "home", "title": "Home", "audio_id": None, "ending": True},
    ]
    story = Story(id=new_id(), owner="kid", title="Spy", start="door", scenes=scenes, card_id="c1", version=3)
    source.records.stories.add(story)
    target = _side("local")
    report = migrate(source, target, Argon2Hasher(), Options("to-local"))
    assert report.ok, report.summary()
    assert report.tally("stories").copied == 1
    assert target.records.stories.get(story.id) == story
    again = migrate(source, target, Argon2Hasher(), Options("to-local"))
    assert again.ok and again.tally("stories").copied == 0
