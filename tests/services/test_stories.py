"""`services.stories` on the memory root and the in-process Yoto cloud: stories saved with
their warnings and refused with their errors, owner rights, a Twine import spoken by the
fake TTS, and the interactive card (Yoto-hosted audio, behind a `story-card` run when Yoto
lacks it) made, walked button by button as the fake cloud stores it, and rewritten in place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.errors import Conflict, Invalid, NotFound
from core.records import Run, User
from core.stories import Scene
from services import card_doctor, cards, jobs, stories
from services.cards import CardSpec
from services.stories import KIND, StoryPorts
from tests.audio_fixtures import write_tone
from tests.services.fakes import FakeTTS
from tests.services.memory_root import add_item
from tests.services.test_card_uploads import HeldQueue
from tests.services.test_story_domain import TEN, walk
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

MUM = User("mum", is_admin=True, id="mum")
KID = User("kid", id="kid")


@pytest.fixture
def queue() -> HeldQueue:
    return HeldQueue()


@pytest.fixture
def ports(root: Root, queue: HeldQueue, fake_tts: FakeTTS) -> StoryPorts:
    root.adapters.identity.create_user("kid", "purple monkey dishwasher")
    return replace(root.stories, queue=queue, tts=replace(root.tts, tts=fake_tts))


def audio(root: Root, tmp_path: Path, title: str, freq: float) -> str:
    src = write_tone(tmp_path / f"{title}.mp3", "mp3", seconds=1.0, freq=freq)
    item_id = add_item(root, title, duration_s=1.0, size_bytes=src.stat().st_size)
    root.adapters.storage.put_file(root.records.audio.get(item_id).storage_key, src, "audio/mpeg")
    return item_id


@pytest.fixture
def four(root: Root, tmp_path: Path) -> list[Scene]:
    """Four scenes, one choice, two endings (the issue's own example)."""
    a, b, c, d = (audio(root, tmp_path, t, f) for t, f in (("Door", 330), ("Cave", 440), ("Sea", 550), ("Home", 660)))
    return [
        Scene("door", "The door", a, left="cave", right="sea"),
        Scene("cave", "The cave", b, next="home"),
        Scene("sea", "The sea", c, ending=True),
        Scene("home", "Home", d, ending=True),
    ]


def run_all(ports: StoryPorts, queue: HeldQueue) -> list[Run]:
    done = [jobs.execute(ports.runs, {KIND: lambda r: stories.run_card(ports, r)}, r.id) for r in queue.held]
    queue.held.clear()
    return done


def every_ending(body: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each chapter that stops the card, and the presses that reach it from the first chapter."""
    chapters = {c["key"]: c for c in body["content"]["chapters"]}
    names = {"left": "onLhb", "right": "onRhb", "end": "onEnd"}
    first = body["content"]["chapters"][0]["key"]
    paths, todo = {first: []}, [first]
    while todo:
        key = todo.pop(0)
        events = chapters[key]["tracks"][0]["events"]
        for press, name in names.items():
            e = events.get(name)
            if e and e["cmd"] == "goto" and e["params"]["chapterKey"] not in paths:
                paths[e["params"]["chapterKey"]] = [*paths[key], press]
                todo.append(e["params"]["chapterKey"])
    return {
        chapters[k]["title"]: p
        for k, p in paths.items()
        if chapters[k]["tracks"][0]["events"]["onEnd"]["cmd"] == "stop"
        and not {"onLhb", "onRhb"} & set(chapters[k]["tracks"][0]["events"])
    }


# --------------------------------------------------------------------------- records and rights


def test_a_story_is_saved_with_its_warnings_and_refused_with_its_errors(ports: StoryPorts, four: list[Scene]) -> None:
    silent = [*four, Scene("attic", "Attic")]
    made = stories.create(ports, MUM, " Spy ", "door", silent)
    assert made.story.title == "Spy" and made.story.scenes[0]["left"] == "cave"
    assert [(p.scene, p.kind) for p in made.problems] == [
        ("attic", "unreachable"),
        ("attic", "no_way_on"),
        ("attic", "no_audio"),
    ]
    broken = [replace(four[0], right="seaside"), *four[1:]]
    with pytest.raises(Invalid, match="scene 'door': right leads to 'seaside', no scene") as refused:
        stories.create(ports, MUM, "Spy", "door", broken)
    assert [(p["scene"], p["kind"]) for p in refused.value.extra["problems"]] == [
        ("door", "missing_scene"),
        ("sea", "unreachable"),
    ]
    with pytest.raises(Invalid, match="scene 'cave': no audio item nope"):
        stories.create(ports, MUM, "Spy", "door", [four[0], replace(four[1], audio_id="nope"), *four[2:]])
    assert [s.story.id for s in stories.list_stories(ports, MUM, everyone=False, limit=10, cursor=None).items] == [
        made.story.id
    ]


def test_only_the_owner_or_an_admin_changes_a_story(ports: StoryPorts, root: Root, four: list[Scene]) -> None:
    kids = stories.create(ports, KID, "Kid's", "sea", [Scene("sea", "Sea", ending=True)])
    mine = stories.create(ports, MUM, "Spy", "door", four)
    with pytest.raises(NotFound, match=f"no story {mine.story.id}"):
        stories.get(ports, KID, mine.story.id)
    bens = add_item(root, "Ben's", owner="ben")
    kid_item = add_item(root, "Mine", owner="kid")
    with pytest.raises(Invalid, match=f"scene 'sea': audio item {bens} is ben's"):  # own items, or an admin's
        stories.update(ports, KID, kids.story.id, "Kid's", "sea", [Scene("sea", "Sea", bens)])
    ok = stories.update(ports, KID, kids.story.id, "Kid's", "sea", [Scene("sea", "Sea", kid_item, ending=True)])
    assert ok.story.version == 2 and ok.problems == []
    edited = stories.update(ports, MUM, kids.story.id, "Renamed", "sea", [Scene("sea", "Sea", ending=True)], version=2)
    assert edited.story.title == "Renamed" and edited.story.owner == "kid"  # an admin may
    with pytest.raises(Exception, match="version 3, not 2"):
        stories.update(ports, KID, kids.story.id, "x", "sea", [Scene("sea", "Sea")], version=2)
    hidden = replace(KID, is_admin=False)
    with pytest.raises(NotFound):
        stories.delete(ports, hidden, mine.story.id)
    stories.delete(ports, KID, kids.story.id)
    with pytest.raises(NotFound):
        stories.get(ports, MUM, kids.story.id)


# --------------------------------------------------------------------------- the card


def test_the_card_is_interactive_yoto_hosted_and_plays_to_both_endings(
    ports: StoryPorts, queue: HeldQueue, cloud: InProcessCloud, four: list[Scene]
) -> None:
    story = stories.create(ports, MUM, "Spy", "door", four).story
    written = stories.write_card(ports, MUM, story.id)
    assert written.card is None and written.run is not None and written.run.kind == "story-card"
    card_id = written.run.subject_id
    assert stories.get(ports, MUM, story.id).story.card_id == card_id  # named before it is made
    with pytest.raises(Conflict, match="being written already"):
        stories.write_card(ports, MUM, story.id)
    [done] = run_all(ports, queue)
    assert done.status == "ok", done.detail
    assert [(r["track"], r["phase"]) for r in done.results] == [
        (1, "complete"),
        (2, "complete"),
        (3, "complete"),
        (4, "complete"),
    ]
    story = stories.get(ports, MUM, story.id)
    assert story.story.card_id == card_id and story.yoto_card_id
    body = cloud.card(story.yoto_card_id)
    assert body is not None and body["content"]["playbackType"] == "interactive"
    tracks = [c["tracks"][0] for c in body["content"]["chapters"]]
    assert all(t["type"] == "audio" and t["trackUrl"].startswith("yoto:#") for t in tracks)  # offline
    assert walk(body, ["left", "end"]) == ["The door", "The cave", "Home"]
    assert walk(body, ["right"]) == ["The door", "The sea"]
    assert every_ending(body) == {"Home": ["left", "end"], "The sea": ["right"]}
    record = ports.cards.cards.get(card_id)
    assert (record.storage, record.title, len(record.audio_ids), record.story_id) == ("yoto", "Spy", 4, story.story.id)

    # A rewrite: Yoto holds the audio, so it is written in the request, on the same Yoto card.
    swapped = [replace(four[0], left="sea", right="cave"), *four[1:]]
    stories.update(ports, MUM, story.story.id, "Spy", "door", swapped)
    again = stories.write_card(ports, MUM, story.story.id)
    assert again.run is None and again.card is not None and again.card.id == card_id
    assert again.card.yoto_card_id == story.yoto_card_id
    assert walk(cloud.card(story.yoto_card_id) or {}, ["left"]) == ["The door", "The sea"]

    # The Cards API and the card doctor leave a story's card to the story: neither rewrites it as a linear card.
    with pytest.raises(Conflict, match="plays story"):
        cards.update(ports.cards, MUM, card_id, CardSpec(title="Spy", tracks=[]))
    with pytest.raises(Conflict, match="plays story"):
        card_doctor.repair(ports.cards, MUM, card_id)
    assert (cloud.card(story.yoto_card_id) or {})["content"]["playbackType"] == "interactive"


def test_a_card_waits_for_every_scene_to_have_audio(
    ports: StoryPorts, cloud: InProcessCloud, four: list[Scene]
) -> None:
    story = stories.create(ports, MUM, "Spy", "door", [*four[:3], replace(four[3], audio_id=None)]).story
    before = len(cloud.requests(method="POST", path_prefix="/content"))
    with pytest.raises(Conflict, match="these have none: home"):
        stories.write_card(ports, MUM, story.id)
    assert len(cloud.requests(method="POST", path_prefix="/content")) == before
    with pytest.raises(NotFound):
        stories.write_card(ports, KID, story.id)


# --------------------------------------------------------------------------- Twine


def test_a_ten_passage_twine_file_imports_spoken_and_its_card_reaches_every_ending(
    ports: StoryPorts, queue: HeldQueue, cloud: InProcessCloud, fake_tts: FakeTTS
) -> None:
    imported = stories.import_twee(ports, MUM, TEN)
    story = imported.story
    assert (story.title, story.start, len(story.scenes)) == ("The Lost Fox", "Gate", 10)
    assert len(fake_tts.spoken) == 10 and fake_tts.spoken[0].startswith("A gate stands in the fog.")
    assert all(s["audio_id"] for s in story.scenes) and imported.problems == []
    spoken = ports.cards.audio.get(story.scenes[0]["audio_id"])
    assert (spoken.source, spoken.title) == ("tts", "The Lost Fox: Gate")
    stories.write_card(ports, MUM, story.id)
    [done] = run_all(ports, queue)
    assert done.status == "ok", done.detail
    body = cloud.card(stories.get(ports, MUM, story.id).yoto_card_id or "")
    assert body is not None
    assert set(every_ending(body)) == {"Frog", "Fox", "Home"}
    assert walk(body, ["right", "left", "end", "end"]) == ["Gate", "Forest", "Tree", "Fox", "(stopped)"]


def test_a_dangling_link_is_refused_before_anything_is_spoken(ports: StoryPorts, fake_tts: FakeTTS) -> None:
    with pytest.raises(Invalid, match="passage 'Pond' links to 'Lake', which is no passage"):
        stories.import_twee(ports, MUM, TEN.replace("[[Follow the frog->Frog]]", "[[Follow the frog->Lake]]"))
    assert fake_tts.spoken == []


def test_an_import_whose_speech_fails_keeps_nothing(ports: StoryPorts, fake_tts: FakeTTS) -> None:
    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(fake_tts, name)

        def synthesize(self, text: str, **kw: Any) -> Any:
            self.calls += 1
            if self.calls == 3:
                raise ValueError("the engine choked")
            return fake_tts.synthesize(text, **kw)

    flaky = replace(ports, tts=replace(ports.tts, tts=Flaky()))
    with pytest.raises(Invalid, match="the engine choked"):
        stories.import_twee(flaky, MUM, TEN)
    assert ports.cards.audio.list(limit=50).items == []
    assert ports.stories.list(limit=5).items == []
