"""Every command through real mosquitto (TCP and WebSockets) to a simulated player:
it changes the player's state, comes back as an ack, and shows in the merged state."""

from __future__ import annotations

import time

import pytest

from mqtt import payloads as p
from mqtt.commands import send_once
from mqtt.messages import Events, Malformed, Presence, Status
from mqtt.protocol import volume_step
from simulator.players import PlayerSpec, sample_card, start_players
from tests.brokers import Mosquitto
from tests.mqtt.conftest import Controller

CARD = sample_card("c1", chapters=3, tracks=2, length_s=600)


def test_every_command_changes_the_player_and_is_acknowledged(
    mosquitto: Mosquitto, controller: Controller, transport_kind: str, player_id: str
) -> None:
    controller.watch(player_id)
    spec = PlayerSpec(player_id, cards=[CARD], volume_max=16)
    with start_players(mosquitto.config(transport_kind), [spec]) as fleet:
        player = fleet[player_id]
        assert controller.send(player_id, p.events_request()).ok
        assert controller.send(player_id, p.status_request()).ok
        controller.wait_for(lambda: controller.api(player_id)["battery_percent"] == 80)

        result = controller.send(player_id, p.play("c1", chapter=2, seconds_in=30))
        assert result.ok, result
        assert player.received[-1][0] == "card/start"
        assert player.snapshot()["chapter_key"] == "02" and player.snapshot()["track_key"] == "03"
        playing = {
            "playback_status": "playing",
            "card_id": "c1",
            "chapter_key": "02",
            "track_key": "03",
            "chapter_title": "Chapter 2",
            "track_title": "Track 3",
            "track_length_s": 600,
        }
        controller.wait_for(lambda: playing.items() <= controller.api(player_id).items())
        assert controller.api(player_id)["position_s"] >= 30

        for command, expected in [
            (p.pause(), "paused"),
            (p.resume(), "playing"),
            (p.stop(), "stopped"),
        ]:
            assert controller.send(player_id, command).ok
            assert player.snapshot()["playback_status"] == expected
            controller.wait_for(lambda e=expected: controller.api(player_id)["playback_status"] == e)

        for percent in (50, 48, 100, 0):
            assert controller.send(player_id, p.volume(percent)).ok
            assert player.snapshot()["volume"] == volume_step(percent)
            controller.wait_for(lambda v=percent: controller.api(player_id)["volume"] == volume_step(v))

        assert controller.send(player_id, p.sleep_timer(1)).ok
        assert 55 <= player.snapshot()["sleep_timer_s"] <= 60
        controller.wait_for(lambda: 55 <= (controller.api(player_id)["sleep_timer_s"] or 0) <= 60)
        assert controller.send(player_id, p.sleep_timer(0)).ok
        controller.wait_for(lambda: controller.api(player_id)["sleep_timer_s"] == 0)

        assert controller.send(player_id, p.ambient("#ff8000")).ok
        assert player.snapshot()["ambient"] == (255, 128, 0)
        assert controller.send(player_id, p.ambient(r=0, g=0, b=9)).ok
        assert player.snapshot()["ambient"] == (0, 0, 9)
        controller.wait_for(lambda: controller.states[player_id]["status"].get("nightlightMode") == "0x000009")

        # next chapter, computed from the state that came back and the card's chapters
        assert controller.send(player_id, p.play("c1", chapter=1)).ok
        controller.wait_for(lambda: controller.api(player_id)["chapter_key"] == "01")
        following = p.adjacent_chapter(CARD.chapter_keys, controller.api(player_id)["chapter_key"], +1)
        assert following == "02"
        assert controller.send(player_id, p.play("c1", chapter=int(following))).ok
        controller.wait_for(lambda: controller.api(player_id)["chapter_key"] == "02")
        assert controller.send(player_id, p.play("c1", track=6)).ok
        assert player.snapshot()["chapter_key"] == "03"


def test_the_card_play_ack_uses_the_legacy_key(mosquitto: Mosquitto, controller: Controller, player_id: str) -> None:
    controller.watch(player_id)
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id, cards=[CARD])]):
        assert controller.send(player_id, p.play("c1")).ok
    acks = [m for m in controller.messages if type(m).__name__ == "Ack"]
    assert acks and "card-play" in acks[0].results  # type: ignore[attr-defined]


@pytest.mark.parametrize("key", ["volume", "volume-set"])
def test_other_ack_spellings_are_matched(
    mosquitto: Mosquitto, controller: Controller, player_id: str, key: str
) -> None:
    spec = PlayerSpec(player_id, ack_keys={"volume/set": key})
    with start_players(mosquitto.config("tcp"), [spec]):
        assert controller.send(player_id, p.volume(30)).ok


def test_a_rejected_command_fails_with_the_reason_and_changes_nothing(
    mosquitto: Mosquitto, controller: Controller, player_id: str
) -> None:
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id, cards=[CARD])]) as fleet:
        fleet[player_id].reject("card/start", reason="card not downloaded")
        result = controller.send(player_id, p.play("c1"))
        assert (result.outcome, result.reason) == ("failed", "card not downloaded")
        assert fleet[player_id].snapshot()["playback_status"] == "stopped"
        unknown = controller.send(player_id, p.play("nosuchcard"))
        assert unknown.outcome == "failed"
        fleet[player_id].accept()
        assert "unknown card" in (controller.send(player_id, p.play("nosuchcard")).reason or "")
        assert controller.send(player_id, p.volume(20)).ok


