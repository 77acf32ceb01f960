"""Every REST call of the client against the fake Yoto cloud."""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace

import pytest

from adapters.yoto.client import YotoClient
from core.errors import NotFound, UpstreamRejected
from core.yoto import YotoCard, YotoChapter, YotoTrack, icon_ref
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


def test_devices_and_status(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    devices = client.list_devices(token)
    assert {d.device_id for d in devices} == {"yoto-player-9c1e", "yoto-mini-4f2a"}
    mini = next(d for d in devices if d.device_id == "yoto-mini-4f2a")
    assert mini.name == "Kitchen Mini" and mini.online is True and mini.device_type == "mini"
    assert mini.raw["releaseChannel"] == "general"
    status = client.device_status(token, "yoto-mini-4f2a")
    assert status is not None
    assert (status.online, status.battery_percent, status.charging, status.volume_percent) == (True, 87, False, 50)
    assert status.active_card is None
    yoto_cloud.set_device_status("yoto-mini-4f2a", {"activeCard": "Ab3dE"}, forbidden=False)
    assert client.device_status(token, "yoto-mini-4f2a").active_card == "Ab3dE"  # type: ignore[union-attr]
    yoto_cloud.set_device_status("yoto-mini-4f2a", forbidden=True)
    assert client.device_status(token, "yoto-mini-4f2a") is None, "403 on status is 'not available', not an error"
    with pytest.raises(NotFound):
        client.device_status(token, "no-such-player")


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
