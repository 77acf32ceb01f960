"""A card write that must first upload audio to Yoto's storage, run as a job.

`write` makes the card in the request when nothing needs uploading (a streaming
card, or a `yoto` card whose items Yoto holds already); otherwise it records
the wanted write beside a `card-upload` run and hands the run to the workers,
whose `run_upload` reports each track's progress in the run's results and
writes the card when every track is ready; `upload_gate` holds the family to
YOTO_UPLOADS_AT_ONCE uploads across every process (docs/cards.md, "Uploads").
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from core.errors import Conflict, NotFound
from core.ports import CounterRepository, RunQueue, RunRepository, SettingsRepository
from core.records import Card, Run, User, new_id
from core.settings import Settings
from services import cards, jobs
from services.card_content import CardPorts, UserLookup
from services.cards import CardSpec, TrackSpec
from services.leases import CountedLease
from services.yoto_storage import TrackProgress

KIND = "card-upload"
PROGRESS_EVERY_S = 1.0  # at most one progress write a second per run (and each phase change)
SLOTS_KEY = "yoto-uploads"  # the family's upload slots in the counters
SLOT_SLICE_S = 60.0  # a worker that dies mid-upload frees its slot within two of these


def upload_gate(counters: CounterRepository, settings: Settings, **options: Any) -> CountedLease:
    """The gate every upload to Yoto's storage passes (`YotoStoragePorts.gate`): at most
    YOTO_UPLOADS_AT_ONCE of the family's at once across processes and Lambdas, a slot held
    for as long as its upload runs; a waiter gives up after YOTO_TRANSCODE_WAIT_S.
    `options`: `CountedLease`'s clock, sleep and scheduler (tests)."""
    slots = max(1, settings.yoto_uploads_at_once)
    return CountedLease(
        counters, SLOTS_KEY, slots, slice_s=SLOT_SLICE_S, wait_s=settings.yoto_transcode_wait_s, **options
    )


def pending_key(run_id: str) -> str:
    return f"card-upload:{run_id}"


@dataclass(frozen=True)
class UploadPorts:
    cards: CardPorts
    runs: RunRepository
    queue: RunQueue
    settings: SettingsRepository
    users: UserLookup


@dataclass(frozen=True)
class Written:
    """A card written in the request (`card`), or the run that will write card `card_id`."""

    card_id: str
    card: Card | None = None
    run: Run | None = None


def write(ports: UploadPorts, user: User, spec: CardSpec, card_id: str | None = None) -> Written:
    """Create (no `card_id`) or rewrite a card; every refusal a write gives comes here, before any job."""
    missing = cards.missing_uploads(ports.cards, user, spec, card_id)
    if not missing:
        return Written(card_id or "", card=_apply(ports.cards, user, spec, card_id, None))
    if card_id is not None:
        busy = jobs.active_run(ports.runs, card_id)
        if busy is not None:
            raise Conflict(f"this card is uploading already (run {busy.id}, {busy.status})", run_id=busy.id)
    target = card_id or new_id()
    owner = ports.cards.cards.get(card_id).owner if card_id else user.owner_id
    run = jobs.new_run(KIND, target, owner, "manual")
    ports.settings.put(pending_key(run.id), _pending(user, spec, target, create=card_id is None))
    try:
        queued = jobs.start(ports.runs, ports.queue, run)
    except BaseException:
        with contextlib.suppress(NotFound):
            ports.settings.delete(pending_key(run.id))
        raise
    if queued:
        return Written(target, run=run)
    done = jobs.execute(ports.runs, {KIND: lambda r: run_upload(ports, r)}, run.id)
    return Written(target, card=_card_or_none(ports, target), run=done)


def _card_or_none(ports: UploadPorts, card_id: str) -> Card | None:
    try:
        return ports.cards.cards.get(card_id)
    except NotFound:
        return None


def _apply(
    ports: CardPorts,
    user: User,
    spec: CardSpec,
    card_id: str | None,
    on_progress: Callable[[TrackProgress], None] | None,
    *,
    new_card_id: str | None = None,
) -> Card:
    if card_id is None:
        return cards.create(ports, user, spec, card_id=new_card_id, on_progress=on_progress)
    return cards.update(ports, user, card_id, spec, on_progress=on_progress)


def _pending(user: User, spec: CardSpec, card_id: str, *, create: bool) -> dict[str, Any]:
    return {
        "by": user.owner_id,
        "card_id": card_id,
        "create": create,
        "spec": {**asdict(spec), "tracks": [asdict(t) for t in spec.tracks]},
    }


def _spec_of(body: dict[str, Any]) -> CardSpec:
    spec = dict(body["spec"])
    spec["tracks"] = [TrackSpec(**t) for t in spec["tracks"]]
    return CardSpec(**spec)


class _Reporter:
    """Writes the tracks' progress into the running run's results, throttled."""

    def __init__(self, runs: RunRepository, run: Run, clock: Callable[[], float] = time.monotonic) -> None:
        self._runs, self._run_id, self._clock = runs, run.id, clock
        self._tracks: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._last = 0.0

    @property
    def results(self) -> list[dict[str, Any]]:
        return [self._tracks[i] for i in sorted(self._tracks)]

    def __call__(self, p: TrackProgress) -> None:
        with self._lock:
            before = self._tracks.get(p.index, {}).get("phase")
            self._tracks[p.index] = {
                "track": p.index + 1,
                "audio_id": p.item_id,
                "title": p.title,
                "phase": p.phase,
                "percent": p.percent,
            }
            now = self._clock()
            if before == p.phase and now - self._last < PROGRESS_EVERY_S:
                return
            self._last = now
            results = self.results
        jobs.report(self._runs, self._run_id, results)


def run_upload(ports: UploadPorts, run: Run) -> jobs.Outcome:
    """The queued write of `run`: upload what Yoto lacks, then write the card (all or nothing)."""
    try:
        body = ports.settings.get(pending_key(run.id))
    except NotFound:
        return jobs.Outcome("failed", "the write this upload was for is gone")
    try:
        user = ports.users.get_user(body["by"])
        reporter = _Reporter(ports.runs, run)
        card_id = None if body["create"] else body["card_id"]
        card = _apply(ports.cards, user, _spec_of(body), card_id, reporter, new_card_id=body["card_id"])
        results = [{**r, "phase": "complete", "percent": 100} for r in reporter.results]
        return jobs.Outcome("ok", f"card {card.id} written", results)
    finally:
        with contextlib.suppress(NotFound):
            ports.settings.delete(pending_key(run.id))
