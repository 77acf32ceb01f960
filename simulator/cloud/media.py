"""Uploaded images: cover images and the account's own 16×16 icons.

Both are content-sniffed (PNG or JPEG, plus GIF for icons) and size-capped,
and served back from the simulator so a demo page can show them.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from simulator.cloud.http import HttpError
from simulator.cloud.oauth import b64url


def sniff_image(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


@dataclass
class Upload:
    media_id: str
    kind: str  # "cover" | "icon"
    account: str
    content_type: str
    data: bytes
    params: dict[str, str]

    def summary(self) -> dict[str, object]:
        return {
            "mediaId": self.media_id,
            "kind": self.kind,
            "account": self.account,
            "contentType": self.content_type,
            "size": len(self.data),
            "params": self.params,
        }


class MediaStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uploads: dict[str, Upload] = {}

    def put(self, kind: str, account: str, data: bytes, params: dict[str, str], max_bytes: int) -> Upload:
        if not data:
            raise HttpError(400, "no image in the request")
        if len(data) > max_bytes:
            raise HttpError(413, f"image is {len(data)} bytes; at most {max_bytes} allowed")
        content_type = sniff_image(data)
        allowed = ("image/png", "image/jpeg", "image/gif") if kind == "icon" else ("image/png", "image/jpeg")
        if content_type not in allowed:
            raise HttpError(400, f"image must be {' or '.join(t.split('/')[1].upper() for t in allowed)}")
        media_id = b64url(hashlib.sha256(kind.encode() + account.encode() + data).digest())
        upload = Upload(media_id, kind, account, content_type, data, params)
        with self._lock:
            self._uploads[media_id] = upload
        return upload

    def get(self, media_id: str) -> Upload | None:
        with self._lock:
            return self._uploads.get(media_id)

    def list(self, kind: str, account: str | None = None) -> list[Upload]:
        with self._lock:
            return [u for u in self._uploads.values() if u.kind == kind and account in (None, u.account)]
