"""The composition root (`wiring.Root`) on the memory adapters and an in-process Yoto cloud:
every service as the app builds it, with no socket, no file server and no thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.memory import MemoryRecords, MemoryStorage
from adapters.yoto.audio_upload import YotoAudioUploader
from adapters.yoto.client import YotoClient
from core.records import AudioItem, new_id
from core.settings import Settings
from core.yoto.cloud import TokenGrant
from tests.conftest import TEST_SECRET
from tests.services.fakes import FakeIdentity
from tests.yoto_inprocess import BASE_URL, InProcessCloud
from wiring import Root

PUBLIC_URL = "https://family.example"


@dataclass
class MemoryAdapters:
    settings: Settings
    records: MemoryRecords
    storage: MemoryStorage
    yoto: YotoClient
    identity: FakeIdentity = field(default_factory=FakeIdentity)
    tts: Any = None
    run_queue: Any = None
    hasher: Any = None
    listener_starter: Any = None
    yoto_uploader: Any = None


def memory_root(cloud: InProcessCloud, data_dir: Path, **settings: Any) -> Root:
    """A Root whose records and storage are in memory, on the cloud's clock, and whose Yoto is `cloud`."""
    s = Settings(
        use_aws=False,
        data_dir=data_dir,
        session_secret=TEST_SECRET,
        public_url=PUBLIC_URL,
        yoto_api_url=BASE_URL,
        yoto_auth_url=BASE_URL,
        yoto_client_id=cloud.client_id,
        **settings,
    )
    adapters = MemoryAdapters(
        settings=s,
        records=MemoryRecords(clock=cloud.now),
        storage=MemoryStorage(clock=lambda: cloud.state.clock.now()),
        yoto=cloud.client(),
        yoto_uploader=YotoAudioUploader(
            BASE_URL, transport=cloud.transport, sleep=cloud.settle_then_advance, clock=lambda: cloud.state.clock.now()
        ),
    )
    return Root(adapters)


def linked_admin_root(cloud: InProcessCloud, data_dir: Path, name: str = "mum") -> Root:
    """`memory_root` with one admin, `name`, whose Yoto account is linked to `cloud`."""
    root = memory_root(cloud, data_dir)
    root.adapters.identity.create_user(name, "correct horse battery staple", is_admin=True)
    answer = cloud.issue_tokens()
    root.tokens.store_new_link(name, TokenGrant(answer["access_token"], 3600, answer["refresh_token"]))
    return root


def add_item(root: Root, title: str, *, owner: str = "mum", size_bytes: int = 1000, **fields: Any) -> str:
    """An audio item record (no bytes) in the root's library; returns its id."""
    item_id = new_id()
    item = AudioItem(
        id=item_id,
        owner=owner,
        title=title,
        storage_key=f"audio/{item_id}.mp3",
        size_bytes=size_bytes,
        duration_s=fields.pop("duration_s", 60.0),
        created_at=datetime.now(UTC),
        **fields,
    )
    root.records.audio.add(item)
    return item_id
