"""The composition root (`wiring.Root`) on the memory adapters and an in-process Yoto cloud:
every service as the app builds it, with no socket, no file server and no thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.memory import MemoryRecords, MemoryStorage
from adapters.yoto.client import YotoClient
from core.settings import Settings
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
    )
    return Root(adapters)