def test_a_silent_player_times_out_within_the_bound(
    mosquitto: Mosquitto, controller: Controller, player_id: str
) -> None:
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id, cards=[CARD])]) as fleet:
        fleet[player_id].silent = True
        result = controller.send(player_id, p.pause(), timeout=0.5)
        assert result.outcome == "timeout"
        assert 0.5 <= result.elapsed_s < 0.9
        assert fleet[player_id].received == [("card/pause", b"")]
        # obeys but never acks: still a timeout, yet the state changed
        fleet[player_id].silent = False
        fleet[player_id].acks = False
        assert controller.send(player_id, p.volume(100), timeout=0.5).outcome == "timeout"
        assert fleet[player_id].snapshot()["volume"] == 100
        assert len(controller.waiters) == 0


def test_garbage_is_survived(mosquitto: Mosquitto, controller: Controller, player_id: str) -> None:
    controller.watch(player_id)
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id, cards=[CARD])]) as fleet:
        sent = fleet[player_id].send_garbage()
        assert controller.send(player_id, p.events_request()).ok
        controller.wait_for(lambda: sum(isinstance(m, Malformed) for m in controller.messages) >= 6)
        radio = [m for m in controller.messages if isinstance(m, Events) and "trackTitle" in m.changes]
        assert radio and "\ufffd" in radio[0].changes["trackTitle"]
        assert len(sent) == 8
        assert controller.send(player_id, p.volume(40)).ok
        assert controller.transport.connected


def test_an_unclean_disconnect_publishes_the_offline_presence(
    mosquitto: Mosquitto, controller: Controller, transport_kind: str, player_id: str
) -> None:
    controller.watch(player_id)
    with start_players(mosquitto.config(transport_kind), [PlayerSpec(player_id, presence_format="json")]) as fleet:
        controller.wait_for(lambda: controller.api(player_id)["online"] is True)
        fleet[player_id].go_offline()
        controller.wait_for(lambda: Presence(player_id, False) in controller.messages)
        assert controller.api(player_id)["online"] is False
        fleet[player_id].come_online()
        controller.wait_for(lambda: controller.api(player_id)["online"] is True)


def test_events_stop_after_the_window_and_resume_on_request(
    mosquitto: Mosquitto, controller: Controller, player_id: str
) -> None:
    controller.watch(player_id)
    spec = PlayerSpec(player_id, cards=[CARD], events_window_s=0.6)
    with start_players(mosquitto.config("tcp"), [spec]):
        assert controller.send(player_id, p.volume(50)).ok
        time.sleep(0.2)
        assert not [m for m in controller.messages if isinstance(m, Events)]  # none before a request
        assert controller.send(player_id, p.events_request()).ok
        full = next(m for m in controller.messages if isinstance(m, Events))
        assert {"cardId", "playbackStatus", "volume", "volumeMax"} <= set(full.changes)
        assert controller.send(player_id, p.volume(20)).ok
        controller.wait_for(lambda: controller.api(player_id)["volume"] == volume_step(20))
        partial = [m for m in controller.messages if isinstance(m, Events)][-1]
        assert set(partial.changes) == {"eventUtc", "volume"}
        time.sleep(0.7)
        count = sum(isinstance(m, Events) for m in controller.messages)
        assert controller.send(player_id, p.volume(80)).ok
        time.sleep(0.2)
        assert sum(isinstance(m, Events) for m in controller.messages) == count
        assert controller.send(player_id, p.events_request()).ok
        controller.wait_for(lambda: controller.api(player_id)["volume"] == volume_step(80))


def test_the_short_topic_spelling_and_playback_running_on(
    mosquitto: Mosquitto, controller: Controller, player_id: str
) -> None:
    controller.watch(player_id)
    card = sample_card("fast", chapters=2, tracks=1, length_s=2)
    spec = PlayerSpec(player_id, cards=[card], topic_style="short", speed=20, position_every_s=0.1)
    with start_players(mosquitto.config("tcp"), [spec], tick_s=0.05) as fleet:
        assert controller.send(player_id, p.events_request()).ok
        assert controller.send(player_id, p.status_request()).ok
        assert any(isinstance(m, Status) and m.fields.get("ssid") for m in controller.messages)
        assert controller.send(player_id, p.play("fast")).ok
        controller.wait_for(lambda: controller.api(player_id)["chapter_key"] == "02")
        controller.wait_for(lambda: controller.api(player_id)["playback_status"] == "stopped")
        assert fleet[player_id].snapshot()["playback_status"] == "stopped"


def test_a_short_lived_connection_sends_one_command(mosquitto: Mosquitto, transport_kind: str, player_id: str) -> None:
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id, cards=[CARD])]) as fleet:
        result = send_once(mosquitto.config(transport_kind), player_id, p.play("c1", chapter=3), token=None)
        assert result.ok, result
        assert fleet[player_id].snapshot()["chapter_key"] == "03"
        assert send_once(mosquitto.config(transport_kind), player_id, p.status_request(), token="t").ok
        fleet[player_id].silent = True
        late = send_once(mosquitto.config(transport_kind), player_id, p.stop(), token=None, timeout=0.3)
        assert late.outcome == "timeout"
