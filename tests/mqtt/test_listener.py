"""The long-lived listener against real mosquitto, simulated players and the real
local records (SQLite): state and history written, faults survived."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adapters import get_adapters
from adapters.yoto.mqtt.listener import Backoff, Listener
from core.errors import NotFound
from core.ports import PlayerRepository
from core.settings import Settings
from core.yoto import payloads as p
from core.yoto.protocol import authorizer_username, volume_step
from core.yoto.state import api_fields
from simulator.players import PlayerSpec, sample_card, start_players
from tests.brokers import Mosquitto, run_mosquitto
from tests.servers import stop

ROOT = Path(__file__).resolve().parents[2]
CARD = sample_card("c1", chapters=3, tracks=1, length_s=600)
FAST = Backoff(first_s=0.1, cap_s=0.4, settled_s=5)


def eventually(check: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def players(local_settings: Settings) -> PlayerRepository:
    return get_adapters(local_settings).records.players


def api(players: PlayerRepository, player_id: str) -> dict[str, Any]:
    try:
        record = players.get_state(player_id)
    except NotFound:
        return api_fields(player_id, {})
    return api_fields(player_id, record.state, record.updated_at)


@pytest.fixture
def run_listener() -> Iterator[Callable[..., Listener]]:
    started: list[tuple[Listener, threading.Thread]] = []

    def start(**kwargs: Any) -> Listener:
        kwargs.setdefault("backoff", FAST)
        kwargs.setdefault("token_for", lambda account, rejected=None: "token")
        listener = Listener(**kwargs)
        thread = threading.Thread(target=listener.run, daemon=True)
        thread.start()
        started.append((listener, thread))
        return listener

    yield start
    for listener, thread in started:
        listener.stop()
        thread.join(10)


def test_state_and_history_arrive_and_commands_go_over_the_open_connection(
    mosquitto: Mosquitto, players: PlayerRepository, run_listener: Callable[..., Listener], player_id: str
) -> None:
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id, cards=[CARD])]) as fleet:
        listener = run_listener(
            config=mosquitto.config("websockets"),
            accounts=lambda: ["family"],
            players_for=lambda account: [player_id],
            players=players,
        )
        # events/request + status/request after the connect: the player's state shows up
        eventually(lambda: api(players, player_id)["battery_percent"] == 80)
        assert api(players, player_id)["online"] is True
        assert [c for c, _ in fleet[player_id].received][:2] == ["events/request", "status/request"]

        assert listener.send(player_id, p.play("c1", chapter=2)).ok
        eventually(lambda: api(players, player_id)["chapter_key"] == "02")
        assert listener.send(player_id, p.volume(30)).ok
        eventually(lambda: api(players, player_id)["volume"] == volume_step(30))
        kinds = {e.kind for e in players.recent_events(player_id, limit=50)}
        assert {"events", "status", "response", "presence"} <= kinds
        health = listener.health()
        assert health["connected_accounts"] == ["family"] and health["last_contact"]
        assert health["counts"]["events"] >= 2


def test_events_are_requested_again_before_players_stop_sending(
    mosquitto: Mosquitto, players: PlayerRepository, run_listener: Callable[..., Listener], player_id: str
) -> None:
    spec = PlayerSpec(player_id, cards=[CARD], events_window_s=0.5)
    with start_players(mosquitto.config("tcp"), [spec]) as fleet:
        listener = run_listener(
            config=mosquitto.config("tcp"),
            accounts=lambda: ["family"],
            players_for=lambda account: [player_id],
            players=players,
            events_every_s=0.3,
        )
        eventually(lambda: [c for c, _ in fleet[player_id].received].count("events/request") >= 4)
        # well past the player's 0.5 s window, its events still arrive: they were asked for again
        assert listener.send(player_id, p.play("c1", chapter=3)).ok
        eventually(lambda: api(players, player_id)["chapter_key"] == "03")


def test_a_broker_restart_is_survived_without_duplicate_subscriptions(
    fresh_mosquitto: Mosquitto, players: PlayerRepository, run_listener: Callable[..., Listener], player_id: str
) -> None:
    with start_players(fresh_mosquitto.config("tcp"), [PlayerSpec(player_id, cards=[CARD])]) as fleet:
        listener = run_listener(
            config=fresh_mosquitto.config("tcp"),
            accounts=lambda: ["family"],
            players_for=lambda account: [player_id],
            players=players,
        )
        eventually(lambda: listener.health()["connected_accounts"] == ["family"])
        fresh_mosquitto.restart(down_s=0.3)
        fleet[player_id].come_online()
        eventually(lambda: listener.sessions["family"].connects == 2 and listener.sessions["family"].connected)
        assert listener.health()["counts"]["reconnects"] >= 1

        def acks() -> int:  # the pause's: players also ack the listener's events and status requests
            events = players.recent_events(player_id, limit=500)
            return len([e for e in events if e.kind == "response" and "card" in e.payload["results"]])

        before = acks()
        assert listener.send(player_id, p.pause()).ok

        eventually(lambda: acks() > before)
        time.sleep(0.3)  # a second subscription would store the same ack again by now
        assert acks() == before + 1  # one ack, stored once


def test_a_connection_counts_as_up_only_once_its_players_are_subscribed(
    mosquitto: Mosquitto, players: PlayerRepository, run_listener: Callable[..., Listener], player_id: str
) -> None:
    """CI once saw a reconnect reported before its subscriptions were made: a
    command sent in that gap found no player. Hold the player listing open and
    the session must not call itself connected."""
    listing = threading.Event()
    release = threading.Event()

    def players_for(account: str) -> list[str]:
        listing.set()
        release.wait(5)
        return [player_id]

    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id, cards=[CARD])]):
        listener = run_listener(
            config=mosquitto.config("tcp"), accounts=lambda: ["family"], players_for=players_for, players=players
        )
        eventually(listing.is_set)
        session = listener.sessions["family"]
        # the listing runs beside the connect: wait until the broker has taken the connection
        eventually(lambda: session.transport is not None and session.transport.connected)
        assert not session.connected and session.connects == 0
        assert listener.health()["connected_accounts"] == []
        release.set()
        eventually(lambda: session.connected)
        assert session.connects == 1
        assert listener.send(player_id, p.pause()).ok


def test_a_refused_token_is_refreshed_once_then_used(
    tmp_path: Path, players: PlayerRepository, run_listener: Callable[..., Listener], player_id: str
) -> None:
    calls: list[tuple[str, str | None]] = []

    def token_for(account: str, *, rejected: str | None = None) -> str:
        calls.append((account, rejected))
        return "fresh" if rejected == "expired" or len(calls) > 2 else "expired"

    users = {authorizer_username("PublicJWTAuthorizer"): "fresh"}
    with run_mosquitto(tmp_path, users=users) as broker:
        listener = run_listener(
            config=replace(broker.config("tcp"), authorizer="PublicJWTAuthorizer"),
            accounts=lambda: ["family"],
            token_for=token_for,
            players_for=lambda account: [player_id],
            players=players,
        )
        eventually(lambda: listener.health()["connected_accounts"] == ["family"])
        assert calls == [("family", None), ("family", "expired")]


def test_accounts_added_and_removed_while_running(
    mosquitto: Mosquitto, players: PlayerRepository, run_listener: Callable[..., Listener]
) -> None:
    linked = ["one"]
    owned = {"one": ["p-one-1"], "two": ["p-two-1"]}
    with start_players(mosquitto.config("tcp"), ["p-one-1", "p-two-1"]):
        listener = run_listener(
            config=mosquitto.config("tcp"),
            accounts=lambda: list(linked),
            players_for=lambda account: owned[account],
            players=players,
            relist_every_s=0.2,
        )
        eventually(lambda: api(players, "p-one-1")["battery_percent"] == 80)
        assert api(players, "p-two-1")["battery_percent"] is None
        linked.append("two")
        eventually(lambda: api(players, "p-two-1")["battery_percent"] == 80)
        linked.remove("one")
        eventually(lambda: "one" not in listener.sessions and listener.health()["connected_accounts"] == ["two"])


def test_garbage_and_an_offline_player_are_survived(
    mosquitto: Mosquitto, players: PlayerRepository, run_listener: Callable[..., Listener], player_id: str
) -> None:
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id, cards=[CARD])]) as fleet:
        listener = run_listener(
            config=mosquitto.config("tcp"),
            accounts=lambda: ["family"],
            players_for=lambda account: [player_id],
            players=players,
        )
        eventually(lambda: api(players, player_id)["online"] is True)
        fleet[player_id].send_garbage()
        eventually(lambda: listener.health()["counts"].get("malformed", 0) >= 6)
        fleet[player_id].go_offline()
        eventually(lambda: api(players, player_id)["online"] is False)
        asked = [c for c, _ in fleet[player_id].received].count("status/request")
        fleet[player_id].come_online()
        eventually(lambda: api(players, player_id)["online"] is True)
        # back from its last will, the player is asked for events and status again
        eventually(lambda: [c for c, _ in fleet[player_id].received].count("status/request") == asked + 1)
        assert listener.send(player_id, p.volume(60)).ok
        assert listener.health()["connected_accounts"] == ["family"]


def test_sigterm_stops_the_listener_cleanly_within_ten_seconds(mosquitto: Mosquitto, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "USE_AWS"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.mqtt.listener_process", str(mosquitto.tcp_port), str(tmp_path), "sigterm1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        records = get_adapters(Settings(data_dir=tmp_path, session_secret="x" * 40)).records
        with start_players(mosquitto.config("tcp"), ["sigterm1"]):
            eventually(lambda: api(records.players, "sigterm1")["battery_percent"] == 80, timeout=15)
        started = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert time.monotonic() - started < 10
        assert proc.returncode == 0, err[-2000:]
        assert b"stopped cleanly" in out
    finally:
        stop(proc)  # type: ignore[arg-type]


def test_three_players_one_a_mini_are_all_live_within_the_brokers_limits(
    mosquitto: Mosquitto, players: PlayerRepository, run_listener: Callable[..., Listener]
) -> None:
    """Seven filters a player in one SUBSCRIBE broke AWS IoT Core's 8-filter limit at
    the second player: the connection was ended and no player's state arrived."""
    ids = [f"three-{i}" for i in range(3)]
    specs = [PlayerSpec(ids[0], model="v3"), PlayerSpec(ids[1], model="mini", battery=61), PlayerSpec(ids[2])]
    refused_before = len(mosquitto.refusals)
    with start_players(mosquitto.config("tcp"), specs) as fleet:
        listener = run_listener(
            config=mosquitto.config("websockets"),
            accounts=lambda: ["family"],
            players_for=lambda account: ids,
            players=players,
        )
        for player_id in ids:
            eventually(lambda pid=player_id: api(players, pid)["battery_percent"] is not None)
        assert api(players, ids[1])["battery_percent"] == 61
        for player_id in ids:
            assert listener.send(player_id, p.volume(50)).ok
            # the full status is asked for too, a moment after status/request
            eventually(lambda pid=player_id: "status" in [c for c, _ in fleet[pid].received])
        eventually(lambda: all(api(players, pid)["ssid"] == "simulated" for pid in ids))
    assert mosquitto.refusals[refused_before:] == []
    assert listener.health()["connections"] == 1


