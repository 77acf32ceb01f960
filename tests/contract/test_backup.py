"""A family's backup on both adapter sets (SQLite + files, and DynamoDB + S3 on moto): export,
restore into a fresh install, export again gives the same audio bytes and the same manifest but
`exported_at`; a file changed after the export is refused by name with nothing kept; a second
restore, or one into an install that already holds the same audio, duplicates nothing; the archive
is read within bounds (names, count, size, compression ratio)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from adapters import Adapters
from core.errors import Invalid, NotFound, TooLarge
from core.records import AudioItem, Playlist
from core.settings import Settings
from services import backup_import, export
from services.migration.kinds import COPIED
from tests.contract.backup_family import SIZES, opened, populate, rewritten

LIMITS = backup_import.Limits(max_bytes=64 * 1024 * 1024, max_files=100)


def _fresh(settings: Settings, tmp_path: Path, name: str) -> Adapters:
    """Another install of the same adapter set, with nothing in it."""
    if not settings.use_aws:
        return Adapters(settings.model_copy(update={"data_dir": tmp_path / name}))
    from adapters.aws.bootstrap import create_resources

    return Adapters(create_resources(settings, prefix=name).settings_for(settings))


def _export(adapters: Adapters) -> bytes:
    return b"".join(export.stream(adapters.records, adapters.storage))


def _restore(adapters: Adapters, archive: bytes, limits: backup_import.Limits = LIMITS) -> backup_import.Outcome:
    return backup_import.restore(adapters.records, adapters.storage, io.BytesIO(archive), limits)


def _counts(adapters: Adapters) -> dict[str, int]:
    return {k.repository: len(list(k.list_all(adapters.records))) for k in export.KINDS}


def _item(item_id: str, key: str, size: int) -> AudioItem:
    return AudioItem(id=item_id, owner="mum", title="Here before", storage_key=key, size_bytes=size, duration_s=1.0)


def _bytes(adapters: Adapters, key: str) -> bytes:
    return adapters.storage.read_range(key, 0, adapters.storage.head(key).size - 1)


@pytest.fixture
def family(backend_settings: Settings) -> Adapters:
    adapters = Adapters(backend_settings)
    populate(adapters.records, adapters.storage)
    return adapters


def test_export_then_restore_into_a_fresh_install_then_export_again_is_the_same(
    family: Adapters, backend_settings: Settings, tmp_path: Path
) -> None:
    first = _export(family)
    audio, manifest = opened(first)
    assert len(audio) == len(SIZES) and manifest["missing"] == []
    assert {f["path"]: f["sha256"] for f in manifest["files"]}.keys() == audio.keys()
    assert manifest["records"]["cards"][0]["yoto_card_id"] == "yoto-7Hx2"

    fresh = _fresh(backend_settings, tmp_path, "fresh")
    outcome = _restore(fresh, first)
    assert outcome.added == {k: n for k, n in _counts(family).items()} and outcome.there == {}
    assert outcome.renamed == {} and outcome.kept_own == []

    again_audio, again = opened(_export(fresh))
    assert again_audio == audio  # byte for byte
    assert again.pop("exported_at") and manifest.pop("exported_at")
    assert again == manifest
    for kind in export.KINDS:  # and field by field through the ports, not only through the export
        for record in kind.list_all(family.records):
            assert kind.get(fresh.records, kind.key(record)) == record
    for item in family.records.audio.list(limit=10).items:
        assert _bytes(fresh, item.storage_key) == _bytes(family, item.storage_key)


def test_a_backup_crosses_adapter_sets(local_settings: Settings, aws_settings: Settings) -> None:
    laptop = Adapters(local_settings)
    populate(laptop.records, laptop.storage)
    archive = _export(laptop)
    cloud = Adapters(aws_settings)
    _restore(cloud, archive)
    audio, manifest = opened(archive)
    back_audio, back = opened(_export(cloud))
    manifest.pop("exported_at"), back.pop("exported_at")
    assert back_audio == audio and back == manifest


def test_a_file_changed_after_the_export_is_refused_by_name_and_nothing_is_kept(
    family: Adapters, backend_settings: Settings, tmp_path: Path
) -> None:
    archive = _export(family)
    audio, _ = opened(archive)
    path = sorted(audio)[1]
    damaged = bytearray(audio[path])
    damaged[100] ^= 0xFF
    fresh = _fresh(backend_settings, tmp_path, "tampered")
    with pytest.raises(Invalid, match=f"{path}: its SHA-256 does not match"):
        _restore(fresh, rewritten(archive, {path: bytes(damaged)}))
    assert all(n == 0 for n in _counts(fresh).values())
    for item in family.records.audio.list(limit=10).items:
        with pytest.raises(NotFound):
            fresh.storage.head(item.storage_key)


def test_a_second_restore_duplicates_nothing(family: Adapters, backend_settings: Settings, tmp_path: Path) -> None:
    archive = _export(family)
    fresh = _fresh(backend_settings, tmp_path, "twice")
    _restore(fresh, archive)
    counts = _counts(fresh)
    second = _restore(fresh, archive)
    assert second.added == {} and second.there == counts and second.kept_own == []
    assert _counts(fresh) == counts
    _, manifest = opened(_export(fresh))
    assert len(manifest["files"]) == len(SIZES)


def test_restoring_into_the_install_it_came_from_adds_nothing(family: Adapters) -> None:
    before = _counts(family)
    outcome = _restore(family, _export(family))
    assert outcome.added == {} and outcome.there == before and _counts(family) == before


def test_audio_the_install_already_holds_is_matched_by_sha256_and_referenced(
    family: Adapters, backend_settings: Settings, tmp_path: Path
) -> None:
    """A populated install holding one item's bytes under another id and key: that item is
    reused, not copied, and the restored playlist, card and story name it; an id taken by a
    different item gives the restored one a new id."""
    archive = _export(family)
    source = sorted(family.records.audio.list(limit=10).items, key=lambda i: i.id)
    target = _fresh(backend_settings, tmp_path, "populated")
    data = _bytes(family, source[0].storage_key)
    target.storage.put_bytes("audio/mine0.mp3", data, "audio/mpeg")
    target.records.audio.add(_item("mine0", "audio/mine0.mp3", len(data)))
    other = target.storage.put_bytes("audio/x.mp3", b"\xff\xfbother", "audio/mpeg")
    target.records.audio.add(_item(source[1].id, "audio/x.mp3", other.size))
    outcome = _restore(target, archive)
    assert outcome.there.get("audio") == 1 and outcome.added["audio"] == 2
    renamed = outcome.renamed[source[1].id]
    assert set(outcome.renamed) == {source[1].id}
    assert _bytes(target, target.records.audio.get(renamed).storage_key) == _bytes(family, source[1].storage_key)
    assert target.records.playlists.get("pl1").audio_ids == ("mine0", renamed)
    assert target.records.cards.get("card1").audio_ids == ("mine0", renamed)
    assert [s["audio_id"] for s in target.records.stories.get("st1").scenes] == ["mine0", renamed]
    assert len(target.records.audio.list(limit=10).items) == 2 + 2  # its own two, and two restored
    again = _restore(target, archive)
    assert again.added == {} and len(target.records.audio.list(limit=10).items) == 4


def test_a_record_whose_id_the_install_uses_differently_is_left_as_the_install_has_it(family: Adapters) -> None:
    archive = _export(family)
    changed = Playlist(id="pl1", owner="mum", name="Renamed since", audio_ids=())
    family.records.playlists.save(changed, expected_version=3)
    outcome = _restore(family, archive)
    assert outcome.kept_own == ["playlists pl1"]
    assert family.records.playlists.get("pl1").name == "Renamed since"


def test_the_export_streams_in_bounded_pieces(family: Adapters) -> None:
    pieces = list(export.stream(family.records, family.storage))
    assert sum(map(len, pieces)) > sum(SIZES)
    assert max(map(len, pieces)) <= export.CHUNK + 64 * 1024  # one read and the entry's header, never the archive


def test_every_kind_the_migration_copies_is_exported_or_named_as_left_out() -> None:
    left_out = {"tokens", "settings", "players"}
    assert {k.repository for k in COPIED} == set(export.RECORD_TYPES) | left_out


# --------------------------------------------------------------------------- a hostile archive


def _zip(entries: dict[str, bytes], *, deflate: bool = False) -> bytes:
    out = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", compression=method) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    "name", ["../evil.mp3", "/etc/passwd", "audio/../../x.mp3", "audio/sub/x.mp3", "audio\\x.mp3", "audio/.x.mp3"]
)
def test_an_entry_outside_the_backup_layout_is_refused(family: Adapters, name: str) -> None:
    archive = rewritten(_export(family), {name: b"\xff\xfbx"})
    before = _counts(family)
    with pytest.raises(Invalid, match="which no backup has"):
        _restore(family, archive)
    assert _counts(family) == before


def test_a_zip_bomb_is_refused_before_it_is_expanded(family: Adapters) -> None:
    """20 MiB of zeros deflate to some 20 KB: refused on its declared ratio, nothing read or kept."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_export(family))) as source, zipfile.ZipFile(out, "w") as bombed:
        for info in source.infolist():
            bombed.writestr(info, source.read(info))
        bombed.writestr("audio/bomb.mp3", b"\0" * (20 * 1024 * 1024), compress_type=zipfile.ZIP_DEFLATED)
    assert zipfile.ZipFile(out).getinfo("audio/bomb.mp3").compress_size < 100_000
    before = _counts(family)
    with pytest.raises(TooLarge, match="ZIP bomb"):
        _restore(family, out.getvalue())
    assert _counts(family) == before


