"""What is family-wide, narrowed (issue 18, finding 10), over real HTTP on both
adapter sets: another member's podcast shows where its feed is, never its URL
(a private feed's key is in it), in the podcast or in a run that failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from simulator.cloud import RunningCloud
from tests import yoto_sim
from tests.api.conftest import ADMIN, MEMBER
from tests.api.linked_family import Family, finished, linked_family, serve_podcast
from tests.feeds import Served

yoto_cloud = yoto_sim.yoto_cloud
SECRET = "k3y-0f-the-family-feed"
OTHER = ("ben", "banana pancake tuesday")


@pytest.fixture
def family(backend_settings: Settings, yoto_cloud: RunningCloud, tmp_path: Path) -> Iterator[Family]:
    with linked_family(backend_settings, yoto_cloud, tmp_path, podcast_feed_max_kb=8) as built:
        yield built


def other_member(family: Family, admin: httpx.Client) -> httpx.Client:
    assert admin.post("/api/users", json={"username": OTHER[0], "password": OTHER[1]}).status_code == 201
    return family.login(OTHER)


def test_another_members_feed_url_shows_only_its_host(family: Family) -> None:
    admin, kid = family.login(ADMIN), family.login(MEMBER)
    ben = other_member(family, admin)
    family.link(kid, "kid-yoto")
    url = serve_podcast(family, path=f"/private/feed.xml?key={SECRET}")
    r = kid.post("/api/podcasts", json={"feed_url": url, "episodes": 1})
    assert finished(kid, r)["status"] == "ok"
    podcast_id = r.json()["id"]
    assert r.json()["feed_url"] == url  # its owner sees it whole

    host = family.feeds.url.removeprefix("http://")
    for listing in (ben.get("/api/podcasts"), ben.get(f"/api/podcasts/{podcast_id}")):
        assert listing.status_code == 200
        assert SECRET not in listing.text and "/private/" not in listing.text
    assert ben.get(f"/api/podcasts/{podcast_id}").json()["feed_url"] == f"http://{host}/…"
    assert ben.get("/api/podcasts").json()["items"][0]["owner"] == MEMBER[0]
    assert admin.get(f"/api/podcasts/{podcast_id}").json()["feed_url"] == url
    assert kid.get("/api/podcasts").json()["items"][0]["feed_url"] == url


def test_a_failed_runs_reason_names_the_feeds_host_not_its_url(family: Family) -> None:
    admin, kid = family.login(ADMIN), family.login(MEMBER)
    ben = other_member(family, admin)
    family.link(kid, "kid-yoto")
    path = f"/private/feed.xml?key={SECRET}"
    family.feeds.routes[path] = Served(
        200, b"<rss>" + b" " * 20_000 + b"</rss>", {"Content-Type": "application/rss+xml"}
    )
    r = kid.post("/api/podcasts", json={"feed_url": family.feeds.url + path, "episodes": 1})
    assert r.status_code in (202, 422), r.text  # queued (the run fails), or run in the request (AWS)
    if r.status_code == 422:
        assert SECRET not in r.text and "127.0.0.1 is 19 KB, over the 8 KB cap" in r.json()["detail"]
        return
    run = finished(kid, r)
    assert run["status"] == "failed" and "over the 8 KB cap" in run["detail"]
    seen = ben.get(f"/api/runs/{run['id']}")
    assert seen.status_code == 200 and SECRET not in seen.text and "/private/" not in seen.text
