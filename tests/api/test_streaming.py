"""Byte serving under a real server: a 30 MB item fetched with random Range
requests from uvicorn on 127.0.0.1 (local backend), every byte compared.

The item is random bytes put straight into storage and records (as if it had
been normalised already): what is under test is the stream endpoint's byte
serving, not the transcoder.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters import Adapters
from core.records import AudioItem, new_id
from core.settings import Settings
from services.streams import make_token
from tests.conftest import TEST_SECRET
from tests.servers import free_port, stop, wait_http
from wiring import root_for

SIZE = 30 * 1024 * 1024
REQUESTS = 100


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, bytes]]:
    """(base URL, stream path, the item's bytes) with uvicorn serving the app."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(use_aws=False, data_dir=tmp_path / "data", session_secret=TEST_SECRET, public_url=base)
    adapters = Adapters(settings)
    data = os.urandom(SIZE)
    item_id = new_id()
    key = f"audio/{item_id}.mp3"
    info = adapters.storage.put_bytes(key, data, "audio/mpeg")
    item = AudioItem(id=item_id, owner="mum", title="big", storage_key=key, size_bytes=info.size, duration_s=1966.0)
    adapters.records.audio.add(item)
    path = f"/s/{make_token(root_for(adapters).keys.stream, item)}.mp3"

    env = {
        **os.environ,
        "USE_AWS": "false",
        "DATA_DIR": str(settings.data_dir),
        "SESSION_SECRET": TEST_SECRET,
        "PUBLIC_URL": base,
    }
    env.pop("AWS_ENDPOINT_URL", None)
    log = (tmp_path / "uvicorn.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        wait_http(f"{base}/api/health")
        yield base, path, data
    finally:
        stop(proc)
        log.close()


def test_random_ranges_of_a_30_mb_item_over_real_http(served: tuple[str, str, bytes]) -> None:
    base, path, data = served
    rng = random.Random(20261125)
    with httpx.Client(base_url=base, timeout=30) as client:
        full = client.get(path)
        assert full.status_code == 200
        assert full.headers["content-type"] == "audio/mpeg"
        assert int(full.headers["content-length"]) == SIZE
        assert full.content == data

        for i in range(REQUESTS):
            kind = i % 4
            if kind == 0:  # suffix
                n = rng.randint(1, 2_000_000)
                header, start, end = f"bytes=-{n}", SIZE - n, SIZE - 1
            elif kind == 1:  # open-ended
                start = rng.randrange(SIZE)
                header, end = f"bytes={start}-", SIZE - 1
                if SIZE - start > 4_000_000:  # keep the test quick: open-ended near the end
                    start = SIZE - rng.randint(1, 4_000_000)
                    header = f"bytes={start}-"
            else:  # closed, anywhere, sometimes one byte
                start = rng.randrange(SIZE)
                end = min(SIZE - 1, start + (0 if kind == 2 and i % 8 == 2 else rng.randint(0, 1_000_000)))
                header = f"bytes={start}-{end}"
            r = client.get(path, headers={"Range": header})
            assert r.status_code == 206, header
            assert r.headers["content-range"] == f"bytes {start}-{end}/{SIZE}", header
            assert int(r.headers["content-length"]) == end - start + 1
            assert r.content == data[start : end + 1], header

        r = client.get(path, headers={"Range": f"bytes={SIZE}-{SIZE + 10}"})
        assert r.status_code == 416
        assert client.get(path.replace(".mp3", "x.mp3")).status_code == 403
