"""Migration throughput against the moto server: objects/s and MB/s.

A local install of `--objects` audio objects of `--size-kb` each (plus three
users and one playlist and card) is migrated to AWS on a moto server started
here on 127.0.0.1, in-process through `services.migration.migrate`. Per round
(fresh target each time, rounds interleaved):
- `baseline`: every object written once with `S3Storage.put_file`, nothing else:
  the floor any copy to S3 costs here.
- `migrate`: the whole run: survey, users, objects and records, then the
  verification (SHA-256 of every object on both sides, every record read back).
- `copy phase`: the migrate run's copy alone (from its progress events).
- `second run`: the same migration again: nothing to copy, everything verified.
Figures: medians of the rounds; objects/s and MB/s count the source objects;
the ratio is each median over the baseline's. moto keeps objects in memory in
one process, so against S3 the network sets the pace instead: read ratios.

Run: .venv/bin/python bench/migrate.py [--objects 100] [--size-kb 1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-2",
    "AWS_REGION": "eu-west-2",
}


class Phases:
    """A `Progress` that notes when each phase began and ended."""

    def __init__(self) -> None:
        self.began: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self._phase = ""

    def begin(self, phase: str, *, items: int, total_bytes: int) -> None:
        self._phase = phase
        self.began[phase] = time.perf_counter()

    def advance(self, *, items: int = 1, done_bytes: int = 0) -> None:
        pass

    def say(self, line: str) -> None:
        pass

    def end(self) -> None:
        self.ended[self._phase] = time.perf_counter()

    def took(self, phase: str) -> float:
        return self.ended[phase] - self.began[phase]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=100)
    parser.add_argument("--size-kb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(AWS_ENV)

    from adapters import Adapters
    from adapters.aws.bootstrap import create_resources
    from core.records import AudioItem, Card, Playlist
    from core.settings import Settings
    from services.migration import Options, Side, migrate
    from tests.servers import moto_reset, moto_server

    work = Path(tempfile.mkdtemp(prefix="bench-migrate-"))
    local = Settings(use_aws=False, data_dir=work / "laptop", session_secret="bench-secret-" + "x" * 40)
    source = Adapters(local)
    rng = random.Random(5)
    files: list[tuple[str, Path]] = []
    for name, admin in (("anna", True), ("ben", False), ("cara", False)):
        source.identity.create_user(name, f"{name} has a long passphrase", is_admin=admin)
    for n in range(args.objects):
        key = f"audio/item{n:05d}.mp3"
        info = source.storage.put_bytes(key, rng.randbytes(args.size_kb * 1024), "audio/mpeg")
        item = AudioItem(f"item{n:05d}", "anna", f"Story {n}", key, info.size, 60.0)
        source.records.audio.add(item)
        files.append((key, source.storage.local_path(key)))  # type: ignore[arg-type]
    ids = tuple(f"item{n:05d}" for n in range(min(args.objects, 10)))
    source.records.playlists.add(Playlist("pl1", "anna", "Trip", ids))
    source.records.cards.add(Card("c1", "anna", "Card", playlist_id="pl1"))
    source.records.close()  # type: ignore[attr-defined]
    total_mb = args.objects * args.size_kb / 1024

    times: dict[str, list[float]] = {"baseline": [], "migrate": [], "copy phase": [], "second run": []}
    with moto_server(work) as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint

        def fresh_target() -> Adapters:
            moto_reset(endpoint)
            base = Settings(use_aws=True, aws_region="eu-west-2", data_dir=work)
            res = create_resources(base)
            target = Adapters(res.settings_for(base, session_secret=local.session_secret))
            # clients made and connected before any clock starts
            target.records.settings.list_keys()
            target.identity.list_users()
            target.storage.delete("warm-up")
            return target

        reader = Adapters(local, read_only=True)
        side = Side(reader.records, reader.storage, reader.identity, "local")
        for _ in range(args.rounds):
            target = fresh_target()
            started = time.perf_counter()
            for key, path in files:
                target.storage.put_file(key, path, "audio/mpeg")
            times["baseline"].append(time.perf_counter() - started)

            target = fresh_target()
            to = Side(target.records, target.storage, target.identity, "aws")
            phases = Phases()
            started = time.perf_counter()
            report = migrate(side, to, target.hasher, Options("to-aws"), progress=phases)
            times["migrate"].append(time.perf_counter() - started)
            times["copy phase"].append(phases.took("copy"))
            assert report.ok and report.copied == 3 + 2 * args.objects + 2, report.summary()

            started = time.perf_counter()
            again = migrate(side, to, target.hasher, Options("to-aws"))
            times["second run"].append(time.perf_counter() - started)
            assert again.ok and again.copied == 0, again.summary()

    base = statistics.median(times["baseline"])
    print(f"{args.objects} objects x {args.size_kb} KB ({total_mb:.1f} MB), {args.rounds} rounds, medians")
    print(f"{'case':<12} {'seconds':>8} {'objects/s':>10} {'MB/s':>8} {'x baseline':>11}")
    for case, values in times.items():
        median = statistics.median(values)
        rates = f"{args.objects / median:>10.1f} {total_mb / median:>8.1f}"
        print(f"{case:<12} {median:>8.2f} {rates} {median / base:>11.2f}")


if __name__ == "__main__":
    main()
