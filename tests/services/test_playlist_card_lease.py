"""The write lease of a playlist's card (`services.playlist_cards` over `services.leases`)
on the in-process Yoto cloud's manual clock: a `yoto` playlist's upload that outlasts a
lease slice many times over (a 780 s transcode) keeps its lease by renewing it, so a
second writer (another process: its own `PlaylistCards` over the same records) is turned
away until the first is done; a writer that died without letting go frees it two slices on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from adapters.yoto.audio_upload import YotoAudioUploader
from core.errors import Conflict
from core.records import User
from services.leases import Lease
from services.playlist_cards import LEASE_SLICE_S, PlaylistCards, SyncState
from services.playlists import Playlists
from tests.services.memory_root import linked_admin_root
from tests.services.test_playlist_cards import ManualTimers
from tests.services.test_yoto_cards import _audio
from tests.yoto_inprocess import BASE_URL, InProcessCloud
from wiring import Root

MUM = User("mum", is_admin=True, id="mum")
WINDOW_S = 4.0
TRANSCODE_S = 780.0  # a long file's transcode, as Yoto has taken: 13 lease slices' worth


@dataclass
class Meanwhile:
    """What the upload's poll waits do besides moving the clock: run the renewals that are
    due, and once (`after_s` into the upload) let the second writer try."""

    cloud: InProcessCloud
    renewals: ManualTimers
    after_s: float = 300.0
    second: Callable[[], object] | None = None
    outcome: list[object] = field(default_factory=list)
    started: float | None = None
    renewed: int = 0

    def sleep(self, seconds: float) -> None:
        if self.started is None:
            self.started = self.cloud.state.clock.now()
        self.cloud.settle_then_advance(seconds)
        self.renewed += self.renewals.run_due()
        now = self.cloud.state.clock.now()
        if self.second is not None and not self.outcome and now - self.started >= self.after_s:
            try:
                self.outcome.append(self.second())
            except Conflict as exc:
                self.outcome.append(exc)

    def waited(self) -> float:
        return self.cloud.state.clock.now() - (self.started or 0.0)


@pytest.fixture
def slow_cloud() -> InProcessCloud:
    cloud = InProcessCloud()
    cloud.configure(transcode_delay_s=TRANSCODE_S)
    return cloud


def _rig(cloud: InProcessCloud, tmp_path: Path) -> tuple[Root, Meanwhile, PlaylistCards, PlaylistCards]:
    """A root whose uploader's waits go through `Meanwhile`, and two writers over its records."""
    root = linked_admin_root(cloud, tmp_path)
    renewals = ManualTimers(cloud.now)
    meanwhile = Meanwhile(cloud, renewals)
    root.adapters.yoto_uploader = YotoAudioUploader(
        BASE_URL, transport=cloud.transport, sleep=meanwhile.sleep, clock=lambda: cloud.state.clock.now()
    )
    r = root.records

    def writer(**kw: object) -> PlaylistCards:
        return PlaylistCards(root.cards, r.playlists, r.counters, debounce_s=WINDOW_S, timer=False, now=cloud.now, **kw)  # type: ignore[arg-type]

    return root, meanwhile, writer(renew=renewals), writer()


def test_a_second_writer_is_turned_away_while_the_first_still_uploads_the_new_card(
    slow_cloud: InProcessCloud, tmp_path: Path
) -> None:
    root, meanwhile, first, second = _rig(slow_cloud, tmp_path)
    pid = Playlists(root.records.playlists, first).create(MUM, "Night", [_audio(root, tmp_path, "Owl")], storage="yoto")
    meanwhile.second = lambda: second.create(MUM, pid.playlist.id)
    card, _, _ = first.create(MUM, pid.playlist.id)
    (refused,) = meanwhile.outcome
    assert isinstance(refused, Conflict) and str(refused) == "a card is being made for this playlist right now"
    assert meanwhile.waited() >= TRANSCODE_S > 2 * LEASE_SLICE_S  # the upload outlived an unrenewed lease
    assert list(slow_cloud.cards()) == [card.yoto_card_id]
    assert meanwhile.renewed >= TRANSCODE_S // (LEASE_SLICE_S / 3) - 1  # renewed all along
    assert not meanwhile.renewals.live()  # and no more once the card was made


def test_a_second_sync_of_the_same_version_waits_while_the_first_uploads_the_new_item(
    slow_cloud: InProcessCloud, tmp_path: Path
) -> None:
    root, meanwhile, first, second = _rig(slow_cloud, tmp_path)
    playlists = Playlists(root.records.playlists, first)
    pid = playlists.create(MUM, "Night", [_audio(root, tmp_path, "Owl")], storage="yoto").playlist.id
    first.create(MUM, pid)
    slow_cloud.advance(WINDOW_S + 0.1)
    meanwhile.started, meanwhile.outcome, meanwhile.renewed = None, [], 0
    moon = _audio(root, tmp_path, "Moon", freq=660.0)
    meanwhile.second = lambda: second.sync(root.records.playlists.get(pid))
    assert playlists.add_item(MUM, pid, moon).sync.state == "synced"
    assert meanwhile.outcome == [SyncState("pending", due_in_s=0.0, detail="another request is writing this card")]
    assert meanwhile.waited() >= TRANSCODE_S and meanwhile.renewed >= TRANSCODE_S // (LEASE_SLICE_S / 3) - 1
    assert playlists.get(MUM, pid).sync.state == "synced" and not meanwhile.renewals.live()


def test_a_writer_that_died_holding_the_lease_frees_it_two_slices_on(cloud: InProcessCloud, tmp_path: Path) -> None:
    root, _, first, _ = _rig(cloud, tmp_path)
    pid = Playlists(root.records.playlists, first).create(MUM, "Night", [_audio(root, tmp_path, "Owl")], storage="yoto")
    dead = Lease(
        root.records.counters,
        f"playlist-card:{pid.playlist.id}",
        slice_s=LEASE_SLICE_S,
        clock=lambda: cloud.now().timestamp(),
    )
    assert dead.claim()  # and its process ended: nothing renews or releases it
    with pytest.raises(Conflict, match="being made"):
        first.create(MUM, pid.playlist.id)
    cloud.advance(LEASE_SLICE_S)
    with pytest.raises(Conflict, match="being made"):
        first.create(MUM, pid.playlist.id)
    cloud.advance(LEASE_SLICE_S)
    card, _, _ = first.create(MUM, pid.playlist.id)
    assert list(cloud.cards()) == [card.yoto_card_id]
