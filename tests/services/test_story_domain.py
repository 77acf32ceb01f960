"""The pure half of branching stories: a story's problems (`core.stories`), Twee 3 into a
story (`core.twee`, against Yoto's converter's sample files too) and the interactive card
it compiles to (`core.yoto.interactive`, through the card JSON the Yoto adapter writes)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from adapters.yoto.cards import card_json
from core import twee
from core.errors import Invalid
from core.stories import Scene, checked, problems
from core.yoto.cloud import YotoCard, YotoChapter, YotoTrack
from core.yoto.interactive import compile_card

SAMPLES = Path("/tmp/ref/yotoplay+twine-to-yoto")

# Ten passages: a choice at the gate, another in the forest, three endings, a loop back.
TEN = """:: StoryTitle
The Lost Fox

:: StoryData
{"ifid": "0D6C4A36-0000-4000-8000-000000000001", "format": "Harlowe", "start": "Gate"}

:: Gate [start] {"position":"100,100"}
A gate stands in the fog.
[[Open the gate->Garden]]
[[Walk into the forest|Forest]]

:: Garden
Roses everywhere. (set: $roses to true)
[[Pond]]

:: Pond
The pond is still.
[[Follow the frog->Frog]]
[[Gate<-Go back]]

:: Frog
The frog hops home and so do you.

:: Forest
Tall trees. <!-- sound: owls -->
[[Climb a tree->Tree]]
[[Follow the path->Path]]

:: Tree
From up here you see a fox.
[[|]]
[[|]]
[[Fox]]

:: Fox
The fox is found!

:: Path
The path winds on.
[[Cave]]
[[Run home->Home]]

:: Cave
A bear sleeps; you tiptoe out.
[[Path]]
[[Home]]

