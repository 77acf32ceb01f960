"""A playlist's `storage` (stream | yoto) on the composition root's memory adapters and the
in-process Yoto cloud (2 s manual transcode): the install's default, a `yoto` playlist's card
made from Yoto's storage, new items uploaded before the debounced rewrite (on the timer too),
the move between modes in place, Yoto's limits before any call, and a failed upload that
leaves the card as it was with the sync `failed` and why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import Conflict, Invalid, UpstreamRejected
from core.records import User
from services.playlist_cards import PlaylistCards
from services.playlists import Playlists
from tests.services.memory_root import add_item
from tests.services.test_yoto_cards import _audio, _tracks, _uploads
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

MUM = User("mum", is_admin=True, id="mum")
WINDOW_S = 4.0


class Timers:
    """The debounce's scheduler: each action waits here until the test runs it."""

    def __init__(self) -> None:
        self.waiting: list[Callable[[], None]] = []

    def __call__(self, _delay_s: float, action: Callable[[], None]) -> Timers:
        self.waiting.append(action)
        return self

    def cancel(self) -> None:
        self.waiting.clear()

    def run_all(self) -> int:
        actions, self.waiting = self.waiting, []
        for action in actions:
            action()
        return len(actions)


def _playlists(root: Root, cloud: InProcessCloud, timers: Timers) -> Playlists:
    r = root.records
    followers = PlaylistCards(
        root.cards, r.playlists, r.counters, debounce_s=WINDOW_S, timer=True, now=cloud.now, schedule=timers
    )
    return Playlists(r.playlists, followers)


def _with_settings(root: Root, **settings: object) -> Root:
    root.settings = root.settings.model_copy(update=settings)
    root.__dict__.pop("cards", None)
    return root


def test_a_new_playlist_gets_the_installs_default_and_a_mode_it_cannot_play_is_refused(
    root: Root, cloud: InProcessCloud, tmp_path: Path
) -> None:
    timers = Timers()
    public = _playlists(root, cloud, timers)
    assert public.create(MUM, "Public").playlist.storage == "stream"  # PUBLIC_URL https://family.example
    assert public.create(MUM, "Offline", storage="yoto").playlist.storage == "yoto"
    laptop = _playlists(
        _with_settings(root, public_url="http://127.0.0.1:8000", allow_http_public_url=False), cloud, timers
    )
    made = laptop.create(MUM, "Laptop")
    assert made.playlist.storage == "yoto" and root.records.playlists.get(made.playlist.id).storage == "yoto"
    with pytest.raises(Conflict, match="PUBLIC_URL"):
        laptop.create(MUM, "Streamed", storage="stream")
    with pytest.raises(Conflict, match="PUBLIC_URL"):
        laptop.update(MUM, made.playlist.id, storage="stream")
    with pytest.raises(Invalid, match="'stream' or 'yoto'"):
        laptop.create(MUM, "Cloud", storage="cloud")
    renamed = laptop.update(MUM, made.playlist.id, name="Laptop, again")
    assert renamed.playlist.storage == "yoto", "an edit that names no mode keeps the playlist's own"
    assert cloud.requests() == []


def test_a_yoto_playlists_card_plays_from_yotos_storage_and_new_items_upload_before_the_timers_write(
    root: Root, cloud: InProcessCloud, tmp_path: Path
) -> None:
    timers = Timers()
    playlists = _playlists(root, cloud, timers)
    a, b, c = (_audio(root, tmp_path, t, freq=f) for t, f in (("Owl", 440.0), ("Moon", 550.0), ("Star", 660.0)))
    pid = playlists.create(MUM, "Night", [a, b], storage="yoto").playlist.id
    card = playlists.make_card(MUM, pid)
    assert card.storage == "yoto" and root.records.cards.get(card.id).storage == "yoto"
    tracks = _tracks(cloud, card.yoto_card_id)
    assert [t["type"] for t in tracks] == ["audio", "audio"] and _uploads(cloud) == 2
    assert all(t["trackUrl"].startswith("yoto:#") and t["format"] and t["fileSize"] for t in tracks)
    # An item added inside the window is uploaded by the timer's write, the others are not sent again.
    edit = playlists.add_item(MUM, pid, c)
    assert edit.sync.state == "pending" and _uploads(cloud) == 2
    cloud.advance(WINDOW_S + 0.1)
    assert timers.run_all() == 1
    after = _tracks(cloud, card.yoto_card_id)
    assert _uploads(cloud) == 3 and [t["trackUrl"] for t in after[:2]] == [t["trackUrl"] for t in tracks]
    assert after[2]["type"] == "audio" and after[2]["trackUrl"].startswith("yoto:#")
    assert playlists.get(MUM, pid).sync.state == "synced" and list(cloud.cards()) == [card.yoto_card_id]


