"""The icon scorer and the cached icon catalogue."""

from __future__ import annotations

import threading
import time

import pytest

from adapters.yoto.client import YotoClient
from core.errors import UpstreamError
from core.yoto.cloud import Icon
from services.icons import IconCatalog, IconIndex, forms, words
from simulator.cloud import RunningCloud


def _icon(media_id: str, title: str, *tags: str) -> Icon:
    return Icon(media_id=media_id, title=title, tags=tags, url=f"https://example.test/{media_id}.png")


ICONS = [
    _icon("fox", "Fox", "animal", "woodland"),
    _icon("owl", "Owl", "bird", "night"),
    _icon("moon", "Moon", "night", "sky", "bedtime"),
    _icon("bear", "Bear", "animal"),
    _icon("teddy", "Teddy bear", "toy"),
    _icon("rocket", "Rocket", "space"),
    _icon("dino", "Dinosaur", "animal", "prehistoric"),
    _icon("butterfly", "Butterfly", "insect"),
    _icon("mouse", "Mouse", "animal"),
    _icon("note", "Music note", "music", "song"),
    _icon("puppy", "Puppy", "dog", "pet"),
    _icon("wolf", "Wolf", "animal"),
    _icon("bus", "Bus", "vehicle", "transport"),
    _icon("horse", "Horse", "farm animals"),
    _icon("apple", "Apple", "fruit"),
]


@pytest.fixture(scope="module")
def index() -> IconIndex:
    return IconIndex(ICONS)


def test_words_drop_stopwords_numbers_and_punctuation() -> None:
    assert words("The Fox & the Hound, Part 2!") == ["fox", "hound"]
    assert words("Chapter 12") == []
    assert words("Über-Drachen") == ["über", "drachen"]


def test_plural_forms_meet_their_singulars() -> None:
    for plural, singular in [
        ("foxes", "fox"),
        ("puppies", "puppy"),
        ("wolves", "wolf"),
        ("knives", "knife"),
        ("buses", "bus"),
        ("horses", "horse"),
        ("mice", "mouse"),
        ("dinosaurs", "dinosaur"),
    ]:
        assert singular in forms(plural), plural
    assert forms("bus") == {"bus"} and forms("glass") == {"glass"}


def test_track_title_finds_the_icon(index: IconIndex) -> None:
    cases = {
        "The Three Foxes": "fox",
        "Owls at night": "owl",
        "Goodnight Moon": "moon",
        "Ten little puppies": "puppy",
        "The wolves of the forest": "wolf",
        "Three blind mice": "mouse",
        "All about dinosaurs": "dino",
        "The wheels on the buses": "bus",
        "Horses in the field": "horse",
    }
    for title, expected in cases.items():
        chosen = index.choose(title)
        assert chosen is not None and chosen.media_id == expected, title


def test_title_words_beat_tags_and_fewer_unmatched_words_win(index: IconIndex) -> None:
    assert index.choose("A bear story").media_id == "bear"  # type: ignore[union-attr]
    assert index.choose("My teddy bear").media_id == "teddy"  # type: ignore[union-attr]
    assert index.choose("Sleepy bedtime").media_id == "moon"  # type: ignore[union-attr]  (tag only)
    assert index.choose("Into space").media_id == "rocket"  # type: ignore[union-attr]


def test_track_title_outweighs_card_title(index: IconIndex) -> None:
    assert index.choose("The Rocket", "Animal stories").media_id == "rocket"  # type: ignore[union-attr]
    # A track title without a match falls back on the card's title.
    assert index.choose("Part 3", "Owl tales").media_id == "owl"  # type: ignore[union-attr]


def test_default_when_nothing_matches(index: IconIndex) -> None:
    assert index.best("Xylophone quartet") is None
    assert index.choose("Xylophone quartet").media_id == "note"  # type: ignore[union-attr]
    no_music = IconIndex([i for i in ICONS if i.media_id != "note"])
    assert no_music.choose("Xylophone quartet").media_id == "apple"  # type: ignore[union-attr]  (first by title)
    assert IconIndex([]).choose("anything") is None


def test_search_matches_prefixes_and_lists_all_for_an_empty_query(index: IconIndex) -> None:
    assert [i.media_id for i in index.search("dino")] == ["dino"]
    assert {i.media_id for i in index.search("animal")} == {"fox", "bear", "dino", "mouse", "wolf", "horse"}
    assert [i.media_id for i in index.search("night")] == ["owl", "moon"]  # a tie: the shorter title first
    assert len(index.search("", limit=5)) == 5
    assert [i.title for i in index.search("")][:2] == ["Apple", "Bear"]
    assert index.search("zzzz") == []
    assert index.get("owl") == ICONS[1] and index.get("nope") is None


