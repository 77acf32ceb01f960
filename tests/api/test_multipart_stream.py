"""The upload size cap is enforced while the body arrives, not after.

TestClient hands the app the whole body at once, so it cannot show when the
app stops reading. Here a real Starlette `Request` is fed chunk by chunk by
an ASGI `receive` that counts how many chunks the app pulled.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fastapi import HTTPException
from starlette.requests import Request

from app.http.multipart_stream import receive_file

BOUNDARY = "cap-test"
CHUNK = 64 * 1024


def _request(chunks: list[bytes], pulled: list[int], headers: dict[str, str]) -> Request:
    async def receive() -> dict[str, Any]:
        i = len(pulled)
        pulled.append(i)
        if i < len(chunks):
            return {"type": "http.request", "body": chunks[i], "more_body": i + 1 < len(chunks)}
        return {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/audio",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    return Request(scope, receive)


def _body(file_bytes: int, *, title: str = "A title") -> list[bytes]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\n{title}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    chunks = [head]
    left = file_bytes
    while left > 0:
        n = min(CHUNK, left)
        chunks.append(bytes([left % 251]) * n)
        left -= n
    chunks.append(f"\r\n--{BOUNDARY}--\r\n".encode())
    return chunks


def test_stops_reading_at_the_first_chunk_over_the_cap(tmp_path: Path) -> None:
    cap = 1024 * 1024
    chunks = _body(20 * cap)  # 20 MB offered, chunked (no Content-Length)
    pulled: list[int] = []
    request = _request(chunks, pulled, {"content-type": f"multipart/form-data; boundary={BOUNDARY}"})
    with pytest.raises(HTTPException) as caught:
        asyncio.run(receive_file(request, tmp_path / "upload", max_bytes=cap))
    assert caught.value.status_code == 413
    # The head, the chunks up to the cap, and the one that crossed it.
    assert len(pulled) == 1 + cap // CHUNK + 1
    assert len(pulled) < len(chunks) // 10
    assert (tmp_path / "upload").stat().st_size <= cap


def test_a_declared_length_over_the_cap_is_refused_before_reading(tmp_path: Path) -> None:
    cap = 1024 * 1024
    chunks = _body(2 * cap)
    pulled: list[int] = []
    headers = {
        "content-type": f"multipart/form-data; boundary={BOUNDARY}",
        "content-length": str(sum(len(c) for c in chunks)),
    }
    with pytest.raises(HTTPException) as caught:
        asyncio.run(receive_file(_request(chunks, pulled, headers), tmp_path / "upload", max_bytes=cap))
    assert caught.value.status_code == 413
    assert pulled == []
    assert not (tmp_path / "upload").exists()


def test_fields_and_file_within_the_cap(tmp_path: Path) -> None:
    chunks = _body(300_000, title="Bedtime")
    pulled: list[int] = []
    request = _request(chunks, pulled, {"content-type": f"multipart/form-data; boundary={BOUNDARY}"})
    got = asyncio.run(receive_file(request, tmp_path / "upload", max_bytes=300_000))
    assert got.fields == {"title": "Bedtime"}
    assert got.filename == "a.wav"
    assert got.size == 300_000
    assert (tmp_path / "upload").read_bytes() == b"".join(chunks[1:-1])


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        ("application/json", b"{}", "multipart/form-data"),
        (f"multipart/form-data; boundary={BOUNDARY}", f"--{BOUNDARY}--\r\n".encode(), "no 'file' part"),
    ],
)
def test_malformed_bodies_are_400(tmp_path: Path, content_type: str, body: bytes, reason: str) -> None:
    with pytest.raises(HTTPException) as caught:
        asyncio.run(receive_file(_request([body], [], {"content-type": content_type}), tmp_path / "u", max_bytes=10))
    assert caught.value.status_code == 400
    assert reason in str(caught.value.detail)
