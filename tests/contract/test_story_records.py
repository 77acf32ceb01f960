"""Branching stories (`Story`) on every side: [local] SQLite, [aws] DynamoDB on moto, [memory] the fake.
The scenes list goes in and out whole; saves are compare-and-swap on `version`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from core.errors import AlreadyExists, NotFound, VersionConflict
from core.ports import Records
from core.records import Story, new_id
from tests.contract import test_records as base

T0 = base.T0
aws_settings, reopen, records = base.aws_settings, base.reopen, base.records

SCENES = [
    {"id": "door", "title": "The dóor", "audio_id": "a1", "left": "cave", "right": "end", "next": None},
    {"id": "cave", "title": "Cave", "audio_id": None, "left": None, "right": None, "next": "end"},
    {"id": "end", "title": "Home", "audio_id": "a3", "ending": True},
]


def story(owner: str = "anna", *, at: int = 0, **kw: object) -> Story:
    fields: dict[str, object] = {"title": "Spy", "start": "door", "scenes": SCENES, **kw}
    return Story(id=new_id(), owner=owner, created_at=T0 + timedelta(seconds=at), **fields)  # type: ignore[arg-type]


def test_a_story_round_trips_with_its_scenes(records: Records) -> None:
    s = story(card_id="c1")
    records.stories.add(s)
    got = records.stories.get(s.id)
    assert got == s
    assert got.scenes[1] == SCENES[1] and got.scenes[1]["audio_id"] is None
    with pytest.raises(AlreadyExists):
        records.stories.add(s)


def test_saving_a_story_is_compare_and_swap(records: Records) -> None:
    s = story()
    records.stories.add(s)
    scenes = [*SCENES, {"id": "x", "title": "X", "audio_id": "a4", "ending": True}]
    saved = records.stories.save(replace(s, title="Spy 2", scenes=scenes, owner="mallory"), expected_version=1)
    assert (saved.version, saved.title, saved.owner, len(saved.scenes)) == (2, "Spy 2", "anna", 4)
    assert records.stories.get(s.id) == saved
    with pytest.raises(VersionConflict):
        records.stories.save(replace(s, title="stale"), expected_version=1)
    given = records.stories.give(s.id, "mum", expected_version=2)
    assert (given.owner, given.version, given.scenes) == ("mum", 3, scenes)
    with pytest.raises(NotFound):
        records.stories.save(story(), expected_version=1)


def test_stories_list_newest_first_by_owner_and_delete(records: Records, reopen: Callable[[], Records]) -> None:
    made = [story(o, at=i, title=f"s{i}") for i, o in enumerate(["anna", "ben", "anna"])]
    for s in made:
        records.stories.add(s)
    assert [s.title for s in records.stories.list(owner="anna").items] == ["s2", "s0"]
    page = records.stories.list(limit=2)
    assert [s.title for s in page.items] == ["s2", "s1"]
    assert [s.title for s in records.stories.list(limit=2, cursor=page.next_cursor).items] == ["s0"]
    records.stories.delete(made[0].id)
    with pytest.raises(NotFound):
        reopen().stories.get(made[0].id)
    with pytest.raises(NotFound):
        records.stories.delete(made[0].id)
    assert reopen().stories.get(made[1].id) == made[1]
