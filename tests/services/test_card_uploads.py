"""`services.card_uploads`: a card write behind its uploads to Yoto's storage, on the memory
root and the in-process Yoto cloud with a held run queue: written in the request when
Yoto holds everything, else a `card-upload` run that reports each track and writes the
card at its end; refusals come before any run; a failed track fails the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import Conflict, Invalid, NotFound
from core.records import Run, User
from services import card_uploads, cards, jobs
from services.card_uploads import KIND, UploadPorts, pending_key
from services.cards import CardSpec, TrackSpec
from tests.audio_fixtures import write_tone
from tests.services.memory_root import add_item
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

MUM = User("mum", is_admin=True, id="mum")


class HeldQueue:
    """A run queue that keeps what it is given (`inline`: the caller must run it)."""

    def __init__(self, inline: bool = False) -> None:
        self.inline = inline
        self.held: list[Run] = []

    def submit(self, run: Run) -> bool:
        if self.inline:
            return False
        self.held.append(run)
        return True


def _ports(root: Root, queue: HeldQueue) -> UploadPorts:
    records = root.records
    return UploadPorts(root.cards, records.runs, queue, records.settings, root.member_lookup)


def _audio(root: Root, tmp_path: Path, title: str, freq: float = 440.0) -> str:
    src = write_tone(tmp_path / f"{title}.mp3", "mp3", seconds=1.0, freq=freq)
    item_id = add_item(root, title, duration_s=1.0, size_bytes=src.stat().st_size)
    root.adapters.storage.put_file(root.records.audio.get(item_id).storage_key, src, "audio/mpeg")
    return item_id


def _run(ports: UploadPorts, run: Run) -> Run:
    return jobs.execute(ports.runs, {KIND: lambda r: card_uploads.run_upload(ports, r)}, run.id)


def test_a_write_that_must_upload_is_a_run_that_writes_the_card_at_its_end(
    root: Root, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = HeldQueue()
    ports = _ports(root, queue)
    a, b = _audio(root, tmp_path, "Owl"), _audio(root, tmp_path, "Moon", 660.0)
    reported: list[list[dict[str, object]]] = []
    real_report = jobs.report

    def spy(runs, run_id, results):  # type: ignore[no-untyped-def]
        reported.append([dict(r) for r in results])
        real_report(runs, run_id, results)

    written = card_uploads.write(ports, MUM, CardSpec("Night", [TrackSpec(a), TrackSpec(b)], storage="yoto"))
    assert written.card is None and written.run is not None and queue.held == [written.run]
    assert written.run.kind == KIND and written.run.subject_id == written.card_id
    assert ports.settings.get(pending_key(written.run.id))["spec"]["storage"] == "yoto"
    with pytest.raises(NotFound):
        root.records.cards.get(written.card_id)  # nothing written until every track is ready
    monkeypatch.setattr(jobs, "report", spy)
    done = _run(ports, written.run)
    assert done.status == "ok" and done.detail == f"card {written.card_id} written"
    assert [(r["track"], r["audio_id"], r["phase"], r["percent"]) for r in done.results] == [
        (1, a, "complete", 100),
        (2, b, "complete", 100),
    ]
    assert any(any(r["phase"] == "transcoding" for r in step) for step in reported), reported
    card = root.records.cards.get(written.card_id)
    assert card.storage == "yoto" and card.audio_ids == (a, b)
    with pytest.raises(NotFound):
        ports.settings.get(pending_key(written.run.id))


def test_a_write_yoto_holds_everything_for_is_done_in_the_request(root: Root, tmp_path: Path) -> None:
    queue = HeldQueue()
    ports = _ports(root, queue)
    a = _audio(root, tmp_path, "Owl")
    cards.create(root.cards, MUM, CardSpec("First", [TrackSpec(a)], storage="yoto"))
    written = card_uploads.write(ports, MUM, CardSpec("Again", [TrackSpec(a)], storage="yoto"))
    assert written.run is None and written.card is not None and written.card.title == "Again"
    streamed = card_uploads.write(ports, MUM, CardSpec("Streamed", [TrackSpec(a)], storage="stream"))
    assert streamed.run is None and streamed.card is not None and streamed.card.storage == "stream"
    assert queue.held == []


def test_with_no_worker_the_run_is_done_in_the_request(root: Root, tmp_path: Path) -> None:
    ports = _ports(root, HeldQueue(inline=True))
    a = _audio(root, tmp_path, "Owl")
    written = card_uploads.write(ports, MUM, CardSpec("Night", [TrackSpec(a)], storage="yoto"))
    assert written.run is not None and written.run.status == "ok"
    assert written.card is not None and written.card.id == written.card_id


def test_refusals_come_before_any_run(root: Root, cloud: InProcessCloud, tmp_path: Path) -> None:
    ports = _ports(root, HeldQueue())
    marathon = add_item(root, "Marathon", duration_s=6 * 3600.0)
    with pytest.raises(Invalid, match="YOTO_MAX_CARD_HOURS"):
        card_uploads.write(ports, MUM, CardSpec("Long", [TrackSpec(marathon)], storage="yoto"))
    with pytest.raises(Invalid, match="no audio item nope"):
        card_uploads.write(ports, MUM, CardSpec("Gone", [TrackSpec("nope")], storage="yoto"))
    assert not [k for k in ports.settings.list_keys() if k.startswith("card-upload:")]
    assert cloud.requests("GET", "/media/transcode/audio/uploadUrl") == []


def test_a_second_rewrite_while_one_uploads_is_refused_naming_the_run(root: Root, tmp_path: Path) -> None:
    ports = _ports(root, HeldQueue())
    a, b = _audio(root, tmp_path, "Owl"), _audio(root, tmp_path, "Moon", 660.0)
    card = cards.create(root.cards, MUM, CardSpec("Night", [TrackSpec(a)], storage="yoto"))
    first = card_uploads.write(ports, MUM, CardSpec("Night", [TrackSpec(a), TrackSpec(b)]), card.id)
    assert first.run is not None
    with pytest.raises(Conflict, match=f"uploading already \\(run {first.run.id}"):
        card_uploads.write(ports, MUM, CardSpec("Night", [TrackSpec(b)]), card.id)


def test_a_failed_track_fails_the_run_and_makes_no_card(root: Root, cloud: InProcessCloud, tmp_path: Path) -> None:
    ports = _ports(root, HeldQueue())
    a = _audio(root, tmp_path, "Owl")
    written = card_uploads.write(ports, MUM, CardSpec("Night", [TrackSpec(a)], storage="yoto"))
    assert written.run is not None
    cloud.fail_transcode(message="Unsupported audio")
    done = _run(ports, written.run)
    assert done.status == "failed" and "track 1 “Owl”" in str(done.detail) and "Unsupported audio" in str(done.detail)
    with pytest.raises(NotFound):
        root.records.cards.get(written.card_id)
    assert cloud.cards() == {}
