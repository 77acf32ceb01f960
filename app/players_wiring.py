"""What the players routes are built from, once per adapter set: the token service,
the player ports and the command sender (which uses the in-process listener's
connection when `make run` runs one)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from adapters import Adapters
from services.players import PlayerPorts
from services.yoto_tokens import YotoTokenService


@dataclass(frozen=True)
class PlayersWiring:
    cloud: Any  # core.yoto.cloud.YotoCloud
    tokens: YotoTokenService
    ports: PlayerPorts
    sender: Any  # services.player_commands.CommandSender


_lock = threading.Lock()
_built: dict[int, tuple[Adapters, PlayersWiring]] = {}


def wiring(adapters: Adapters) -> PlayersWiring:
    key = id(adapters)
    got = _built.get(key)
    if got is not None and got[0] is adapters:
        return got[1]
    with _lock:
        got = _built.get(key)
        if got is None or got[0] is not adapters:
            got = (adapters, _build(adapters))
            _built[key] = got
        return got[1]


def _build(adapters: Adapters) -> PlayersWiring:
    from adapters.yoto.mqtt.sender import MqttSender
    from adapters.yoto.mqtt.transport import BrokerConfig
    from mqtt.handler import in_process

    records = adapters.records
    cloud = adapters.yoto
    tokens = YotoTokenService(records.tokens, records.counters, cloud)
    ports = PlayerPorts.over(records, tokens, cloud)
    sender = MqttSender(BrokerConfig.from_settings(adapters.settings), tokens, listener=in_process.current)
    return PlayersWiring(cloud=cloud, tokens=tokens, ports=ports, sender=sender)


def forget(adapters: Adapters) -> None:
    with _lock:
        _built.pop(id(adapters), None)
