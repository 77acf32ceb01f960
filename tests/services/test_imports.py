"""`services.imports` on the memory root with the real transcoder and tag reader: a zipped
collection becomes items and playlists in name order, audiobooks with chapter marks (M4B
atoms, MP3 CHAP frames) one item per chapter, a bad file is skipped with its reason, and
a hostile archive (zip-slip, a link, too deep, too many files, a ZIP bomb) is refused
with nothing kept."""

from __future__ import annotations

import stat
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from core.errors import Invalid, TooLarge, Unsupported
from core.records import Run, User
from services import imports, jobs
from services.imports import KIND, Budget, ImportLimits, ImportPorts
from tests.audio_fixtures import write_tone
from tests.services.import_archives import bomb, collection, m4b_book, mp3_book, with_entry, with_tags
from tests.services.test_card_uploads import HeldQueue
from wiring import Root

MUM = User("mum", is_admin=True, id="mum")
TWELVE = [f"Chapter {n}: {word}" for n, word in enumerate("abcdefghijkl", start=1)]


@pytest.fixture
def queue() -> HeldQueue:
    return HeldQueue()


@pytest.fixture
def ports(root: Root, queue: HeldQueue) -> ImportPorts:
    return replace(root.imports, queue=queue)


def run_held(ports: ImportPorts, queue: HeldQueue) -> Run:
    [held] = queue.held
    queue.held.clear()
    return jobs.execute(ports.runs, {KIND: lambda r: imports.run_import(ports, r)}, held.id)


def nothing_kept(root: Root) -> None:
    assert root.records.audio.list(limit=10).items == []
    assert root.records.playlists.list(limit=10).items == []
    assert list(root.adapters.storage.keys()) == []
    scratch = root.ingest.scratch
    assert not scratch.exists() or list(scratch.iterdir()) == []


def playlists_by_age(root: Root) -> list[tuple[str, list[str]]]:
    found = sorted(root.records.playlists.list(limit=200).items, key=lambda p: p.created_at)
    return [(p.name, [root.records.audio.get(a).title for a in p.audio_ids]) for p in found]


def test_a_zipped_collection_becomes_items_and_playlists_in_name_order(
    root: Root, ports: ImportPorts, queue: HeldQueue, tmp_path: Path
) -> None:
    archive = collection(tmp_path, tmp_path / "c.zip", folders=["Zebra stories", "Animal songs"], per_folder=3, loose=2)
    tagged = with_tags(write_tone(tmp_path / "t.mp3", "mp3", seconds=0.2), tmp_path / "tagged.mp3", title="Owl Song")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.write(tagged, "Collection/Animal songs/Track 10.mp3")  # after Track 3: numbers in order
        zf.writestr("Collection/Animal songs/notes.txt", "not audio")
        zf.writestr("Collection/Animal songs/broken.mp3", b"\xff\xfb\x90\x00" + b"\x00" * 400)
        zf.writestr("Collection/.DS_Store", b"\0\0\0\1Bud1")
        zf.writestr("__MACOSX/Collection/._Track 1.mp3", b"\0\5\26\7")

    run = imports.start(ports, MUM, archive, "c.zip")
    assert run.status == "queued" and run.kind == KIND
    done = run_held(ports, queue)

    assert done.status == "partial", done.detail
    assert done.detail == "9 of 10 audio files imported: 9 items, 2 playlists; 1 skipped, each with its reason"
    assert playlists_by_age(root) == [
        ("Animal songs", ["Track 1", "Track 2", "Track 3", "Owl Song"]),
        ("Zebra stories", ["Track 1", "Track 2", "Track 3"]),
    ]
    rows = {r["path"]: r for r in done.results}
    assert rows["Animal songs/broken.mp3"]["status"] == "skipped"
    assert "audio" in str(rows["Animal songs/broken.mp3"]["reason"])
    assert rows["Animal songs/notes.txt"]["status"] == "skipped"
    assert rows["Loose 1.mp3"]["status"] == "ok" and rows["Loose 1.mp3"]["title"] == "Loose 1"
    assert not any(".DS_Store" in p or "MACOSX" in p for p in rows)
    assert len(root.records.audio.list(limit=50).items) == 9
    # the staged archive went with its run
    stored = root.adapters.storage.keys()
    assert len(stored) == 9 and all(k.startswith("audio/") for k in stored)