def test_changing_the_mode_rewrites_the_same_card_in_place(root: Root, cloud: InProcessCloud, tmp_path: Path) -> None:
    playlists = _playlists(root, cloud, Timers())
    a = _audio(root, tmp_path, "Owl")
    pid = playlists.create(MUM, "Night", [a]).playlist.id
    card = playlists.make_card(MUM, pid)
    assert card.storage == "stream" and _tracks(cloud, card.yoto_card_id)[0]["type"] == "stream"
    cloud.advance(WINDOW_S + 0.1)
    moved = playlists.update(MUM, pid, storage="yoto")
    assert moved.sync.state == "synced" and moved.playlist.storage == "yoto"
    assert moved.yoto_card_id == card.yoto_card_id and list(cloud.cards()) == [card.yoto_card_id]
    (track,) = _tracks(cloud, card.yoto_card_id)
    assert track["type"] == "audio" and track["trackUrl"].startswith("yoto:#")
    assert root.records.cards.get(card.id).storage == "yoto"
    cloud.advance(WINDOW_S + 0.1)
    back = playlists.update(MUM, pid, storage="stream")
    assert back.sync.state == "synced" and back.yoto_card_id == card.yoto_card_id
    assert (
        _tracks(cloud, card.yoto_card_id)[0]["type"] == "stream" and root.records.cards.get(card.id).storage == "stream"
    )


def test_a_yoto_playlist_over_yotos_limits_is_refused_before_any_call(root: Root, cloud: InProcessCloud) -> None:
    playlists = _playlists(root, cloud, Timers())
    hours = [add_item(root, f"Hour {n}", duration_s=3500.0) for n in range(6)]
    pid = playlists.create(MUM, "Marathon", hours, storage="yoto").playlist.id
    before = len(cloud.requests())
    with pytest.raises(Invalid, match="5 h a card may hold"):
        playlists.make_card(MUM, pid)
    assert len(cloud.requests()) == before and root.records.playlists.get(pid).card_id is None


def test_a_failed_upload_leaves_the_card_as_it_was_and_the_sync_says_failed_and_why(
    root: Root, cloud: InProcessCloud, tmp_path: Path
) -> None:
    playlists = _playlists(root, cloud, Timers())
    a, b = _audio(root, tmp_path, "Owl"), _audio(root, tmp_path, "Moon", freq=660.0)
    pid = playlists.create(MUM, "Night", [a], storage="yoto").playlist.id
    card = playlists.make_card(MUM, pid)
    held = cloud.card(str(card.yoto_card_id))
    cloud.advance(WINDOW_S + 0.1)
    cloud.fail_transcode(message="Unsupported audio")
    edit = playlists.add_item(MUM, pid, b)
    assert edit.playlist.audio_ids == (a, b)  # the playlist is the truth
    assert edit.sync.state == "failed"
    assert "track 2 “Moon” could not go to Yoto" in str(edit.sync.detail) and "Unsupported audio" in str(
        edit.sync.detail
    )
    assert cloud.card(str(card.yoto_card_id)) == held and root.records.cards.get(card.id).audio_ids == (a,)
    # Over the limits later: the sync fails naming the limit, and nothing is sent.
    big = add_item(root, "Big", duration_s=30 * 60.0, size_bytes=120 * 1024 * 1024)  # a long one is cut instead
    sent = len(cloud.requests())
    over = playlists.add_item(MUM, pid, big)
    assert over.sync.state == "failed" and "a track may be (YOTO_MAX_TRACK_MB)" in str(over.sync.detail)
    assert len(cloud.requests()) == sent
    playlists.remove_item(MUM, pid, 2)
    assert playlists.get(MUM, pid).sync.state == "synced"  # the transcode fault was one-off: the retry sends b
    assert [t["type"] for t in _tracks(cloud, card.yoto_card_id)] == ["audio", "audio"]


def test_making_a_yoto_playlists_card_when_an_upload_fails_makes_nothing_and_says_which_track(
    root: Root, cloud: InProcessCloud, tmp_path: Path
) -> None:
    playlists = _playlists(root, cloud, Timers())
    a, b = _audio(root, tmp_path, "Owl"), _audio(root, tmp_path, "Moon", freq=660.0)
    pid = playlists.create(MUM, "Night", [a, b], storage="yoto").playlist.id
    cloud.fail_transcode(message="Unsupported audio")
    with pytest.raises(UpstreamRejected, match=r"could not go to Yoto: .*Unsupported audio"):
        playlists.make_card(MUM, pid)
    assert cloud.cards() == {} and root.records.playlists.get(pid).card_id is None
    assert root.records.cards.list(owner=None, limit=10, cursor=None).items == []
    card = playlists.make_card(MUM, pid)  # the retry sends only the track that failed
    assert [t["type"] for t in _tracks(cloud, card.yoto_card_id)] == ["audio", "audio"] and _uploads(cloud) == 3
    with pytest.raises(Conflict, match="add items"):
        playlists.make_card(MUM, playlists.create(MUM, "Empty", storage="yoto").playlist.id)
