"""Audio kept in Yoto's storage: what one upload gives back, and the port that uploads.

A track of such a card plays `yoto:#<transcoded sha256>` and declares the
transcode's format, duration, size and channels, which the player checks
(docs/yoto.md, "Audio in Yoto's storage").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.errors import UpstreamRejected
from core.yoto.cloud import YotoTrack


class TranscodeFailed(UpstreamRejected):
    """Yoto took the bytes but could not transcode them (its own reason in the message)."""


@dataclass(frozen=True)
class UploadProgress:
    """Where an upload stands: `phase` is ours ("hashing", "uploading", "transcoding", "complete")
    with Yoto's own phase word beside it while Yoto transcodes; `percent` 0–100 of that phase."""

    phase: str
    percent: int
    yoto_phase: str | None = None


@dataclass(frozen=True)
class Transcoded:
    """One finished transcode in Yoto's store."""

    sha256: str  # transcodedSha256: what a track names
    source_sha256: str
    upload_id: str
    duration_s: float
    file_size: int
    channels: str  # "mono" | "stereo"
    format: str  # "opus" in practice; "aac" and "mp3" reported too
    uploaded: bool  # False: Yoto held these bytes already, nothing was sent

    @property
    def track_url(self) -> str:
        return f"yoto:#{self.sha256}"

    def track(self, title: str, *, icon: str | None = None, key: str | None = None) -> YotoTrack:
        """The card track that plays it, its metadata the transcode's (a mismatch never finishes downloading)."""
        return YotoTrack(
            title=title,
            track_url=self.track_url,
            type="audio",
            format=self.format,
            duration=self.duration_s,
            file_size=self.file_size,
            icon=icon,
            key=key,
            raw={"channels": self.channels},
        )


class AudioUploader(Protocol):
    """Puts a file's audio into Yoto's store (or finds it there) and waits for its transcode."""

    def upload(
        self,
        access_token: str,
        source: Path,
        *,
        filename: str,
        content_type: str = "audio/mpeg",
        on_progress: Callable[[UploadProgress], None] | None = None,
    ) -> Transcoded: ...
