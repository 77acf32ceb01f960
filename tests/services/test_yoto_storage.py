"""`services.yoto_storage.put_items` from the composition root on the memory adapters,
its uploader on the in-process Yoto cloud and its manual clock: each item sent once per
account, at most two at once, a failed transcode naming its track and keeping nothing
for it, and a retry sending only what is missing. Over real HTTP: tests/yoto/."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from core.errors import NotFound
from core.records import AudioItem
from core.yoto.cloud import NOT_LINKED_MESSAGE, TokenGrant
from core.yoto.uploads import Transcoded
from services import yoto_storage
from services.yoto_storage import TrackNotReady, TrackProgress, YotoStoragePorts
from tests.audio_fixtures import write_tone
from tests.services.memory_root import add_item
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

UPLOAD_URL = "/media/transcode/audio/uploadUrl"
PUT_PREFIX = "/storage/uploads/"


@pytest.fixture
def ports(root: Root) -> YotoStoragePorts:
    return root.yoto_media


def _library(root: Root, tmp_path: Path, n: int) -> list[AudioItem]:
    """`n` items of mum's with distinct real MP3 bytes in the memory storage."""
    items = []
    for i in range(n):
        src = write_tone(tmp_path / f"tone{i}.mp3", "mp3", seconds=1.0 + i / 2, freq=300.0 + 70 * i)
        item_id = add_item(root, f"Story {i + 1}", duration_s=1.0 + i / 2, size_bytes=src.stat().st_size)
        item = root.records.audio.get(item_id)
        root.adapters.storage.put_file(item.storage_key, src, "audio/mpeg")
        items.append(item)
    return items


def _puts(cloud: InProcessCloud) -> int:
    return len(cloud.requests("PUT", PUT_PREFIX))


def _asked(cloud: InProcessCloud) -> int:
    return len(cloud.requests("GET", UPLOAD_URL))


def _kept(ports: YotoStoragePorts, account: str, item: AudioItem) -> dict | None:
    try:
        return ports.settings.get(yoto_storage.held_key(account, item.id))
    except NotFound:
        return None


def _link(root: Root, cloud: InProcessCloud, account: str) -> None:
    answer = cloud.issue_tokens()
    root.tokens.store_new_link(account, TokenGrant(answer["access_token"], 3600, answer["refresh_token"]))


def test_each_item_is_sent_once_kept_per_account_and_comes_back_in_order(
    root: Root, cloud: InProcessCloud, ports: YotoStoragePorts, tmp_path: Path
) -> None:
    items = _library(root, tmp_path, 3)
    seen: list[TrackProgress] = []
    first = yoto_storage.put_items(ports, "mum", items, on_progress=seen.append)
    assert [round(t.duration_s, 1) for t in first] == [1.0, 1.5, 2.0]
    assert len({t.sha256 for t in first}) == 3 and all(t.uploaded for t in first)
    assert _puts(cloud) == 3 and _asked(cloud) == 3
    assert {(p.index, p.item_id, p.title) for p in seen if p.phase == "complete"} == {
        (i, item.id, item.title) for i, item in enumerate(items)
    }
    for item, transcoded in zip(items, first, strict=True):
        assert _kept(ports, "mum", item) == dataclasses.asdict(transcoded)
    assert not ports.scratch.exists() or list(ports.scratch.iterdir()) == []  # the downloads are gone

    again: list[TrackProgress] = []
    second = yoto_storage.put_items(ports, "mum", list(reversed(items)), on_progress=again.append)
    assert second == list(reversed(first))
    assert (_puts(cloud), _asked(cloud)) == (3, 3)  # nothing asked of Yoto the second time
    assert [(p.phase, p.percent) for p in again] == [("held", 100)] * 3


def test_a_second_account_asks_yoto_again_and_keeps_its_own_record(
    root: Root, cloud: InProcessCloud, ports: YotoStoragePorts, tmp_path: Path
) -> None:
    [item] = _library(root, tmp_path, 1)
    [mine] = yoto_storage.put_items(ports, "mum", [item])
    _link(root, cloud, "dad")
    assert _kept(ports, "dad", item) is None
    [theirs] = yoto_storage.put_items(ports, "dad", [item])
    assert _asked(cloud) == 2  # dad's own upload request
    assert _puts(cloud) == 1 and theirs.uploaded is False  # Yoto already held the bytes
    assert theirs.sha256 == mine.sha256
    assert _kept(ports, "dad", item) == dataclasses.asdict(theirs)
    assert _kept(ports, "mum", item) == dataclasses.asdict(mine)


