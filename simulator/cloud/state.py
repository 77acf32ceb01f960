"""Everything one fake cloud holds, shared by the HTTP routes and the Python API."""

from __future__ import annotations

import base64
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from simulator.cloud.cards import CardStore
from simulator.cloud.clock import SimClock
from simulator.cloud.config import DEFAULT_ACCOUNT, CloudConfig
from simulator.cloud.devices import DEFAULT_DEVICES, Device, DeviceRegistry
from simulator.cloud.faults import FaultQueue
from simulator.cloud.icons import PUBLIC_ICONS, media_id, public_icons
from simulator.cloud.media import MediaStore
from simulator.cloud.oauth import TokenAuthority
from simulator.cloud.player_link import PlayerLinks
from simulator.cloud.shop import ShopCatalogue
from simulator.cloud.uploads import AudioStore

MAX_LOGGED_REQUESTS = 10_000


@dataclass(frozen=True)
class RecordedRequest:
    """One request the cloud answered (faults included), for tests to inspect."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def form(self) -> dict[str, str]:
        if self.headers.get("content-type", "").startswith("application/json"):
            return dict(self.json() or {})
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def as_dict(self) -> dict[str, Any]:
        try:
            text, encoding = self.body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(self.body).decode(), "base64"
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": text,
            "body_encoding": encoding,
            "status": self.status,
            "at": self.at,
        }


class Cloud:
    def __init__(self, config: CloudConfig, seed_devices: bool = True) -> None:
        self.config = config
        self.clock = SimClock()
        self.base_url = ""  # set by the server once it has a port
        self._seed_devices = seed_devices
        self._log: deque[RecordedRequest] = deque(maxlen=MAX_LOGGED_REQUESTS)
        self._log_lock = threading.Lock()
        self._public_icon_ids = {media_id(title) for title, _ in PUBLIC_ICONS}
        self.reset()

    def reset(self) -> None:
        """Forget every token, card, upload, fault, logged request and press; re-seed the players and the shop."""
        self.tokens = TokenAuthority(self.config, self.clock, lambda: self.public_base)
        self.cards = CardStore()
        self.shop = ShopCatalogue()
        self.devices = DeviceRegistry()
        self.links = PlayerLinks(self.devices, self.clock)
        self.media = MediaStore()
        self.audio = AudioStore()
        self.faults = FaultQueue()
        self.login_account = DEFAULT_ACCOUNT
        self.clear_requests()
        if self._seed_devices:
            for device_id, name, kind in DEFAULT_DEVICES:
                self.devices.add(Device(device_id, name, device_type=kind, device_family=kind))

    @property
    def public_base(self) -> str:
        return (self.config.public_base or self.base_url).rstrip("/")

    def record(self, entry: RecordedRequest) -> None:
        with self._log_lock:
            self._log.append(entry)

    def requests(self, method: str | None = None, path_prefix: str | None = None) -> list[RecordedRequest]:
        with self._log_lock:
            entries = list(self._log)
        wanted = method.upper() if method else None
        return [
            r
            for r in entries
            if (wanted is None or r.method == wanted) and (path_prefix is None or r.path.startswith(path_prefix))
        ]

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def public_icons(self) -> list[dict[str, object]]:
        return public_icons(self.public_base)

    def transcoded_info(self, account: str) -> Callable[[str], dict[str, Any] | None]:
        """For the card checks: the transcodedInfo of a transcodedSha256 this account may use, else None."""

        def info(transcoded_sha256: str) -> dict[str, Any] | None:
            found = self.audio.finished(transcoded_sha256, account, self.clock.now())
            return dict(found.encoded.info) if found is not None and found.encoded is not None else None

        return info

    def known_icon(self, icon_id: str) -> bool:
        if icon_id in self._public_icon_ids:
            return True
        upload = self.media.get(icon_id)
        return upload is not None and upload.kind == "icon"
