"""Simulated players and issue 22's cards: an interactive card plays the scene each button's event
names and follows onEnd at a track's end; a chapter whose availableFrom is still to come does not
play, by the fake cloud's clock, across London's spring-forward too.

Real parts: mosquitto, the fake cloud over HTTP (in process, and as `python -m simulator`), cards
written through its POST /content with audio it transcoded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from core.yoto import payloads as p
from core.yoto.results import CommandResult
from simulator.cloud import RemoteCloud, RunningCloud
from simulator.players import PlayerFleet, PlayerSpec, start_players
from tests.audio_fixtures import write_tone
from tests.brokers import Mosquitto
from tests.simulator.flows import audio_track, upload_audio
from tests.simulator.test_simulated_players import (
    Recorder,
    device_id,
    last,
    mosquitto,
    recorder,
    values,
    yoto_cloud_process,
)

__all__ = ["device_id", "mosquitto", "recorder", "yoto_cloud_process"]
LONDON = ZoneInfo("Europe/London")


@dataclass
class Rig:
    """A fake cloud with one device, its account's HTTP client, and the broker it plays on."""

    cloud: RunningCloud | RemoteCloud
    http: httpx.Client
    mosquitto: Mosquitto
    recorder: Recorder
    device_id: str
    tmp_path: Path

    def __post_init__(self) -> None:
        self.cloud.configure(transcode_delay_s=0)
        self.cloud.add_device(self.device_id, "Story time", device_type="v3")
        self.auth = {"Authorization": f"Bearer {self.cloud.issue_tokens()['access_token']}"}

    def track(self, seconds: float) -> dict[str, Any]:
        """A track of the account's transcoded tone (its key left to the card)."""
        tone = write_tone(self.tmp_path / "scene.mp3", "mp3", seconds=seconds).read_bytes()
        return {k: v for k, v in audio_track(upload_audio(self.http, self.auth, tone)).items() if k != "key"}

    def write(self, body: dict[str, Any]) -> str:
        answer = self.http.post("/content", json=body, headers=self.auth)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["card"]["cardId"])

    def players(self, **spec: Any) -> PlayerFleet:
        """The device as a simulated player linked to the cloud, events requested."""
        player = PlayerSpec(self.device_id, cloud=self.cloud, sync_every_s=0.1, **spec)
        fleet = start_players(self.mosquitto.config("tcp"), [player], tick_s=0.02)
        assert self.recorder.controller.send(self.device_id, p.events_request()).ok
        return fleet

    def play(self, card_id: str, **where: Any) -> CommandResult:
        return self.recorder.controller.send(self.device_id, p.play(card_id, **where))

    def press(self, button: str) -> dict[str, Any]:
        return self.cloud.press_button(self.device_id, button)

    def seen(self, key: str) -> list[Any]:
        return values(self.recorder.events, key)

    def wait_stopped(self) -> None:
        self.recorder.wait_for(lambda: self.seen("playbackStatus")[-1] == "stopped")

    def reported(self, status: str) -> None:
        """Wait until /_sim/devices/{id}/playing says `status` (a player reports every sync_every_s)."""
        deadline = time.monotonic() + 3
        while (playing := self.cloud.playing(self.device_id)["playing"])["playback_status"] != status:
            assert time.monotonic() < deadline, f"the player last reported {playing}"
            time.sleep(0.05)


@pytest.fixture
def rig(
    yoto_cloud: RunningCloud,
    http: httpx.Client,
    mosquitto: Mosquitto,
    recorder: Recorder,
    device_id: str,
    tmp_path: Path,
) -> Rig:
    return Rig(yoto_cloud, http, mosquitto, recorder, device_id, tmp_path)


@pytest.fixture
def remote_rig(
    yoto_cloud_process: RemoteCloud, mosquitto: Mosquitto, recorder: Recorder, device_id: str, tmp_path: Path
) -> Iterator[Rig]:
    with httpx.Client(base_url=yoto_cloud_process.url, timeout=10, trust_env=False) as http:
        yield Rig(yoto_cloud_process, http, mosquitto, recorder, device_id, tmp_path)


def goto(key: str) -> dict[str, Any]:
    return {"cmd": "goto", "params": {"chapterKey": key, "trackKey": key}}


STOP = {"cmd": "stop"}


