"""A family with something of every exported kind, written through the ports, and ways to
open a backup ZIP: its audio entries' bytes and its manifest (read with zipfile, not the code under test)."""

from __future__ import annotations

import io
import json
import random
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

from core.ports import AudioStorage, Records
from core.records import AudioItem, Card, Job, Playlist, Podcast, Routine, Story

T0 = datetime(2026, 11, 1, 18, 30, 0, 123456, tzinfo=UTC)
# Sizes across the export's 1 MiB pieces: one object spans two of them.
SIZES = (40_000, 1_500_000, 7)


def populate(records: Records, storage: AudioStorage, *, seed: int = 7) -> list[AudioItem]:
    rng = random.Random(seed)
    items = []
    for n, size in enumerate(SIZES):
        item_id = f"item{seed}x{n}"
        key = f"audio/{item_id}.mp3"
        data = b"\xff\xfb" + rng.randbytes(size)
        info = storage.put_bytes(key, data, "audio/mpeg")
        item = AudioItem(
            id=item_id,
            owner="mum" if n % 2 == 0 else "kid",
            title=f"Owl story {n}",
            storage_key=key,
            size_bytes=info.size,
            duration_s=61.25 + n,
            source="tts" if n == 1 else "upload",
            created_at=T0 + timedelta(seconds=n),
            loudness_lufs=-16.0,
            gain_db=1.5 if n else None,
        )
        records.audio.add(item)
        items.append(item)
    ids = tuple(i.id for i in items)
    records.playlists.add(
        Playlist(id="pl1", owner="mum", name="Bedtime", audio_ids=ids[:2], version=3, card_id="card1", created_at=T0)
    )
    records.cards.add(
        Card(
            id="card1",
            owner="mum",
            title="Bedtime",
            yoto_card_id="yoto-7Hx2",
            playlist_id="pl1",
            audio_ids=ids[:2],
            track_titles=("", "The owl"),
            synced_version=3,
            synced_at=T0,
            created_at=T0,
        )
    )
    records.cards.add(Card(id="card2", owner="kid", title="Spy", yoto_card_id="yoto-9Qq1", story_id="st1"))
    held = [{"guid": "ep-1", "title": "Episode 1", "audio_ids": [ids[2]]}]
    records.podcasts.add(
        Podcast(id="pod1", owner="mum", feed_url="https://feeds.example/owls.xml", title="Owls", held=held, etag='"a"')
    )
    steps = [{"action": "volume", "volume": 4}, {"action": "stop"}]
    records.routines.add(Routine(id="rt1", owner="mum", name="Lights out", player_id="p-1", at="19:30", steps=steps))
    records.jobs.add(Job(id="rt1", owner="mum", kind="routine", at="19:30", days=("mon", "tue"), next_run_at=T0))
    scenes = [
        {"id": "door", "title": "Door", "audio_id": ids[0], "left": "home", "right": None, "next": None},
        {"id": "home", "title": "Home", "audio_id": ids[1], "ending": True},
    ]
    records.stories.add(Story(id="st1", owner="kid", title="Spy", start="door", scenes=scenes, card_id="card2"))
    return items


def opened(archive: bytes) -> tuple[dict[str, bytes], dict[str, Any]]:
    """(path -> bytes of every audio entry, the manifest)."""
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        audio = {n: z.read(n) for n in z.namelist() if n != "manifest.json"}
        return audio, json.loads(z.read("manifest.json"))


def rewritten(archive: bytes, change: dict[str, bytes]) -> bytes:
    """The same archive with some entries' bytes replaced (or added)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, change.pop(info.filename, None) or source.read(info))
        for name, data in change.items():
            target.writestr(name, data)
    return out.getvalue()
