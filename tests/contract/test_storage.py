"""The audio storage contract, run against `FileStorage` ([local]), `S3Storage`
([aws]) and the in-memory `MemoryStorage` ([memory]).

Signed URLs are fetched over real HTTP (the memory storage has no HTTP side,
so those tests run on [local] and [aws]): for the local side the storage routes
run under a real uvicorn on 127.0.0.1 (PUBLIC_URL pointing at it), for the AWS
side the presigned URLs go to the moto server. Moto checks neither presigned
signatures nor presigned POST conditions, so tampering, expiry and size-cap
refusals are tested on the local side only (S3 enforces them itself).
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from adapters import Adapters
from adapters.memory import MemoryStorage
from adapters.secret import derive_key, session_secret
from core.errors import ConfigError, Conflict, Forbidden, Invalid, InvalidRange, NotFound, NotSupportedHere
from core.ports import AudioStorage
from core.settings import Settings
from tests.servers import free_port

CONTENT = bytes(range(256)) * 40 + b"tail"  # 10 244 bytes, every byte value, distinct ends
MP3 = "audio/mpeg"


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(params=["local", "aws", "memory"])
def side(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def storage(side: str, request: pytest.FixtureRequest) -> AudioStorage:
    if side == "memory":
        return MemoryStorage()
    return Adapters(request.getfixturevalue(f"{side}_settings")).storage


def _storage_app(adapters: Adapters) -> Any:
    from fastapi import FastAPI

    import app.deps
    from app.routers.storage import router
    from wiring import Root

    api = FastAPI()
    api.include_router(router)
    root = Root(adapters)
    api.dependency_overrides[app.deps.root] = lambda: root
    return api


@contextmanager
def serving(settings: Settings) -> Iterator[AudioStorage]:
    """The storage, with its URLs answerable over HTTP on this machine."""
    if settings.use_aws:
        yield Adapters(settings).storage
        return
    import uvicorn

    port = free_port()
    adapters = Adapters(settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"}))
    server = uvicorn.Server(
        uvicorn.Config(_storage_app(adapters), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield adapters.storage
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def served(backend_settings: Settings) -> Iterator[AudioStorage]:
    with serving(backend_settings) as storage:
        yield storage


@pytest.fixture
def local_served(local_settings: Settings) -> Iterator[AudioStorage]:
    with serving(local_settings) as storage:
        yield storage


def fetch(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def post_form(target_url: str, fields: dict[str, str], data: bytes, content_type: str = MP3) -> httpx.Response:
    return httpx.post(target_url, data=fields, files={"file": ("clip.mp3", data, content_type)}, timeout=10)


class FailingReader(io.RawIOBase):
    """A source that hands out `good` bytes and then fails, like a disk or socket dying midway."""

    def __init__(self, good: bytes) -> None:
        self.good = good
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.pos = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: len(self.good)}[whence] + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer: Any) -> int:
        if self.pos >= len(self.good):
            raise OSError("the source went away midway")
        n = min(len(buffer), len(self.good) - self.pos, 1000)
        buffer[:n] = self.good[self.pos : self.pos + n]
        self.pos += n
        return n


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


# --------------------------------------------------------------------------- objects


def test_put_bytes_head_and_read_ranges(storage: AudioStorage) -> None:
    info = storage.put_bytes("audio/a1.mp3", CONTENT, MP3)
    assert (info.key, info.size, info.content_type) == ("audio/a1.mp3", len(CONTENT), MP3)
    head = storage.head("audio/a1.mp3")
    assert (head.size, head.content_type) == (len(CONTENT), MP3)
    last = len(CONTENT) - 1
    assert storage.read_range("audio/a1.mp3", 0, 0) == CONTENT[:1]
    assert storage.read_range("audio/a1.mp3", 300, 5299) == CONTENT[300:5300]
    assert storage.read_range("audio/a1.mp3", last, last) == b"l"
    assert storage.read_range("audio/a1.mp3", last - 3, last + 500) == b"tail"
    with pytest.raises(InvalidRange):
        storage.read_range("audio/a1.mp3", len(CONTENT), len(CONTENT) + 10)


def test_put_file_overwrites_and_download_to_copies(storage: AudioStorage, tmp_path: Path) -> None:
    source = tmp_path / "in.mp3"
    source.write_bytes(CONTENT)
    storage.put_bytes("audio/b.mp3", b"old bytes", "application/octet-stream")
    info = storage.put_file("audio/b.mp3", source, MP3)
    assert info.size == len(CONTENT)
    assert storage.head("audio/b.mp3").content_type == MP3
    target = tmp_path / "out" / "copy.mp3"
    target.parent.mkdir()
    storage.download_to("audio/b.mp3", target)
    assert target.read_bytes() == CONTENT
    assert sorted(p.name for p in target.parent.iterdir()) == ["copy.mp3"]


def test_delete_is_idempotent(storage: AudioStorage) -> None:
    storage.put_bytes("uploads/u1", b"x" * 10, MP3)
    storage.delete("uploads/u1")
    storage.delete("uploads/u1")
    storage.delete("uploads/never-there")
    with pytest.raises(NotFound):
        storage.head("uploads/u1")


def test_missing_object_is_not_found(storage: AudioStorage, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        storage.head("audio/missing.mp3")
    with pytest.raises(NotFound):
        storage.read_range("audio/missing.mp3", 0, 10)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(NotFound):
        storage.download_to("audio/missing.mp3", out / "never.mp3")
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "a//b", "a/../b", ".hidden", "a b", "a\\b", "", "é.mp3"])
def test_bad_keys_are_refused_with_a_reason(storage: AudioStorage, key: str) -> None:
    with pytest.raises(ValueError, match="storage key"):
        storage.put_bytes(key, b"data", MP3)
    with pytest.raises(ValueError, match="storage key"):
        storage.download_url(key, expires_s=60)


def test_object_and_folder_names_cannot_clash_locally(local_settings: Settings) -> None:
    """S3 keys are flat, a disk is not: locally `a` cannot be both an object and a folder."""
    storage = Adapters(local_settings).storage
    storage.put_bytes("audio/x/inner.mp3", b"1", MP3)
    with pytest.raises(ValueError, match="folder"):
        storage.put_bytes("audio/x", b"2", MP3)
    storage.put_bytes("audio/y", b"3", MP3)
    with pytest.raises(ValueError, match="folder"):
        storage.put_bytes("audio/y/inner.mp3", b"4", MP3)
    assert storage.read_range("audio/y", 0, 0) == b"3"


def test_a_write_that_fails_midway_leaves_no_object(storage: AudioStorage, side: str) -> None:
    put_fileobj = storage.put_fileobj  # type: ignore[attr-defined]
    kwargs = {"size": len(CONTENT)} if side == "aws" else {}
    with pytest.raises(OSError, match="midway"):
        put_fileobj("audio/broken.mp3", FailingReader(CONTENT[:4000]), MP3, **kwargs)
    with pytest.raises(NotFound):
        storage.head("audio/broken.mp3")
    # Over an existing object, the old bytes survive a failed replacement.
    storage.put_bytes("audio/kept.mp3", CONTENT, MP3)
    with pytest.raises(OSError, match="midway"):
        put_fileobj("audio/kept.mp3", FailingReader(b"new" * 2000), MP3, **kwargs)
    assert storage.read_range("audio/kept.mp3", 0, len(CONTENT)) == CONTENT
    if side == "local":
        root = storage.root  # type: ignore[attr-defined]
        assert [p.name for p in files_under(root) if not p.name.startswith(".")] == ["kept.mp3"]
        assert not [p for p in files_under(root) if p.name.endswith(".part")]


# --------------------------------------------------------------------------- signed URLs over HTTP


def test_download_url_returns_the_bytes(served: AudioStorage) -> None:
    served.put_bytes("audio/dl.mp3", CONTENT, MP3)
    status, headers, body = fetch(served.download_url("audio/dl.mp3", expires_s=60))
    assert status == 200
    assert body == CONTENT
    assert headers["content-type"] == MP3
    assert headers["content-length"] == str(len(CONTENT))


def test_download_url_serves_ranges(served: AudioStorage) -> None:
    served.put_bytes("audio/r.mp3", CONTENT, MP3)
    url = served.download_url("audio/r.mp3", expires_s=60)
    size = len(CONTENT)
    for header, expected, content_range in [
        ("bytes=0-0", CONTENT[:1], f"bytes 0-0/{size}"),
        ("bytes=100-4099", CONTENT[100:4100], f"bytes 100-4099/{size}"),
        ("bytes=-4", b"tail", f"bytes {size - 4}-{size - 1}/{size}"),
        ("bytes=10000-", CONTENT[10000:], f"bytes 10000-{size - 1}/{size}"),
        ("bytes=10240-99999", b"tail", f"bytes 10240-{size - 1}/{size}"),
    ]:
        status, headers, body = fetch(url, {"Range": header})
        assert (status, body, headers["content-range"]) == (206, expected, content_range), header
        assert headers["content-length"] == str(len(expected))
    status, headers, _ = fetch(url, {"Range": f"bytes={size}-"})
    assert status == 416


def test_upload_target_accepts_a_multipart_post(served: AudioStorage) -> None:
    target = served.upload_target("uploads/up1", max_bytes=len(CONTENT) + 10, expires_s=60)
    assert target.method == "POST" and target.file_field == "file"
    answer = post_form(target.url, target.fields, CONTENT)
    assert answer.status_code in (200, 201, 204), answer.text
    assert served.head("uploads/up1").size == len(CONTENT)
    assert served.read_range("uploads/up1", 0, len(CONTENT)) == CONTENT


def test_signed_urls_live_at_most_900_seconds(storage: AudioStorage, side: str) -> None:
    storage.put_bytes("audio/t.mp3", b"abc", MP3)
    before = datetime.now(UTC)
    query = parse_qs(urlsplit(storage.download_url("audio/t.mp3", expires_s=7 * 24 * 3600)).query)
    if side == "aws":
        assert query["X-Amz-Expires"] == ["900"]
    else:
        assert 899 <= int(query["exp"][0]) - before.timestamp() <= 901
    target = storage.upload_target("uploads/t", max_bytes=100, expires_s=3600)
    assert before + timedelta(seconds=899) <= target.expires_at <= datetime.now(UTC) + timedelta(seconds=901)
    with pytest.raises(ValueError):
        storage.download_url("audio/t.mp3", expires_s=0)


def test_local_path_only_on_the_local_side(storage: AudioStorage, side: str) -> None:
    storage.put_bytes("audio/p.mp3", CONTENT, MP3)
    path = storage.local_path("audio/p.mp3")
    if side != "local":
        assert path is None
    else:
        assert path is not None and path.read_bytes() == CONTENT


def test_delete_stale_removes_only_old_objects_under_the_prefix(storage: AudioStorage) -> None:
    for key in ("uploads/old1", "uploads/old2", "uploadsX/old", "audio/old.mp3"):
        storage.put_bytes(key, b"old", MP3)
    time.sleep(2.5)  # S3 dates objects to the second: keep well clear of the cut-off
    storage.put_bytes("uploads/new", b"new", MP3)

    assert storage.delete_stale("uploads/", 2) == 2
    for gone in ("uploads/old1", "uploads/old2"):
        with pytest.raises(NotFound):
            storage.head(gone)
    for kept in ("uploads/new", "uploadsX/old", "audio/old.mp3"):
        assert storage.head(kept).size == 3
    assert storage.delete_stale("uploads/", 2) == 0
    assert storage.delete_stale("nothing-here/", 0) == 0
    with pytest.raises(ValueError):
        storage.delete_stale("", 0)  # never the whole store by accident
    with pytest.raises(ValueError):
        storage.delete_stale("../", 0)
    with pytest.raises(ValueError):
        storage.delete_stale("uploads/", -1)


def test_signed_routes_exist_only_where_the_storage_has_no_server(storage: AudioStorage, side: str) -> None:
    storage.put_bytes("audio/x.mp3", CONTENT, MP3)
    url = storage.download_url("audio/x.mp3", expires_s=60)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    target = storage.upload_target("uploads/x", max_bytes=100, expires_s=60)
    if side != "local":
        with pytest.raises(NotSupportedHere):
            storage.signed_blob("audio/x.mp3", query)
        with pytest.raises(NotSupportedHere):
            storage.signed_upload(target.fields, MP3)
        return
    blob = storage.signed_blob("audio/x.mp3", query)
    assert blob.path.read_bytes() == CONTENT and blob.content_type == MP3 and 58 <= blob.max_age_s <= 60
    sink = storage.signed_upload(target.fields, MP3)
    sink.write(b"12345")
    info = sink.commit()
    assert (info.key, info.size, info.content_type) == ("uploads/x", 5, MP3)


# --------------------------------------------------------------------------- local only: refusals moto cannot show


def test_tampered_or_expired_download_urls_are_refused(local_served: AudioStorage) -> None:
    local_served.put_bytes("audio/s.mp3", CONTENT, MP3)
    local_served.put_bytes("audio/other.mp3", b"secret", MP3)
    url = local_served.download_url("audio/s.mp3", expires_s=600)
    sig = parse_qs(urlsplit(url).query)["sig"][0]
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    assert fetch(with_query(url, sig=flipped))[0] == 403
    assert fetch(with_query(url, exp=str(int(time.time()) + 800)))[0] == 403
    assert fetch(url.replace("audio/s.mp3", "audio/other.mp3"))[0] == 403
    assert fetch(url.split("?")[0])[0] == 403
    assert fetch(url, {"Range": "bytes=0-3"})[0] == 206
    # A URL of its own for the expiry: the checks above may take over a second on a busy machine.
    url = local_served.download_url("audio/s.mp3", expires_s=1)
    exp = int(parse_qs(urlsplit(url).query)["exp"][0])
    time.sleep(max(0.0, exp - time.time()) + 1.05)
    status, _, body = fetch(url)
    assert status == 403 and b"expired" in body


def test_head_and_missing_blob(local_served: AudioStorage) -> None:
    local_served.put_bytes("audio/h.mp3", CONTENT, MP3)
    status, headers, body = fetch(local_served.download_url("audio/h.mp3", expires_s=60), method="HEAD")
    assert (status, body, headers["content-length"], headers["accept-ranges"]) == (200, b"", str(len(CONTENT)), "bytes")
    assert fetch(local_served.download_url("audio/gone.mp3", expires_s=60))[0] == 404


def test_upload_refusals_leave_nothing(local_served: AudioStorage, local_settings: Settings) -> None:
    root = Path(local_settings.data_dir) / "audio"
    target = local_served.upload_target("uploads/small", max_bytes=1000, expires_s=60)
    too_big = post_form(target.url, target.fields, b"z" * 5000)
    assert too_big.status_code == 413 and "1000" in too_big.json()["detail"]
    raised = post_form(target.url, {**target.fields, "max": "100000"}, b"z" * 5000)
    assert raised.status_code == 403
    other_key = post_form(target.url, {**target.fields, "key": "audio/evil.mp3"}, b"z" * 10)
    assert other_key.status_code == 403
    unsigned = httpx.post(target.url, files={"file": ("a.mp3", b"z", MP3)}, timeout=10)
    assert unsigned.status_code == 403
    no_file = httpx.post(target.url, data=target.fields, files={"other": ("a", b"z")}, timeout=10)
    assert no_file.status_code == 400
    not_multipart = httpx.post(target.url, content=b"raw", headers={"Content-Type": MP3}, timeout=10)
    assert not_multipart.status_code == 400
    assert files_under(root) == []
    ok = post_form(target.url, target.fields, b"z" * 1000)
    assert ok.status_code == 201 and ok.json() == {"key": "uploads/small", "size": 1000, "content_type": MP3}


def test_oversized_body_is_refused_before_it_is_read(local_settings: Settings) -> None:
    """A Content-Length past MAX_UPLOAD_MB gets 413 at once, whatever the signed form allows."""
    from fastapi.testclient import TestClient

    settings = local_settings.model_copy(update={"max_upload_mb": 1})
    adapters = Adapters(settings)
    target = adapters.storage.upload_target("uploads/huge", max_bytes=50 * 1024 * 1024, expires_s=60)
    client = TestClient(_storage_app(adapters))
    answer = client.post(target.url, data=target.fields, files={"file": ("a.mp3", b"z" * (1024 * 1024 + 70_000), MP3)})
    assert answer.status_code == 413 and "1048576" in answer.json()["detail"]
    assert files_under(Path(settings.data_dir) / "audio") == []


def test_expired_upload_target_is_refused(local_served: AudioStorage, local_settings: Settings) -> None:
    target = local_served.upload_target("uploads/late", max_bytes=1000, expires_s=1)
    time.sleep(max(0.0, int(target.fields["exp"]) - time.time()) + 1.05)
    assert post_form(target.url, target.fields, b"z" * 10).status_code == 403
    assert files_under(Path(local_settings.data_dir) / "audio") == []


def test_streamed_receive_stops_past_the_cap(local_settings: Settings) -> None:
    from adapters.local.file_storage import FileStorage, TooLarge

    storage = FileStorage(local_settings)

    def chunks(n: int, fail: bool = False) -> Iterator[bytes]:
        for _ in range(n):
            yield b"x" * 1000
        if fail:
            raise ConnectionError("client went away")

    with pytest.raises(TooLarge, match="3500"):
        storage.receive("uploads/r1", chunks(10), max_bytes=3500)
    with pytest.raises(ConnectionError):
        storage.receive("uploads/r2", chunks(3, fail=True), max_bytes=10_000)
    assert files_under(storage.root) == []
    assert storage.receive("uploads/r3", chunks(3), max_bytes=3000).size == 3000


def test_signed_blob_and_upload_refusals_at_the_port(local_settings: Settings) -> None:
    from adapters.local.file_storage import TooLarge

    storage = Adapters(local_settings).storage
    storage.put_bytes("audio/s.mp3", CONTENT, MP3)
    query = {k: v[0] for k, v in parse_qs(urlsplit(storage.download_url("audio/s.mp3", expires_s=60)).query).items()}
    with pytest.raises(Forbidden):
        storage.signed_blob("audio/other.mp3", query)
    with pytest.raises(Forbidden):
        storage.signed_blob("audio/s.mp3", {})
    missing = storage.download_url("audio/gone.mp3", expires_s=60)
    with pytest.raises(NotFound):
        storage.signed_blob("audio/gone.mp3", {k: v[0] for k, v in parse_qs(urlsplit(missing).query).items()})

    target = storage.upload_target("uploads/p", max_bytes=10, expires_s=60)
    with pytest.raises(Forbidden):
        storage.signed_upload({**target.fields, "max": "11"}, MP3)
    with pytest.raises(Invalid):
        storage.signed_upload(target.fields, "not a media type")
    sink = storage.signed_upload(target.fields, None)
    with pytest.raises(Conflict):
        storage.signed_upload(target.fields, MP3)  # in use by the sink above
    with pytest.raises(TooLarge):
        sink.write(b"x" * 11)
    sink.abort()
    with pytest.raises(NotFound):
        storage.head("uploads/p")
    again = storage.signed_upload(target.fields, None)  # the failed attempt did not use the form up
    again.write(b"x" * 10)
    assert again.commit().content_type == "application/octet-stream"
    with pytest.raises(Conflict):
        storage.signed_upload(target.fields, None)


def test_an_upload_form_works_once(local_served: AudioStorage) -> None:
    target = local_served.upload_target("uploads/once", max_bytes=1000, expires_s=60)
    first = post_form(target.url, target.fields, b"a" * 100)
    assert first.status_code == 201, first.text
    replay = post_form(target.url, target.fields, b"b" * 100)
    assert replay.status_code == 409 and "already been used" in replay.json()["detail"]
    assert local_served.read_range("uploads/once", 0, 999) == b"a" * 100  # the replay changed nothing

    local_served.delete("uploads/once")  # as the complete call does once the item is made
    late = post_form(target.url, target.fields, b"c" * 100)
    assert late.status_code == 409
    with pytest.raises(NotFound):
        local_served.head("uploads/once")  # no orphan left by the replay


def test_local_sweep_uses_mtime_and_clears_leftovers(local_settings: Settings) -> None:
    storage = Adapters(local_settings).storage
    root: Path = storage.root  # type: ignore[attr-defined]
    storage.put_bytes("uploads/abandoned", b"x" * 10, MP3)
    storage.put_bytes("uploads/fresh", b"y", MP3)
    part = root / "uploads" / ".dead.part"
    part.write_bytes(b"half a write")
    hour_ago = time.time() - 3600
    for path in (root / "uploads" / "abandoned", part):
        os.utime(path, (hour_ago, hour_ago))

    assert storage.delete_stale("uploads/", 600) == 1
    assert [p.name for p in files_under(root)] == [".fresh.content-type", "fresh"]

    # the single-use marker of a form outlives its object until the form itself expires
    target = storage.upload_target("uploads/short", max_bytes=10, expires_s=1)
    sink = storage.signed_upload(target.fields, MP3)
    sink.write(b"z")
    sink.commit()
    markers = Path(local_settings.data_dir) / ".upload-forms"
    assert len(list(markers.iterdir())) == 1
    storage.delete_stale("uploads/", 3600)
    assert len(list(markers.iterdir())) == 1  # the form is still valid: its marker stays
    time.sleep(max(0.0, int(target.fields["exp"]) - time.time()) + 1.05)
    storage.delete_stale("uploads/", 3600)
    assert list(markers.iterdir()) == []


def test_storage_routes_do_not_exist_in_memory(local_settings: Settings) -> None:
    from types import SimpleNamespace

    from fastapi.testclient import TestClient

    memory = SimpleNamespace(storage=MemoryStorage(), settings=local_settings)
    client = TestClient(_storage_app(memory))  # type: ignore[arg-type]
    memory.storage.put_bytes("audio/x.mp3", b"abc", MP3)
    url = urlsplit(memory.storage.download_url("audio/x.mp3", expires_s=60))
    assert client.get(f"/api/storage/blob/audio/x.mp3?{url.query}").status_code == 404
    target = memory.storage.upload_target("uploads/m", max_bytes=10, expires_s=60)
    assert client.post("/api/storage/upload", data=target.fields, files={"file": ("a", b"z")}).status_code == 404
    assert memory.storage.keys() == ["audio/x.mp3"]


def test_storage_routes_do_not_exist_on_aws(aws_settings: Settings) -> None:
    from fastapi.testclient import TestClient

    client = TestClient(_storage_app(Adapters(aws_settings)))
    assert client.get("/api/storage/blob/audio/x.mp3?exp=1&sig=x").status_code == 404
    assert client.post("/api/storage/upload", files={"file": ("a", b"z")}).status_code == 404


def test_dotdot_in_blob_url_reads_nothing_outside(local_served: AudioStorage, local_settings: Settings) -> None:
    from fastapi.testclient import TestClient

    (Path(local_settings.data_dir) / "outside.txt").write_text("private")
    url = urlsplit(local_served.download_url("audio/x.mp3", expires_s=60))
    client = TestClient(_storage_app(Adapters(local_settings)))
    answer = client.get(f"/api/storage/blob/audio/%2E%2E/%2E%2E/outside.txt?{url.query}")
    assert answer.status_code in (400, 403, 404)
    assert b"private" not in answer.content


# --------------------------------------------------------------------------- the session secret


def test_local_secret_is_generated_once_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    first = session_secret(settings)
    path = tmp_path / "d" / "session_secret"
    assert len(first) >= 48
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert session_secret(Settings(data_dir=tmp_path / "d")) == first
    assert [p.name for p in path.parent.iterdir()] == ["session_secret"]
    assert session_secret(settings.model_copy(update={"session_secret": "from-the-environment" * 3})) != first


def test_processes_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    code = (
        "from adapters.secret import session_secret; from core.settings import Settings;"
        "print(session_secret(Settings()))"
    )
    env = {**os.environ, "DATA_DIR": str(tmp_path / "d"), "USE_AWS": "false"}
    env.pop("SESSION_SECRET", None)
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env) for _ in range(4)
    ]
    secrets_seen = {proc.communicate(timeout=60)[0].strip() for proc in procs}
    assert len(secrets_seen) == 1
    assert secrets_seen == {(tmp_path / "d" / "session_secret").read_text().strip()}
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["session_secret"]


def test_urls_signed_before_a_restart_still_verify(local_settings: Settings) -> None:
    from adapters.local.file_storage import FileStorage

    settings = local_settings.model_copy(update={"session_secret": None})
    url = FileStorage(settings).download_url("audio/a.mp3", expires_s=60)
    query = parse_qs(urlsplit(url).query)
    FileStorage(settings).verify_download("audio/a.mp3", query["exp"][0], query["sig"][0])


def test_aws_without_secret_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="SESSION_SECRET"):
        session_secret(Settings(use_aws=True))


def test_derived_keys_differ_by_purpose_and_secret() -> None:
    keys = {derive_key("s" * 40, p) for p in ("cookie", "stream", "storage-download", "storage-upload")}
    assert len(keys) == 4 and all(len(k) == 32 for k in keys)
    assert derive_key("s" * 40, "cookie") == derive_key("s" * 40, "cookie")
    assert derive_key("t" * 40, "cookie") != derive_key("s" * 40, "cookie")
    with pytest.raises(ValueError):
        derive_key("s" * 40, "")