:: Home
Home at last, warm and dry.
"""


def sc(id: str, **kw: Any) -> Scene:
    return Scene(id=id, title=id.title(), audio_id=kw.pop("audio_id", f"a-{id}"), **kw)


def kinds(found: list[Any]) -> list[tuple[str | None, str]]:
    return [(p.scene, p.kind) for p in found]


# --------------------------------------------------------------------------- problems


def test_a_sound_story_has_no_problems() -> None:
    scenes = [sc("door", left="cave", right="home"), sc("cave", next="home"), sc("home", ending=True)]
    assert problems("door", scenes) == []


def test_errors_name_their_scene_and_block_a_save() -> None:
    scenes = [sc("door", left="cellar", right="home"), sc("home", ending=True, next="door"), sc("home", ending=True)]
    found = problems("door", scenes)
    assert kinds(found)[:3] == [("home", "duplicate_scene"), ("door", "missing_scene"), ("home", "ending_goes_on")]
    assert all(p.level == "error" for p in found[:3])
    with pytest.raises(Invalid) as refused:
        checked("Spy", "door", scenes, max_scenes=10)
    assert "'door': left leads to 'cellar'" in str(refused.value)
    assert refused.value.extra["problems"][0]["scene"] == "home"
    with pytest.raises(Invalid, match="starts at 'attic', which is no scene"):
        checked("Spy", "attic", [sc("door", ending=True)], max_scenes=10)


def test_warnings_unreachable_loops_dead_ends_and_silence_are_saved() -> None:
    scenes = [
        sc("door", left="loop1", right="home"),
        sc("loop1", next="loop2"),
        sc("loop2", next="loop1", audio_id=None),
        sc("home", ending=True),
        sc("attic"),  # reached by nothing, leads nowhere
    ]
    found = checked("Spy", "door", scenes, max_scenes=10)
    assert kinds(found) == [
        ("loop1", "no_ending"),
        ("loop2", "no_ending"),
        ("loop2", "no_audio"),
        ("attic", "unreachable"),
        ("attic", "no_way_on"),
    ]
    assert {p.level for p in found} == {"warning"}


def test_an_ending_may_offer_to_play_again() -> None:
    scenes = [sc("door", left="home"), sc("home", ending=True, left="door")]
    assert problems("door", scenes) == []


def test_a_story_has_one_to_the_card_limit_of_scenes() -> None:
    with pytest.raises(Invalid, match="1 to 2 scenes"):
        checked("Spy", "a", [sc("a", next="b"), sc("b", next="c"), sc("c", ending=True)], max_scenes=2)
    with pytest.raises(Invalid, match="title"):
        checked(" ", "a", [sc("a")], max_scenes=2)


# --------------------------------------------------------------------------- Twee 3


def reachable_endings(imported: twee.Imported) -> tuple[set[str], set[str]]:
    by_id = {i.scene.id: i.scene for i in imported.scenes}
    seen, todo = {imported.start}, [imported.start]
    while todo:
        for n in by_id[todo.pop()].exits():
            if n not in seen:
                seen.add(n)
                todo.append(n)
    endings = {s for s, scene in by_id.items() if scene.is_ending}
    return endings, endings & seen


def test_ten_passages_become_scenes_with_buttons_and_every_ending_is_reachable() -> None:
    story = twee.parse(TEN)
    assert (story.title, story.start, len(story.scenes)) == ("The Lost Fox", "Gate", 10)
    by_id = {i.scene.id: i for i in story.scenes}
    gate = by_id["Gate"].scene
    assert (gate.left, gate.right, gate.next, gate.ending) == ("Garden", "Forest", None, False)
    assert (by_id["Pond"].scene.left, by_id["Pond"].scene.right) == ("Frog", "Gate")  # [[Gate<-Go back]]
    assert (by_id["Garden"].scene.left, by_id["Garden"].scene.next) == ("Pond", None)
    tree = by_id["Tree"].scene  # [[|]] keeps a button free: the third link is the end
    assert (tree.left, tree.right, tree.next) == (None, None, "Fox")
    endings, reached = reachable_endings(story)
    assert endings == {"Frog", "Fox", "Home"} == reached
    assert {p.kind for p in problems(story.start, [i.scene for i in story.scenes])} == {"no_audio"}
    # Without audio, the words are spoken: no markup, macros or comments, each button said.
    assert by_id["Gate"].speech == (
        "A gate stands in the fog. Open the gate: press the left button. Walk into the forest: press the right button."
    )
    assert by_id["Garden"].speech == "Roses everywhere. Pond: press the left button."
    assert by_id["Forest"].speech.startswith("Tall trees. Climb a tree")
    assert by_id["Fox"].speech == "The fox is found!"


def test_a_dangling_link_is_refused_naming_its_passage() -> None:
    broken = TEN.replace("[[Follow the path->Path]]", "[[Follow the path->Meadow]]")
    with pytest.raises(Invalid, match="passage 'Forest' links to 'Meadow', which is no passage"):
        twee.parse(broken)


def test_what_a_card_cannot_hold_is_refused_naming_the_passage() -> None:
    with pytest.raises(Invalid, match="passage 'Home' has 4 links"):
        twee.parse(TEN.replace("warm and dry.", "[[Gate]] [[Fox]] [[Cave]] [[Tree]]"))
    with pytest.raises(Invalid, match="two passages are called 'Fox'"):
        twee.parse(TEN + "\n:: Fox\nagain\n")
    with pytest.raises(Invalid, match="no story passages"):
        twee.parse(":: StoryTitle\nNothing\n")


def test_audio_named_in_a_tag_or_metadata_is_used_and_not_spoken() -> None:
    text = (
        ':: A [audio:Item01 x]\nHello [[B]]\n\n:: B {"audio": "Item02"}\nBye\n\n:: Odd\\[1\\] name\nhi\n'
        ":: Broken {position: 1}\nmetadata that does not decode is dropped\n"
    )
    story = twee.parse(text)
    a, b, odd, broken = story.scenes
    assert (broken.scene.id, broken.scene.audio_id) == ("Broken", None)
    assert (a.scene.audio_id, a.speech, b.scene.audio_id, b.speech) == ("Item01", "", "Item02", "")
    assert (story.start, story.title, odd.scene.title, odd.scene.id) == (
        "A",
        "Untitled story",
        "Odd[1] name",
        "Odd-1-name",
    )


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="Yoto's converter's samples are not on this machine")
def test_the_official_converters_samples_parse() -> None:
    short = twee.parse((SAMPLES / "sample_twees/spyshort/spyshort.twee").read_text())
    assert (short.title, short.start, [i.scene.id for i in short.scenes]) == (
        "Spy Mission Shortened Version",
        "Start",
        ["Start", "SolveRiddle", "SearchElsewhere", "End"],  # StoryInit is no scene
    )
    elsewhere = short.scenes[2].scene
    assert (elsewhere.left, elsewhere.right, elsewhere.next) == ("Start", None, "End")  # [[|]] then [[|End]]
    spy = twee.parse((SAMPLES / "__tests__/data/spy2.twee").read_text())
    assert spy.start == "20001" and len(spy.scenes) > 90


# --------------------------------------------------------------------------- the card


def track(scene_id: str) -> YotoTrack:
    sha = (scene_id * 64)[:64]
    return YotoTrack(
        title="x",
        track_url=f"yoto:#{sha}",
        type="audio",
        format="opus",
        duration=2.0,
        file_size=100,
        raw={"channels": "mono"},
    )


def walk(body: Mapping[str, Any], presses: list[str]) -> list[str]:
    """The chapter titles a player plays from the first chapter, pressing `presses` in turn
    ("left", "right" or "end": let the track finish)."""
    chapters = {c["key"]: c for c in body["content"]["chapters"]}
    at = body["content"]["chapters"][0]
    played = [at["title"]]
    events = {"left": "onLhb", "right": "onRhb", "end": "onEnd"}
    for press in presses:
        event = at["tracks"][0]["events"].get(events[press])
        if event is None or event["cmd"] == "stop":
            played.append("(stopped)")
            break
        at = chapters[event["params"]["chapterKey"]]
        assert at["tracks"][0]["key"] == event["params"]["trackKey"]
        played.append(at["title"])
    return played


def test_a_story_compiles_to_an_interactive_card_with_padded_keys_and_goto_events() -> None:
    scenes = [
        sc("home", ending=True),
        sc("door", left="cave", right="home"),
        sc("cave", next="home"),
    ]
    card = compile_card("Spy", "door", scenes, {s.id: track(s.id) for s in scenes}, icons={"door": "icon1"})
    body = card_json(card)
    content = body["content"]
    assert content["playbackType"] == "interactive"
    assert content["config"] == {
        "resumeTimeout": 2_592_000,
        "disableTrackNav": True,
        "disableChapterNav": True,
        "autoadvance": "none",
    }
    assert content["editSettings"] == {"autoOverlayLabels": "chapters", "editKeys": False, "interactiveContent": True}
    assert [(c["key"], c["title"], c["tracks"][0]["key"]) for c in content["chapters"]] == [
        ("01", "Door", "01"),  # the start first
        ("02", "Home", "02"),
        ("03", "Cave", "03"),
    ]
    door = content["chapters"][0]["tracks"][0]
    assert door["events"] == {
        "onLhb": {"cmd": "goto", "params": {"chapterKey": "03", "trackKey": "03"}},
        "onRhb": {"cmd": "goto", "params": {"chapterKey": "02", "trackKey": "02"}},
        "onEnd": {"cmd": "stop"},
    }
    assert door["trackUrl"].startswith("yoto:#") and door["display"]["icon16x16"] == "yoto:#icon1"
    assert walk(body, ["left", "end"]) == ["Door", "Cave", "Home"]
    assert walk(body, ["right", "end"]) == ["Door", "Home", "(stopped)"]


def test_a_rewrite_keeps_the_card_its_metadata_and_each_chapters_own_fields() -> None:
    scenes = [sc("door", left="home"), sc("home", ending=True)]
    old_chapter = YotoChapter(
        title="Old",
        tracks=(replace_url(track("home")),),
        key="07",
        raw={"ambient": {"defaultTrackDisplay": "x"}, "key": "07"},
    )
    old = YotoCard(
        title="Old",
        chapters=(old_chapter,),
        card_id="abcde",
        author="Mum",
        raw={"metadata": {"author": "Mum", "category": "stories"}, "content": {"config": {"onlineOnly": False}}},
    )
    body = card_json(compile_card("New", "door", scenes, {s.id: track(s.id) for s in scenes}, old=old))
    assert (body["cardId"], body["metadata"]["category"], body["metadata"]["author"]) == ("abcde", "stories", "Mum")
    assert body["content"]["config"]["onlineOnly"] is False
    home = body["content"]["chapters"][1]
    assert (home["key"], home["ambient"], home["title"]) == ("02", {"defaultTrackDisplay": "x"}, "Home")


def replace_url(t: YotoTrack) -> YotoTrack:
    return YotoTrack(title="old", track_url=t.track_url, type="audio", format="opus", key="01", raw={"uid": "u1"})
