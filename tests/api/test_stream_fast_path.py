"""What keeps the player stream fast, on both adapter sets (bench/streaming.py
has the figures): no worker thread where the records are read on this machine,
a bounded cache of item keys that a rotation cannot fool, and a route that is
still documented like every other."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import pytest

from services import streams
from services.streams import ITEM_KEYS_CACHED, item_key, make_token
from tests.api.conftest import Api
from wiring import root_for


def test_a_local_token_check_takes_no_worker_thread_and_a_remote_one_does(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = api.add_item()
    path = f"/s/{make_token(root_for(api.adapters).keys.stream, item)}.mp3"
    player = api.client(origin=None)
    assert player.head(path).status_code in (200, 302)  # adapters built, first-use work done

    hops: list[Any] = []
    real = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    r = player.head(path)  # HEAD: the file itself is not read, so only the check could hop
    if api.settings.use_aws:
        assert r.status_code == 302
        assert len(hops) == 1  # the DynamoDB read, off the event loop
    else:
        assert r.status_code == 200 and int(r.headers["content-length"]) == item.size_bytes
        assert hops == []


def test_item_keys_are_cached_with_a_bound_and_a_rotated_key_is_a_new_entry() -> None:
    assert item_key.cache_info().maxsize == ITEM_KEYS_CACHED
    app_key = b"k" * 32
    first = item_key(app_key, "stream-key-1")
    hits = item_key.cache_info().hits
    assert item_key(app_key, "stream-key-1") == first
    assert item_key.cache_info().hits == hits + 1
    assert item_key(app_key, "stream-key-2") != first  # rotated: another key, so old signatures fail
    assert item_key(b"j" * 32, "stream-key-1") != first  # another app secret: another key


def test_a_rotated_item_fails_its_old_token_though_its_key_was_cached(api: Api) -> None:
    item = api.add_item()
    keys = root_for(api.adapters).keys
    old = make_token(keys.stream, item)
    resolve = streams.resolve
    store, audio = api.adapters.storage, api.adapters.records.audio
    assert resolve(audio, store, keys.stream, old, url_ttl_s=60) is not None  # caches the item's key
    audio.update(item.id, stream_key="rotated-now")
    player = api.client(origin=None)
    r = player.get(f"/s/{old}.mp3")
    assert r.status_code == 403 and r.json()["detail"] == streams.FORBIDDEN


def test_the_stream_route_is_documented_with_its_answers(api: Api) -> None:
    doc = api.client().get("/api/openapi.json").json()
    operations = doc["paths"]["/s/{token}.mp3"]
    assert set(operations) == {"get"}  # HEAD is served, not documented (as for every route)
    get = operations["get"]
    assert {"200", "302", "403", "404", "416"} <= set(get["responses"])
    assert "audio/mpeg" in get["responses"]["200"]["content"]
    assert get["responses"]["403"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
    assert [(p["name"], p["in"], p["required"]) for p in get["parameters"]] == [("token", "path", True)]
