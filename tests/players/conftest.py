"""The whole players path on real parts: the API (TestClient over `create_app()`, on
both adapter sets), the listener loop (`services.listener_runner`, in the root's
in-process slot or not at all),
mosquitto, simulated players and the fake Yoto cloud over HTTP.

`Rig` links one account ("family") whose REST device list holds the test's
simulated players, and starts the listener on demand (`rig.start_listener()`).
Where Yoto's custom authorizer matters, `AuthorizerStandIn` gives mosquitto
a password file holding exactly the account's current access token, renewed
when the cloud issues a new one (the authorizer itself cannot run here).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.yoto.client import YotoClient
from adapters.yoto.mqtt.listener import Backoff
from adapters.yoto.mqtt.transport import BrokerConfig
from core.records import utcnow
from core.settings import Settings
from core.yoto.cloud import TokenGrant, YotoCard, YotoChapter, YotoTrack
from core.yoto.protocol import authorizer_username
from services.listener_runner import ListenerRunner
from services.yoto_tokens import YotoTokenService
from simulator.cloud import RunningCloud, start_cloud
from simulator.players import PlayerFleet, PlayerSpec, SimCard, sample_card, start_players
from tests import waiting
from tests.api.conftest import ADMIN, TEST_LIMITS, Api, make_api
from tests.brokers import Mosquitto, fresh_mosquitto, mosquitto, run_mosquitto
from wiring import root_for

__all__ = ["Rig", "fresh_mosquitto", "mosquitto", "run_mosquitto"]

ACCOUNT = "family"
FAST = Backoff(first_s=0.1, cap_s=0.4, settled_s=5)
USERNAME = authorizer_username("PublicJWTAuthorizer")


def eventually(check: Callable[[], Any], timeout: float = 8.0, every: float = 0.05) -> Any:
    return waiting.eventually(check, timeout, every)


class AuthorizerStandIn:
    """Wraps the listener's Yoto client: after each refresh the broker accepts the new
    access token (and only it), as Yoto's custom authorizer would."""

    def __init__(self, client: YotoClient, broker: Mosquitto) -> None:
        self._client = client
        self._broker = broker
        self.refreshes = 0

    def refresh(self, refresh_token: str) -> TokenGrant:
        grant = self._client.refresh(refresh_token)
        self.refreshes += 1
        self._broker.reload_users({USERNAME: grant.access_token})
        return grant

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@dataclass
class Rig:
    api: Api
    cloud: RunningCloud
    broker: Mosquitto
    transport: str = "tcp"
    fleets: list[PlayerFleet] = field(default_factory=list)
    handler: ListenerRunner | None = None

    @property
    def records(self) -> Any:
        return self.api.adapters.records

    def broker_config(self) -> BrokerConfig:
        return self.broker.config(self.transport)

    def card(self, chapters: int = 3, tracks: int = 2, length_s: float = 600) -> SimCard:
        """A card made on the fake cloud (so next/previous can read its chapters),
        and the same card for the simulated players."""
        token = self.records.tokens.get(ACCOUNT).access_token
        yoto = YotoCard(
            title="Bedtime",
            chapters=[
                YotoChapter(
                    title=f"Chapter {c}",
                    tracks=[
                        YotoTrack(title=f"Track {t}", track_url=f"https://example.org/{c}/{t}.mp3")
                        for t in range(tracks)
                    ],
                )
                for c in range(1, chapters + 1)
            ],
        )
        client = YotoClient.from_settings(self.api.settings)
        try:
            saved = client.save_card(token, yoto)
        finally:
            client.close()
        assert saved.card_id
        return sample_card(saved.card_id, chapters=chapters, tracks=tracks, length_s=length_s)

    def players(self, *specs: PlayerSpec, account: str = ACCOUNT) -> PlayerFleet:
        """Simulated players on the broker, listed as the account's players by the cloud."""
        for spec in specs:
            self.cloud.add_device(spec.player_id, f"Player {spec.player_id}", account=account)
        fleet = start_players(self.broker_config(), list(specs))
        self.fleets.append(fleet)
        return fleet

    def start_listener(self, *, cloud: Any = None, **options: Any) -> ListenerRunner:
        options.setdefault("backoff", FAST)
        options.setdefault("relist_every_s", 0.3)
        root = root_for(self.api.adapters)
        listener = root.listener(cloud=cloud, **options)
        self.handler = root.listener_runner(listener, mode="in-process", heartbeat_every_s=0.2)
        root.in_process.start(self.handler)
        eventually(lambda: listener.health()["connected_accounts"] == [ACCOUNT])
        return self.handler

    def stop_listener(self) -> None:
        root_for(self.api.adapters).in_process.stop()
        self.handler = None

    def close(self) -> None:
        self.stop_listener()
        for fleet in self.fleets:
            fleet.stop()


def link(settings: Settings, records: Any, cloud: RunningCloud, account: str = ACCOUNT) -> None:
    """Store the tokens of a fresh link of `account`, as the link routes do."""
    answer = cloud.issue_tokens(account)
    grant = TokenGrant(
        access_token=answer["access_token"],
        expires_in=int(answer["expires_in"]),
        refresh_token=answer.get("refresh_token"),
    )
    client = YotoClient.from_settings(settings)
    try:
        YotoTokenService(records.tokens, records.counters, client).store_new_link(account, grant)
    finally:
        client.close()


@pytest.fixture
def cloud() -> Iterator[RunningCloud]:
    with start_cloud(access_ttl_s=3600, seed_devices=False) as running:
        yield running


def make_rig(
    backend_settings: Settings,
    cloud: RunningCloud,
    broker: Mosquitto,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    *,
    transport: str = "tcp",
) -> Rig:
    config = broker.config(transport)
    settings = backend_settings.model_copy(
        update={
            **TEST_LIMITS,
            "yoto_api_url": cloud.url,
            "yoto_auth_url": cloud.url,
            "yoto_client_id": cloud.client_id,
            "mqtt_host": config.host,
            "mqtt_port": config.port,
            "mqtt_transport": config.transport,
            "mqtt_tls": False,
            "mqtt_command_timeout_s": 1.0,
        }
    )
    api = make_api(settings, monkeypatch, tmp_path)
    link(settings, api.adapters.records, cloud)
    return Rig(api=api, cloud=cloud, broker=broker, transport=transport)


@pytest.fixture
def rig(
    backend_settings: Settings,
    cloud: RunningCloud,
    mosquitto: Mosquitto,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Rig]:
    built = make_rig(backend_settings, cloud, mosquitto, monkeypatch, tmp_path)
    yield built
    built.close()
    for c in built.api.clients:
        c.close()


@pytest.fixture
def player_id() -> str:
    """Fresh per test (the session broker is shared), with a `-` as real device ids can have."""
    return f"sim-{uuid.uuid4().hex[:10]}"


def admin(rig: Rig) -> Any:
    return rig.api.login(ADMIN)


def stale(seconds: float) -> str:
    return (utcnow() - timedelta(seconds=seconds)).isoformat()
