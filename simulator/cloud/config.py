"""The knobs of the fake Yoto cloud.

Everything the shared notes mark as unverified (error statuses, limits,
whether https is enforced on stream URLs) is a field here rather than a
constant, so a test can try both possibilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_CLIENT_ID = "yoto-sim-client"
DEFAULT_ACCOUNT = "family"
API_AUDIENCE = "https://api.yotoplay.com"
# What the service asks for, and so what a fresh app here has pre-approved.
DEFAULT_SCOPE = "offline_access user:content:manage family:devices:view family:devices:manage family:devices:control"


@dataclass
class CloudConfig:
    client_id: str = DEFAULT_CLIENT_ID
    # OAuth
    access_ttl_s: float = 86400.0
    code_ttl_s: float = 60.0
    device_code_ttl_s: float = 600.0
    device_interval_s: float = 5.0
    slow_down_increment_s: float = 5.0  # RFC 8628 says 5 s
    rotate_refresh_tokens: bool = True
    reuse_detection: bool = True
    audience: str = API_AUDIENCE
    # None accepts any absolute http(s) redirect URI; a list accepts exactly those.
    redirect_uris: list[str] | None = None
    auto_consent: bool = True
    # The scopes ticked for the app on the developer dashboard; asking for any other fails sign-in.
    approved_scopes: list[str] = field(default_factory=lambda: DEFAULT_SCOPE.split())
    # Content
    strict_icons: bool = True
    require_https_tracks: bool = False
    max_chapters: int | None = None
    max_tracks_per_chapter: int | None = None
    max_title_chars: int = 100
    stale_read_s: float = 0.0
    # Media
    max_cover_bytes: int = 10 * 1024 * 1024
    max_icon_bytes: int = 512 * 1024
    # Audio upload and transcode
    transcode_delay_s: float = 1.0  # the poll answers 202 this long after the PUT
    max_audio_upload_bytes: int = 1024 * 1024 * 1024  # Yoto's reported 1 GB cap on one upload
    upload_url_ttl_s: float = 3600.0  # how long a presigned PUT target works
    media_url_ttl_s: float = 3600.0  # how long a signed media URL from ?playable=true works
    # Base for URLs the cloud hands out (icons, covers, verification_uri);
    # None means the server's own http://127.0.0.1:<port>.
    public_base: str | None = None
    extra_client_ids: list[str] = field(default_factory=list)

    def known_client(self, client_id: str) -> bool:
        return client_id == self.client_id or client_id in self.extra_client_ids

    # Settable over /_sim/config; everything else is fixed at start.
    RUNTIME_KEYS = (
        "access_ttl_s",
        "code_ttl_s",
        "device_code_ttl_s",
        "device_interval_s",
        "slow_down_increment_s",
        "rotate_refresh_tokens",
        "reuse_detection",
        "redirect_uris",
        "auto_consent",
        "approved_scopes",
        "strict_icons",
        "require_https_tracks",
        "max_chapters",
        "max_tracks_per_chapter",
        "max_title_chars",
        "stale_read_s",
        "max_cover_bytes",
        "max_icon_bytes",
        "transcode_delay_s",
        "max_audio_upload_bytes",
        "upload_url_ttl_s",
        "media_url_ttl_s",
    )

    def update(self, changes: dict[str, object]) -> None:
        unknown = sorted(set(changes) - set(self.RUNTIME_KEYS))
        if unknown:
            raise ValueError(f"not settable at runtime: {', '.join(unknown)}")
        for key, value in changes.items():
            setattr(self, key, value)

    def snapshot(self) -> dict[str, object]:
        return {key: getattr(self, key) for key in ("client_id", *self.RUNTIME_KEYS)}