def test_progress_is_reported_file_by_file(root: Root, ports: ImportPorts, queue: HeldQueue, tmp_path: Path) -> None:
    archive = collection(tmp_path, tmp_path / "c.zip", folders=["A"], per_folder=3)
    ports = replace(ports, report_every_s=0)
    imports.start(ports, MUM, archive, "c.zip")
    seen: list[list[str]] = []
    real = jobs.report

    def spy(runs: object, run_id: str, results: list[dict[str, object]]) -> None:
        seen.append([str(r["status"]) for r in results])
        real(runs, run_id, results)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jobs, "report", spy)
        run_held(ports, queue)
    assert seen[:4] == [
        ["waiting", "waiting", "waiting"],
        ["ok", "waiting", "waiting"],
        ["ok", "ok", "waiting"],
        ["ok", "ok", "ok"],
    ]


def test_an_m4b_with_twelve_chapters_becomes_twelve_items_in_order(
    root: Root, ports: ImportPorts, queue: HeldQueue, tmp_path: Path
) -> None:
    book = m4b_book(tmp_path, "The Owl Book", TWELVE)
    run = imports.start(ports, MUM, book, "The Owl Book.m4b")  # one file, not a ZIP
    done = run_held(ports, queue)
    assert done.status == "ok", done.detail
    assert playlists_by_age(root) == [("The Owl Book", TWELVE)]
    items = [root.records.audio.get(i) for i in done.results[0]["item_ids"]]  # type: ignore[union-attr]
    assert all(0.3 < i.duration_s < 0.8 for i in items), [i.duration_s for i in items]
    assert (
        run.results == []
        and done.detail == "1 of 1 audio files imported: 12 items, 1 playlists (1 audiobooks by chapter)"
    )


def test_an_mp3_with_chap_frames_in_a_zip(root: Root, ports: ImportPorts, queue: HeldQueue, tmp_path: Path) -> None:
    book = mp3_book(tmp_path, "Frames", ["Opening", "Middle", "Close"])
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(book, "Library/Books/frames.mp3")
        zf.write(write_tone(tmp_path / "x.mp3", "mp3", seconds=0.2), "Library/Books/extra.mp3")
    imports.start(ports, MUM, archive, "b.zip")
    done = run_held(ports, queue)
    assert done.status == "ok", done.detail
    # the book's own playlist when its file is met, then the folder's with the rest
    assert playlists_by_age(root) == [("Frames", ["Opening", "Middle", "Close"]), ("Books", ["extra"])]


def test_one_zipped_folder_of_files_is_a_playlist(
    root: Root, ports: ImportPorts, queue: HeldQueue, tmp_path: Path
) -> None:
    tone = write_tone(tmp_path / "t.mp3", "mp3", seconds=0.1)
    archive = tmp_path / "songs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for n in (1, 2):
            zf.write(tone, f"Car songs/Song {n}.mp3")
    imports.start(ports, MUM, archive, "songs.zip")
    run_held(ports, queue)
    assert playlists_by_age(root) == [("Car songs", ["Song 1", "Song 2"])]


def test_a_folder_over_the_track_limit_is_split(root: Root, tmp_path: Path, queue: HeldQueue) -> None:
    ports = replace(root.imports, queue=queue, max_tracks=2)
    imports.start(ports, MUM, collection(tmp_path, tmp_path / "c.zip", folders=["Big"], per_folder=5), "c.zip")
    run_held(ports, queue)
    assert [name for name, _ in playlists_by_age(root)] == ["Big, part 1", "Big, part 2", "Big, part 3"]


def test_an_image_is_found_as_a_cover_and_said_not_kept(
    root: Root, ports: ImportPorts, queue: HeldQueue, tmp_path: Path
) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )
    archive = collection(tmp_path, tmp_path / "c.zip", folders=["A"], per_folder=1)
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("Collection/A/cover.png", png)
        zf.writestr("Collection/A/fake.jpg", b"not a jpeg")
    imports.start(ports, MUM, archive, "c.zip")
    rows = {r["path"]: r for r in run_held(ports, queue).results}
    assert "the cover of the playlist 'A'" in str(rows["A/cover.png"]["reason"])
    assert "JPEG" in str(rows["A/fake.jpg"]["reason"]) or "image" in str(rows["A/fake.jpg"]["reason"])


