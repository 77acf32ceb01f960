"""`RemoteCloud`: the control calls of `RunningCloud`, over `/_sim/` to a simulator in another process.

For `python -m simulator` driven by tests, the demo or the simulated MQTT
players. Standard library only, like the rest of the simulator.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from simulator.cloud.faults import Fault, FaultShortcuts
from simulator.cloud.state import RecordedRequest
from simulator.cloud.uploads import TranscodeFault


class RemoteError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"simulator answered {status}: {message}")
        self.status = status


def _message(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return str(parsed.get("message", text)) if isinstance(parsed, dict) else text


class RemoteCloud(FaultShortcuts):
    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._timeout = timeout_s

    def _call(self, verb: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        params = {k: v for k, v in (query or {}).items() if v is not None}
        target = f"{self.url}/_sim/{path}" + (f"?{urlencode(params)}" if params else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(target, data=data, method=verb)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RemoteError(exc.code, _message(exc.read())) from exc

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "health"))

    @property
    def client_id(self) -> str:
        return str(self.health()["client_id"])

    def reset(self) -> None:
        self._call("POST", "reset")

    def configure(self, **changes: Any) -> dict[str, Any]:
        return dict(self._call("PATCH", "config", changes))

    def requests(self, method: str | None = None, path_prefix: str | None = None) -> list[RecordedRequest]:
        found = self._call("GET", "requests", query={"method": method, "path_prefix": path_prefix})["requests"]
        return [
            RecordedRequest(
                method=r["method"],
                path=r["path"],
                query=r["query"],
                headers=r["headers"],
                body=base64.b64decode(r["body"]) if r["body_encoding"] == "base64" else r["body"].encode(),
                status=r["status"],
                at=r["at"],
            )
            for r in found
        ]

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def cards(self, include_deleted: bool = False) -> dict[str, dict[str, Any]]:
        return dict(self._call("GET", "cards", query={"include_deleted": str(include_deleted).lower()})["cards"])

    def card_for_player(self, card_id: str, account: str) -> dict[str, Any] | None:
        try:
            return dict(self._call("GET", f"player-cards/{card_id}", query={"account": account})["card"])
        except RemoteError as exc:
            if exc.status == 404:
                return None
            raise

    def devices(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "devices")["devices"])

    def audio_uploads(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "uploads")["uploads"])

    def transcodes(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "transcodes")["transcodes"])

    def device_config(self, device_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"devices/{device_id}/config")["config"])

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
        body = {
            "deviceId": device_id,
            "name": name,
            "online": online,
            "deviceType": device_type,
            "deviceFamily": device_family or device_type,
            "account": account,
            "status": status,
        }
        return dict(self._call("POST", "devices", body)["device"])

    def remove_device(self, device_id: str) -> bool:
        try:
            self._call("DELETE", f"devices/{device_id}")
        except RemoteError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def set_device_status(
        self, device_id: str, status: dict[str, Any] | None = None, *, online: bool | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"status": dict(status or {})}
        if online is not None:
            body["online"] = online
        return dict(self._call("PUT", f"devices/{device_id}/status", body)["status"])

    def device_status(self, device_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"devices/{device_id}/status")["status"])

    def seed_config(self, device_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("PATCH", f"devices/{device_id}/config", changes)["config"])

    def add_app_alarm(self, device_id: str, alarm: str) -> int:
        return int(self._call("POST", f"devices/{device_id}/alarms", {"alarm": alarm})["n"])

    def player_sync(self, device_id: str, report: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", f"devices/{device_id}/sync", report))

    def press_button(self, device_id: str, button: str) -> dict[str, Any]:
        return dict(self._call("POST", f"devices/{device_id}/buttons", {"button": button})["playing"])

    def playing(self, device_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"devices/{device_id}/playing"))

    def add_shop_card(self, card: dict[str, Any], account: str | None = None) -> dict[str, Any]:
        return dict(self._call("POST", "shop-cards", {"card": card, "account": account})["card"])

    def shop_cards(self) -> dict[str, dict[str, Any]]:
        return dict(self._call("GET", "shop-cards")["cards"])

    def login_as(self, account: str) -> None:
        self._call("POST", "login-as", {"account": account})

    def approve_device(self, user_code: str, account: str | None = None) -> None:
        self._call("POST", "device-codes/approve", {"user_code": user_code, "account": account})

    def deny_device(self, user_code: str) -> None:
        self._call("POST", "device-codes/deny", {"user_code": user_code})

    def pending_user_codes(self) -> list[str]:
        return list(self._call("GET", "device-codes")["user_codes"])

    def issue_tokens(self, account: str | None = None, scope: str | None = None) -> dict[str, Any]:
        return dict(self._call("POST", "tokens", {"account": account, "scope": scope}))

    def expire_access_tokens(self) -> int:
        return int(self._call("POST", "tokens/expire")["count"])

    def revoke_access_tokens(self) -> int:
        return int(self._call("POST", "tokens/revoke")["count"])

    def token_info(self, token: str) -> dict[str, Any] | None:
        try:
            return dict(self._call("POST", "tokens/info", {"token": token}))
        except RemoteError as exc:
            if exc.status == 404:
                return None
            raise

    def stats(self) -> dict[str, Any]:
        return dict(self._call("GET", "stats"))

    def advance(self, seconds: float) -> float:
        return float(self._call("POST", "clock/advance", {"seconds": seconds})["now"])

    def fail_next(self, kind: str, count: int = 1, **options: Any) -> Fault:
        body = {"kind": kind, "count": count, **{k: v for k, v in options.items() if v is not None}}
        return Fault(**self._call("POST", "faults", body)["fault"])

    def pending_faults(self) -> list[Fault]:
        return [Fault(**f) for f in self._call("GET", "faults")["faults"]]

    def transcode_fault(
        self, kind: str, count: int = 1, *, upload_id: str | None = None, message: str | None = None
    ) -> TranscodeFault:
        body = {"kind": kind, "count": count, "upload_id": upload_id, "message": message}
        return TranscodeFault(**self._call("POST", "transcode-faults", body)["fault"])

    def pending_transcode_faults(self) -> list[TranscodeFault]:
        return [TranscodeFault(**f) for f in self._call("GET", "transcode-faults")["faults"]]

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")
