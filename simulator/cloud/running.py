"""`start_cloud()`: a fake Yoto cloud in a background thread, and the handle tests drive it with."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from simulator.cloud.app import CloudApp
from simulator.cloud.config import DEFAULT_CLIENT_ID, DEFAULT_SCOPE, CloudConfig
from simulator.cloud.devices import Device
from simulator.cloud.faults import Fault, FaultShortcuts
from simulator.cloud.server import CloudServer
from simulator.cloud.state import Cloud, RecordedRequest
from simulator.cloud.storage_routes import card_for_player
from simulator.cloud.uploads import TranscodeFault


class RunningCloud(FaultShortcuts):
    """A started fake cloud. One URL serves both the auth host and the API host."""

    def __init__(self, cloud: Cloud, server: CloudServer) -> None:
        self.state = cloud
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.02,), name="yoto-sim", daemon=True)
        self._thread.start()

    # ---- where it is

    @property
    def url(self) -> str:
        return self.state.base_url

    auth_url = url
    api_url = url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def client_id(self) -> str:
        return self.state.config.client_id

    @property
    def config(self) -> CloudConfig:
        """Live settings: change fields here (e.g. `access_ttl_s`) and the next request sees them."""
        return self.state.config

    def env(self) -> dict[str, str]:
        """The service's settings that point it at this cloud."""
        return {"YOTO_API_URL": self.url, "YOTO_AUTH_URL": self.url, "YOTO_CLIENT_ID": self.client_id}

    # ---- lifetime

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningCloud:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def reset(self) -> None:
        self.state.reset()

    def configure(self, **changes: Any) -> dict[str, object]:
        """Change runtime settings (CloudConfig.RUNTIME_KEYS); answers the whole snapshot."""
        self.state.config.update(changes)
        return self.state.config.snapshot()

    # ---- what it was sent

    def requests(self, method: str | None = None, path_prefix: str | None = None) -> list[RecordedRequest]:
        return self.state.requests(method, path_prefix)

    def clear_requests(self) -> None:
        self.state.clear_requests()

    def cards(self, include_deleted: bool = False) -> dict[str, dict[str, Any]]:
        return self.state.cards.all(include_deleted)

    def card(self, card_id: str) -> dict[str, Any] | None:
        return self.state.cards.all(include_deleted=True).get(card_id)

    def card_for_player(self, card_id: str, account: str) -> dict[str, Any] | None:
        """The card as a simulated player of `account` reads it when started (`?playable=true`'s form:
        signed media URLs); None when the account has no such card. Not logged, never faulted."""
        return card_for_player(self.state, card_id, account)

    def covers(self) -> list[dict[str, object]]:
        return [u.summary() for u in self.state.media.list("cover")]

    def uploaded_icons(self) -> list[dict[str, object]]:
        return [u.summary() for u in self.state.media.list("icon")]

    def icons(self) -> list[dict[str, object]]:
        """The public icon set, as `GET /media/displayIcons/user/yoto` answers it."""
        return self.state.public_icons()

    def device_config(self, device_id: str) -> dict[str, Any]:
        return dict(self.state.devices.get(device_id).config)

    def devices(self) -> list[dict[str, Any]]:
        return [d.listing() for d in self.state.devices.all()]

    def audio_uploads(self) -> list[dict[str, Any]]:
        """Every upload id asked for: account, sha256, filename, urlIssued, putAt, contentType, options, status."""
        return self.state.audio.uploads(self.state.clock.now())

    def transcodes(self) -> list[dict[str, Any]]:
        """One per source sha256 held: status, transcodedSha256, transcodedInfo, uploadInfo, error, fault, readyAt."""
        return self.state.audio.transcodes(self.state.clock.now())

    # ---- players

    def add_device(
        self,
        device_id: str,
        name: str | None = None,
        *,
        online: bool = True,
        device_type: str = "v3",
        account: str | None = None,
        status: dict[str, Any] | None = None,
        device_family: str | None = None,
    ) -> dict[str, Any]:
        """A player on `account` ("mini" for a Mini); `status` sets fields of its shadow (Yoto's
        device.status names); the family defaults to the type."""
        device = Device(
            device_id,
            name or device_id,
            account=account or self.state.login_account,
            online=online,
            device_type=device_type,
            device_family=device_family or device_type,
            status=dict(status or {}),
            status_at=self.state.clock.now(),
        )
        return self.state.devices.add(device).listing()

    def remove_device(self, device_id: str) -> bool:
        return self.state.devices.remove(device_id)

    def set_device_status(
        self, device_id: str, status: dict[str, Any] | None = None, *, online: bool | None = None
    ) -> dict[str, Any]:
        """Merge fields into the player's shadow (`device.status` of /config, in Yoto's names:
        batteryLevel, charging 0/1, userVolume, wifiStrength, ...); `online` flips the listing too."""
        device = self.state.devices.set_status(device_id, status, online=online, now=self.state.clock.now())
        return device.status_body()

    def device_status(self, device_id: str) -> dict[str, Any]:
        """The shadow's status block as /config carries it."""
        return self.state.devices.get(device_id).status_body()

    def seed_config(self, device_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Raw config keys merged in as the Yoto app would have left them (checked like a PUT)."""
        return self.state.devices.seed_config(device_id, changes)

    def add_app_alarm(self, device_id: str, alarm: str) -> int:
        """An alarm string made "in the Yoto app", appended to the player's config; its index."""
        return self.state.devices.add_alarm(device_id, alarm)

    def player_sync(self, device_id: str, report: dict[str, Any]) -> dict[str, Any]:
        """A simulated player's report (`playing`, `applied`): its day/night limit and the buttons pressed."""
        return self.state.links.sync(device_id, report["playing"], list(report.get("applied", [])))

    def press_button(self, device_id: str, button: str) -> dict[str, Any]:
        """Press "left" or "right" on a simulated player that syncs with this cloud; what it plays after."""
        return self.state.links.press(device_id, button)

    def playing(self, device_id: str) -> dict[str, Any]:
        """What the player last reported it plays (`playing`, `reported_at`)."""
        return self.state.links.playing(device_id)

    # ---- shop cards

    def add_shop_card(self, card: dict[str, Any], account: str | None = None) -> dict[str, Any]:
        """A card bought in the shop by `account` (served at /card/{id} only)."""
        return self.state.shop.add(card, account or self.state.login_account)

    def shop_cards(self) -> dict[str, dict[str, Any]]:
        return self.state.shop.all()

    # ---- accounts and tokens

    def login_as(self, account: str) -> None:
        """The account the next consent (authorize, device approval) signs in as."""
        self.state.login_account = account

    def approve_device(self, user_code: str, account: str | None = None) -> None:
        self.state.tokens.decide_device(user_code, account or self.state.login_account, approve=True)

    def deny_device(self, user_code: str) -> None:
        self.state.tokens.decide_device(user_code, self.state.login_account, approve=False)

    def pending_user_codes(self) -> list[str]:
        return self.state.tokens.pending_user_codes()

    def issue_tokens(self, account: str | None = None, scope: str = DEFAULT_SCOPE) -> dict[str, Any]:
        """A token answer (access + refresh) as if the account had just linked."""
        return self.state.tokens.issue_tokens(account or self.state.login_account, scope)

    def expire_access_tokens(self) -> int:
        return self.state.tokens.expire_access_tokens()

    def revoke_access_tokens(self) -> int:
        return self.state.tokens.revoke_access_tokens()

    def token_info(self, token: str) -> dict[str, Any] | None:
        return self.state.tokens.token_info(token)

    def stats(self) -> dict[str, Any]:
        """tokens_issued, refreshes, reuse_detected, codes_replayed, chains_revoked, chains_alive."""
        return self.state.tokens.snapshot()

    def advance(self, seconds: float) -> float:
        """Move the cloud's clock forward (expiry of tokens and device codes, polling intervals)."""
        return self.state.clock.advance(seconds)

    # ---- faults

    def fail_next(self, kind: str, count: int = 1, **options: Any) -> Fault:
        """Queue a fault: kind is rate_limit, server_error, slow, unauthorized or disconnect;
        options are path_prefix, method, status, retry_after, delay_s, after."""
        return self.state.faults.add(Fault(kind, count, **options))

    def pending_faults(self) -> list[Fault]:
        return self.state.faults.pending()

    def transcode_fault(
        self, kind: str, count: int = 1, *, upload_id: str | None = None, message: str | None = None
    ) -> TranscodeFault:
        """kind "fail" or "stall": for that upload's transcode, or the next `count` a PUT starts."""
        fault = TranscodeFault(kind, count, upload_id=upload_id, message=message)
        return self.state.audio.add_fault(fault, self.state.clock.now())

    def pending_transcode_faults(self) -> list[TranscodeFault]:
        return self.state.audio.pending_faults()

    def clear_faults(self) -> None:
        """Both kinds: request faults and transcode faults not yet taken."""
        self.state.faults.clear()
        self.state.audio.clear_faults()


def start_cloud(
    port: int = 0,
    client_id: str = DEFAULT_CLIENT_ID,
    access_ttl_s: float = 86400.0,
    *,
    seed_devices: bool = True,
    **settings: Any,
) -> RunningCloud:
    """Start a fake Yoto cloud on 127.0.0.1 (port 0: a free one). `settings` are CloudConfig fields."""
    config = CloudConfig(client_id=client_id, access_ttl_s=access_ttl_s, **settings)
    cloud = Cloud(config, seed_devices=seed_devices)
    server = CloudServer(port, CloudApp(cloud))
    cloud.base_url = f"http://127.0.0.1:{server.port}"
    return RunningCloud(cloud, server)