def test_more_players_than_one_connection_may_subscribe_get_a_second_connection(
    mosquitto: Mosquitto, players: PlayerRepository, run_listener: Callable[..., Listener]
) -> None:
    """50 subscriptions a connection: eleven players need two connections."""
    ids = [f"many-{uuid.uuid4().hex[:6]}-{i}" for i in range(11)]
    refused_before = len(mosquitto.refusals)
    with start_players(mosquitto.config("tcp"), ids):
        listener = run_listener(
            config=mosquitto.config("tcp"),
            accounts=lambda: ["family"],
            players_for=lambda account: ids,
            players=players,
        )
        eventually(lambda: all(api(players, pid)["battery_percent"] == 80 for pid in ids), timeout=15)
        eventually(lambda: listener.health()["connected_accounts"] == ["family"])
        assert listener.health()["connections"] == 2
        assert all(listener.send(pid, p.pause()).ok for pid in (ids[0], ids[-1]))
    assert mosquitto.refusals[refused_before:] == []


def test_a_refused_subscription_is_noticed_and_the_other_players_still_served(
    fresh_mosquitto: Mosquitto, players: PlayerRepository, run_listener: Callable[..., Listener]
) -> None:
    fresh_mosquitto.refuse_subscriptions("device/refused-1/data/")
    with start_players(fresh_mosquitto.config("tcp"), ["refused-1", "served-1"]):
        listener = run_listener(
            config=fresh_mosquitto.config("tcp"),
            accounts=lambda: ["family"],
            players_for=lambda account: ["refused-1", "served-1"],
            players=players,
        )
        eventually(lambda: api(players, "served-1")["battery_percent"] == 80)
        eventually(lambda: listener.health()["counts"].get("subscribe_refused", 0) >= 1)
        assert not listener.can_send("refused-1")
        assert listener.send("served-1", p.pause()).ok


def test_an_event_sent_twice_is_stored_and_counted_once(
    mosquitto: Mosquitto, players: PlayerRepository, run_listener: Callable[..., Listener], player_id: str
) -> None:
    """Players copy every data/events message on the legacy events topic: one stored event each."""
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id, cards=[CARD])]):
        listener = run_listener(
            config=mosquitto.config("tcp"),
            accounts=lambda: ["family"],
            players_for=lambda account: [player_id],
            players=players,
        )
        eventually(lambda: api(players, player_id)["online"] is True)
        for volume in (13, 25, 38, 57):  # the player starts at level 8 (50): end elsewhere
            assert listener.send(player_id, p.volume(volume)).ok
        eventually(lambda: api(players, player_id)["volume"] == 57)
        listener.writer.flush()
        stored = [e.payload for e in players.recent_events(player_id, limit=500) if e.kind == "events"]
        volumes = [e["volume"] for e in stored if set(e) == {"eventUtc", "volume"}]
        assert sorted(volumes) == [2, 4, 6, 9], stored
        assert listener.health()["counts"]["events"] == len(stored)
