"""Service settings, read once from the environment (pydantic-settings).

Every knob the app and its adapters use lives here, so a deployment (Pulumi's
Lambda environment, the ECS task, `make run`) has one list to fill in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

VERSION = "0.1.0"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    use_aws: bool = False
    data_dir: Path = Path("data")
    public_url: str = "http://127.0.0.1:8000"
    allowed_origins: list[str] = Field(default_factory=list)
    session_secret: str | None = None
    session_max_age_s: int = 14 * 24 * 3600

    max_upload_mb: int = 200
    # Longest audio an upload may hold. Normalising runs inside the request, so
    # on Lambda (API Gateway's 30 s limit) the Pulumi program sets it lower.
    max_audio_minutes: float = 360.0
    # Each member's share of the library, and how much normalising runs at once
    # (the one CPU-heavy job: the rest of the family's requests keep a core).
    storage_quota_mb: int = 2048
    max_concurrent_transcodes: int = 1
    transcode_wait_s: float = 120.0
    upload_url_ttl_s: int = 900
    download_url_ttl_s: int = 900

    tts_engine: Literal["gtts", "espeak"] = "gtts"
    tts_max_chars: int = 3000
    tts_daily_chars: int = 20000

    login_max_failures: int = 5  # per username
    login_max_failures_per_address: int = 20  # a family may share one address
    login_window_s: int = 900
    # How long a migrated password (or a reset code) waits for its first use (docs/migration.md).
    migrated_password_days: int = Field(default=90, ge=1, le=3650)

    # HTTP hardening (docs/security.md). JSON and form bodies are capped at
    # MAX_BODY_KB before parsing; the streaming uploads have their own caps.
    max_body_kb: int = 64
    # Where the client address for throttling comes from: the socket peer, the
    # rightmost X-Forwarded-For entry (behind a proxy you run), CloudFront's
    # viewer address (only with the origin secret), or API Gateway's sourceIp.
    client_address_from: Literal["peer", "x-forwarded-for", "cloudfront", "apigw"] = "peer"
    # When set, every request must carry it as `x-origin-verify` (CloudFront adds it).
    origin_secret: str | None = None
    # Interactive /api/docs: on locally, off when USE_AWS unless set to true.
    api_docs: bool | None = None
    # Origins the UI's browser side may load audio from or upload to directly
    # (the S3 bucket's endpoint on AWS), added to the UI pages' CSP.
    storage_origins: list[str] = Field(default_factory=list)

    # AWS side
    aws_region: str = "eu-west-2"
    dynamodb_table: str | None = None
    s3_audio_bucket: str | None = None
    cognito_user_pool_id: str | None = None
    cognito_client_id: str | None = None
    polly_engine: Literal["neural", "standard", "auto"] = "auto"

    # Yoto cloud and MQTT (used by later milestones; configurable, see docs)
    yoto_client_id: str | None = None
    yoto_api_url: str = "https://api.yotoplay.com"
    yoto_auth_url: str = "https://login.yotoplay.com"
    # The OAuth scopes a login asks for (space-separated); each must be ticked for
    # the app on Yoto's developer dashboard (README, docs/yoto.md "Scopes").
    yoto_scopes: str = (
        "offline_access user:content:manage family:devices:view family:devices:manage family:devices:control"
    )
    # The Yoto client's patience: per-request timeout, and the retry budget on 429/5xx.
    yoto_timeout_s: float = 10.0
    yoto_max_tries: int = 4
    yoto_backoff_s: float = 0.5
    yoto_max_wait_s: float = 10.0
    # Players fetch track URLs themselves, so PUBLIC_URL must be https:// for
    # anything that gives Yoto a URL; true permits http:// (development, tests).
    allow_http_public_url: bool = False
    yoto_login_ttl_s: int = 600  # how long a started account link may take
    max_card_tracks: int = 100  # per card, and per playlist (one chapter per item)
    # Yoto's limits for audio it stores (its support figures, as other tools quote them).
    yoto_max_track_minutes: float = 60.0
    yoto_max_track_mb: float = 100.0
    yoto_max_card_hours: float = 5.0
    yoto_max_card_mb: float = 500.0
    # How long an upload waits for Yoto's transcode (long files have taken minutes),
    # and how many of a family's uploads run at once.
    yoto_transcode_wait_s: float = 900.0
    yoto_uploads_at_once: int = 2
    max_cover_mb: float = 5.0
    # A card that follows a playlist is rewritten at most once per window; a
    # burst of edits is one write (docs/yoto.md, "Playlist cards"). The timer
    # flushes the last edit of a burst in a long-running process; None: on
    # unless USE_AWS (Lambda keeps no thread between requests).
    card_sync_debounce_s: float = 3.0
    card_sync_timer: bool | None = None
    mqtt_host: str = "aqrphjqbp3u2z-ats.iot.eu-west-2.amazonaws.com"
    mqtt_port: int = 443
    mqtt_transport: Literal["websockets", "tcp"] = "websockets"
    mqtt_path: str = "/mqtt"
    mqtt_tls: bool = True
    mqtt_ca_file: str | None = None  # None: the system's CA bundle
    # On AWS IoT's port 443 the ALPN picks the authentication: raw MQTT (tcp) with the
    # custom authorizer needs "mqtt"; websockets need none (docs/mqtt.md, "Connecting").
    mqtt_alpn: str | None = None
    yoto_mqtt_authorizer: str = "PublicJWTAuthorizer"
    mqtt_enabled: bool = True  # the in-process listener of `make run`
    # How long a command waits for the player's acknowledgement.
    mqtt_command_timeout_s: float = Field(default=3.0, gt=0, le=30)
    # An on-demand listener stops after this long without anyone watching the players.
    mqtt_idle_s: int = Field(default=300, ge=30)
    # The on-demand listener's Lambda function, started by the API when a viewer
    # appears and none runs (set by the Pulumi program in mqttMode=on-demand).
    mqtt_listener_function: str | None = None
    # Event history (listening history) is kept this many days.
    player_history_days: int = Field(default=90, ge=1, le=3650)
    # Server-sent events on GET /api/players/stream; off where responses cannot
    # stream (Lambda behind an HTTP API): the UI polls every PLAYERS_POLL_S instead.
    players_stream: bool = True
    players_poll_s: int = Field(default=3, ge=1, le=60)

    # Scheduled work (docs/scheduling.md). Every clock time a family member
    # types ("19:30") is in FAMILY_TIMEZONE, an IANA name.
    family_timezone: str = "UTC"
    scheduler_enabled: bool = True  # the in-process scheduler of `make run`
    scheduler_tick_s: float = 20.0
    # The scheduler's workers (locally they run the API's jobs too; on AWS the
    # minute tick's): podcast refreshes at once, routine runs at once (one per
    # player), a member's jobs waiting or running (locally; the next is a 429).
    job_workers: int = Field(default=2, ge=1, le=16)
    routine_workers: int = Field(default=4, ge=1, le=32)
    jobs_per_member: int = Field(default=4, ge=1, le=100)
    routines_per_member: int = Field(default=25, ge=1, le=1000)
    # Routine steps sent to one player in a minute, whichever routines send them.
    player_commands_per_minute: int = Field(default=30, ge=1, le=1000)
    # On AWS: the worker function that runs long jobs outside an HTTP request
    # (its own timeout); set by the Pulumi program. Unset on AWS: jobs run in the request.
    worker_function: str | None = None
    # Podcasts: feed and enclosure URLs are user input (adapters/web/url_safety.py).
    allow_private_feeds: bool = False
    podcast_refresh_hours: float = 6.0
    podcast_feed_max_kb: int = 5 * 1024
    podcast_feed_timeout_s: float = 15.0
    podcast_episode_max_mb: int = 300
    podcast_episode_timeout_s: float = 600.0
    podcast_max_redirects: int = 5
    # A backup restored by POST /api/import-backup (docs/migration.md "Export"): the archive as sent
    # and what its entries expand to (each at most), and how many files it may hold.
    backup_max_mb: int = Field(default=16384, ge=1)
    backup_max_files: int = Field(default=100_000, ge=1)
    # A whole collection in one ZIP (POST /api/imports, docs/audio.md "Import"): the archive as sent,
    # its entries, folder levels, and what they expand to, in all and per entry (checked while reading).
    import_max_mb: int = 1024
    import_max_files: int = Field(default=1000, ge=1)
    import_max_depth: int = Field(default=8, ge=1)
    import_max_expanded_mb: int = 4096
    import_max_ratio: float = Field(default=100.0, gt=1)

    @property
    def backend(self) -> str:
        return "aws" if self.use_aws else "local"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def storage_quota_bytes(self) -> int:
        return self.storage_quota_mb * 1024 * 1024

    @property
    def family_tz(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.family_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"FAMILY_TIMEZONE={self.family_timezone!r} is not an IANA time zone name") from exc

    @property
    def max_body_bytes(self) -> int:
        return self.max_body_kb * 1024

    @property
    def max_cover_bytes(self) -> int:
        return int(self.max_cover_mb * 1024 * 1024)

    @property
    def card_sync_timer_enabled(self) -> bool:
        return self.card_sync_timer if self.card_sync_timer is not None else not self.use_aws

    @property
    def api_docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else not self.use_aws

    @cached_property
    def origins(self) -> frozenset[str]:
        """Origins allowed to send state-changing cookie requests (CSRF check)."""
        own = self.public_url.rstrip("/")
        scheme_host = "/".join(own.split("/")[:3])
        return frozenset([scheme_host, *(o.rstrip("/") for o in self.allowed_origins)])

    def validate_backend(self) -> None:
        """The API's start-up check (kept under its old name)."""
        self.validate_for("api")

    def validate_for(self, workload: Workload) -> None:
        """Fail at start-up with one message naming every variable `workload` needs and lacks.

        Each workload is checked for what it uses and nothing else: the MQTT
        handler runs without a bucket, a user pool or a session secret, and the
        API without Yoto settings until it links accounts.
        """
        if workload not in WORKLOADS:
            raise ConfigError(f"unknown workload {workload!r}; one of {', '.join(WORKLOADS)}")
        needs = WORKLOADS[workload]
        required = needs.aws if self.use_aws else needs.local
        missing = [env_name(f) for f in required if not getattr(self, f)]
        if missing:
            side = "USE_AWS=true" if self.use_aws else "USE_AWS=false"
            raise ConfigError(f"the {workload} workload with {side} needs {', '.join(missing)} to be set")
        if workload == "api":
            self.family_tz  # noqa: B018 - refuses a bad FAMILY_TIMEZONE at start-up
        problem = mqtt_alpn_problem(
            self.mqtt_transport, self.mqtt_tls, self.mqtt_port, self.yoto_mqtt_authorizer, self.mqtt_alpn
        )
        if problem:
            raise ConfigError(problem)
        if not self.use_aws:
            self._check_data_dir()

    def _check_data_dir(self) -> None:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            probe = self.data_dir / ".write-probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(f"DATA_DIR={self.data_dir} is not writable: {exc.strerror or exc}") from exc


