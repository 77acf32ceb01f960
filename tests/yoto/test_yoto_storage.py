"""`services.yoto_storage.put_items` with the real uploader against the fake Yoto cloud:
items sent once per account, at most `at_once` at a time, all or nothing with the failing
track named, and what was sent kept so a retry sends only what is missing."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.memory.records import MemoryRecords
from adapters.memory.storage import MemoryStorage
from adapters.yoto.audio_upload import YotoAudioUploader
from adapters.yoto.client import YotoClient
from core.records import AudioItem
from services import yoto_storage
from services.yoto_storage import TrackNotReady, TrackProgress, YotoStoragePorts
from services.yoto_tokens import YotoTokenService
from simulator.cloud import RunningCloud
from tests.audio_fixtures import write_tone
from tests.yoto.conftest import pkce_link

ACCOUNT = "mum"


@pytest.fixture
def ports(yoto_cloud: RunningCloud, client: YotoClient, tmp_path: Path) -> Iterator[YotoStoragePorts]:
    yoto_cloud.configure(transcode_delay_s=0.4)
    records = MemoryRecords()
    tokens = YotoTokenService(records.tokens, records.counters, client)
    tokens.store_new_link(ACCOUNT, pkce_link(client))
    uploader = YotoAudioUploader(yoto_cloud.api_url, poll_first_s=0.05, poll_max_s=0.1, transcode_deadline_s=20)
    yield YotoStoragePorts(
        storage=MemoryStorage(),
        uploader=uploader,
        settings=records.settings,
        tokens=tokens,
        scratch=tmp_path / "scratch",
        gate=threading.BoundedSemaphore(2),
    )
    uploader.close()


def library(ports: YotoStoragePorts, tmp_path: Path, n: int) -> list[AudioItem]:
    items = []
    for i in range(n):
        path = write_tone(tmp_path / f"tone{i}.mp3", "mp3", seconds=1.0 + i, freq=300.0 + 50 * i)
        key = f"audio/mum/item{i}.mp3"
        info = ports.storage.put_file(key, path, "audio/mpeg")
        items.append(AudioItem(f"item{i}", ACCOUNT, f"Story {i + 1}", key, info.size, 1.0 + i))
    return items


def sent(cloud: RunningCloud) -> int:
    return len(cloud.requests(method="PUT", path_prefix="/storage/uploads/"))


def test_each_item_is_sent_once_per_account_and_comes_back_in_order(
    yoto_cloud: RunningCloud, ports: YotoStoragePorts, tmp_path: Path
) -> None:
    items = library(ports, tmp_path, 3)
    seen: list[TrackProgress] = []
    first = yoto_storage.put_items(ports, ACCOUNT, items, on_progress=seen.append)
    assert [abs(t.duration_s - i.duration_s) < 0.2 for t, i in zip(first, items, strict=True)] == [True] * 3
    assert len({t.sha256 for t in first}) == 3 and sent(yoto_cloud) == 3
    assert {p.index for p in seen if p.phase == "complete"} == {0, 1, 2}
    assert not ports.scratch.exists() or list(ports.scratch.iterdir()) == []  # downloads cleaned up

    again: list[TrackProgress] = []
    second = yoto_storage.put_items(ports, ACCOUNT, list(reversed(items)), on_progress=again.append)
    assert [t.sha256 for t in second] == [t.sha256 for t in reversed(first)]
    assert sent(yoto_cloud) == 3
    assert {p.phase for p in again} == {"held"}  # nothing asked of Yoto the second time
    asked = len(yoto_cloud.requests(method="GET", path_prefix="/media/transcode/audio/uploadUrl"))
    assert asked == 3


def test_at_most_at_once_uploads_run_together(
    yoto_cloud: RunningCloud, ports: YotoStoragePorts, tmp_path: Path
) -> None:
    items = library(ports, tmp_path, 4)
    running, peak, lock = [0], [0], threading.Lock()
    inner = ports.uploader

    class Counting:
        def upload(self, *args: object, **kwargs: object) -> object:
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            try:
                return inner.upload(*args, **kwargs)  # type: ignore[arg-type]
            finally:
                with lock:
                    running[0] -= 1

    counted = dataclasses.replace(ports, uploader=Counting(), at_once=4)
    done = yoto_storage.put_items(counted, ACCOUNT, items)
    assert len(done) == 4 and peak[0] == 2  # four workers asked, the gate of two held


def test_a_failed_track_is_named_and_a_retry_sends_only_it(
    yoto_cloud: RunningCloud, ports: YotoStoragePorts, tmp_path: Path
) -> None:
    items = library(ports, tmp_path, 3)
    broken = items[1]
    ports.storage.put_bytes(broken.storage_key, b"not audio at all " * 200, "audio/mpeg")
    with pytest.raises(TrackNotReady, match=r"track 2 “Story 2” could not go to Yoto: .*cannot be decoded"):
        yoto_storage.put_items(ports, ACCOUNT, items)
    assert sent(yoto_cloud) == 3
    assert yoto_storage.held(ports, ACCOUNT, items[0]) is not None
    assert yoto_storage.held(ports, ACCOUNT, broken) is None

    fixed = write_tone(tmp_path / "fixed.mp3", "mp3", seconds=2.0, freq=610.0)
    ports.storage.put_file(broken.storage_key, fixed, "audio/mpeg")
    done = yoto_storage.put_items(ports, ACCOUNT, items)
    assert len(done) == 3 and sent(yoto_cloud) == 4  # only the fixed one went again


def test_another_account_sends_its_own_request_but_yoto_holds_the_bytes(
    yoto_cloud: RunningCloud, ports: YotoStoragePorts, client: YotoClient, tmp_path: Path
) -> None:
    items = library(ports, tmp_path, 1)
    mine = yoto_storage.put_items(ports, ACCOUNT, items)
    ports.tokens.store_new_link("dad", pkce_link(client))
    theirs = yoto_storage.put_items(ports, "dad", items)
    assert theirs[0].sha256 == mine[0].sha256 and theirs[0].uploaded is False
    assert sent(yoto_cloud) == 1  # Yoto's store is global: the bytes went once
