"""Faults the listener survives, seen through the API: a broker restart, a token the
broker stops accepting, a listener in its own process stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.yoto.client import YotoClient
from core.settings import Settings
from simulator.cloud import RunningCloud
from simulator.players import PlayerSpec
from tests.brokers import Mosquitto, run_mosquitto
from tests.players.conftest import (
    ACCOUNT,
    USERNAME,
    AuthorizerStandIn,
    Rig,
    admin,
    eventually,
    make_rig,
)
from tests.servers import stop

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_rig(
    backend_settings: Settings,
    cloud: RunningCloud,
    fresh_mosquitto: Mosquitto,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Rig:
    rig = make_rig(backend_settings, cloud, fresh_mosquitto, monkeypatch, tmp_path)
    yield rig  # type: ignore[misc]
    rig.close()


def test_a_broker_restart_is_survived_and_commands_work_again(fresh_rig: Rig, player_id: str) -> None:
    rig = fresh_rig
    fleet = rig.players(PlayerSpec(player_id))
    handler = rig.start_listener()
    client = admin(rig)
    eventually(lambda: client.get(f"/api/players/{player_id}").json()["online"])
    rig.broker.restart(down_s=0.5)
    fleet[player_id].come_online()
    session = handler.listener.sessions[ACCOUNT]
    eventually(lambda: session.connects == 2 and session.connected)
    r = eventually(
        lambda: (
            (r := client.post(f"/api/players/{player_id}/commands", json={"action": "pause"})).status_code == 200 and r
        )
    )
    assert r.json()["via"] == "listener"
    assert handler.listener.health()["counts"]["reconnects"] >= 1


def test_a_revoked_token_is_refreshed_once_through_the_store_then_used(
    backend_settings: Settings, cloud: RunningCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "broker").mkdir()
    with run_mosquitto(tmp_path / "broker", users={USERNAME: "not-yet"}) as broker:
        rig = make_rig(backend_settings, cloud, broker, monkeypatch, tmp_path)
        try:
            first = rig.records.tokens.get(ACCOUNT)
            rig.cloud.add_device("tokenplayer", account=ACCOUNT)  # listed, but no player answers
            broker.reload_users({USERNAME: first.access_token})
            client = YotoClient.from_settings(rig.api.settings)
            stand_in = AuthorizerStandIn(client, broker)
            handler = rig.start_listener(cloud=stand_in)
            # Yoto revokes the token and its broker drops the socket
            cloud.revoke_access_tokens()
            broker.reload_users({USERNAME: "revoked-" + first.access_token})
            broker.restart()
            session = handler.listener.sessions[ACCOUNT]
            eventually(lambda: session.connects >= 2 and session.connected)
            stored = rig.records.tokens.get(ACCOUNT)
            assert stored.version == first.version + 1 and stored.access_token != first.access_token
            assert stand_in.refreshes == 1
            assert cloud.stats()["refreshes"] == 1 and cloud.stats()["reuse_detected"] == 0
            # the API, with no player to answer, reaches the broker with the new token: silence, not refusal
            r = admin(rig).post("/api/players/tokenplayer/commands", json={"action": "pause"})
            assert r.status_code == 504, r.text
            client.close()
        finally:
            rig.close()


def test_python_m_mqtt_feeds_the_api_and_stops_cleanly_on_sigterm(
    local_settings: Settings,
    cloud: RunningCloud,
    mosquitto: Mosquitto,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    player_id: str,
) -> None:
    rig = make_rig(local_settings, cloud, mosquitto, monkeypatch, tmp_path)
    rig.players(PlayerSpec(player_id, battery=55))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "USE_AWS", "MQTT_", "YOTO_"))}
    env.update(
        DATA_DIR=str(local_settings.data_dir),
        YOTO_API_URL=cloud.url,
        YOTO_AUTH_URL=cloud.url,
        YOTO_CLIENT_ID=cloud.client_id,
        MQTT_HOST="127.0.0.1",
        MQTT_PORT=str(mosquitto.tcp_port),
        MQTT_TRANSPORT="tcp",
        MQTT_TLS="false",
    )
    check = [sys.executable, "-m", "mqtt", "--check"]
    assert subprocess.run(check, cwd=ROOT, env=env, capture_output=True).returncode == 1
    proc = subprocess.Popen(
        [sys.executable, "-m", "mqtt"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        client = admin(rig)
        eventually(lambda: client.get(f"/api/players/{player_id}").json()["battery_percent"] == 55, timeout=20)
        health = eventually(lambda: (h := client.get("/api/health/mqtt").json())["connected_accounts"] == 1 and h)
        assert health["mode"] == "always" and health["live"]
        assert subprocess.run(check, cwd=ROOT, env=env, capture_output=True).returncode == 0
        started = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        assert time.monotonic() - started < 10
        assert proc.returncode == 0, err[-2000:]
        assert client.get("/api/health/mqtt").json()["status"] == "down"  # a clean stop clears the heartbeat
    finally:
        stop(proc)  # type: ignore[arg-type]
        rig.close()
