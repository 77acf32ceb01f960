"""Every REST call of the client against the fake Yoto cloud."""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from adapters.yoto.client import YotoClient
from adapters.yoto.rest import parse_device_status
from core.errors import Conflict, NotFound, UpstreamRejected
from core.yoto.cloud import DeviceStatus, YotoCard, YotoChapter, YotoTrack, icon_ref
from simulator.cloud import RunningCloud


def _png(size: int = 4) -> bytes:
    row = b"\x00" + b"\xff\x00\x00\xff" * size
    raw = zlib.compress(row * size)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _card(client: YotoClient, token: str, n: int = 2) -> YotoCard:
    icon = client.public_icons(token)[0].media_id
    chapters = [
        YotoChapter(
            title=f"Chapter {i}",
            icon=icon,
            tracks=[YotoTrack(title=f"Track {i}", track_url=f"https://family.example/s/{i}.mp3", duration=90)],
        )
        for i in range(1, n + 1)
    ]
    return YotoCard(title="Bedtime", description="Calm", author="Dad", chapters=chapters)


def test_devices_and_status_from_the_config(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    devices = client.list_devices(token)
    assert {d.device_id for d in devices} == {"yoto-player-9c1e", "yoto-mini-4f2a"}
    mini = next(d for d in devices if d.device_id == "yoto-mini-4f2a")
    assert mini.name == "Kitchen Mini" and mini.online is True and mini.device_type == "mini"
    assert mini.raw["releaseChannel"] == "general"
    yoto_cloud.clear_requests()
    status = client.device_status(token, "yoto-mini-4f2a")
    assert status is not None
    assert (status.online, status.battery_percent, status.charging, status.volume_percent) == (True, 87, False, 50)
    assert (status.max_volume_percent, status.headphones, status.active_card) == (100, False, None)
    assert (status.wifi_strength, status.ssid, status.uptime_s) == (-52, "FamilyWiFi", 3600)
    assert status.free_disk_bytes == 25_160_368 * 1024 and status.total_disk_bytes == 31_385_600 * 1024
    assert (status.temperature_c, status.battery_temperature_c, status.day_mode) == (21, 24, True)
    assert status.updated_at is not None and status.updated_at.tzinfo is not None
    # Only the config is read: /status needs a scope Yoto refuses to third-party apps.
    assert [r.path for r in yoto_cloud.requests()] == ["/device-v2/yoto-mini-4f2a/config"]

    yoto_cloud.advance(60)
    yoto_cloud.set_device_status(
        "yoto-mini-4f2a",
        {"activeCard": "Ab3dE", "charging": 1, "batteryLevel": 9, "userVolume": 31, "headphones": 1, "day": 0},
        online=False,
    )
    later = client.device_status(token, "yoto-mini-4f2a")
    assert later is not None and later.updated_at is not None and later.updated_at > status.updated_at
    assert (later.active_card, later.charging, later.battery_percent, later.volume_percent) == ("Ab3dE", True, 9, 31)
    assert (later.headphones, later.day_mode, later.online) == (True, False, False)
    with pytest.raises(NotFound):
        client.device_status(token, "no-such-player")
    assert not yoto_cloud.requests(path_prefix="/device-v2/yoto-mini-4f2a/status")


def test_the_shadow_is_read_in_every_form_the_sources_report() -> None:
    """Values come as numbers or strings; `temp` is "battery:device[:…]" with "0" or "notSupported" for unknown."""
    raw = {
        "batteryLevel": "64",
        "charging": "0",
        "userVolume": 44.0,
        "volume": "75",
        "temp": "0:18:0",
        "freeDisk": "2048",
        "cardInserted": 2,
        "day": -1,
        "activeCard": "none",
        "updatedAt": "2025-12-23T18:42:30.489Z",
    }
    status = parse_device_status("p1", {"online": True, "status": raw})
    assert status is not None
    assert (status.battery_percent, status.charging, status.volume_percent, status.max_volume_percent) == (
        64,
        False,
        44,
        75,
    )
    assert (status.temperature_c, status.battery_temperature_c, status.free_disk_bytes) == (18, None, 2048 * 1024)
    assert (status.card_inserted, status.day_mode, status.active_card) == (2, None, None)
    assert status.updated_at == datetime(2025, 12, 23, 18, 42, 30, 489000, tzinfo=UTC)
    unsupported = parse_device_status("p1", {"status": {"temp": "notSupported:notSupported"}})
    assert unsupported is not None and (unsupported.temperature_c, unsupported.online) == (None, None)
    assert parse_device_status("p1", {"online": False}) == DeviceStatus("p1", online=False)
    assert parse_device_status("p1", {}) is None


def test_shop_cards_are_read_for_playback_from_card(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    with pytest.raises(NotFound):
        client.get_card(token, "sHOwL")
    yoto_cloud.clear_requests()
    shop = client.card_for_playback(token, "sHOwL")
    assert [r.path for r in yoto_cloud.requests()] == ["/content/sHOwL", "/card/sHOwL"]
    assert shop.title == "The Owl Who Lost Her Hoot" and shop.read_only is True
    assert [c.key for c in shop.chapters] == ["01-INT", "01", "02"]
    assert [t.key for t in shop.tracks] == ["01", "01", "01"] and shop.tracks[0].type == "audio"
    own = client.save_card(token, _card(client, token))
    read = client.card_for_playback(token, own.card_id or "")
    assert read.read_only and [c.key for c in read.chapters] == ["01", "02"]
    posts = len(yoto_cloud.requests("POST", "/content"))
    with pytest.raises(Conflict, match="never written"):
        client.save_card(token, read)
    assert len(yoto_cloud.requests("POST", "/content")) == posts
    with pytest.raises(NotFound):
        client.card_for_playback(token, "zzzzz")


def test_config_read_merge_write_keeps_the_other_keys(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    config = client.get_config(token, "yoto-player-9c1e")
    assert config.config["maxVolumeLimit"] == "16" and config.raw["geoTimezone"] == "Europe/London"
    before = dict(config.config)
    yoto_cloud.state.devices.get("yoto-player-9c1e").config["ambientColour"] = "#123456"  # set on the player
    fresh = client.get_config(token, "yoto-player-9c1e")
    client.put_config(token, fresh.merged({"nightTime": "18:30"}))
    stored = yoto_cloud.device_config("yoto-player-9c1e")
    assert stored["nightTime"] == "18:30" and stored["ambientColour"] == "#123456"
    assert {k: v for k, v in stored.items() if k not in ("nightTime", "ambientColour")} == {
        k: v for k, v in before.items() if k not in ("nightTime", "ambientColour")
    }
    with pytest.raises(UpstreamRejected, match="HH:MM"):
        client.put_config(token, fresh.merged({"dayTime": "7am"}))


def test_card_create_get_update_in_place_list_delete(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    created = client.save_card(token, _card(client, token))
    assert created.card_id and len(created.card_id) == 5
    sent = yoto_cloud.requests("POST", "/content")[-1].json()
    assert [c["key"] for c in sent["content"]["chapters"]] == ["01", "02"]
    assert sent["content"]["chapters"][0]["display"]["icon16x16"].startswith("yoto:#")
    assert sent["content"]["chapters"][0]["tracks"][0]["type"] == "stream"

    read = client.get_card(token, created.card_id)
    assert read.title == "Bedtime" and read.author == "Dad" and len(read.chapters) == 2
    assert read.raw["userId"] and read.chapters[0].icon == created.chapters[0].icon

    extra = YotoChapter(title="Chapter 3", tracks=[YotoTrack(title="T3", track_url="https://family.example/s/3.mp3")])
    updated = client.save_card(token, replace(read, title="Bedtime 2", chapters=[*read.chapters, extra]))
    assert updated.card_id == created.card_id and updated.title == "Bedtime 2"
    stored = yoto_cloud.card(created.card_id)
    assert stored is not None and [c["key"] for c in stored["content"]["chapters"]] == ["01", "02", "03"]
    assert stored["content"]["chapters"][0]["display"] == {"icon16x16": icon_ref(read.chapters[0].icon or "")}
    assert stored["content"]["chapters"][0]["tracks"][0]["duration"] == 90
    assert stored["createdAt"] == read.raw["createdAt"]

    mine = client.my_cards(token)
    assert [(c.card_id, c.title) for c in mine] == [(created.card_id, "Bedtime 2")]

    client.delete_card(token, created.card_id)
    with pytest.raises(NotFound):
        client.get_card(token, created.card_id)
    client.delete_card(token, created.card_id)  # idempotent
    assert client.my_cards(token) == []
    with pytest.raises(UpstreamRejected, match="Deleted card cannot be restored"):
        client.save_card(token, updated)
    with pytest.raises(NotFound):
        client.save_card(token, replace(updated, card_id="Zz9Zz"))


def test_card_validation_refusals_carry_yotos_message(client: YotoClient, token: str) -> None:
    card = _card(client, token)
    unpadded = replace(card, chapters=[replace(card.chapters[0], key="8")])
    with pytest.raises(UpstreamRejected) as refused:
        client.save_card(token, unpadded)
    assert "key" in str(refused.value) and refused.value.extra["upstream_status"] == 400
    with pytest.raises(UpstreamRejected, match="icon"):
        client.save_card(token, replace(card, chapters=[replace(card.chapters[0], icon="A" * 43)]))
    with pytest.raises(UpstreamRejected, match="title"):
        client.save_card(token, replace(card, title="x" * 101))


def test_public_icons(client: YotoClient, token: str) -> None:
    icons = client.public_icons(token)
    assert len(icons) >= 20
    owl = next(i for i in icons if i.title == "Owl")
    assert len(owl.media_id) == 43 and "night" in owl.tags and (owl.url or "").endswith(".png")


def test_cover_upload_and_use_on_a_card(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    cover = client.upload_cover(token, _png(), "image/png")
    assert cover.media_id and cover.media_url.startswith(yoto_cloud.url)
    upload = yoto_cloud.requests("POST", "/media/coverImage/user/me/upload")[-1]
    assert upload.query == {"autoconvert": "true", "coverType": "default"}
    assert upload.headers["content-type"] == "image/png" and upload.body == _png()
    card = client.save_card(token, replace(_card(client, token), cover_url=cover.media_url))
    assert yoto_cloud.card(card.card_id or "")["metadata"]["cover"]["imageL"] == cover.media_url  # type: ignore[index]
    with pytest.raises(UpstreamRejected):
        client.upload_cover(token, b"not an image", "image/png")
