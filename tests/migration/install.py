"""A local install with something of every kind, and ways to look at both sides.

`populate` fills a data dir through the ports, as the app would have; the
snapshots read a side without the code under test, so a check cannot agree
with the migration just because it shares its bugs.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters import Adapters
from adapters.aws.clients import client
from core.records import AudioItem, Card, Playlist, YotoTokens
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 5, 1, 9, 30, 0, 250000, tzinfo=UTC)
# (name, admin, disabled): the disabled one sorts first, so the copy order matters
USERS = (("aaron", False, True), ("anna", True, False), ("ben", False, False))
_OWN = ("AWS_", "USE_AWS", "DYNAMODB_TABLE", "S3_AUDIO_BUCKET", "COGNITO_", "SESSION_SECRET", "DATA_DIR")


def password_of(name: str) -> str:
    return f"{name} keeps a long passphrase"


@dataclass
class Install:
    settings: Settings
    items: list[AudioItem] = field(default_factory=list)
    data: dict[str, bytes] = field(default_factory=dict)  # storage key -> bytes
    playlists: list[Playlist] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)


def populate(settings: Settings, *, objects: int = 4, size: int = 40_000, seed: int = 1) -> Install:
    rng = random.Random(seed)
    adapters = Adapters(settings)
    install = Install(settings)
    for name, admin, _disabled in USERS:
        adapters.identity.create_user(name, password_of(name), is_admin=admin)
    for name, _admin, disabled in USERS:
        if disabled:
            adapters.identity.update_user(name, disabled=True)
    for n in range(objects):
        item_id = f"item{n:04d}"
        key = f"audio/{item_id}.mp3"
        data = rng.randbytes(size + n)
        adapters.storage.put_bytes(key, data, "audio/mpeg")
        item = AudioItem(
            id=item_id,
            owner=USERS[n % len(USERS)][0],
            title=f"Story number {n}",
            storage_key=key,
            size_bytes=len(data),
            duration_s=12.5 + n,
            source="tts" if n % 2 else "upload",
            created_at=T0 + timedelta(seconds=n),
        )
        adapters.records.audio.add(item)
        install.items.append(item)
        install.data[key] = data
    ids = tuple(i.id for i in install.items)
    playlist = Playlist(id="pl1", owner="anna", name="Car trip", audio_ids=ids[:3], version=4, created_at=T0)
    adapters.records.playlists.add(playlist)
    install.playlists.append(playlist)
    card = Card(id="card1", owner="anna", title="Bedtime", yoto_card_id="yoto-abc", playlist_id="pl1", created_at=T0)
    single = Card(id="card2", owner="ben", title="One story", audio_ids=ids[:1], created_at=T0 + timedelta(seconds=1))
    for c in (card, single):
        adapters.records.cards.add(c)
        install.cards.append(c)
    adapters.records.tokens.create(
        YotoTokens(account="family", access_token="acc", refresh_token="ref", expires_at=T0, version=3, updated_at=T0)
    )
    adapters.records.settings.put("linked_account", {"account": "family"})
    adapters.records.settings.put("volume_limit", 0.75)
    adapters.records.players.merge_state("player-1", {"volume": 5, "card": "yoto-abc"})
    adapters.records.close()  # type: ignore[attr-defined]
    return install


# --------------------------------------------------------------------------- running the CLI


def cli_env(local: Settings, aws: Settings) -> dict[str, str]:
    """Both sides named at once, as a family's shell would; no SESSION_SECRET (the migration needs none)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN)}
    env.update({k: v for k, v in os.environ.items() if k.startswith("AWS_")})  # credentials + moto endpoint
    env.update(
        DATA_DIR=str(local.data_dir),
        AWS_REGION=aws.aws_region,
        DYNAMODB_TABLE=str(aws.dynamodb_table),
        S3_AUDIO_BUCKET=str(aws.s3_audio_bucket),
        COGNITO_USER_POOL_ID=str(aws.cognito_user_pool_id),
        COGNITO_CLIENT_ID=str(aws.cognito_client_id),
        PYTHONUNBUFFERED="1",
    )
    return env


def run(env: dict[str, str], *args: str, stdin: str = "", timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


def kill_when(env: dict[str, str], args: tuple[str, ...], ready: Callable[[], bool], log: Path) -> int:
    """Start the CLI, SIGKILL it as soon as `ready()` holds; returns its exit status (-9 when killed)."""
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                if ready():
                    os.kill(proc.pid, signal.SIGKILL)
                    break
                time.sleep(0.02)
            return proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


# --------------------------------------------------------------------------- looking at the sides


def local_files(data_dir: Path) -> dict[str, str]:
    """SHA-256 of every file under a data dir, but SQLite's own bookkeeping for readers
    of a WAL database: the shared-memory index, and an empty write-ahead log."""
    out = {}
    for path in sorted(data_dir.rglob("*")):
        if not path.is_file() or path.name.endswith("-shm"):
            continue
        if path.name.endswith("-wal") and path.stat().st_size == 0:
            continue
        out[path.relative_to(data_dir).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def table_items(aws: Settings) -> list[dict[str, Any]]:
    ddb = client(aws, "dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": aws.dynamodb_table}
    while True:
        page = ddb.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: (i["PK"]["S"], i["SK"]["S"]))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def bucket_objects(aws: Settings) -> dict[str, tuple[str, Any]]:
    """Key -> (SHA-256, LastModified) of every object in the audio bucket."""
    s3 = client(aws, "s3")
    out = {}
    for obj in s3.list_objects_v2(Bucket=aws.s3_audio_bucket).get("Contents", []):
        body = s3.get_object(Bucket=aws.s3_audio_bucket, Key=obj["Key"])["Body"].read()
        out[obj["Key"]] = (hashlib.sha256(body).hexdigest(), obj["LastModified"])
    return out


def bucket_count(aws: Settings) -> int:
    return int(client(aws, "s3").list_objects_v2(Bucket=aws.s3_audio_bucket).get("KeyCount", 0))


def pool_users(aws: Settings) -> list[dict[str, Any]]:
    idp = client(aws, "cognito-idp")
    return list(idp.list_users(UserPoolId=aws.cognito_user_pool_id).get("Users", []))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
