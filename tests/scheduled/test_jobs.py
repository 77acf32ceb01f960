"""Jobs off the request: podcast create and refresh answer 202 and run on the
process's workers; a first run that fails leaves the podcast failed; a member's jobs
waiting or running are capped (429 with Retry-After), per member; another
member's job still gets a worker while one member's hold theirs."""

from __future__ import annotations

import logging
import time

import pytest

from tests.api.conftest import MEMBER, Api
from tests.feeds import FeedServer, Served, rss
from tests.scheduled.conftest import HeldFeeds, finished
from tests.waiting import eventually


def test_a_first_run_that_fails_keeps_the_podcast_failed_and_a_later_check_makes_its_card(
    sched_api: Api, feed_server: FeedServer, tones: dict[str, bytes]
) -> None:
    """What was answered 202 stays: failed, saying why, without a card, its refresh job kept;
    once the address serves a feed, "check now" makes the card."""
    page = b"<!doctype html><html><head><title>Shop</title></head><body>Hi</body></html>"
    feed_server.routes["/shop"] = Served(200, page, {"Content-Type": "text/html"})
    client = sched_api.login()
    r = client.post("/api/podcasts", json={"feed_url": feed_server.url + "/shop", "episodes": 2})
    assert r.status_code == 202, r.text
    podcast_id = r.json()["id"]
    run = finished(client, r.json()["last_run"]["id"])
    assert run["status"] == "failed" and "not an RSS or Atom feed" in run["detail"], run
    kept = client.get(f"/api/podcasts/{podcast_id}")
    assert kept.status_code == 200, kept.text
    assert kept.json()["status"] == "failed" and "not an RSS or Atom feed" in kept.json()["last_error"]
    assert kept.json()["yoto_card_id"] is None and kept.json()["held"] == []
    assert [p["id"] for p in client.get("/api/podcasts").json()["items"]] == [podcast_id]
    assert [j.id for j in sched_api.adapters.records.jobs.list().items] == [podcast_id]
    assert sched_api.adapters.records.cards.list().items == []

    feed_server.routes["/audio/ep1"] = Served(200, tones["mp3"], {"Content-Type": "audio/mpeg"})
    feed = rss("Shop Talk", [("guid-1", "Episode 1", "Mon, 01 Jun 2026 07:00:00 GMT", feed_server.url + "/audio/ep1")])
    feed_server.routes["/shop"] = Served(200, feed, {"Content-Type": "application/rss+xml"})
    again = client.post(f"/api/podcasts/{podcast_id}/refresh")
    assert again.status_code == 202, again.text
    assert finished(client, again.json()["last_run"]["id"])["status"] == "ok"
    fixed = client.get(f"/api/podcasts/{podcast_id}").json()
    assert fixed["status"] == "ok" and fixed["last_error"] is None and fixed["yoto_card_id"]
    assert [e["title"] for e in fixed["held"]] == ["Episode 1"] and fixed["title"] == "Shop Talk"


def test_a_members_jobs_are_capped_and_another_member_still_gets_a_worker(sched_api: Api, held: HeldFeeds) -> None:
    cap = sched_api.settings.jobs_per_member
    mum = sched_api.login()
    accepted = []
    for n in range(cap):
        r = mum.post("/api/podcasts", json={"feed_url": f"{held.url}/slow{n}.xml", "episodes": 1})
        assert r.status_code == 202, r.text
        accepted.append(r.json())
    eventually(lambda: held.waiting >= 1, 5)  # one of hers is being fetched (she may hold one worker of two)

    started = time.monotonic()
    over = mum.post("/api/podcasts", json={"feed_url": f"{held.url}/one-more.xml", "episodes": 1})
    assert time.monotonic() - started < 1.0
    assert over.status_code == 429, over.text
    assert over.headers["retry-after"].isdigit()
    assert f"(JOBS_PER_MEMBER = {cap})" in over.json()["detail"]
    assert len(mum.get("/api/podcasts").json()["items"]) == cap  # the refused one left nothing

    # Another member's job runs at once on the worker she cannot take.
    kid = sched_api.login(MEMBER)
    r = kid.post("/api/podcasts", json={"feed_url": f"{held.url}/kid.xml", "episodes": 1})
    assert r.status_code == 202, r.text
    eventually(lambda: held.waiting >= 2, 5)
    assert held.waiting == 2  # hers and his: the rest of hers wait their turn
    held.release()
    for made in [*accepted, r.json()]:
        run = finished(mum, made["last_run"]["id"])
        assert run["status"] == "failed" and "HTTP 404" in run["detail"]


def test_a_refresh_while_one_is_going_is_refused(sched_api: Api, held: HeldFeeds) -> None:
    client = sched_api.login()
    made = client.post("/api/podcasts", json={"feed_url": f"{held.url}/feed.xml", "episodes": 1}).json()
    again = client.post(f"/api/podcasts/{made['id']}/refresh")
    assert again.status_code == 409 and again.json()["run_id"] == made["last_run"]["id"], again.text
    held.release()
    finished(client, made["last_run"]["id"])


def test_a_podcast_deleted_while_its_first_run_goes_leaves_nothing(
    sched_api: Api, held: HeldFeeds, caplog: pytest.LogCaptureFixture
) -> None:
    from wiring import root_for

    client = sched_api.login()
    made = client.post("/api/podcasts", json={"feed_url": f"{held.url}/feed.xml", "episodes": 1}).json()
    eventually(lambda: held.waiting == 1, 5)
    assert client.delete(f"/api/podcasts/{made['id']}").status_code == 204
    held.release()
    assert root_for(sched_api.adapters).workers.join(10)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text  # the worker took it calmly
    assert client.get(f"/api/runs/{made['last_run']['id']}").status_code == 404  # gone with its podcast
    records = sched_api.adapters.records
    assert records.podcasts.list().items == [] and records.jobs.list().items == [] and records.cards.list().items == []
