"""Player stream URLs: cookie-free signed links, on both adapter sets.

Locally the link answers the MP3 bytes with Range support; on AWS it answers
a 302 to a presigned S3 URL, which is fetched from moto to compare bytes.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import httpx
import pytest

from tests.api.conftest import ADMIN, MEMBER, Api

DATA = os.urandom(50_000)


def _path(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://127.0.0.1:8000"  # under PUBLIC_URL
    return parts.path


def _fetch(api: Api, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> httpx.Response:
    """What a Yoto player does: no cookie, no Origin, follows a redirect."""
    player = api.client(origin=None)
    r = player.request(method, path, headers=headers)
    if api.settings.use_aws and r.status_code == 302:
        assert r.headers["cache-control"] == "no-store"
        with httpx.Client(timeout=10) as s3:
            return s3.request(method, r.headers["location"], headers=headers)
    return r


def test_stream_url_is_stable_and_cookie_free(api: Api) -> None:
    item = api.add_item(data=DATA)
    kid = api.login(MEMBER)
    r = kid.get(f"/api/audio/{item.id}/stream-url")
    assert r.status_code == 200
    url = r.json()["url"]
    assert kid.get(f"/api/audio/{item.id}/stream-url").json()["url"] == url
    path = _path(url)
    assert path.startswith("/s/") and path.endswith(".mp3") and not path.startswith("/api")

    got = _fetch(api, path)
    assert got.status_code == 200
    assert got.content == DATA
    assert api.client().get(f"/api/audio/{item.id}/stream-url").status_code == 401
    assert kid.get("/api/audio/missing/stream-url").status_code == 404


def test_stream_link_answers_bytes_locally_and_a_redirect_on_aws(api: Api) -> None:
    item = api.add_item(data=DATA)
    url = api.login(ADMIN).get(f"/api/audio/{item.id}/stream-url").json()["url"]
    r = api.client(origin=None).get(_path(url))
    if not api.settings.use_aws:
        assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg"
        return
    assert r.status_code == 302
    assert r.headers["cache-control"] == "no-store"
    location = r.headers["location"]
    assert item.storage_key in location
    query = dict(p.split("=", 1) for p in urlsplit(location).query.split("&"))
    assert 0 < int(query["X-Amz-Expires"]) <= 900
    assert r.content == b""  # no audio byte through the app


def test_local_bytes_and_ranges(api: Api) -> None:
    item = api.add_item(data=DATA)
    path = _path(api.login(ADMIN).get(f"/api/audio/{item.id}/stream-url").json()["url"])
    n = len(DATA)

    full = _fetch(api, path)
    assert full.headers["content-type"] == "audio/mpeg"
    assert full.headers["accept-ranges"] == "bytes"
    assert int(full.headers["content-length"]) == n

    for header, start, end in (
        ("bytes=0-99", 0, 99),
        ("bytes=1000-1999", 1000, 1999),
        ("bytes=-500", n - 500, n - 1),  # suffix
        (f"bytes={n - 10}-", n - 10, n - 1),  # open-ended
        ("bytes=49990-99999", 49990, n - 1),  # end past the size is clipped
        (f"bytes={n - 1}-{n - 1}", n - 1, n - 1),
    ):
        r = _fetch(api, path, {"Range": header})
        assert r.status_code == 206, header
        assert r.content == DATA[start : end + 1], header
        assert r.headers["content-range"] == f"bytes {start}-{end}/{n}", header
        assert int(r.headers["content-length"]) == end - start + 1

    r = _fetch(api, path, {"Range": f"bytes={n}-"})
    assert r.status_code == 416
    if not api.settings.use_aws:
        assert r.headers["content-range"] == f"bytes */{n}"

    head = _fetch(api, path, method="HEAD")
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == n and head.content == b""
    head_range = _fetch(api, path, {"Range": "bytes=-10"}, method="HEAD")
    assert head_range.status_code == 206
    assert head_range.headers["content-range"] == f"bytes {n - 10}-{n - 1}/{n}"


def test_forged_altered_and_revoked_tokens_are_403(api: Api) -> None:
    item = api.add_item(data=DATA)
    other = api.add_item(data=b"other bytes")
    admin = api.login(ADMIN)
    path = _path(admin.get(f"/api/audio/{item.id}/stream-url").json()["url"])
    other_path = _path(admin.get(f"/api/audio/{other.id}/stream-url").json()["url"])
    token = path[len("/s/") : -len(".mp3")]
    item_id, sig = token.rsplit(".", 1)
    other_sig = other_path[len("/s/") : -len(".mp3")].rsplit(".", 1)[1]
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    player = api.client(origin=None)
    for bad in (
        f"{item_id}.{flipped}",  # altered signature
        f"{item_id}.{other_sig}",  # another item's signature
        f"{other.id}.{sig}",  # signature moved to another id
        f"{item_id}",  # no signature
        f"{item_id}.",
        f"nosuchitem.{sig}",  # unknown id: same answer as a bad signature
        "x" * 300,
    ):
        r = player.get(f"/s/{bad}.mp3")
        assert r.status_code == 403, bad
        assert r.json()["detail"] == "invalid or revoked stream link"
        assert player.head(f"/s/{bad}.mp3").status_code == 403

    # Rotating the item's key revokes the old URL and hands out a new one.
    kid = api.login(MEMBER)
    assert kid.post(f"/api/audio/{item.id}/stream-url/rotate").status_code == 403
    r = admin.post(f"/api/audio/{item.id}/stream-url/rotate")
    assert r.status_code == 200
    new_path = _path(r.json()["url"])
    assert new_path != path
    assert player.get(path).status_code == 403
    assert _fetch(api, new_path).content == DATA
    assert _fetch(api, other_path).content == b"other bytes"  # other items untouched


def test_no_listing_without_login(api: Api) -> None:
    api.add_item(data=DATA)
    anon = api.client(origin=None)
    for path in ("/s/", "/s", "/api/audio", "/api/storage/blob/audio/", "/api/storage/blob/"):
        r = anon.get(path)
        assert r.status_code in (401, 403, 404, 405), path
        assert DATA[:32] not in r.content


# Local only: on AWS the audio is S3's to serve, ranges and their refusals included.
@pytest.mark.parametrize("backend_settings", ["local"], indirect=True)
@pytest.mark.parametrize(
    ("header", "status", "words"),
    [
        ("bytes", 400, "bytes=START-END"),
        ("items=0-10", 400, "bytes=START-END"),
        ("bytes=", 400, "range must be requested"),
        ("bytes=20-10", 400, "start must be less than end"),
        ("bytes=99999999-", 416, "past the end"),
    ],
)
def test_a_bad_range_is_refused_in_words_like_every_other_error(api: Api, header: str, status: int, words: str) -> None:
    """Starlette refuses these in plain text; a client of ours gets the JSON error body."""
    item = api.add_item(data=DATA)
    path = _path(api.login(ADMIN).get(f"/api/audio/{item.id}/stream-url").json()["url"])
    r = _fetch(api, path, {"Range": header})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert words in r.json()["detail"]
    if status == 416:
        assert r.headers["content-range"] == f"bytes */{len(DATA)}"
