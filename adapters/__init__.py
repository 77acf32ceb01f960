"""The adapter factory: one place decides between the local and the AWS set.

`get_adapters()` reads the settings once and returns an `Adapters` whose
members are built on first use, so importing the app (or answering a health
check) never imports sqlalchemy or boto3. Nothing outside `adapters/` knows
which side it runs on; it asks for `records`, `storage`, `tts`, `identity`,
`yoto`.

Each workload (`"api"`, `"mqtt"`) is validated for the settings it uses and
is handed only the adapters it is configured for: the MQTT handler gets the
records and nothing that needs a bucket, a user pool or Polly.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.settings import Settings, Workload, load_settings

if TYPE_CHECKING:
    from core.ports import AudioStorage, Identity, ListenerStarter, Records, RunQueue, SecretHasher, TextToSpeech
    from core.yoto.cloud import YotoCloud
    from core.yoto.uploads import AudioUploader

__all__ = ["Adapters", "get_adapters", "local_install_exists", "reset_adapters"]


class Adapters:
    """The adapter set for one process (one Lambda container, one uvicorn)."""

    def __init__(self, settings: Settings, workload: Workload = "api", *, read_only: bool = False) -> None:
        """`read_only` (local side only): the records and users are opened so that
        nothing in the database can change, as the migration reads its source."""
        settings.validate_for(workload)
        self.settings = settings
        self.workload = workload
        self.read_only = read_only

    def _api_only(self, what: str) -> None:
        if self.workload != "api":
            raise ConfigError(f"the {self.workload} workload is not configured for {what}; only the API is")

    @property
    def backend(self) -> str:
        return self.settings.backend

    @cached_property
    def records(self) -> Records:
        if self.settings.use_aws:
            from adapters.aws.dynamo_records import DynamoRecords

            return DynamoRecords(self.settings)
        from adapters.local.sql_records import SqlRecords

        return SqlRecords(self.settings, read_only=self.read_only)

    @cached_property
    def storage(self) -> AudioStorage:
        self._api_only("audio storage")
        if self.settings.use_aws:
            from adapters.aws.s3_storage import S3Storage

            return S3Storage(self.settings)
        from adapters.local.file_storage import FileStorage

        return FileStorage(self.settings)

    @cached_property
    def tts(self) -> TextToSpeech:
        self._api_only("text to speech")
        if self.settings.use_aws:
            from adapters.aws.polly_tts import PollyTTS

            return PollyTTS(self.settings)
        from adapters.local.tts import LocalTTS

        return LocalTTS(self.settings)

    @cached_property
    def run_queue(self) -> RunQueue:
        """Where long jobs go: the worker function on AWS (the caller, when the stack
        has none); locally this process's worker threads (`pool_queue`)."""
        if self.settings.use_aws and self.settings.worker_function:
            from adapters.aws.worker_queue import LambdaRunQueue

            return LambdaRunQueue(self.settings)
        if self.settings.use_aws:
            from adapters.local.inline_queue import InlineRunQueue

            return InlineRunQueue()
        from adapters.local.pool_queue import LocalRunQueue

        return LocalRunQueue()

    @cached_property
    def yoto(self) -> YotoCloud:
        """The Yoto cloud client (every workload talks to Yoto); httpx is imported on first use."""
        from adapters.yoto.client import YotoClient

        s = self.settings
        return YotoClient.from_settings(
            s,
            timeout_s=s.yoto_timeout_s,
            max_tries=s.yoto_max_tries,
            backoff_s=s.yoto_backoff_s,
            max_wait_s=s.yoto_max_wait_s,
        )

    @cached_property
    def yoto_uploader(self) -> AudioUploader:
        """Yoto's audio upload surface (presigned PUTs and the transcode poll)."""
        from adapters.yoto.audio_upload import YotoAudioUploader

        s = self.settings
        return YotoAudioUploader(
            s.yoto_api_url, timeout_s=s.yoto_timeout_s, transcode_deadline_s=s.yoto_transcode_wait_s
        )

    @cached_property
    def identity(self) -> Identity:
        self._api_only("user identity")
        if self.settings.use_aws:
            from adapters.aws.cognito_identity import CognitoIdentity

            return CognitoIdentity(self.settings)
        from adapters.local.identity import LocalIdentity

        return LocalIdentity(self.settings, self.records, read_only=self.read_only)

    @cached_property
    def hasher(self) -> SecretHasher:
        """argon2id on both sides (migrated passwords, reset codes)."""
        from adapters.hashing import Argon2Hasher

        return Argon2Hasher()

    @cached_property
    def listener_starter(self) -> ListenerStarter | None:
        """What starts an on-demand MQTT listener when a viewer appears; None where
        none is configured (a listener runs all the time, in-process, or not at all)."""
        if not self.settings.mqtt_listener_function:
            return None
        from adapters.aws.listener_starter import LambdaListenerStarter

        return LambdaListenerStarter(self.settings)


def local_install_exists(settings: Settings) -> bool:
    """Whether `settings.data_dir` already holds a local records database (the migration asks)."""
    from adapters.local.sql_records import DB_FILENAME

    return (settings.data_dir / DB_FILENAME).is_file()


_lock = threading.Lock()
_current: Adapters | None = None


def get_adapters(settings: Settings | None = None, workload: Workload = "api") -> Adapters:
    """The process-wide adapter set, created once (thread-safe); a process runs one workload."""
    global _current
    if settings is not None:
        return Adapters(settings, workload)
    if _current is None:
        with _lock:
            if _current is None:
                _current = Adapters(load_settings(), workload)
    if _current.workload != workload:
        raise ConfigError(f"this process already runs the {_current.workload} workload, not {workload}")
    return _current


def reset_adapters() -> None:
    """Forget the process-wide set (tests, and a CLI that changes settings)."""
    global _current
    with _lock:
        _current = None
