"""The Yoto client's REST calls: players (list, status, settings), cards
(MYO content: create with a lost-answer check, update, read, delete) and
media (icons, cover upload). The shadow's loose types are parsed here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.yoto import cards
from adapters.yoto.retrying import RetryingHttp, _seg, _Unanswered
from core.errors import Conflict, DomainError, NotFound, UpstreamError
from core.records import utcnow
from core.yoto.cloud import CardSummary, CoverImage, Device, DeviceConfig, DeviceStatus, Icon, YotoCard


def _opt_int(*values: Any) -> int | None:
    """The first value that is a number (or a string of one: the shadow is loosely typed)."""
    for v in values:
        if isinstance(v, int | float) and not isinstance(v, bool):
            return int(v)
        if isinstance(v, str):
            try:
                return int(float(v))
            except ValueError:
                continue
    return None


def _flag(*values: Any) -> bool | None:
    """A boolean sent as true/false, 0/1 or "0"/"1"."""
    for v in values:
        if isinstance(v, bool):
            return v
        number = _opt_int(v)
        if number is not None:
            return number != 0
    return None


def _temperature(part: str) -> int | None:
    """One side of the shadow's `temp` ("battery:device[:…]"): "0" and "notSupported" mean unknown."""
    value = _opt_int(part)
    return value if value not in (None, 0) else None


