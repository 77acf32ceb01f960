"""Signatures (`services.signing`) and the signed media URL a player is given: a short
URL-safe tag that any change to the message, the tag or the key refuses, keys kept
apart per purpose, and the bytes' own URL living at most 900 s on the storage clock."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.memory import MemoryRecords, MemoryStorage
from adapters.secret import derive_key
from core.errors import Forbidden
from services import signing, streams
from tests.services.memory_root import PUBLIC_URL, memory_root
from tests.services.test_streams import _item
from tests.yoto_inprocess import InProcessCloud

KEY = derive_key("one family's secret, long enough to be a secret", "stream")
OTHER_KEY = derive_key("another family's secret, just as long as the first", "stream")


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _flip(text: str, at: int) -> str:
    swap = "B" if text[at] == "A" else "A"
    return text[:at] + swap + text[at + 1 :]


def test_a_signature_is_22_url_safe_characters_fixed_by_key_and_message() -> None:
    sig = signing.sign(KEY, "item42")
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", sig)  # 16 bytes, unpadded base64url
    assert signing.sign(KEY, "item42") == sig
    assert signing.sign(KEY, "item43") != sig
    assert signing.sign(OTHER_KEY, "item42") != sig
    assert signing.verify(KEY, "item42", sig)


def test_any_change_to_the_message_or_the_signature_is_refused() -> None:
    sig = signing.sign(KEY, "item42")
    assert not signing.verify(KEY, "item43", sig)
    assert not signing.verify(KEY, "item42 ", sig)
    for at in range(len(sig)):
        assert not signing.verify(KEY, "item42", _flip(sig, at)), at
    for bad in ("", sig[:-1], sig + "A", sig + "=="):
        assert not signing.verify(KEY, "item42", bad), bad


def test_a_signature_made_with_another_key_is_refused() -> None:
    assert not signing.verify(OTHER_KEY, "item42", signing.sign(KEY, "item42"))


@pytest.mark.parametrize("forged", ["é" * 22, "\udcff" * 22, "\x00" * 22])
def test_a_forged_signature_with_odd_characters_is_refused_not_an_error(forged: str) -> None:
    assert signing.verify(KEY, "item42", forged) is False


def test_the_roots_keys_differ_per_purpose_so_a_cookie_signature_opens_no_stream(tmp_path: Path) -> None:
    keys = memory_root(InProcessCloud(), tmp_path).keys
    assert keys.cookie != keys.stream and len(keys.stream) >= 32
    assert not signing.verify(keys.stream, "sid", signing.sign(keys.cookie, "sid"))


@pytest.fixture
def clock() -> _Clock:
    return _Clock(1_800_000_000.0)


@pytest.fixture
def storage(clock: _Clock) -> MemoryStorage:
    return MemoryStorage(clock=clock)


@pytest.fixture
def records() -> MemoryRecords:
    return MemoryRecords()


def _token(url: str) -> str:
    prefix = f"{PUBLIC_URL}/s/"
    assert url.startswith(prefix) and url.endswith(".mp3"), url
    return url[len(prefix) : -len(".mp3")]


def test_the_media_url_opens_its_item_and_a_tampered_one_is_refused(
    records: MemoryRecords, storage: MemoryStorage
) -> None:
    item, other = _item(records, storage), _item(records, storage)
    token = _token(streams.url_for(PUBLIC_URL, KEY, item))
    assert token.split(".")[0] == item.id
    assert streams.resolve(records.audio, storage, KEY, token, url_ttl_s=60).url
    item_id, sig = token.split(".")
    tampered = [
        f"{item_id}.{_flip(sig, 0)}",  # the signature changed
        f"{item_id}.{sig[:-1]}",  # cut short
        f"{other.id}.{sig}",  # another item's id under this item's signature
        f"{item_id}.{signing.sign(KEY, item_id)}",  # signed with the app key but not the item's
    ]
    for bad in tampered:
        with pytest.raises(Forbidden, match=r"^invalid or revoked stream link$"):
            streams.resolve(records.audio, storage, KEY, bad, url_ttl_s=60)


def test_a_media_url_signed_with_another_secret_is_refused(records: MemoryRecords, storage: MemoryStorage) -> None:
    item = _item(records, storage)
    foreign = _token(streams.url_for(PUBLIC_URL, OTHER_KEY, item))
    assert foreign != _token(streams.url_for(PUBLIC_URL, KEY, item))
    with pytest.raises(Forbidden, match="invalid or revoked stream link"):
        streams.resolve(records.audio, storage, KEY, foreign, url_ttl_s=60)


@pytest.mark.parametrize(("asked_s", "lives_s"), [(60, 60), (900, 900), (24 * 3600, 900)])
def test_the_bytes_url_expires_on_the_storage_clock_at_most_900_s_on(
    records: MemoryRecords, storage: MemoryStorage, clock: _Clock, asked_s: int, lives_s: int
) -> None:
    item = _item(records, storage)
    token = streams.make_token(KEY, item)

    def expiry() -> int:
        url = streams.resolve(records.audio, storage, KEY, token, url_ttl_s=asked_s).url
        assert url is not None
        return int(parse_qs(urlsplit(url).query)["exp"][0])

    assert expiry() == int(clock.now) + lives_s
    clock.now += 3600  # the player's link does not expire: each fetch gets a fresh bytes URL
    assert expiry() == int(clock.now) + lives_s