# --------------------------------------------------------------------------- refused whole


@pytest.mark.parametrize(
    "name", ["../../evil.mp3", "Collection/../../evil.mp3", "/etc/evil.mp3", "C:/evil.mp3", "..\\evil.mp3"]
)
def test_a_zip_slip_entry_refuses_the_archive(root: Root, ports: ImportPorts, tmp_path: Path, name: str) -> None:
    good = collection(tmp_path, tmp_path / "c.zip", folders=["A"], per_folder=2)
    hostile = with_entry(
        good, tmp_path / "s.zip", name, write_tone(tmp_path / "e.mp3", "mp3", seconds=0.1).read_bytes()
    )
    with pytest.raises(Invalid, match="outside the import"):
        imports.start(ports, MUM, hostile, "s.zip")
    nothing_kept(root)


def test_a_link_entry_refuses_the_archive(root: Root, ports: ImportPorts, tmp_path: Path) -> None:
    archive = collection(tmp_path, tmp_path / "c.zip", folders=["A"], per_folder=1)
    info = zipfile.ZipInfo("Collection/A/link.mp3")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(Invalid, match="symbolic link"):
        imports.start(ports, MUM, archive, "c.zip")
    nothing_kept(root)


def test_a_one_gigabyte_bomb_is_refused_quickly(root: Root, ports: ImportPorts, tmp_path: Path) -> None:
    archive = bomb(tmp_path / "bomb.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.write(write_tone(tmp_path / "ok.mp3", "mp3", seconds=0.1), "ok.mp3")
    started = time.monotonic()
    with pytest.raises(TooLarge, match="ZIP bomb"):
        imports.start(ports, MUM, archive, "bomb.zip")
    assert time.monotonic() - started < 5
    nothing_kept(root)


def test_the_caps_hold_while_reading_when_the_header_is_not_asked(tmp_path: Path) -> None:
    """The reading side alone (as if the directory had passed): it stops at the cap, not at the end."""
    archive = bomb(tmp_path / "bomb.zip", megabytes=256)
    limits = ImportLimits(max_bytes=1 << 30, max_files=10, max_depth=4, max_expanded_bytes=1 << 40, max_ratio=100)
    with zipfile.ZipFile(archive) as zf:
        [info] = zf.infolist()
        budget = Budget(limits, archive_bytes=10 << 30)  # pretend the archive is huge: only the entry's ratio is left
        with pytest.raises(TooLarge, match="expands more than 100 times"):
            budget.copy(zf, info, None)
        assert budget.total <= 100 * info.compress_size + (64 << 10) < info.file_size
        capped = Budget(replace(limits, max_ratio=1e9, max_expanded_bytes=8 << 20), archive_bytes=10 << 30)
        with pytest.raises(TooLarge, match="IMPORT_MAX_EXPANDED_MB"):
            capped.copy(zf, info, None)
        assert capped.total <= (8 << 20) + (64 << 10)


def test_too_many_files_or_too_deep_is_refused(root: Root, tmp_path: Path) -> None:
    archive = collection(tmp_path, tmp_path / "c.zip", folders=["A"], per_folder=4)
    few = replace(root.imports, limits=replace(root.imports.limits, max_files=3))
    with pytest.raises(TooLarge, match="IMPORT_MAX_FILES"):
        imports.start(few, MUM, archive, "c.zip")
    deep = tmp_path / "deep.zip"
    with zipfile.ZipFile(deep, "w") as zf:
        zf.writestr("/".join(["d"] * 10) + "/a.mp3", write_tone(tmp_path / "d.mp3", "mp3", seconds=0.1).read_bytes())
    with pytest.raises(Invalid, match="IMPORT_MAX_DEPTH"):
        imports.start(root.imports, MUM, deep, "deep.zip")
    nothing_kept(root)


def test_neither_zip_nor_audio_and_a_zip_without_audio(root: Root, ports: ImportPorts, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(Unsupported):
        imports.start(ports, MUM, text, "notes.txt")
    empty = tmp_path / "e.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "no audio here")
    with pytest.raises(Invalid, match="no audio"):
        imports.start(ports, MUM, empty, "e.zip")
    nothing_kept(root)
