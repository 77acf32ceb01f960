"""`YotoAudioUploader`: Yoto's audio upload surface, as yoto.dev documents it.

Ask for an upload URL by the file's sha256, PUT the bytes there (no Bearer: a
presigned target) unless Yoto holds them, then poll the transcode until it is
done. Retries, the sources' answer forms and the deadlines: docs/yoto.md,
"Audio in Yoto's storage".
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from core.errors import RateLimited, UpstreamError, UpstreamRejected, UpstreamTimeout
from core.yoto.cloud import AccessTokenRejected
from core.yoto.uploads import Transcoded, TranscodeFailed, UploadProgress

_RETRY = frozenset({429, 500, 502, 503, 504})
_FAILED = frozenset({"failed", "error"})
_CHUNK = 1 << 20
Progress = Callable[[UploadProgress], None]


def file_sha256(source: Path) -> str:
    digest = hashlib.sha256()
    with source.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _chunks(source: Path, on_sent: Callable[[int], None]) -> Iterator[bytes]:
    with source.open("rb") as f:
        while block := f.read(_CHUNK):
            on_sent(len(block))
            yield block


def _said(resp: httpx.Response) -> str:
    """Yoto's words for a refusal, whatever its body holds."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for name in ("message", "error", "detail"):
            if isinstance(body.get(name), str) and body[name].strip():
                return str(body[name]).strip()[:300]
    return resp.text.strip()[:300] or f"HTTP {resp.status_code}"


def _retry_after(resp: httpx.Response, default: float) -> float:
    try:
        return min(30.0, max(0.0, float(resp.headers.get("retry-after", default))))
    except ValueError:
        return default


def _failure(transcode: dict[str, Any]) -> str | None:
    """Why a finished transcode failed, in any form the sources report; None if it did not."""
    progress = transcode.get("progress") if isinstance(transcode.get("progress"), dict) else {}
    if str(transcode.get("status", "")).lower() in _FAILED or str(progress.get("phase", "")).lower() in _FAILED:
        error = transcode.get("error")
        if isinstance(error, dict):
            error = error.get("message") or error.get("code")
        return str(error or "Yoto could not transcode this audio")
    return None


class YotoAudioUploader:
    """One per process: shares an httpx pool (thread-safe); every call takes the member's token."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 30.0,
        attempts: int = 4,
        poll_first_s: float = 0.5,
        poll_max_s: float = 5.0,
        transcode_deadline_s: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport, trust_env=False
        )
        self._attempts = attempts
        self._poll_first_s, self._poll_max_s = poll_first_s, poll_max_s
        self._deadline_s = transcode_deadline_s
        self._sleep, self._clock = sleep, clock

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> YotoAudioUploader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def upload(
        self,
        access_token: str,
        source: Path,
        *,
        filename: str,
        content_type: str = "audio/mpeg",
        on_progress: Progress | None = None,
    ) -> Transcoded:
        tell = on_progress or (lambda _p: None)
        tell(UploadProgress("hashing", 0))
        sha256 = file_sha256(source)
        auth = {"Authorization": f"Bearer {access_token}"}
        asked = self._call(
            "GET", "/media/transcode/audio/uploadUrl", headers=auth, params={"sha256": sha256, "filename": filename}
        )
        upload = asked.json().get("upload") or {}
        upload_id, target = upload.get("uploadId"), upload.get("uploadUrl")
        if not isinstance(upload_id, str) or not upload_id:
            raise UpstreamError("Yoto's upload answer named no uploadId")
        if target:
            self._put(str(target), source, content_type, tell)
        transcode = self._wait(auth, upload_id, tell)
        info = transcode.get("transcodedInfo") or {}
        tell(UploadProgress("complete", 100, "complete"))
        return Transcoded(
            sha256=str(transcode["transcodedSha256"]),
            source_sha256=sha256,
            upload_id=upload_id,
            duration_s=float(info.get("duration") or 0),
            file_size=int(info.get("fileSize") or 0),
            channels=str(info.get("channels") or "stereo"),
            format=str(info.get("format") or "opus"),
            uploaded=bool(target),
        )

    # ------------------------------------------------------------------ steps

    def _put(self, url: str, source: Path, content_type: str, tell: Progress) -> None:
        """The bytes to the presigned target, streamed with their length; resent on 5xx or a lost connection."""
        size = source.stat().st_size
        for attempt in range(1, self._attempts + 1):
            sent = 0

            def on_sent(n: int) -> None:
                nonlocal sent
                sent += n
                tell(UploadProgress("uploading", min(99, sent * 100 // max(size, 1))))

            tell(UploadProgress("uploading", 0))
            headers = {"Content-Type": content_type, "Content-Length": str(size)}
            try:
                resp = self._http.request("PUT", url, content=_chunks(source, on_sent), headers=headers)
            except httpx.TransportError as exc:
                if attempt == self._attempts:
                    raise UpstreamTimeout(f"the upload to Yoto did not get through: {exc.__class__.__name__}") from exc
                self._sleep(self._backoff(attempt))
                continue
            if resp.status_code < 300:
                return
            if resp.status_code in _RETRY and attempt < self._attempts:
                self._sleep(_retry_after(resp, self._backoff(attempt)))
                continue
            raise UpstreamRejected(f"Yoto refused the upload ({resp.status_code}): {_said(resp)}")

    def _wait(self, auth: dict[str, str], upload_id: str, tell: Progress) -> dict[str, Any]:
        """Poll the transcode until Yoto answers it done or failed, or the deadline passes."""
        deadline = self._clock() + self._deadline_s
        pause = self._poll_first_s
        while True:
            resp = self._call(
                "GET", f"/media/upload/{upload_id}/transcoded", headers=auth, params={"loudnorm": "false"}
            )
            transcode = (resp.json() or {}).get("transcode") or {}
            why = _failure(transcode)
            if why is not None:
                raise TranscodeFailed(f"Yoto could not transcode this audio: {why}")
            if resp.status_code == 200 and transcode.get("transcodedSha256"):
                return dict(transcode)
            progress = transcode.get("progress") if isinstance(transcode.get("progress"), dict) else {}
            percent = progress.get("percent") if isinstance(progress.get("percent"), int) else 0
            tell(UploadProgress("transcoding", max(0, min(99, percent)), progress.get("phase")))
            if self._clock() + pause > deadline:
                raise UpstreamTimeout(f"Yoto was still transcoding upload {upload_id} after {self._deadline_s:.0f} s")
            self._sleep(pause)
            pause = min(self._poll_max_s, pause * 1.5)

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A read (safe to resend): retried on 429/5xx (Retry-After honoured) and lost connections."""
        for attempt in range(1, self._attempts + 1):
            try:
                resp = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt == self._attempts:
                    raise UpstreamTimeout(f"Yoto did not answer: {exc.__class__.__name__}") from exc
                self._sleep(self._backoff(attempt))
                continue
            if resp.status_code == 401:
                raise AccessTokenRejected("Yoto refused the access token")
            if resp.status_code in _RETRY:
                if attempt < self._attempts:
                    self._sleep(_retry_after(resp, self._backoff(attempt)))
                    continue
                if resp.status_code == 429:
                    raise RateLimited("Yoto asks us to slow down; try again in a minute")
                raise UpstreamError(f"Yoto kept failing ({resp.status_code}): {_said(resp)}")
            if resp.status_code >= 400:
                raise UpstreamRejected(f"Yoto refused the upload ({resp.status_code}): {_said(resp)}")
            return resp
        raise AssertionError("unreachable")

    @staticmethod
    def _backoff(attempt: int) -> float:
        return min(4.0, 0.25 * 2 ** (attempt - 1))