def test_too_many_files_and_too_many_bytes_are_refused(family: Adapters) -> None:
    archive = _export(family)
    with pytest.raises(TooLarge, match="entries"):
        _restore(family, archive, backup_import.Limits(max_bytes=64 * 1024 * 1024, max_files=2))
    with pytest.raises(TooLarge, match="expands past"):
        _restore(family, archive, backup_import.Limits(max_bytes=1_000_000, max_files=100))
    sink = backup_import.ArchiveSink(10)
    sink.write(b"0123456789")
    with pytest.raises(TooLarge, match="at most 10 bytes"):
        sink.write(b"x")


def test_a_manifest_that_is_not_a_backup_is_refused(family: Adapters) -> None:
    with pytest.raises(Invalid, match=r"no manifest\.json"):
        _restore(family, _zip({"audio/a.mp3": b"x"}))
    with pytest.raises(Invalid, match="not a yoto-smart-stream backup"):
        _restore(family, _zip({"manifest.json": b'{"format": "other"}'}))
    with pytest.raises(Invalid, match="not a ZIP"):
        _restore(family, b"PK not really")


def test_a_restore_makes_its_scratch_directory_and_leaves_nothing_in_it(
    local_settings: Settings, tmp_path: Path
) -> None:
    home = Adapters(local_settings)
    populate(home.records, home.storage)
    fresh = _fresh(local_settings, tmp_path, "scratchless")
    scratch = tmp_path / "not-yet" / "tmp"
    backup_import.restore(fresh.records, fresh.storage, io.BytesIO(_export(home)), LIMITS, scratch=scratch)
    assert len(fresh.records.audio.list(limit=10).items) == len(SIZES)
    assert list(scratch.iterdir()) == []
