"""Service settings, read once from the environment (pydantic-settings).

Every knob the app and its adapters use lives here, so a deployment (Pulumi's
Lambda environment, the ECS task, `make run`) has one list to fill in.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

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
    mqtt_host: str = "aqrphjqbp3u2z-ats.iot.eu-west-2.amazonaws.com"
    mqtt_port: int = 443
    mqtt_transport: Literal["websockets", "tcp"] = "websockets"
    mqtt_path: str = "/mqtt"

    @property
    def backend(self) -> str:
        return "aws" if self.use_aws else "local"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def storage_quota_bytes(self) -> int:
        return self.storage_quota_mb * 1024 * 1024

    @cached_property
    def origins(self) -> frozenset[str]:
        """Origins allowed to send state-changing cookie requests (CSRF check)."""
        own = self.public_url.rstrip("/")
        scheme_host = "/".join(own.split("/")[:3])
        return frozenset([scheme_host, *(o.rstrip("/") for o in self.allowed_origins)])

    def validate_backend(self) -> None:
        """Fail at start-up with one message naming the variable that is missing or wrong."""
        if self.use_aws:
            required = {
                "DYNAMODB_TABLE": self.dynamodb_table,
                "S3_AUDIO_BUCKET": self.s3_audio_bucket,
                "COGNITO_USER_POOL_ID": self.cognito_user_pool_id,
                "COGNITO_CLIENT_ID": self.cognito_client_id,
                "SESSION_SECRET": self.session_secret,
            }
            missing = [name for name, value in required.items() if not value]
            if missing:
                raise ConfigError(f"USE_AWS=true needs {', '.join(missing)} to be set")
            return
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            probe = self.data_dir / ".write-probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(f"DATA_DIR={self.data_dir} is not writable: {exc.strerror or exc}") from exc


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