def story_card(track: dict[str, Any], scenes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """An interactive card as Yoto's converter writes it: one chapter per scene, its track's key the
    chapter's, every track playing `track`'s audio with the scene's events."""
    chapters = [
        {"key": key, "title": f"Scene {key}", "tracks": [{**track, "key": key, "title": key, "events": events}]}
        for key, events in scenes.items()
    ]
    return {
        "title": "The forest path",
        "content": {
            "playbackType": "interactive",
            "chapters": chapters,
            "config": {
                "resumeTimeout": 2592000,
                "disableTrackNav": True,
                "disableChapterNav": True,
                "autoadvance": "none",
            },
            "editSettings": {"autoOverlayLabels": "chapters", "editKeys": False, "interactiveContent": True},
        },
    }


def test_an_interactive_card_plays_the_scene_each_button_leads_to_and_stops_at_an_ending(remote_rig: Rig) -> None:
    """Four scenes: the start loops until a button is pressed (left: an ending; right: a scene that
    goes on to the other ending). Pressed over /_sim/devices/{id}/buttons, read at .../playing."""
    rig = remote_rig
    scenes = {
        "01": {"onLhb": goto("02"), "onRhb": goto("03"), "onEnd": goto("01")},
        "02": {"onEnd": STOP},
        "03": {"onEnd": goto("04")},
        "04": {"onEnd": STOP},
    }
    card_id = rig.write(story_card(rig.track(seconds=2.0), scenes))
    with rig.players(speed=4) as fleet:  # a scene plays 0.5 s
        assert rig.play(card_id).ok
        rig.recorder.wait_for(lambda: rig.seen("chapterKey")[-3:] == ["01", "01", "01"])
        assert rig.seen("playbackStatus")[1:] == ["playing"], "the start scene waits for a choice"

        pressed = rig.press("right")
        assert pressed["chapter_key"] in ("03", "04"), pressed  # not "02", the next chapter of a linear card
        rig.wait_stopped()
        after = rig.seen("chapterKey")
        assert after[after.index("03") - 1 :] == ["01", "03", "04"], after
        ending = [last(rig.recorder.events, k) for k in ("chapterKey", "trackKey", "chapterTitle")]
        assert ending == ["04", "04", "Scene 04"]
        rig.reported("stopped")

        rig.recorder.events.clear()
        assert rig.play(card_id).ok, "played to an ending: from the start again"
        rig.recorder.wait_for(lambda: last(rig.recorder.events, "chapterKey") == "01")
        assert rig.press("left")["chapter_key"] == "02"
        rig.wait_stopped()
        assert rig.seen("chapterKey")[-2:] == ["01", "02"]

        assert rig.play(card_id, chapter=2).ok
        assert rig.press("right")["chapter_key"] == "02", "no onRhb and track nav off: nothing"
        assert fleet[rig.device_id].snapshot()["chapter_key"] == "02"


def test_a_button_event_can_stop_and_without_events_the_buttons_skip_as_on_a_linear_card(rig: Rig) -> None:
    track = rig.track(seconds=2.0)
    stops = rig.write(story_card(track, {"01": {"onLhb": STOP, "onEnd": goto("01")}, "02": {}}))
    navigable = story_card(track, {"01": {}, "02": {}, "03": {}})
    navigable["content"]["config"] = {"autoadvance": "none"}  # track nav left on
    skips = rig.write(navigable)
    with rig.players():
        assert rig.play(stops).ok
        assert rig.press("left")["playback_status"] == "stopped"
        rig.wait_stopped()

        assert rig.play(skips).ok
        assert rig.press("right")["chapter_key"] == "02"
        assert rig.press("left")["chapter_key"] == "01"


# ---------------------------------------------------------------- availableFrom


def dated_card(track: dict[str, Any], opens: list[str | None]) -> dict[str, Any]:
    chapters = []
    for n, when in enumerate(opens, 1):
        key = f"{n:02d}"
        chapter: dict[str, Any] = {"key": key, "title": f"Day {n}", "tracks": [{**track, "key": key, "title": key}]}
        if when is not None:
            chapter["availableFrom"] = when
        chapters.append(chapter)
    return {"title": "Countdown", "content": {"playbackType": "linear", "chapters": chapters}}


def test_a_chapter_opens_at_its_available_from_by_the_clouds_clock(rig: Rig, yoto_cloud: RunningCloud) -> None:
    """Before it opens a chapter is refused by a start naming it and skipped by the buttons and by
    playing on; once the clock passes the date it plays."""
    today = datetime.fromtimestamp(yoto_cloud.state.clock.now(), UTC)
    tomorrow = (today + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    card_id = rig.write(dated_card(rig.track(seconds=1.0), [None, tomorrow, None]))
    with rig.players(speed=2) as fleet:
        refused = rig.play(card_id, chapter=2)
        assert not refused.ok and f"chapter 02 opens at {tomorrow[:19]}" in str(refused.reason), refused
        assert fleet[rig.device_id].snapshot()["card_id"] is None, "nothing plays"

        assert rig.play(card_id, chapter=1).ok
        assert rig.press("right")["chapter_key"] == "03", "past the closed chapter"
        assert rig.press("left")["chapter_key"] == "01", "and back past it"
        rig.wait_stopped()
        assert "02" not in rig.seen("chapterKey")

        yoto_cloud.advance(86400 + 1)
        assert rig.play(card_id, chapter=2).ok, "open now"
        assert fleet[rig.device_id].snapshot()["chapter_key"] == "02"


def spring_forward_after(now: float) -> datetime:
    """The first day London puts its clocks forward (the last Sunday of March) at least two days after `now`."""
    year = datetime.fromtimestamp(now, UTC).year
    while True:
        day = datetime(year, 3, 31, tzinfo=LONDON)
        day -= timedelta(days=(day.weekday() + 1) % 7)
        if day.timestamp() > now + 2 * 86400:
            return day
        year += 1


def test_days_that_open_at_london_midnight_open_on_time_across_the_spring_forward(
    rig: Rig, yoto_cloud: RunningCloud
) -> None:
    """availableFrom carries its offset: the day after the change opens at 23:00 UTC (00:00 BST), the
    day of it at 00:00 UTC (00:00 GMT). A plain start before any chapter opens is refused; playing on
    from the last open chapter stops."""
    change = spring_forward_after(yoto_cloud.state.clock.now())  # 2027-03-28 when written
    days = [change - timedelta(days=1), change, change + timedelta(days=1)]
    midnights = [datetime(d.year, d.month, d.day, tzinfo=LONDON) for d in days]
    assert [m.utcoffset() for m in midnights] == [timedelta(0), timedelta(0), timedelta(hours=1)]
    card_id = rig.write(dated_card(rig.track(seconds=1.0), [m.isoformat() for m in midnights]))

    def at(when: datetime) -> None:
        yoto_cloud.advance(when.timestamp() - yoto_cloud.state.clock.now())

    def opens(chapter: int) -> bool:
        return rig.play(card_id, chapter=chapter).ok

    with rig.players():
        refused = rig.play(card_id)
        assert not refused.ok and "no chapter of card" in str(refused.reason)

        at(midnights[1] - timedelta(seconds=30))
        assert (opens(1), opens(2)) == (True, False)
        at(midnights[1] + timedelta(seconds=30))
        assert (opens(3), opens(2)) == (False, True)
        rig.wait_stopped()
        assert rig.seen("chapterKey")[-1] == "02", "the last open chapter played: the card stops"

        at(midnights[2] - timedelta(seconds=30))  # 22:59:30 UTC, 23:59:30 BST
        assert not opens(3)
        at(midnights[2] + timedelta(seconds=30))  # 23:00:30 UTC: still the 28th in UTC
        assert datetime.fromtimestamp(yoto_cloud.state.clock.now(), UTC).day == change.day
        assert opens(3), "open at London's midnight, an hour before UTC's"
        assert rig.play(card_id).ok


def test_a_goto_into_a_closed_chapter_is_not_followed_and_repeat_all_starts_at_the_first_open_one(
    rig: Rig, yoto_cloud: RunningCloud
) -> None:
    tomorrow = datetime.fromtimestamp(yoto_cloud.state.clock.now() + 86400, UTC).isoformat()
    track = rig.track(seconds=1.0)
    story = story_card(track, {"01": {"onRhb": goto("02"), "onEnd": goto("02")}, "02": {"onEnd": STOP}})
    story["content"]["chapters"][1]["availableFrom"] = tomorrow
    story_id = rig.write(story)
    later = rig.write(dated_card(track, [tomorrow, None]))
    yoto_cloud.seed_config(rig.device_id, {"repeatAll": True})
    with rig.players(speed=2) as fleet:
        assert rig.play(story_id).ok
        assert rig.press("right")["chapter_key"] == "01", "the button's scene is not open: nothing"
        rig.wait_stopped()
        assert "02" not in rig.seen("chapterKey"), "nor does the end go there: the story stops"

        assert rig.play(later).ok, "a plain start begins at the first open chapter"
        assert fleet[rig.device_id].snapshot()["chapter_key"] == "02"
        rig.recorder.wait_for(lambda: rig.seen("chapterKey")[-2:] == ["02", "02"])
        assert rig.seen("playbackStatus")[-1] == "playing", "with repeatAll, round to chapter 02 again"

        yoto_cloud.advance(86400 + 1)
        assert rig.play(story_id, chapter=1).ok
        rig.recorder.wait_for(lambda: rig.seen("chapterKey")[-2:] == ["01", "02"])