def parse_iso(value: Any) -> datetime | None:
    """A Yoto timestamp ("2025-01-02T03:04:05.678Z"); a bare one is taken as UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_device_status(device_id: str, device: Mapping[str, Any]) -> DeviceStatus | None:
    """The `device` block of a config answer as a `DeviceStatus`: its `status`
    (the shadow, in Yoto's names and encodings) and its `online`."""
    s = device.get("status")
    online = device.get("online") if isinstance(device.get("online"), bool) else None
    if not isinstance(s, dict):
        return DeviceStatus(device_id=device_id, online=online) if online is not None else None
    parts = s.get("temp").split(":") if isinstance(s.get("temp"), str) else []
    battery_temp = _opt_int(s.get("batteryTemp")) or (_temperature(parts[0]) if parts else None)
    day = _opt_int(s.get("day"))
    free, total = _opt_int(s.get("freeDisk")), _opt_int(s.get("totalDisk"))
    card = s.get("activeCard")
    ssid = s.get("ssid")
    return DeviceStatus(
        device_id=device_id,
        online=online,
        battery_percent=_opt_int(s.get("batteryLevel"), s.get("batteryLevelPercentage")),
        charging=_flag(s.get("charging"), s.get("isCharging")),
        volume_percent=_opt_int(s.get("userVolume"), s.get("userVolumePercentage")),
        max_volume_percent=_opt_int(s.get("volume"), s.get("systemVolumePercentage")),
        active_card=card if isinstance(card, str) and card not in ("", "none") else None,
        headphones=_flag(s.get("headphones")),
        wifi_strength=_opt_int(s.get("wifiStrength")),
        ssid=ssid if isinstance(ssid, str) and ssid else None,
        uptime_s=_opt_int(s.get("upTime")),
        free_disk_bytes=free * 1024 if free is not None else None,
        total_disk_bytes=total * 1024 if total is not None else None,
        temperature_c=_temperature(parts[1]) if len(parts) > 1 else None,
        battery_temperature_c=battery_temp,
        card_inserted=_opt_int(s.get("cardInserted")),
        day_mode=None if day not in (0, 1) else day == 1,
        updated_at=parse_iso(s.get("updatedAt")),
        raw=s,
    )


class PlayerCalls(RetryingHttp):
    """The account's players, their status and settings."""

    def list_devices(self, token: str) -> list[Device]:
        body = self._api("GET", "/device-v2/devices/mine", token, what="list the players")
        devices = body.get("devices") if isinstance(body, dict) else None
        out: list[Device] = []
        for d in devices if isinstance(devices, list) else []:
            if isinstance(d, dict) and isinstance(d.get("deviceId"), str):
                out.append(
                    Device(
                        device_id=d["deviceId"],
                        name=str(d.get("name") or d["deviceId"]),
                        online=bool(d.get("online")),
                        device_type=d.get("deviceType") if isinstance(d.get("deviceType"), str) else None,
                        raw=d,
                    )
                )
        return out

    def device_status(self, token: str, device_id: str) -> DeviceStatus | None:
        what = "read the player's status"
        resp = self._send("GET", f"{self.api_url}/device-v2/{_seg(device_id)}/config", what=what, token=token)
        if resp.status_code == 403:
            return None
        body = self._check(resp, what=what, missing=f"Yoto has no player {device_id!r}")
        device = body.get("device") if isinstance(body, dict) else None
        return parse_device_status(device_id, device) if isinstance(device, dict) else None

    def get_config(self, token: str, device_id: str) -> DeviceConfig:
        body = self._api(
            "GET",
            f"/device-v2/{_seg(device_id)}/config",
            token,
            what="read the player's settings",
            missing=f"Yoto has no player {device_id!r}",
        )
        device = body.get("device") if isinstance(body, dict) and isinstance(body.get("device"), dict) else body
        config = device.get("config") if isinstance(device, dict) else None
        if not isinstance(config, dict):
            raise UpstreamError("Yoto's player settings answer held no config")
        return DeviceConfig(device_id=device_id, config=config, raw=device)

    def put_config(self, token: str, config: DeviceConfig) -> DeviceConfig:
        self._api(
            "PUT",
            f"/device-v2/{_seg(config.device_id)}/config",
            token,
            what="change the player's settings",
            missing=f"Yoto has no player {config.device_id!r}",
            json={"deviceId": config.device_id, "config": dict(config.config)},
        )
        return config


class ContentCalls(RetryingHttp):
    """MYO cards and media."""

    def save_card(self, token: str, card: YotoCard) -> YotoCard:
        if card.read_only:
            raise Conflict("a card read for playback is never written back to Yoto")
        sent = cards.card_json(card)
        if not card.card_id:
            return self._create_card(token, sent)
        # An update replaces the card whole: sending it twice leaves the same card.
        what = "update the card"
        body = self._api("POST", "/content", token, what=what, missing=f"Yoto has no card {card.card_id!r}", json=sent)
        return self._stored(body, sent)

    @staticmethod
    def _stored(body: Any, sent: dict[str, Any]) -> YotoCard:
        stored = cards.unwrap_card(body)
        if not isinstance(stored.get("content"), dict):
            # An answer that names the card but does not echo it: what we sent is what it holds.
            stored = {**sent, **stored, "content": sent["content"]}
        return cards.parse_card(stored)

    def _create_card(self, token: str, sent: dict[str, Any]) -> YotoCard:
        """`POST /content` is not idempotent: after a lost answer the card Yoto
        may have made is looked for first, and only when it is not there is the
        create sent once more (never after a timeout: Yoto may still be making it)."""
        what = "create the card"
        started = utcnow()
        for attempt in (1, 2):
            try:
                resp = self._send("POST", f"{self.api_url}/content", what=what, token=token, resend=False, json=sent)
            except _Unanswered as lost:
                self._sleep(self._delay(1, None))  # a moment for Yoto's listing to show a card just written
                try:
                    made = self._made_since(token, sent, started)
                except DomainError as exc:
                    raise lost.error from exc  # cannot tell whether it exists: never resend blindly
                if made is not None:
                    return made
                if attempt == 2 or not lost.finished:
                    raise lost.error from lost
                continue
            return self._stored(self._check(resp, what=what), sent)
        raise AssertionError("unreachable")

    def _made_since(self, token: str, sent: dict[str, Any], started: datetime) -> YotoCard | None:
        """The card a lost create made: same title, created since just before the
        request (allowing for clock skew), and exactly the track URLs sent."""
        floor = started - timedelta(seconds=self.reconcile_skew_s)
        urls = cards.track_urls(sent)
        for summary in self.my_cards(token):
            created = parse_iso(summary.raw.get("createdAt"))
            if summary.title != sent["title"] or (created is not None and created < floor):
                continue
            try:
                found = self.get_card(token, summary.card_id)
            except NotFound:
                continue
            if cards.track_urls(found.raw) == urls:
                return found
        return None

    def get_card(self, token: str, card_id: str) -> YotoCard:
        body = self._api(
            "GET", f"/content/{_seg(card_id)}", token, what="read the card", missing=f"Yoto has no card {card_id!r}"
        )
        return cards.parse_card(body)

    def card_for_playback(self, token: str, card_id: str) -> YotoCard:
        try:
            card = self.get_card(token, card_id)
        except NotFound:
            body = self._api(
                "GET", f"/card/{_seg(card_id)}", token, what="read the card", missing=f"Yoto has no card {card_id!r}"
            )
            card = cards.parse_card(body)
        return replace(card, read_only=True)

    def my_cards(self, token: str) -> list[CardSummary]:
        body = self._api("GET", "/content/mine", token, what="list the cards")
        found = body.get("cards") if isinstance(body, dict) else body
        return [s for s in (cards.parse_summary(c) for c in (found if isinstance(found, list) else [])) if s]

    def delete_card(self, token: str, card_id: str) -> None:
        resp = self._send("DELETE", f"{self.api_url}/content/{_seg(card_id)}", what="delete the card", token=token)
        if resp.status_code != 404:
            self._check(resp, what="delete the card")

    # ------------------------------------------------------------------ media

    def public_icons(self, token: str) -> list[Icon]:
        body = self._api("GET", "/media/displayIcons/user/yoto", token, what="list the icons")
        found = body.get("displayIcons") if isinstance(body, dict) else None
        out: list[Icon] = []
        for i in found if isinstance(found, list) else []:
            if not isinstance(i, dict) or not isinstance(i.get("mediaId"), str):
                continue
            tags = i.get("publicTags") or i.get("tags") or []
            out.append(
                Icon(
                    media_id=i["mediaId"],
                    title=str(i.get("title") or ""),
                    tags=tuple(str(t) for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
                    url=i.get("url") if isinstance(i.get("url"), str) else None,
                )
            )
        return out

    def upload_cover(self, token: str, data: bytes, content_type: str) -> CoverImage:
        body = self._api(
            "POST",
            "/media/coverImage/user/me/upload",
            token,
            what="upload the cover image",
            params={"autoconvert": "true", "coverType": "default"},
            content=data,
            headers={"Content-Type": content_type},
        )
        cover = body.get("coverImage") if isinstance(body, dict) else None
        if not isinstance(cover, dict) or not isinstance(cover.get("mediaUrl"), str):
            raise UpstreamError("Yoto's cover upload answer held no image URL")
        media_id = cover.get("mediaId")
        return CoverImage(media_id=media_id if isinstance(media_id, str) else None, media_url=cover["mediaUrl"])
