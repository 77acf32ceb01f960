"""Every command through real mosquitto (TCP and WebSockets) to a simulated player:
it changes the player's state, comes back as an ack, and shows in the merged state."""

from __future__ import annotations

import time

import pytest

from adapters.yoto.mqtt.acks import send_once
from core.yoto import payloads as p
from core.yoto.messages import Ack, Events, Malformed, Presence, Status
from core.yoto.protocol import volume_step
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


def test_card_commands_are_acknowledged_under_card(
    mosquitto: Mosquitto, controller: Controller, player_id: str
) -> None:
    """The key the Node.js client lists for today's `card/*` topics; an ack matched only
    by `card-play` left every pause, resume and stop to time out."""
    controller.watch(player_id)
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id, cards=[CARD])]):
        for command in (p.play("c1"), p.pause(), p.resume(), p.stop()):
            assert controller.send(player_id, command).ok, command
    acks = [m for m in controller.messages if isinstance(m, Ack) and "card" in m.results]
    assert len(acks) == 4


def test_the_legacy_card_play_key_is_accepted(mosquitto: Mosquitto, controller: Controller, player_id: str) -> None:
    spec = PlayerSpec(player_id, cards=[CARD], ack_keys={"card/start": "card-play"})
    with start_players(mosquitto.config("tcp"), [spec]):
        assert controller.send(player_id, p.play("c1", chapter=2)).ok
    acks = [m for m in controller.messages if isinstance(m, Ack)]
    assert any("card-play" in a.results for a in acks)


@pytest.mark.parametrize(
    ("family", "key", "command"),
    [
        ("volume/set", "volume/set", p.volume(30)),
        ("volume/set", "volume-set", p.volume(30)),
        ("sleep-timer/set", "sleepTimer", p.sleep_timer(5)),
        ("sleep-timer/set", "sleep-timer/set", p.sleep_timer(5)),
        ("events/request", "events/request", p.events_request()),
        ("status/request", "status", p.status_request()),
    ],
)
def test_other_reported_ack_spellings_are_matched(
    mosquitto: Mosquitto, controller: Controller, player_id: str, family: str, key: str, command: p.Command
) -> None:
    spec = PlayerSpec(player_id, ack_keys={family: key})
    with start_players(mosquitto.config("tcp"), [spec]) as fleet:
        fleet[player_id].answers_requests = False  # acks only: the ack alone must answer
        assert controller.send(player_id, command).ok


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
        assert len(sent) == 9
        assert controller.send(player_id, p.volume(40)).ok
        assert controller.transport.connected


def test_an_unclean_disconnect_publishes_the_offline_presence(
    mosquitto: Mosquitto, controller: Controller, transport_kind: str, player_id: str
) -> None:
    controller.watch(player_id)
    with start_players(mosquitto.config(transport_kind), [PlayerSpec(player_id)]) as fleet:
        controller.wait_for(lambda: controller.api(player_id)["online"] is True)
        fleet[player_id].go_offline()

        def went_offline() -> bool:
            return any(isinstance(m, Presence) and not m.online for m in controller.messages)

        controller.wait_for(went_offline)
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
        assert controller.send(player_id, p.events_request()).ok  # the ack may come before the events
        controller.wait_for(lambda: any(isinstance(m, Events) for m in controller.messages))
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


def test_presence_is_yotos_retained_state_and_ts(mosquitto: Mosquitto, controller: Controller, player_id: str) -> None:
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id)]):
        controller.watch(player_id)  # after the player came online: the retained presence still arrives
        controller.wait_for(lambda: any(isinstance(m, Presence) for m in controller.messages))
    presence = next(m for m in controller.messages if isinstance(m, Presence))
    assert presence.online and presence.at_ms is not None and abs(presence.at_ms / 1000 - time.time()) < 60


def test_events_come_twice_once_on_the_legacy_topic(
    mosquitto: Mosquitto, controller: Controller, player_id: str
) -> None:
    """As captured from a real Mini (bcomnes/yoto-nodejs-client, collected-data/volume-event.txt)."""
    controller.watch(player_id)
    controller.transport.subscribe([f"device/{player_id}/events"])
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id, cards=[CARD])]):
        assert controller.send(player_id, p.events_request()).ok
        assert controller.send(player_id, p.volume(44)).ok
        controller.wait_for(lambda: len([m for m in controller.messages if isinstance(m, Events)]) >= 4)
    events = [m.changes for m in controller.messages if isinstance(m, Events)]
    volume = [e for e in events if set(e) == {"eventUtc", "volume"}]
    assert len(volume) == 2 and volume[0] == volume[1]


def test_status_request_answers_on_data_status_and_the_full_request_on_status_full(
    mosquitto: Mosquitto, controller: Controller, player_id: str
) -> None:
    controller.watch(player_id)
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id)]):
        assert controller.send(player_id, p.status_request()).ok
        basic = [m for m in controller.messages if isinstance(m, Status)]
        assert basic and not any(m.full for m in basic) and "ssid" not in basic[-1].fields
        assert controller.send(player_id, p.full_status_request("req1")).ok
        full = [m for m in controller.messages if isinstance(m, Status) and m.full]
        assert full and {"ssid", "wifiStrength", "upTime", "temp"} <= set(full[-1].fields)
        assert full[-1].fields["temp"] == "0:24"


def test_a_plain_play_resumes_where_the_card_was_left(
    mosquitto: Mosquitto, controller: Controller, player_id: str
) -> None:
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id, cards=[CARD])]) as fleet:
        player = fleet[player_id]
        assert controller.send(player_id, p.play("c1", chapter=2, seconds_in=120)).ok
        assert controller.send(player_id, p.stop()).ok
        assert controller.send(player_id, p.play("c1")).ok
        snap = player.snapshot()
        assert (snap["chapter_key"], snap["playback_status"]) == ("02", "playing") and snap["position_s"] >= 120
        assert controller.send(player_id, p.play("c1", chapter=1)).ok  # a targeted play starts where it says
        assert player.snapshot()["chapter_key"] == "01" and player.snapshot()["position_s"] < 5


def test_playback_runs_on_to_the_end_of_the_card(mosquitto: Mosquitto, controller: Controller, player_id: str) -> None:
    controller.watch(player_id)
    card = sample_card("fast", chapters=2, tracks=1, length_s=2)
    spec = PlayerSpec(player_id, cards=[card], speed=20, position_every_s=0.1)
    with start_players(mosquitto.config("tcp"), [spec], tick_s=0.05) as fleet:
        assert controller.send(player_id, p.events_request()).ok
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
