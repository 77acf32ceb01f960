"""The family's upload gate (`services.card_uploads.upload_gate`) as `services.yoto_storage`
passes it, on the memory root and the in-process Yoto cloud: two processes (each its own
`YotoStoragePorts` and gate over the same counters) uploading at once run at most
YOTO_UPLOADS_AT_ONCE uploads between them, where a gate per process let each run that many."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.yoto.uploads import Transcoded
from services import yoto_storage
from services.card_uploads import upload_gate
from tests.services.test_yoto_cards import _audio
from wiring import Root


class Counting:
    """The root's uploader, counting the uploads under way (each held a little, so they meet)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.running = self.most = self.done = 0
        self.lock = threading.Lock()

    def upload(self, *args: Any, **kwargs: Any) -> Transcoded:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.05)
            return self.inner.upload(*args, **kwargs)
        finally:
            with self.lock:
                self.running -= 1
                self.done += 1


def test_two_processes_uploading_at_once_share_the_familys_two_slots(root: Root, tmp_path: Path) -> None:
    counting = Counting(root.yoto_media.uploader)
    processes = [
        replace(root.yoto_media, uploader=counting, gate=upload_gate(root.records.counters, root.settings, poll_s=0.01))
        for _ in range(2)
    ]
    assert root.settings.yoto_uploads_at_once == 2 and all(p.at_once == 2 for p in processes)
    items = [
        [root.records.audio.get(_audio(root, tmp_path, f"P{p} {n}", freq=300.0 + 40 * (3 * p + n))) for n in range(3)]
        for p in range(2)
    ]
    got: list[object] = [None, None]

    def run(p: int) -> None:
        got[p] = yoto_storage.put_items(processes[p], "mum", items[p])

    threads = [threading.Thread(target=run, args=(p,)) for p in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(isinstance(g, list) and len(g) == 3 for g in got), got
    assert counting.done == 6 and counting.most == 2  # never four (two per process), but two