def test_at_most_two_uploads_run_at_once_even_with_more_workers(
    root: Root, ports: YotoStoragePorts, tmp_path: Path
) -> None:
    items = _library(root, tmp_path, 4)
    running, peak, lock = [0], [0], threading.Lock()
    pair = threading.Barrier(2, timeout=20)  # two must be in together; a third would raise the peak
    inner = ports.uploader

    class Counting:
        def upload(self, *args: object, **kwargs: object) -> Transcoded:
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            try:
                pair.wait()
                return inner.upload(*args, **kwargs)  # type: ignore[arg-type]
            finally:
                with lock:
                    running[0] -= 1

    assert ports.at_once == 2
    wide = dataclasses.replace(ports, uploader=Counting(), at_once=4)
    done = yoto_storage.put_items(wide, "mum", items)
    assert len(done) == 4 and peak[0] == 2


def test_a_failed_transcode_names_its_track_and_keeps_nothing_for_it(
    root: Root, cloud: InProcessCloud, ports: YotoStoragePorts, tmp_path: Path
) -> None:
    [item] = _library(root, tmp_path, 1)
    cloud.transcode_fault("fail", message="the audio is too quiet")
    with pytest.raises(TrackNotReady, match=r"^track 1 “Story 1” could not go to Yoto: .*the audio is too quiet"):
        yoto_storage.put_items(ports, "mum", [item])
    assert _kept(ports, "mum", item) is None
    assert yoto_storage.held(ports, "mum", item) is None


def test_a_retry_after_a_broken_track_sends_only_that_track(
    root: Root, cloud: InProcessCloud, ports: YotoStoragePorts, tmp_path: Path
) -> None:
    items = _library(root, tmp_path, 3)
    broken = items[1]
    root.adapters.storage.put_bytes(broken.storage_key, b"not audio at all " * 200, "audio/mpeg")
    with pytest.raises(TrackNotReady, match=r"^track 2 “Story 2” could not go to Yoto: .*cannot be decoded"):
        yoto_storage.put_items(ports, "mum", items)
    assert _puts(cloud) == 3  # the others finished
    assert _kept(ports, "mum", items[0]) is not None and _kept(ports, "mum", items[2]) is not None
    assert _kept(ports, "mum", broken) is None

    fixed = write_tone(tmp_path / "fixed.mp3", "mp3", seconds=2.5, freq=610.0)
    root.adapters.storage.put_file(broken.storage_key, fixed, "audio/mpeg")
    done = yoto_storage.put_items(ports, "mum", items)
    assert [round(t.duration_s, 1) for t in done] == [1.0, 2.5, 2.0]
    assert (_puts(cloud), _asked(cloud)) == (4, 4)  # only the fixed one went again


def test_an_account_with_no_yoto_link_sends_nothing_and_keeps_nothing(
    root: Root, cloud: InProcessCloud, ports: YotoStoragePorts, tmp_path: Path
) -> None:
    [item] = _library(root, tmp_path, 1)
    with pytest.raises(TrackNotReady, match="track 1 “Story 1” could not go to Yoto") as raised:
        yoto_storage.put_items(ports, "kid", [item])
    assert NOT_LINKED_MESSAGE in str(raised.value)
    assert (_puts(cloud), _asked(cloud)) == (0, 0)
    assert _kept(ports, "kid", item) is None


def test_yoto_down_fails_the_track_after_its_retries_and_a_later_call_sends_it(
    root: Root, cloud: InProcessCloud, ports: YotoStoragePorts, tmp_path: Path
) -> None:
    [item] = _library(root, tmp_path, 1)
    cloud.fail_next("server_error", count=4, path_prefix=UPLOAD_URL, status=503)
    with pytest.raises(TrackNotReady, match=r"track 1 “Story 1” could not go to Yoto: Yoto kept failing \(503\)"):
        yoto_storage.put_items(ports, "mum", [item])
    assert _asked(cloud) == 4 and _puts(cloud) == 0
    assert _kept(ports, "mum", item) is None
    [done] = yoto_storage.put_items(ports, "mum", [item])
    assert done.uploaded and _puts(cloud) == 1


def test_an_unreadable_record_sends_the_item_again_and_is_replaced(
    root: Root, cloud: InProcessCloud, ports: YotoStoragePorts, tmp_path: Path
) -> None:
    [item] = _library(root, tmp_path, 1)
    [first] = yoto_storage.put_items(ports, "mum", [item])
    ports.settings.put(yoto_storage.held_key("mum", item.id), {"not": "a transcode"})
    assert yoto_storage.held(ports, "mum", item) is None
    [again] = yoto_storage.put_items(ports, "mum", [item])
    assert again.sha256 == first.sha256 and _asked(cloud) == 2
    assert _kept(ports, "mum", item) == dataclasses.asdict(again)
