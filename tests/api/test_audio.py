"""The audio library through the API, on both adapter sets: uploads of every
accepted format, bad input leaving nothing behind, listing, reading,
renaming and deleting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.records import AudioItem, Card, Playlist, new_id, utcnow
from core.settings import Settings
from tests.api.audio_files import TONE_SECONDS, cut_short, damaged, not_audio, tone
from tests.api.conftest import ADMIN, MEMBER, Api, assert_nothing_left, make_api, stored_keys

FORMATS = ["mp3", "m4a", "aac", "wav", "flac", "ogg-vorbis", "ogg-opus"]


def _is_mp3(head: bytes) -> bool:
    return head.startswith(b"ID3") or (head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


@pytest.mark.parametrize("fmt", FORMATS)
def test_upload_each_format_becomes_an_mp3_item(api: Api, audio_dir: Path, fmt: str) -> None:
    c = api.login(MEMBER)
    src = tone(audio_dir, fmt)
    with src.open("rb") as fh:
        r = c.post("/api/audio", files={"file": (f"lullaby{src.suffix}", fh, "application/octet-stream")})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= {"id", "title", "duration_s", "size_bytes", "format", "created_at", "owner"}
    assert body["title"] == "lullaby"  # from the file name when no title is given
    assert body["owner"] == MEMBER[0]
    assert body["format"] == "mp3"
    assert abs(body["duration_s"] - TONE_SECONDS) < 0.15
    item = api.adapters.records.audio.get(body["id"])
    assert item.size_bytes == body["size_bytes"] == api.adapters.storage.head(item.storage_key).size
    assert _is_mp3(api.adapters.storage.read_range(item.storage_key, 0, 3))
    assert stored_keys(api.adapters) == [item.storage_key]
    assert c.get(f"/api/audio/{body['id']}").json() == body


def test_upload_with_title(api: Api, audio_dir: Path) -> None:
    c = api.login(ADMIN)
    data = tone(audio_dir, "wav").read_bytes()
    r = c.post("/api/audio", files={"file": ("x.wav", data)}, data={"title": "  Bedtime story  "})
    assert r.status_code == 201
    assert r.json()["title"] == "Bedtime story"


def test_upload_needs_login(api: Api, audio_dir: Path) -> None:
    r = api.client().post("/api/audio", files={"file": ("x.wav", tone(audio_dir, "wav").read_bytes())})
    assert r.status_code == 401
    assert_nothing_left(api)


def test_not_audio_is_415_and_leaves_nothing(api: Api, audio_dir: Path) -> None:
    c = api.login(ADMIN)
    r = c.post("/api/audio", files={"file": ("notes.mp3", not_audio(audio_dir).read_bytes(), "audio/mpeg")})
    assert r.status_code == 415
    assert "not an audio file" in r.json()["detail"]
    assert_nothing_left(api)


@pytest.mark.parametrize("broken", ["damaged", "cut_short"])
def test_unreadable_audio_is_422_with_reason_and_leaves_nothing(api: Api, audio_dir: Path, broken: str) -> None:
    c = api.login(ADMIN)
    path = damaged(audio_dir, "flac") if broken == "damaged" else cut_short(audio_dir, "mp3")
    r = c.post("/api/audio", files={"file": (path.name, path.read_bytes())})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("the audio could not be read")
    assert_nothing_left(api)


def test_too_large_is_413_and_leaves_nothing(api: Api, audio_dir: Path) -> None:
    c = api.login(ADMIN)
    cap = api.settings.max_upload_bytes
    big = tone(audio_dir, "wav").read_bytes()
    big = big + b"\0" * (cap + 1 - len(big))
    r = c.post("/api/audio", files={"file": ("big.wav", big)})
    assert r.status_code == 413
    assert "limit" in r.json()["detail"]
    assert_nothing_left(api)


def test_too_large_without_content_length_is_cut_off_while_reading(api: Api, audio_dir: Path) -> None:
    """A chunked body announces no size: the cap is enforced on the bytes as
    they arrive (that reading stops there is shown in test_multipart_stream)."""
    c = api.login(ADMIN)
    cap = api.settings.max_upload_bytes
    boundary = "yss-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:
        yield head
        yield tone(audio_dir, "wav").read_bytes()
        for _ in range(cap // 65536 + 4):
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    r = c.post("/api/audio", content=body(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413
    assert_nothing_left(api)


def test_exactly_at_the_cap_is_not_413(api: Api, audio_dir: Path) -> None:
    """The cap is inclusive: a WAV padded to exactly MAX_UPLOAD_MB is read
    (its padding is silence after the data chunk, so it still decodes)."""
    c = api.login(ADMIN)
    cap = api.settings.max_upload_bytes
    data = tone(audio_dir, "wav").read_bytes()
    r = c.post("/api/audio", files={"file": ("edge.wav", data + b"\0" * (cap - len(data)))})
    assert r.status_code == 201, r.text


def test_bad_form_is_400(api: Api) -> None:
    c = api.login(ADMIN)
    r = c.post("/api/audio", files={"title": (None, "no file here")})
    assert r.status_code == 400
    assert "file" in r.json()["detail"]
    r = c.post("/api/audio", json={"title": "not multipart"})
    assert r.status_code == 400
    assert_nothing_left(api)


def _items(api: Api, n: int, owner: str = ADMIN[0], start: int = 0) -> list[AudioItem]:
    """n records with distinct creation times, oldest first (listing is what is tested)."""
    base = utcnow() - timedelta(hours=1)
    made = []
    for i in range(n):
        item = AudioItem(
            id=new_id(),
            owner=owner,
            title=f"{'Dragon' if i % 3 == 0 else 'Song'} number {i:03d}",
            storage_key=f"audio/none-{i}.mp3",
            size_bytes=1000 + i,
            duration_s=60.0,
            created_at=base + timedelta(seconds=start + i),
        )
        api.adapters.records.audio.add(item)
        made.append(item)
    return made


def test_list_newest_first_paged_and_searched(api: Api) -> None:
    made = _items(api, 23)
    made += _items(api, 2, owner=MEMBER[0], start=100)
    c = api.login(MEMBER)
    seen: list[dict] = []
    cursor = None
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        page = c.get("/api/audio", params=params).json()
        assert len(page["items"]) <= 10
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 25 and len({i["id"] for i in seen}) == 25
    times = [i["created_at"] for i in seen]
    assert times == sorted(times, reverse=True)

    dragons = c.get("/api/audio", params={"q": "dRaGoN", "limit": 100}).json()["items"]
    newest_first = sorted(made, key=lambda i: i.created_at, reverse=True)
    expected = [i.id for i in newest_first if i.title.startswith("Dragon")]
    assert [i["id"] for i in dragons] == expected

    mine = c.get("/api/audio", params={"mine": "true"}).json()["items"]
    assert len(mine) == 2 and {i["owner"] for i in mine} == {MEMBER[0]}
    assert c.get("/api/audio", params={"limit": 0}).status_code == 422
    r = c.get("/api/audio", params={"cursor": "not-a-cursor!"})
    assert r.status_code == 400 and r.json() == {"detail": "invalid cursor"}
    assert api.client().get("/api/audio").status_code == 401


def test_get_patch_and_permissions(api: Api) -> None:
    item = api.add_item(owner=ADMIN[0], title="Old title")
    admin, kid = api.login(ADMIN), api.login(MEMBER)
    assert kid.get(f"/api/audio/{item.id}").json()["title"] == "Old title"  # the library is shared
    r = kid.patch(f"/api/audio/{item.id}", json={"title": "Kid's title"})
    assert r.status_code == 403
    r = admin.patch(f"/api/audio/{item.id}", json={"title": "  New title "})
    assert r.status_code == 200 and r.json()["title"] == "New title"
    assert api.adapters.records.audio.get(item.id).title == "New title"
    assert admin.patch(f"/api/audio/{item.id}", json={"title": "   "}).status_code == 422
    assert admin.patch(f"/api/audio/{item.id}", json={"title": ""}).status_code == 422
    assert admin.get("/api/audio/nope").status_code == 404
    assert admin.patch("/api/audio/nope", json={"title": "x"}).status_code == 404


def test_delete_refuses_while_used_unless_forced(api: Api) -> None:
    item = api.add_item()
    admin = api.login(ADMIN)
    playlist = Playlist(id=new_id(), owner=ADMIN[0], name="Bedtime", audio_ids=(item.id,))
    card = Card(id=new_id(), owner=ADMIN[0], title="Card", audio_ids=(item.id,))
    api.adapters.records.playlists.add(playlist)
    api.adapters.records.cards.add(card)

    r = admin.delete(f"/api/audio/{item.id}")
    assert r.status_code == 409
    assert r.json()["playlists"] == [playlist.id]
    assert r.json()["cards"] == [card.id]
    assert "force" in r.json()["detail"]
    assert stored_keys(api.adapters) == [item.storage_key]

    kid = api.login(MEMBER)
    assert kid.delete(f"/api/audio/{item.id}", params={"force": "true"}).status_code == 403

    assert admin.delete(f"/api/audio/{item.id}", params={"force": "true"}).status_code == 204
    assert admin.get(f"/api/audio/{item.id}").status_code == 404
    assert stored_keys(api.adapters) == []
    assert admin.delete(f"/api/audio/{item.id}").status_code == 404


def test_delete_unused_item(api: Api) -> None:
    item = api.add_item(owner=MEMBER[0])
    kid = api.login(MEMBER)
    assert kid.delete(f"/api/audio/{item.id}").status_code == 204
    assert_nothing_left(api)


def test_openapi_documents_the_public_paths(api: Api) -> None:
    paths = api.client().get("/api/openapi.json").json()["paths"]
    for path, method in (
        ("/api/auth/login", "post"),
        ("/api/auth/logout", "post"),
        ("/api/auth/me", "get"),
        ("/api/users", "get"),
        ("/api/users", "post"),
        ("/api/users/{username}", "patch"),
        ("/api/users/{username}", "delete"),
        ("/api/audio", "post"),
        ("/api/audio", "get"),
        ("/api/audio/{item_id}", "get"),
        ("/api/audio/{item_id}", "patch"),
        ("/api/audio/{item_id}", "delete"),
        ("/api/audio/uploads", "post"),
        ("/api/audio/uploads/{upload_id}/complete", "post"),
        ("/api/audio/{item_id}/stream-url", "get"),
        ("/api/audio/tts", "post"),
        ("/api/tts/voices", "get"),
        ("/s/{token}.mp3", "get"),
    ):
        assert method in paths.get(path, {}), (method, path)


def test_audio_longer_than_the_cap_is_422_and_leaves_nothing(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, audio_dir: Path
) -> None:
    """MAX_AUDIO_MINUTES bounds the work one upload request does (on Lambda it
    must finish inside API Gateway's 30 s)."""
    api = make_api(api_settings.model_copy(update={"max_audio_minutes": 0.02}), monkeypatch, tmp_path)
    c = api.login(ADMIN)
    short = tone(audio_dir, "wav", seconds=1.0)
    assert c.post("/api/audio", files={"file": ("ok.wav", short.read_bytes())}).status_code == 201
    before = stored_keys(api.adapters)
    long = tone(audio_dir, "wav", seconds=2.0)
    r = c.post("/api/audio", files={"file": ("long.wav", long.read_bytes())})
    assert r.status_code == 422, r.text
    assert "too long" in r.json()["detail"]
    assert stored_keys(api.adapters) == before
    assert len(api.adapters.records.audio.list().items) == 1
