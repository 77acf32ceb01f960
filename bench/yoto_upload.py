"""Time from a library item to a playable `yoto` card, against the fake cloud's transcode delay.

Each round, for each transcode delay, interleaved: a fresh 5-minute stereo MP3
(new bytes, so nothing is held) goes into the fake cloud's storage through
`services.yoto_storage.put_items` and the real uploader, then the card is
written (`YotoClient.save_card`) and read back playable. Two clients do it:
the baseline polls the transcode every 20 ms (the soonest anyone could see it
done), ours polls as in production (from 0.5 s, 1.5x to 5 s). Medians of the
whole time, and ours over the baseline: what our backoff and code add.

    .venv/bin/python bench/yoto_upload.py --seconds 300 --delays 0.5,2,10 --rounds 3
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.memory.records import MemoryRecords
from adapters.memory.storage import MemoryStorage
from adapters.yoto.audio_upload import YotoAudioUploader
from adapters.yoto.client import YotoClient
from core.records import AudioItem
from core.yoto.cloud import TokenGrant, YotoCard, YotoChapter
from services import yoto_storage
from services.yoto_storage import YotoStoragePorts
from services.yoto_tokens import YotoTokenService
from simulator.cloud import start_cloud
from tests.audio_fixtures import write_tone

ACCOUNT = "bench"


def one_round(
    ports: YotoStoragePorts, client: YotoClient, token: str, item: AudioItem, playable: Callable[[str], str]
) -> float:
    started = time.perf_counter()
    (done,) = yoto_storage.put_items(ports, ACCOUNT, [item])
    track = done.track(item.title)
    card = client.save_card(token, YotoCard(title="Bench", chapters=(YotoChapter(title=item.title, tracks=(track,)),)))
    assert card.card_id and playable(card.card_id).startswith("http")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="length of each test file")
    parser.add_argument("--delays", default="0.5,2", help="transcode delays to compare, comma-separated seconds")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    delays = [float(d) for d in args.delays.split(",")]

    import httpx

    with tempfile.TemporaryDirectory(prefix="yss-bench-yoto-") as tmp, start_cloud() as cloud:
        work = Path(tmp)
        records = MemoryRecords()
        client = YotoClient(api_url=cloud.api_url, auth_url=cloud.auth_url, client_id=cloud.client_id)
        tokens = YotoTokenService(records.tokens, records.counters, client)
        issued = cloud.issue_tokens()
        grant = TokenGrant(issued["access_token"], int(issued["expires_in"]), issued.get("refresh_token"))
        tokens.store_new_link(ACCOUNT, grant)
        token = tokens.access_token(ACCOUNT)
        uploaders = {
            "baseline": YotoAudioUploader(cloud.api_url, poll_first_s=0.02, poll_max_s=0.02),
            "ours": YotoAudioUploader(cloud.api_url),  # the production poll
        }
        storage = MemoryStorage()
        gate = threading.BoundedSemaphore(2)
        ports = {
            name: YotoStoragePorts(storage, up, records.settings, tokens, work / "scratch", gate)
            for name, up in uploaders.items()
        }
        http = httpx.Client(base_url=cloud.api_url, trust_env=False, timeout=30)
        auth = {"Authorization": f"Bearer {token}"}

        def playable(card_id: str) -> str:
            body = http.get(f"/content/{card_id}", params={"playable": "true"}, headers=auth)
            body.raise_for_status()
            return str(body.json()["card"]["content"]["chapters"][0]["tracks"][0]["trackUrl"])

        times: dict[tuple[float, str], list[float]] = {(d, name): [] for d in delays for name in ports}
        n = 0
        for _ in range(args.rounds):
            for delay in delays:
                cloud.configure(transcode_delay_s=delay)
                for name in ports:
                    n += 1
                    path = write_tone(work / f"t{n}.mp3", "mp3", seconds=args.seconds, channels=2, freq=200.0 + 7 * n)
                    key = f"audio/{ACCOUNT}/{n}.mp3"
                    info = storage.put_file(key, path, "audio/mpeg")
                    path.unlink()
                    item = AudioItem(f"item{n}", ACCOUNT, f"Story {n}", key, info.size, args.seconds)
                    times[(delay, name)].append(one_round(ports[name], client, token, item, playable))
        http.close()
        for up in uploaders.values():
            up.close()
        client.close()

    print(f"# upload to a playable yoto card, {args.seconds:.0f} s stereo MP3, {args.rounds} rounds, medians")
    print(f"# {platform.python_implementation()} {platform.python_version()}, {platform.machine()}")
    print("| transcode delay s | baseline (20 ms poll) s | ours s | ours / baseline |")
    print("|---|---|---|---|")
    for delay in delays:
        base, ours = (statistics.median(times[(delay, name)]) for name in ("baseline", "ours"))
        print(f"| {delay:.1f} | {base:.2f} | {ours:.2f} | {ours / base:.2f} |")


if __name__ == "__main__":
    main()
