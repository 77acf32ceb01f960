"""Two-step uploads: the bytes go to a signed target (S3 presigned POST on
AWS, the app's own signed upload route locally), never through API Gateway
and Lambda, whose payload limits are far below the upload cap. The complete
call then validates, normalises and registers the item.

moto (and a misbehaving client) may ignore the signed size condition, so the
size is checked again before anything is decoded. Staged objects never
outlive their upload for long: completing or cancelling deletes them, and
`sweep_stale` removes what abandoned uploads left (S3 also expires the prefix
with a lifecycle rule).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from core.errors import Conflict, Invalid, NotFound, TooLarge, Unsupported
from core.ports import AudioStorage, CounterRepository, UploadRepository
from core.records import AudioItem, PendingUpload, UploadTarget, User, new_id, utcnow
from core.storage_keys import STAGING_PREFIX, staging_key
from services.ingest import IngestPorts, ingest, quota_left, scratch_dir, title_from

# Bytes sent just before the target expired may still be completed this long after.
COMPLETE_GRACE_S = 300
SWEEP_EVERY_S = 600


def too_large(max_bytes: int) -> TooLarge:
    mb = max_bytes / (1024 * 1024)
    return TooLarge(f"the upload is larger than the limit of {max_bytes} bytes ({mb:g} MB)")


@dataclass(frozen=True)
class Started:
    upload_id: str
    target: UploadTarget


@dataclass(frozen=True)
class UploadPorts:
    """A two-step upload's pending records and claims, the ingest it ends in,
    and its rules: the size cap, the target's lifetime, the claim's."""

    uploads: UploadRepository
    counters: CounterRepository
    ingest: IngestPorts
    max_bytes: int
    ttl_s: int

    @property
    def claim_ttl_s(self) -> int:
        return self.ttl_s + 600


def start(
    ports: UploadPorts,
    user: User,
    *,
    title: str | None = None,
    filename: str | None = None,
    size_bytes: int | None = None,
) -> Started:
    """Sweep what abandoned uploads left, then make a signed target for one upload."""
    uploads, storage, audio = ports.uploads, ports.ingest.storage, ports.ingest.audio
    limits, max_bytes, ttl_s = ports.ingest.limits, ports.max_bytes, ports.ttl_s
    sweep_stale(storage, ttl_s=ttl_s)
    if size_bytes is not None:
        if size_bytes > max_bytes:
            raise too_large(max_bytes)
        left = quota_left(audio, user.owner_id, limits.quota_bytes)
        if left == 0:
            raise TooLarge("your storage quota is used up: delete something first", quota_left_bytes=0)
    upload_id = new_id()
    key = staging_key(upload_id)
    ttl = min(ttl_s, 900)
    target = storage.upload_target(key, max_bytes=max_bytes, expires_s=ttl)
    now = utcnow()
    uploads.add(
        PendingUpload(
            id=upload_id,
            owner=user.owner_id,
            storage_key=key,
            title=title,
            filename=filename,
            max_bytes=max_bytes,
            created_at=now,
            expires_at=max(target.expires_at, now + timedelta(seconds=ttl)) + timedelta(seconds=COMPLETE_GRACE_S),
        )
    )
    return Started(upload_id, target)


def pending_of(uploads: UploadRepository, upload_id: str, user: User) -> PendingUpload:
    try:
        pending = uploads.get(upload_id)
    except NotFound:
        pending = None
    # Someone else's upload reads as missing: its id tells nothing.
    if pending is None or pending.owner != user.owner_id:
        raise NotFound(f"no pending upload {upload_id} (unknown or expired)")
    return pending


def _discard(ports: UploadPorts, pending: PendingUpload) -> None:
    ports.ingest.storage.delete(pending.storage_key)
    ports.uploads.delete(pending.id)


def cancel(ports: UploadPorts, user: User, upload_id: str) -> None:
    """Drop `user`'s pending upload and what was staged for it."""
    _discard(ports, pending_of(ports.uploads, upload_id, user))


def complete(ports: UploadPorts, user: User, upload_id: str, *, title: str | None) -> AudioItem:
    """Claim `user`'s pending upload (an atomic counter, so two calls at once, even
    in two Lambda containers, cannot both make an item), then validate and ingest."""
    pending = pending_of(ports.uploads, upload_id, user)
    claim = f"upload-complete:{pending.id}"
    counters = ports.counters
    if counters.add(claim, 1, ttl_s=ports.claim_ttl_s) > 1:
        raise Conflict("this upload is already being completed")
    try:
        return _validate_and_ingest(ports, pending, title)
    finally:
        counters.reset(claim)


def _validate_and_ingest(ports: UploadPorts, pending: PendingUpload, title: str | None) -> AudioItem:
    storage = ports.ingest.storage
    try:
        info = storage.head(pending.storage_key)
    except NotFound:
        raise Conflict("no bytes have been sent to this upload's target yet") from None
    if info.size > pending.max_bytes:
        _discard(ports, pending)
        raise too_large(pending.max_bytes)
    try:
        with scratch_dir(ports.ingest.scratch) as work:
            src = work / "upload"
            storage.download_to(pending.storage_key, src)
            item = ingest(
                ports.ingest, src, owner=pending.owner, title=title_from(title or pending.title, pending.filename)
            )
    except (TooLarge, Unsupported, Invalid):
        _discard(ports, pending)
        raise
    _discard(ports, pending)
    return item


_last_sweep = {"at": 0.0}
_sweep_lock = threading.Lock()


def sweep_stale(storage: AudioStorage, *, ttl_s: int, force: bool = False) -> int:
    """Delete staged objects older than any upload could still be completed
    (the target's lifetime plus the grace); at most every SWEEP_EVERY_S per
    process unless `force`. Returns how many went."""
    now = time.monotonic()
    with _sweep_lock:
        if not force and now - _last_sweep["at"] < SWEEP_EVERY_S:
            return 0
        _last_sweep["at"] = now
    return storage.delete_stale(STAGING_PREFIX, older_than_s=min(ttl_s, 900) + COMPLETE_GRACE_S + 60)
