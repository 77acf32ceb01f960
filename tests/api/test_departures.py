"""A deleted member leaves nothing a later member of the same name inherits (issue
18, finding 3), over real HTTP: uvicorn on 127.0.0.1 (both adapter sets), the fake
Yoto cloud and a feed host on 127.0.0.1, and the members' own Yoto logins.

The member is made as one made before member ids existed (on the identity side
only, so their id is their name); the newcomer is made by the admin over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from simulator.cloud import RunningCloud
from tests import yoto_sim
from tests.api.conftest import ADMIN, MEMBER
from tests.api.linked_family import Family, finished, linked_family, serve_podcast
from tests.waiting import eventually

yoto_cloud = yoto_sim.yoto_cloud
NEWCOMER_PASSWORD = "a different long password"


@pytest.fixture
def family(backend_settings: Settings, yoto_cloud: RunningCloud, tmp_path: Path) -> Iterator[Family]:
    with linked_family(backend_settings, yoto_cloud, tmp_path) as built:
        yield built


@dataclass
class Made:
    item: str
    card: str
    playlist: str
    playlist_card: str
    routine: str
    podcast: str


def member_makes_everything(family: Family, kid: httpx.Client) -> Made:
    """The issue's scenario: a linked member with an item, a card, a playlist with a
    card, a routine and a podcast (its card made by its first run)."""
    family.link(kid, "kid-yoto")
    r = kid.post("/api/audio", files={"file": ("lullaby.mp3", family.tone, "audio/mpeg")})
    assert r.status_code == 201, r.text
    item = r.json()["id"]
    r = kid.post("/api/cards", json={"title": "Kid's card", "tracks": [{"audio_id": item}]})
    assert r.status_code == 201, r.text
    card = r.json()["id"]
    r = kid.post("/api/playlists", json={"name": "Car trip", "audio_ids": [item]})
    assert r.status_code == 201, r.text
    playlist = r.json()["id"]
    r = kid.post(f"/api/playlists/{playlist}/card")
    assert r.status_code == 201, r.text
    playlist_card = r.json()["id"]
    steps = [{"action": "volume", "volume": 30}]
    r = kid.post(
        "/api/routines",
        json={"name": "Bedtime", "player_id": "kids-room", "at": "19:00", "days": ["mon"], "steps": steps},
    )
    assert r.status_code == 201, r.text
    routine = r.json()["id"]
    r = kid.post("/api/podcasts", json={"feed_url": serve_podcast(family), "episodes": 1})
    assert finished(kid, r)["status"] == "ok"
    podcast = r.json()["id"]
    assert kid.get(f"/api/podcasts/{podcast}").json()["yoto_card_id"]
    return Made(item, card, playlist, playlist_card, routine, podcast)


def newcomer(family: Family, admin: httpx.Client) -> httpx.Client:
    r = admin.post("/api/users", json={"username": MEMBER[0], "password": NEWCOMER_PASSWORD})
    assert r.status_code == 201, r.text
    return family.login((MEMBER[0], NEWCOMER_PASSWORD))


def assert_owns_nothing(new: httpx.Client, made: Made | None = None) -> None:
    status = new.get("/api/yoto/status").json()
    assert (status["linked"], status["login_pending"], status["device_login_pending"]) == (False, False, False)
    assert new.get("/api/audio", params={"mine": "true"}).json()["items"] == []
    assert new.get("/api/audio/usage").json()["items"] == 0
    assert new.get("/api/cards").json()["items"] == []
    assert new.get("/api/playlists").json()["items"] == []
    assert new.get("/api/routines", params={"mine": "true"}).json()["items"] == []
    assert new.get("/api/podcasts", params={"mine": "true"}).json()["items"] == []
    if made is not None:  # the deleted member's cards and playlists are not the newcomer's to see
        assert new.get(f"/api/cards/{made.card}").status_code == 404
        assert new.get(f"/api/playlists/{made.playlist}").status_code == 404


def test_a_new_member_with_a_deleted_members_name_inherits_nothing(family: Family) -> None:
    admin, kid = family.login(ADMIN), family.login(MEMBER)
    family.link(admin, "mum-yoto")
    family.cloud.add_device("kid-player", "Kid's Yoto", account="kid-yoto")
    made = member_makes_everything(family, kid)
    assert "kid-player" in [p["id"] for p in admin.get("/api/players").json()["items"]]

    assert admin.delete(f"/api/users/{MEMBER[0]}").status_code == 204
    assert kid.get("/api/auth/me").status_code == 401
    new = newcomer(family, admin)
    assert_owns_nothing(new, made)

    # The old routine and podcast are the admin's: the newcomer may read them (family-wide) but not change or run them.
    routine = new.get(f"/api/routines/{made.routine}").json()
    assert routine["owner"] == ADMIN[0]
    body = {k: routine[k] for k in ("name", "player_id", "at", "days", "steps")}
    assert new.put(f"/api/routines/{made.routine}", json={**body, "name": "Mine now"}).status_code == 403
    assert new.post(f"/api/routines/{made.routine}/run").status_code == 403
    assert new.delete(f"/api/routines/{made.routine}").status_code == 403
    podcast = new.get(f"/api/podcasts/{made.podcast}").json()
    assert (podcast["owner"], podcast["card_id"], podcast["yoto_card_id"]) == (ADMIN[0], None, None)
    assert new.patch(f"/api/podcasts/{made.podcast}", json={"title": "Mine"}).status_code == 403
    assert new.post(f"/api/podcasts/{made.podcast}/refresh").status_code == 403
    # The deleted member's Yoto account is nobody's any more: its players are gone from the family's list.
    assert "kid-player" not in [p["id"] for p in new.get("/api/players").json()["items"]]
    assert family.adapters.records.tokens.list_accounts() == [ADMIN[0]]

    # What the admin inherited: the item (a new stream key), the playlist without its card; no card records.
    assert made.item in [i["id"] for i in admin.get("/api/audio", params={"mine": "true"}).json()["items"]]
    playlist = admin.get(f"/api/playlists/{made.playlist}").json()
    assert (playlist["owner"], playlist["card_id"]) == (ADMIN[0], None)
    everyone = admin.get("/api/cards", params={"everyone": "true"}).json()["items"]
    assert {made.card, made.playlist_card} & {c["id"] for c in everyone} == set()
    jobs = {j.id: j.owner for j in family.adapters.records.jobs.list().items}
    assert jobs == {made.routine: ADMIN[0], made.podcast: ADMIN[0]}
    # The podcast refreshes as the admin: its next run makes a card on the admin's Yoto account.
    assert finished(admin, admin.post(f"/api/podcasts/{made.podcast}/refresh"))["status"] == "ok"
    refreshed = admin.get(f"/api/podcasts/{made.podcast}").json()
    assert refreshed["yoto_card_id"] and refreshed["yoto_card_id"] != podcast["yoto_card_id"]
    assert family.cloud.card(refreshed["yoto_card_id"])["userId"] == "auth0|mum-yoto"
    assert_owns_nothing(new, made)

    # The next member of the name is another id again.
    family.link(new, "kid-yoto-2")
    assert new.post("/api/audio", files={"file": ("x.mp3", family.tone, "audio/mpeg")}).status_code == 201
    assert admin.delete(f"/api/users/{MEMBER[0]}").status_code == 204
    third = newcomer(family, admin)
    assert_owns_nothing(third, made)
    assert family.adapters.records.tokens.list_accounts() == [ADMIN[0]]


def test_deleting_a_member_with_their_items_removes_everything_with_its_jobs(family: Family) -> None:
    admin, kid = family.login(ADMIN), family.login(MEMBER)
    made = member_makes_everything(family, kid)
    assert admin.delete(f"/api/users/{MEMBER[0]}", params={"items": "delete"}).status_code == 204
    records = family.adapters.records
    assert records.jobs.list().items == []
    assert records.runs.recent(made.podcast) == [] and records.runs.recent(made.routine) == []
    for path in (
        f"/api/routines/{made.routine}",
        f"/api/podcasts/{made.podcast}",
        f"/api/playlists/{made.playlist}",
        f"/api/cards/{made.card}",
        f"/api/cards/{made.playlist_card}",
        f"/api/audio/{made.item}",
    ):
        assert admin.get(path).status_code == 404, path
    assert admin.get("/api/audio").json()["items"] == []
    assert family.adapters.records.tokens.list_accounts() == []
    assert_owns_nothing(newcomer(family, admin), made)


def test_disabling_a_member_forgets_their_yoto_link(family: Family) -> None:
    admin, kid = family.login(ADMIN), family.login(MEMBER)
    family.link(kid, "kid-yoto")
    assert kid.get("/api/yoto/login").status_code == 302  # a login in progress too
    assert admin.patch(f"/api/users/{MEMBER[0]}", json={"disabled": True}).status_code == 200
    assert kid.get("/api/auth/me").status_code == 401
    assert family.adapters.records.tokens.list_accounts() == []
    assert [k for k in family.adapters.records.settings.list_keys() if k.startswith("yoto-")] == []
    assert admin.patch(f"/api/users/{MEMBER[0]}", json={"disabled": False}).status_code == 200
    again = family.login(MEMBER)
    assert again.get("/api/yoto/status").json()["linked"] is False


def test_a_refresh_in_flight_while_its_member_is_deleted_leaves_nothing_in_their_name(family: Family) -> None:
    """The podcast's first run is writing its card (held by the cloud for a few seconds
    after storing it) when the admin deletes the member."""
    admin, kid = family.login(ADMIN), family.login(MEMBER)
    family.link(kid, "kid-yoto")
    family.cloud.fail_next("slow", path_prefix="/content", method="POST", delay_s=4.0, after=True)
    answers: list[httpx.Response] = []
    body = {"feed_url": serve_podcast(family), "episodes": 1}
    creating = threading.Thread(target=lambda: answers.append(kid.post("/api/podcasts", json=body)))
    creating.start()
    eventually(family.cloud.cards, 30, every=0.05)  # stored on the cloud, its answer held
    assert admin.delete(f"/api/users/{MEMBER[0]}").status_code == 204
    creating.join(60)
    assert answers and answers[0].status_code in (201, 202), answers
    podcast_id = answers[0].json()["id"]
    finished(admin, answers[0])
    podcast = eventually(lambda: admin.get(f"/api/podcasts/{podcast_id}").json(), 10)
    assert podcast["owner"] == ADMIN[0]
    assert podcast["card_id"] is None  # the card it wrote was on the deleted member's account
    records = family.adapters.records
    assert records.cards.list(owner=MEMBER[0]).items == [] and records.audio.list(owner=MEMBER[0]).items == []
    episode_ids = [a for e in podcast["held"] for a in e["audio_ids"]]
    assert episode_ids and {records.audio.get(a).owner for a in episode_ids} == {ADMIN[0]}
    assert_owns_nothing(newcomer(family, admin))
