"""The one server secret, and the per-purpose keys derived from it.

Cookies, storage URLs and player stream tokens are all signed with HMAC, but
never with the same key: `derive_key(secret, purpose)` gives each use its own,
so a signature made for one purpose can never be replayed as another.

On AWS the secret must come from the environment (`SESSION_SECRET`, a Pulumi
secret): Lambda containers share no disk, and a secret generated per container
would make every other container reject the cookies it signed. Locally there is
one process and one data dir, so a missing secret is generated once and kept
there, which lets `make run` work without any set-up.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from core.errors import ConfigError
from core.settings import Settings

SECRET_FILE = "session_secret"
MIN_SECRET_CHARS = 32


def session_secret(settings: Settings) -> str:
    """The configured secret, or (local only) the one kept under the data dir."""
    if settings.session_secret:
        return settings.session_secret
    if settings.use_aws:
        raise ConfigError("SESSION_SECRET must be set when USE_AWS=true (every Lambda container needs the same one)")
    return _local_secret(Path(settings.data_dir) / SECRET_FILE)


def derive_key(secret: str, purpose: str) -> bytes:
    """A 32-byte key for one purpose ("cookie", "storage-download", "stream", ...)."""
    if not purpose:
        raise ValueError("a derived key needs a purpose")
    return hmac.new(secret.encode(), b"yoto-smart-stream/" + purpose.encode(), hashlib.sha256).digest()


def _local_secret(path: Path) -> str:
    existing = _read(path)
    if existing is not None:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(value + "\n")
            out.flush()
            os.fsync(out.fileno())
        # link() refuses to replace an existing file: when two processes start at
        # once, the first one's secret wins and the other reads it back.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    kept = _read(path)
    if kept is None:
        raise ConfigError(f"DATA_DIR={path.parent}: could not keep a session secret in {path.name}")
    return kept


def _read(path: Path) -> str | None:
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        return None
    if len(value) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"{path} holds a session secret shorter than {MIN_SECRET_CHARS} characters; "
            "delete it to have a new one generated, or set SESSION_SECRET"
        )
    return value
