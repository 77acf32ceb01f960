"""Audio uploaded into the fake Yoto store: upload ids, presigned PUT targets, transcodes, signed media URLs.

Bytes are held once per source sha256 for every account, as Yoto's "our store";
an account may use a transcode on a card once one of its own upload ids named
those bytes. A transcode runs on a thread after the PUT and is finished only once
`transcode_delay_s` has passed (docs/simulator.md, "Audio upload and transcode").
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from simulator.cloud.audio import AudioError, Encoded, transcode_to_opus
from simulator.cloud.clock import iso
from simulator.cloud.http import HttpError

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
TRANSCODE_FAULT_KINDS = ("fail", "stall")
DEFAULT_FAILURE = "Transcoding failed (injected)"
PARALLEL_TRANSCODES = 2


@dataclass
class TranscodeFault:
    """The fate of a coming transcode: `fail` (the poll answers status failed) or `stall` (202 for ever).

    With `upload_id` it is that upload's transcode; without, the next `count` transcodes a PUT starts."""

    kind: str
    count: int = 1
    upload_id: str | None = None
    message: str | None = None
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in TRANSCODE_FAULT_KINDS:
            raise ValueError(f"transcode fault kind must be one of {', '.join(TRANSCODE_FAULT_KINDS)}")
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError("count must be at least 1")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Transcode:
    source_sha256: str
    filename: str
    content_type: str
    size: int
    started_at: float
    ready_at: float
    fate: str | None = None  # "fail" | "stall"
    fate_message: str | None = None
    encoded: Encoded | None = None
    error: str | None = None
    encoded_event: threading.Event = field(default_factory=threading.Event)

    def status(self, now: float) -> str:
        """processing, complete or failed, as the poll answers it at `now`."""
        if self.fate == "stall" or now < self.ready_at or not self.encoded_event.is_set():
            return "processing"
        return "failed" if self.fate == "fail" or self.error is not None else "complete"

    def failure(self) -> str:
        if self.fate == "fail":
            return self.fate_message or DEFAULT_FAILURE
        return str(self.error)

    def summary(self, now: float) -> dict[str, Any]:
        status = self.status(now)
        done = status == "complete" and self.encoded is not None
        return {
            "sourceSha256": self.source_sha256,
            "filename": self.filename,
            "contentType": self.content_type,
            "size": self.size,
            "status": status,
            "fault": self.fate,
            "startedAt": iso(self.started_at),
            "readyAt": iso(self.ready_at),
            "transcodedSha256": self.encoded.sha256 if done and self.encoded else None,
            "transcodedInfo": dict(self.encoded.info) if done and self.encoded else None,
            "uploadInfo": dict(self.encoded.source) if self.encoded else None,
            "error": self.failure() if status == "failed" else None,
        }


@dataclass
class AudioUpload:
    upload_id: str
    account: str
    source_sha256: str
    filename: str
    created_at: float
    url_expires: float | None  # None: the bytes were held already, no URL was issued
    options: dict[str, str] = field(default_factory=dict)
    put_at: float | None = None
    content_type: str | None = None
    transcode: Transcode | None = None

    def summary(self, now: float) -> dict[str, Any]:
        transcode = self.transcode.summary(now) if self.transcode else None
        return {
            "uploadId": self.upload_id,
            "account": self.account,
            "sha256": self.source_sha256,
            "filename": self.filename,
            "createdAt": iso(self.created_at),
            "urlIssued": self.url_expires is not None,
            "putAt": iso(self.put_at) if self.put_at is not None else None,
            "contentType": self.content_type,
            "options": dict(self.options),
            "status": transcode["status"] if transcode else "awaiting_upload",
            "transcodedSha256": transcode["transcodedSha256"] if transcode else None,
        }


class AudioStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key = secrets.token_bytes(32)
        self._uploads: dict[str, AudioUpload] = {}
        self._held: dict[str, Transcode] = {}  # by source sha256: the live (not failed) or latest transcode
        self._faults: list[TranscodeFault] = []
        self._workers = threading.BoundedSemaphore(PARALLEL_TRANSCODES)

    # ---- signing (presigned PUT targets and media URLs)

    def sign(self, purpose: str, subject: str, expires: int) -> str:
        return hmac.new(self._key, f"{purpose}:{subject}:{expires}".encode(), hashlib.sha256).hexdigest()

    def check_signature(self, purpose: str, subject: str, query: dict[str, str], now: float) -> None:
        expires = query.get("expires", "")
        if not expires.isdigit() or not hmac.compare_digest(
            self.sign(purpose, subject, int(expires)), query.get("signature", "")
        ):
            raise HttpError(403, "The request signature does not match")
        if int(expires) < now:
            raise HttpError(403, "The signed URL has expired")

    # ---- the upload flow

    def _holding(self, sha256: str, now: float) -> Transcode | None:
        """The transcode that holds these bytes: running or complete (a failed one holds nothing)."""
        held = self._held.get(sha256)
        return held if held is not None and held.status(now) != "failed" else None

    def request(self, account: str, sha256: str, filename: str, now: float, url_ttl_s: float) -> AudioUpload:
        """A new upload id; a PUT target only when no account's transcode holds those bytes."""
        upload_id = secrets.token_urlsafe(32)
        with self._lock:
            held = self._holding(sha256, now)
            expires = None if held is not None else float(int(now + url_ttl_s))
            upload = AudioUpload(upload_id, account, sha256, filename, now, expires, transcode=held)
            self._uploads[upload_id] = upload
            return upload

    def poll(self, upload_id: str, account: str, options: dict[str, str], now: float) -> tuple[int, dict[str, Any]]:
        """The transcode poll of one of `account`'s uploads; `options` (loudnorm, preset) are recorded, not applied."""
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None or upload.account != account:
                raise HttpError(404, f"Upload {upload_id} not found")
            upload.options.update(options)
            if upload.transcode is None:
                upload.transcode = self._holding(upload.source_sha256, now)
            return poll_answer(upload, now)

    def put(self, upload_id: str, data: bytes, content_type: str, now: float, delay_s: float) -> AudioUpload:
        """Store the bytes of a presigned PUT (checked by the route) and start their transcode."""
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None:
                raise HttpError(404, f"Upload {upload_id} not found")
            if upload.put_at is not None:
                raise HttpError(409, "This upload URL has been used already; ask for a new one")
            got = hashlib.sha256(data).hexdigest()
            if got != upload.source_sha256:
                raise HttpError(
                    400, f"The body's sha256 is {got}; this upload URL was issued for {upload.source_sha256}"
                )
            upload.put_at, upload.content_type = now, content_type
            held = self._holding(upload.source_sha256, now)
            if held is not None:
                upload.transcode = held
                return upload
            transcode = Transcode(upload.source_sha256, upload.filename, content_type, len(data), now, now + delay_s)
            fault = self._take_fault(upload.source_sha256)
            if fault is not None:
                transcode.fate, transcode.fate_message = fault.kind, fault.message
            self._held[upload.source_sha256] = transcode
            upload.transcode = transcode
        threading.Thread(target=self._run, args=(transcode, data), name="yoto-sim-transcode", daemon=True).start()
        return upload

    def _run(self, transcode: Transcode, data: bytes) -> None:
        try:
            if transcode.fate == "fail":
                return
            with self._workers:
                transcode.encoded = transcode_to_opus(data)
        except AudioError as exc:
            transcode.error = str(exc)
        except Exception as exc:  # the transcoder must never leave a poll waiting for ever by accident
            transcode.error = f"the simulator's transcoder failed: {exc!r}"
        finally:
            transcode.encoded_event.set()

    # ---- faults

    def _take_fault(self, sha256: str) -> TranscodeFault | None:
        mine = {u.upload_id for u in self._uploads.values() if u.source_sha256 == sha256}
        for fault in self._faults:
            if fault.upload_id in mine:
                self._faults.remove(fault)
                return fault
        for fault in self._faults:
            if fault.upload_id is None:
                fault.hits += 1
                if fault.hits >= fault.count:
                    self._faults.remove(fault)
                return fault
        return None

    def add_fault(self, fault: TranscodeFault, now: float) -> TranscodeFault:
        with self._lock:
            if fault.upload_id is not None:
                upload = self._uploads.get(fault.upload_id)
                if upload is None:
                    raise ValueError(f"no upload {fault.upload_id}")
                running = upload.transcode or self._holding(upload.source_sha256, now)
                if running is not None:
                    if running.status(now) != "processing":
                        raise ValueError(f"upload {fault.upload_id} has finished transcoding already")
                    running.fate, running.fate_message = fault.kind, fault.message
                    return fault
            self._faults.append(fault)
            return fault

    def pending_faults(self) -> list[TranscodeFault]:
        with self._lock:
            return list(self._faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # ---- what the cards and the media URLs use

    def finished(self, transcoded_sha256: str, account: str | None, now: float) -> Transcode | None:
        """The complete transcode with that output hash; with `account`, only if one of its uploads named the bytes."""
        with self._lock:
            for transcode in self._held.values():
                encoded = transcode.encoded
                if encoded is None or encoded.sha256 != transcoded_sha256 or transcode.status(now) != "complete":
                    continue
                if account is None or any(
                    u.account == account and u.source_sha256 == transcode.source_sha256 for u in self._uploads.values()
                ):
                    return transcode
            return None

    def uploads(self, now: float) -> list[dict[str, Any]]:
        with self._lock:
            return [u.summary(now) for u in self._uploads.values()]

    def transcodes(self, now: float) -> list[dict[str, Any]]:
        with self._lock:
            return [t.summary(now) for t in self._held.values()]


def poll_answer(upload: AudioUpload, now: float) -> tuple[int, dict[str, Any]]:
    """(status, body) of `GET /media/upload/{id}/transcoded`: 202 while working, 200 once complete or failed."""
    transcode = upload.transcode
    body: dict[str, Any] = {
        "uploadId": upload.upload_id,
        "uploadFilename": upload.filename,
        "uploadSha256": upload.source_sha256,
        "createdAt": iso(upload.created_at),
        "options": dict(upload.options),
    }
    if transcode is None:
        body.update(status="pending", progress=_progress("awaiting_upload", 0, now))
        return 202, {"transcode": body}
    body["startedAt"] = iso(transcode.started_at)
    status = transcode.status(now)
    if status == "processing":
        span = transcode.ready_at - transcode.started_at
        percent = 99 if span <= 0 else max(0, min(99, int(100 * (now - transcode.started_at) / span)))
        body.update(status="processing", progress=_progress("transcoding", percent, now))
        return 202, {"transcode": body}
    if status == "failed":
        body.update(status="failed", progress=_progress("failed", 100, now), error=transcode.failure())
        return 200, {"transcode": body}
    assert transcode.encoded is not None
    body.update(
        status="complete",
        progress=_progress("complete", 100, now),
        transcodedAt=iso(transcode.ready_at),
        transcodedSha256=transcode.encoded.sha256,
        transcodedInfo=dict(transcode.encoded.info),
        uploadInfo=dict(transcode.encoded.source),
    )
    return 200, {"transcode": body}


def _progress(phase: str, percent: int, now: float) -> dict[str, Any]:
    return {"phase": phase, "percent": percent, "updatedAt": iso(now)}