def test_duplicate_media_ids_count_once() -> None:
    idx = IconIndex([_icon("a", "Cat"), _icon("a", "Cat again"), _icon("b", "Dog")])
    assert len(idx) == 2


class _FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class _CountingCloud:
    """Stands in for the Yoto cloud's icon list only: the catalogue's caching is the subject here."""

    def __init__(self, icons: list[Icon], delay: float = 0.0) -> None:
        self.icons = icons
        self.calls = 0
        self.fail = False
        self.delay = delay
        self.tokens: list[str] = []

    def public_icons(self, token: str) -> list[Icon]:
        self.calls += 1
        self.tokens.append(token)
        time.sleep(self.delay)
        if self.fail:
            raise UpstreamError("Yoto failed to list the icons")
        return list(self.icons)


def test_catalogue_caches_for_hours_and_reloads_after_the_ttl() -> None:
    clock = _FakeClock()
    cloud = _CountingCloud(ICONS)
    catalogue = IconCatalog(cloud, ttl_s=6 * 3600, clock=clock)  # type: ignore[arg-type]
    assert catalogue.choose("tok", "Foxes").media_id == "fox"  # type: ignore[union-attr]
    for _ in range(20):
        catalogue.search("tok", "owl")
    clock.t += 5 * 3600
    catalogue.choose("tok", "Moon")
    assert cloud.calls == 1
    clock.t += 2 * 3600
    cloud.icons = [*ICONS, _icon("cat", "Cat")]
    assert catalogue.choose("tok2", "Cats").media_id == "cat"  # type: ignore[union-attr]
    assert cloud.calls == 2 and cloud.tokens == ["tok", "tok2"]


def test_catalogue_serves_a_stale_list_while_yoto_fails() -> None:
    clock = _FakeClock()
    cloud = _CountingCloud(ICONS)
    catalogue = IconCatalog(cloud, ttl_s=3600, retry_s=60, clock=clock)  # type: ignore[arg-type]
    catalogue.index("tok")
    clock.t += 3601
    cloud.fail = True
    assert catalogue.choose("tok", "Owl").media_id == "owl"  # type: ignore[union-attr]
    assert catalogue.choose("tok", "Owl").media_id == "owl"  # type: ignore[union-attr]
    assert cloud.calls == 2, "a failed reload waits retry_s before the next try"
    clock.t += 61
    cloud.fail = False
    catalogue.index("tok")
    assert cloud.calls == 3


def test_catalogue_without_a_list_raises_the_upstream_error() -> None:
    cloud = _CountingCloud(ICONS)
    cloud.fail = True
    catalogue = IconCatalog(cloud)  # type: ignore[arg-type]
    with pytest.raises(UpstreamError):
        catalogue.index("tok")


def test_concurrent_first_requests_load_the_list_once() -> None:
    cloud = _CountingCloud(ICONS, delay=0.05)
    catalogue = IconCatalog(cloud)  # type: ignore[arg-type]
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(catalogue.choose("tok", "fox").media_id))  # type: ignore[union-attr]
        for _ in range(10)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["fox"] * 10 and cloud.calls == 1


def test_catalogue_on_the_simulator_loads_once_and_chooses(yoto_cloud: RunningCloud, client: YotoClient) -> None:
    token = str(yoto_cloud.issue_tokens()["access_token"])
    catalogue = IconCatalog(client)
    assert catalogue.choose(token, "The Owl Who Was Afraid of the Dark").title == "Owl"  # type: ignore[union-attr]
    assert catalogue.choose(token, "Twinkle twinkle").title == "Star"  # type: ignore[union-attr]  (a tag)
    assert catalogue.choose(token, "Chapter 1", "Rabbits and robots").title == "Rabbit"  # type: ignore[union-attr]
    assert [i.title for i in catalogue.search(token, "rock")][:1] == ["Rocket"]
    chosen = catalogue.choose(token, "Qwerty zxcv")
    assert chosen is not None and "music" in " ".join((chosen.title, *chosen.tags)).lower()
    assert len(yoto_cloud.requests("GET", "/media/displayIcons/user/yoto")) == 1