def mqtt_alpn_problem(transport: str, tls: bool, port: int, authorizer: str | None, alpn: str | None) -> str | None:
    """AWS IoT Core picks the authentication on port 443 by ALPN: raw MQTT with a
    custom authorizer needs `mqtt`; `x-amzn-mqtt-ca` means X.509 client
    certificates and cannot carry custom authentication; WebSockets need none."""
    if transport != "tcp" or not tls or port != 443 or not authorizer or alpn == "mqtt":
        return None
    return (
        f"MQTT over TCP on port 443 with the custom authorizer {authorizer} needs MQTT_ALPN=mqtt"
        f" (got {alpn or 'none'}; x-amzn-mqtt-ca is for X.509 certificates), or MQTT_TRANSPORT=websockets"
    )


Workload = Literal["api", "mqtt"]


@dataclass(frozen=True)
class WorkloadNeeds:
    """The settings (field names) a workload cannot start without, per side, and
    every setting it reads at all: a deployment hands it `uses` and no more."""

    aws: tuple[str, ...]
    local: tuple[str, ...]
    uses: frozenset[str]


_SHARED = frozenset({"use_aws", "aws_region", "data_dir", "dynamodb_table"})
_YOTO = frozenset(
    {
        "yoto_client_id",
        "yoto_api_url",
        "yoto_auth_url",
        "yoto_timeout_s",
        "yoto_max_tries",
        "yoto_backoff_s",
        "yoto_max_wait_s",
        "yoto_transcode_wait_s",
        "yoto_uploads_at_once",
    }
)
# The broker connection: the handler's, and the API's too (it sends a command
# over a short-lived connection when no listener runs). `mqtt_enabled` is not
# among them: it tells the local API process whether to run the handler
# in-process (`make run` runs both workloads).
_MQTT = frozenset(
    {
        "mqtt_host",
        "mqtt_port",
        "mqtt_transport",
        "mqtt_path",
        "mqtt_tls",
        "mqtt_ca_file",
        "mqtt_alpn",
        "yoto_mqtt_authorizer",
        "mqtt_command_timeout_s",
    }
)
# What only the long-lived handler reads, and what both read about the history it keeps.
_HANDLER_ONLY = frozenset({"mqtt_idle_s"})
_HISTORY = frozenset({"player_history_days"})
# The family's clock: the player rules' quiet hours and "today" are judged on it where the listener runs.
_FAMILY = frozenset({"family_timezone"})

WORKLOADS: dict[str, WorkloadNeeds] = {
    # The HTTP API (Lambda, uvicorn): every setting but the handler's own.
    "api": WorkloadNeeds(
        aws=("dynamodb_table", "s3_audio_bucket", "cognito_user_pool_id", "cognito_client_id", "session_secret"),
        local=(),
        uses=frozenset(Settings.model_fields) - _HANDLER_ONLY,
    ),
    # The MQTT handler (ECS task, on-demand Lambda, or a local process): records,
    # the Yoto cloud, the broker.
    "mqtt": WorkloadNeeds(
        aws=("dynamodb_table", "yoto_client_id"),
        local=("yoto_client_id",),
        uses=_SHARED | _YOTO | _MQTT | _HANDLER_ONLY | _HISTORY | _FAMILY,
    ),
}


def env_name(field: str) -> str:
    """The environment variable that sets `field` (pydantic-settings' default mapping)."""
    return field.upper()


def env_names_for(workload: Workload) -> frozenset[str]:
    """Every environment variable `workload` reads: what its deployment may set."""
    return frozenset(env_name(f) for f in WORKLOADS[workload].uses)


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
