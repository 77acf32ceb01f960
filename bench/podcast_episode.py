"""Time to turn a podcast episode into a card, against normalising it alone.

Each round, interleaved: (a) the baseline, `services.ingest.ingest` of the
episode file (the normalising pipeline every item takes); (b) the whole
podcast path: `services.podcasts.create` on a feed served on 127.0.0.1, which
reads the feed, streams the enclosure to a scratch file through the URL
check, ingests it and writes the card on the Yoto simulator. The figure is
the median of (b) and the ratio (b) / (a): what fetching, parsing and the
card write add on top of the transcode.

    .venv/bin/python bench/podcast_episode.py --minutes 30 --rounds 3
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters import Adapters
from core.records import User
from core.settings import Settings
from services import podcasts
from services.ingest import ingest
from simulator.cloud import start_cloud
from tests.audio_fixtures import write_tone
from tests.feeds import FeedServer, Served, rss
from tests.scheduled.conftest import link_account
from wiring import root_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="episode length")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-podcast-"))
    episode = write_tone(work / "episode.mp3", "mp3", seconds=args.minutes * 60, channels=2).read_bytes()
    feeds = FeedServer()
    feeds.thread.start()
    baseline: list[float] = []
    whole: list[float] = []
    with start_cloud(access_ttl_s=3600) as cloud:
        env = cloud.env()
        settings = Settings(
            data_dir=work / "data",
            session_secret="bench-secret-not-for-production-0123456789",
            allow_private_feeds=True,
            allow_http_public_url=True,
            scheduler_enabled=False,
            yoto_api_url=env["YOTO_API_URL"],
            yoto_auth_url=env["YOTO_AUTH_URL"],
            yoto_client_id=env["YOTO_CLIENT_ID"],
        )
        adapters = Adapters(settings)

        link_account(adapters, cloud, "bench")
        user = User("bench", is_admin=True)
        ports = root_for(adapters).podcasts
        ingest_ports = root_for(adapters).ingest
        for n in range(args.rounds):
            src = work / f"copy-{n}.mp3"
            src.write_bytes(episode)
            started = time.perf_counter()
            ingest(ingest_ports, src, owner="bench", title="baseline")
            baseline.append(time.perf_counter() - started)

            path = f"/ep{n}.mp3"
            feeds.routes[path] = Served(200, episode, {"Content-Type": "audio/mpeg"})
            feed = rss("Bench", [(f"g{n}", f"Episode {n}", "Mon, 01 Jun 2026 07:00:00 GMT", feeds.url + path)])
            feeds.routes[f"/feed{n}.xml"] = Served(200, feed, {"Content-Type": "application/rss+xml"})
            started = time.perf_counter()
            podcast, run, queued = podcasts.create(ports, user, feed_url=f"{feeds.url}/feed{n}.xml", episodes=1)
            while queued and adapters.records.runs.get(run.id).status in ("queued", "running"):
                time.sleep(0.01)  # the first run fills the card on a worker: the path ends when it has
            whole.append(time.perf_counter() - started)
            podcast = podcasts.get(ports, podcast.id)
            assert podcast.yoto_card_id and cloud.card(podcast.yoto_card_id) is not None
    feeds.server.shutdown()
    shutil.rmtree(work, ignore_errors=True)

    b, w = statistics.median(baseline), statistics.median(whole)
    print(f"# podcast episode → card ({platform.machine()}, Python {platform.python_version()})")
    print(f"episode: {args.minutes:g} min MP3 ({len(episode) / 1e6:.1f} MB), {args.rounds} interleaved rounds, medians")
    print(f"normalise only (ingest):            {b:7.2f} s")
    print(f"feed → download → ingest → card:    {w:7.2f} s")
    print(f"ratio (whole / normalise only):     {w / b:7.2f}")


if __name__ == "__main__":
    main()
