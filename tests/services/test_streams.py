"""Player stream tokens and where their bytes are, on the memory records and storage."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.memory import MemoryRecords, MemoryStorage
from core.errors import Forbidden
from core.records import AudioItem, new_id
from services.streams import MAX_URL_TTL_S, item_id_of_url, make_token, resolve, url_for

KEY = secrets.token_bytes(32)
PUBLIC = "https://family.example"
NOW = 1_800_000_000.0


def _item(records: MemoryRecords, storage: MemoryStorage) -> AudioItem:
    item_id = new_id()
    item = AudioItem(
        id=item_id,
        owner="mum",
        title="Gruffalo",
        storage_key=f"audio/{item_id}.mp3",
        size_bytes=4,
        duration_s=1.0,
        created_at=datetime.now(UTC),
    )
    records.audio.add(item)
    storage.put_bytes(item.storage_key, b"ID3\x00", "audio/mpeg")
    return item


@pytest.fixture
def records() -> MemoryRecords:
    return MemoryRecords()


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage(clock=lambda: NOW)


def test_a_token_resolves_to_a_bounded_url_and_its_url_names_the_item(
    records: MemoryRecords, storage: MemoryStorage
) -> None:
    item = _item(records, storage)
    source = resolve(records.audio, storage, KEY, make_token(KEY, item), url_ttl_s=24 * 3600)
    assert source.path is None and source.url
    assert int(parse_qs(urlsplit(source.url).query)["exp"][0]) <= NOW + MAX_URL_TTL_S
    url = url_for(PUBLIC, KEY, item)
    assert url.startswith(f"{PUBLIC}/s/{item.id}.") and url.endswith(".mp3")
    assert item_id_of_url(PUBLIC, url) == item.id
    assert item_id_of_url("https://other.example", url) is None


def test_a_rotated_stream_key_revokes_the_old_token_only(records: MemoryRecords, storage: MemoryStorage) -> None:
    item, other = _item(records, storage), _item(records, storage)
    old = make_token(KEY, item)
    kept = make_token(KEY, other)
    rotated = records.audio.update(item.id, stream_key=secrets.token_urlsafe(16))
    with pytest.raises(Forbidden):
        resolve(records.audio, storage, KEY, old, url_ttl_s=60)
    assert resolve(records.audio, storage, KEY, make_token(KEY, rotated), url_ttl_s=60).url
    assert resolve(records.audio, storage, KEY, kept, url_ttl_s=60).url


@pytest.mark.parametrize("token", ["", "nodot", "a.b.c/../x", "x" * 300 + ".sig", "unknownid.c2ln"])
def test_misshapen_forged_and_unknown_tokens_are_all_the_same_refusal(
    records: MemoryRecords, storage: MemoryStorage, token: str
) -> None:
    item = _item(records, storage)
    for bad in (token, make_token(secrets.token_bytes(32), item)):
        with pytest.raises(Forbidden, match="invalid or revoked stream link"):
            resolve(records.audio, storage, KEY, bad, url_ttl_s=60)
