"""The Podcasts page in a real browser, against a real RSS feed served on
127.0.0.1 with real audio and the Yoto simulator: add a podcast through the
page and see the same episodes on the page and on the simulated card, publish
an episode and check now (the same card changes, no new one), change the
window, a refused feed address in words, and delete (the card goes too).

The UI server is shared by the whole package, so every test names its feed
and titles with a fresh tag."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, expect

from tests.audio_fixtures import write_tone
from tests.feeds import FeedServer, Served, rss, serve_feeds
from tests.ui.conftest import ADMIN, Ui, UiServer, eventually, new_ui
from tests.ui.conftest import ui_api as _api
from tests.ui.test_yoto_pages import _link_through_the_page

DAYS = [f"{day}, 0{n} Jun 2026 07:00:00 GMT" for n, day in enumerate(["Mon", "Tue", "Wed", "Thu"], start=1)]
SLOW = 30_000  # ms: adding or checking reads the feed and brings each new episode into the library
DONE = ("ok", "partial", "failed")


@pytest.fixture(scope="module")
def feeds() -> Iterator[FeedServer]:
    with serve_feeds() as server:
        yield server


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """One short real MP3 every episode serves (made once: encoding is the slow part)."""
    return write_tone(tmp_path_factory.mktemp("episodes") / "tone.mp3", "mp3", seconds=1.0).read_bytes()


@dataclass
class Feed:
    """One test's feed: `publish(n)` serves its first n episodes, a new ETag each time."""

    server: FeedServer
    tone: bytes
    tag: str
    title: str

    @property
    def url(self) -> str:
        return f"{self.server.url}/{self.tag}/feed.xml"

    def episode(self, n: int) -> str:
        return f"Episode {n} {self.tag}"

    def publish(self, n: int, etag: bool = True) -> None:
        episodes = []
        for i in range(1, n + 1):
            path = f"/{self.tag}/ep{i}.mp3"
            self.server.routes[path] = Served(200, self.tone, {"Content-Type": "audio/mpeg"})
            episodes.append((f"{self.tag}-{i}", self.episode(i), DAYS[i - 1], self.server.url + path))
        headers = {"Content-Type": "application/rss+xml", **({"ETag": f'"v{n}"'} if etag else {})}
        # Oldest first in the document: the service orders by date, not by position.
        self.server.routes[f"/{self.tag}/feed.xml"] = Served(200, rss(self.title, episodes), headers)


@pytest.fixture
def feed(feeds: FeedServer, tone: bytes, ui_server: UiServer) -> Feed:
    have = httpx.get(f"{ui_server.url}/api/ui/features", timeout=10).json()["features"]
    missing = [n for n in ("yoto", "cards", "podcasts") if not have.get(n)]
    if missing:
        pytest.skip(f"waiting for the API: {', '.join(missing)} not on this server yet")
    tag = uuid.uuid4().hex[:6]
    return Feed(feeds, tone, tag, f"Bedtime Tales {tag}")


def _made(ui: Ui, data: dict[str, Any], status: str = "ok") -> dict[str, Any]:
    """A podcast made through the API (202, then its first run on the workers): as it then is."""
    queued = _api(ui, "POST", "/api/podcasts", data=data)
    return _checked(ui, queued, status)


def _checked(ui: Ui, answer: dict[str, Any], status: str = "ok") -> dict[str, Any]:
    """Wait for the run an answer of POST /api/podcasts[/…/refresh] queued; the podcast afterwards."""
    run_id = answer["last_run"]["id"]
    run = eventually(lambda: (r := _api(ui, "GET", f"/api/runs/{run_id}"))["status"] in DONE and r, timeout=30)
    assert run["status"] == status, run
    return _api(ui, "GET", f"/api/podcasts/{answer['id']}")


def _chapters(ui_server: UiServer, yoto_card_id: str) -> list[str]:
    card = ui_server.cloud.card(yoto_card_id) or {}
    return [c["title"] for c in card.get("content", {}).get("chapters", [])]


def _row(ui: Ui, title: str) -> Locator:
    return (
        ui.page.get_by_role("list", name="The family's podcasts")
        .get_by_role("listitem")
        .filter(has=ui.page.get_by_text(title, exact=True))
    )


def _episodes(ui: Ui, title: str) -> Locator:
    return ui.page.get_by_role("list", name=f"Episodes on the card of {title}").get_by_role("listitem")


def _add_through_the_page(ui: Ui, feed: Feed, episodes: int, order: str = "Newest first") -> str:
    """Fill and send the form; returns the Yoto card id the page reports."""
    page = ui.page
    page.get_by_label("Feed address").fill(feed.url)
    page.get_by_label("Episodes on the card", exact=True).fill(str(episodes))
    page.get_by_label("Order", exact=True).select_option(label=order)
    expect(page.get_by_label("Check for new episodes")).to_have_value("6")  # the server's default interval
    page.get_by_label("Check for new episodes").select_option(label="Every day")
    page.get_by_role("button", name="Add podcast").click()
    expect(page.get_by_text("Reading the feed and fetching the episodes")).to_be_visible()
    expect(page.get_by_role("button", name="Add podcast")).to_be_disabled()
    done = (
        page.get_by_role("region", name="Add a podcast").get_by_role("status").filter(has_text=f"Added “{feed.title}”")
    )
    expect(done).to_be_visible(timeout=SLOW)
    expect(page.get_by_role("button", name="Add podcast")).to_be_enabled()
    expect(page.get_by_label("Feed address")).to_have_value("")
    return re.search(r"Yoto card (\w+)", done.inner_text()).group(1)


def test_add_a_podcast_then_check_for_a_new_episode_and_change_the_window(
    ui: Ui, ui_server: UiServer, feed: Feed
) -> None:
    feed.publish(2)
    ui.sign_in()
    _link_through_the_page(ui)
    ui.goto("podcasts")
    page = ui.page
    expect(page.get_by_role("heading", level=1, name="Podcasts")).to_be_visible()
    cards_before = len(ui_server.cloud.cards())

    card_id = _add_through_the_page(ui, feed, episodes=2)
    row = _row(ui, feed.title)
    expect(_episodes(ui, feed.title)).to_have_text([feed.episode(2), feed.episode(1)])
    expect(row).to_contain_text(f"Yoto card {card_id}")
    expect(row).to_contain_text("Keeps 2 episodes, newest first · every day")
    expect(row).to_contain_text("Last checked just now")
    assert eventually(lambda: _chapters(ui_server, card_id) == [feed.episode(2), feed.episode(1)])
    assert len(ui_server.cloud.cards()) == cards_before + 1

    # A new episode in the feed: "Check now" puts it on the same card.
    feed.publish(3)
    row.get_by_role("button", name=f"Check {feed.title} now").click()
    expect(row.get_by_role("status")).to_have_text("1 new episode on the card.", timeout=SLOW)
    expect(_episodes(ui, feed.title)).to_have_text([feed.episode(3), feed.episode(2)])
    expect(row).to_contain_text(f"Yoto card {card_id}")
    assert _chapters(ui_server, card_id) == [feed.episode(3), feed.episode(2)]
    assert len(ui_server.cloud.cards()) == cards_before + 1  # the same card, no new one

    # Nothing new: said so, and the card stays as it is.
    row.get_by_role("button", name=f"Check {feed.title} now").click()
    expect(row.get_by_role("status")).to_have_text("No new episodes: the card is up to date.", timeout=SLOW)

    # Fewer episodes, oldest first: saved at once, on the card at the next check.
    row.get_by_role("button", name=f"Edit {feed.title}").click()
    dlg = page.get_by_role("dialog", name=f"Edit “{feed.title}”")
    expect(dlg.get_by_label("Episodes on the card", exact=True)).to_have_value("2")
    expect(dlg.get_by_label("Check for new episodes")).to_have_value("24")
    dlg.get_by_label("Episodes on the card", exact=True).fill("0")
    dlg.get_by_role("button", name="Save changes").click()
    expect(dlg.get_by_role("status")).to_have_text("Choose between 1 and 25 episodes.")
    dlg.get_by_label("Episodes on the card", exact=True).fill("1")
    dlg.get_by_role("button", name="Save changes").click()
    expect(dlg).to_be_hidden()
    expect(row.get_by_role("status")).to_contain_text("Saved. The card follows at the next check")
    expect(row).to_contain_text("Keeps 1 episode, newest first")
    feed.publish(3, etag=False)  # see the report: a conditional GET answered 304 would keep the old window
    row.get_by_role("button", name=f"Check {feed.title} now").click()
    expect(_episodes(ui, feed.title)).to_have_text([feed.episode(3)], timeout=SLOW)
    assert _chapters(ui_server, card_id) == [feed.episode(3)]
    assert len(ui_server.cloud.cards()) == cards_before + 1


def test_an_address_that_is_not_a_feed_is_refused_in_words(ui: Ui, feed: Feed) -> None:
    html = b"<!doctype html><html><head><title>Shop</title></head><body>Hi</body></html>"
    feed.server.routes[f"/{feed.tag}/feed.xml"] = Served(200, html, {"Content-Type": "text/html"})
    ui.sign_in()
    _link_through_the_page(ui)
    ui.goto("podcasts")
    page = ui.page
    before = _api(ui, "GET", "/api/podcasts?limit=200")["items"]

    # Caught on the page before anything is sent.
    page.get_by_label("Feed address").fill("feeds.example/podcast")
    page.get_by_role("button", name="Add podcast").click()
    expect(page.get_by_text("A feed address starts with https:// (or http://).")).to_be_visible()

    ui.allow(422)
    page.get_by_label("Feed address").fill(feed.url)
    page.get_by_label("Name on the card (optional)").fill(feed.title)
    page.get_by_role("button", name="Add podcast").click()
    refusal = page.get_by_role("region", name="Add a podcast").get_by_role("status")
    expect(refusal).to_have_text("Not added: This is not an RSS or Atom feed we can read.", timeout=SLOW)
    expect(refusal).to_have_class(re.compile(r"\berror\b"))
    expect(page.get_by_role("button", name="Add podcast")).to_be_enabled()
    expect(page.get_by_label("Feed address")).to_have_value(feed.url)  # kept, to correct it
    expect(page.get_by_role("list", name="The family's podcasts")).not_to_contain_text(feed.title)
    after = _api(ui, "GET", "/api/podcasts?limit=200")["items"]
    assert [p["id"] for p in after] == [p["id"] for p in before]


def test_a_failed_check_in_words_then_delete_the_podcast_and_its_card(ui: Ui, ui_server: UiServer, feed: Feed) -> None:
    feed.publish(1)
    ui.sign_in()
    _link_through_the_page(ui)
    made = _made(ui, {"feed_url": feed.url, "episodes": 1})
    card_id = made["yoto_card_id"]
    assert card_id in ui_server.cloud.cards()
    ui.goto("podcasts")
    page = ui.page
    row = _row(ui, feed.title)
    expect(_episodes(ui, feed.title)).to_have_text([feed.episode(1)])

    # The feed breaks: "Check now" says why in words, and the card keeps its episode.
    feed.server.routes[f"/{feed.tag}/feed.xml"] = Served(500, b"oops")
    row.get_by_role("button", name=f"Check {feed.title} now").click()
    why = "The check did not work: The feed answered HTTP 500. The card kept its episodes."
    expect(row.get_by_role("status")).to_have_text(why, timeout=SLOW)
    expect(row.locator("p.reason")).to_be_hidden()  # said once, not twice
    expect(_episodes(ui, feed.title)).to_have_text([feed.episode(1)])
    assert _chapters(ui_server, card_id) == [feed.episode(1)]
    ui.goto("library")
    ui.goto("podcasts")  # later, the reason is still there on the row
    expect(row.locator("p.reason")).to_have_text(
        "The last check did not work: The feed answered HTTP 500. The card kept its episodes."
    )

    # Cancel first: nothing goes.
    row.get_by_role("button", name=f"Delete {feed.title}").click()
    confirm = page.get_by_role("dialog", name=f"Delete “{feed.title}”?")
    expect(confirm).to_contain_text(f"Its Yoto card ({card_id}) is deleted too")
    confirm.get_by_role("button", name="Cancel").click()
    expect(row).to_be_visible()
    expect(row.get_by_role("button", name=f"Delete {feed.title}")).to_be_focused()

    row.get_by_role("button", name=f"Delete {feed.title}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete podcast").click()
    expect(page.get_by_role("status").filter(has_text=f"Deleted “{feed.title}”")).to_be_visible(timeout=SLOW)
    expect(page.get_by_role("list", name="The family's podcasts")).not_to_contain_text(feed.title)
    assert card_id not in ui_server.cloud.cards()
    # Away and back (not a reload: see the report on a 304's headers): still gone.
    ui.goto("library")
    ui.goto("podcasts")
    listed = page.get_by_role("list", name="The family's podcasts")
    expect(listed.get_by_role("listitem").first).not_to_have_class("placeholder")
    expect(listed).not_to_contain_text(feed.title)
    assert made["id"] not in {p["id"] for p in _api(ui, "GET", "/api/podcasts?limit=200")["items"]}


def test_someone_elses_podcast_shows_no_buttons_that_would_be_refused(ui: Ui, feed: Feed, browser: Browser) -> None:
    """Only the owner or an admin may change a podcast: a member sees it, without the buttons."""
    feed.publish(1)
    ui.sign_in()
    _link_through_the_page(ui)
    _made(ui, {"feed_url": feed.url, "episodes": 1})
    member, password = f"kid{feed.tag}", "a-long-enough-password"
    _api(ui, "POST", "/api/users", data={"username": member, "password": password, "is_admin": False})
    kid = new_ui(browser, ui.base, ui.width)  # a browser of their own, as on their own phone
    try:
        kid.sign_in(member, password, route="podcasts")
        row = _row(kid, feed.title)
        expect(_episodes(kid, feed.title)).to_have_text([feed.episode(1)])
        expect(row).to_contain_text("added by mum")
        expect(row.get_by_role("button")).to_have_count(0)
    finally:
        kid.page.context.close()
    kid.check()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_page_with_podcasts_on_it_meets_the_quality_bars(
    browser: Browser, ui_server: UiServer, feed: Feed, scheme: str
) -> None:
    """test_quality.py sees this page with whatever the shared server holds;
    here it holds podcasts, one of them with a failed check, so the rows, their
    buttons, the reason line and the edit dialog are measured too. The list
    arrives without moving what is above or around it."""
    from tests.ui.test_quality import CHECKS_JS, _nameless_controls, _tab_through, qa

    feed.publish(2)
    setup = new_ui(browser, ui_server.url, "laptop")
    try:
        setup.sign_in()
        _link_through_the_page(setup)
        _made(setup, {"feed_url": feed.url, "episodes": 2})
        broken = _made(setup, {"feed_url": feed.url, "episodes": 1, "title": f"Gone {feed.tag}"})
        feed.server.routes[f"/{feed.tag}/feed.xml"] = Served(404, b"gone")
        _checked(setup, _api(setup, "POST", f"/api/podcasts/{broken['id']}/refresh"), "failed")
    finally:
        setup.page.context.close()
    setup.check()
    for width in ("phone", "laptop"):
        ui = new_ui(browser, ui_server.url, width, color_scheme=scheme)
        try:
            # Signed in through the API, so the page's first load is the one measured.
            login = {"username": ADMIN[0], "password": ADMIN[1]}
            assert ui.page.context.request.post(f"{ui.base}/api/auth/login", data=login, headers={"Origin": ui.base}).ok
            page = ui.page
            page.add_init_script(f"{CHECKS_JS}\n;window.__qa.watchShifts()")
            page.goto(ui.url("podcasts"))
            expect(_episodes(ui, feed.title)).to_have_count(2)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(300)
            cls = page.evaluate("() => window.__cls")
            row = _row(ui, f"Gone {feed.tag}")
            expect(row.locator("p.reason")).to_have_text(
                "The last check did not work: The feed answered HTTP 404. The card kept its episodes."
            )
            found = _nameless_controls(page) + qa(page, "lowContrast")
            if width == "phone":
                found += [f"small touch target: {t}" for t in qa(page, "smallTargets")]
            found += _tab_through(page)
            _row(ui, feed.title).get_by_role("button", name=f"Edit {feed.title}").click()
            dlg = page.get_by_role("dialog")
            expect(dlg).to_be_visible()
            found += [f"in the dialog: {p}" for p in _nameless_controls(page) + qa(page, "lowContrast")]
            if width == "phone":
                found += [f"in the dialog: small touch target: {t}" for t in qa(page, "smallTargets")]
            page.keyboard.press("Escape")
            expect(dlg).to_be_hidden()
            expect(_row(ui, feed.title).get_by_role("button", name=f"Edit {feed.title}")).to_be_focused()
            assert not found, f"{width}/{scheme}: " + "\n".join(found)
            assert cls < 0.01, f"{width}/{scheme}: layout shift {cls:.4f} as the podcasts arrived"
        finally:
            ui.page.context.close()
        ui.check()


def test_adding_waits_for_the_first_run_and_then_shows_the_card(ui: Ui, feed: Feed) -> None:
    """The workers fetch the episodes: the answer (202) has no card yet and its run
    is queued. The API's answers are played by the browser's router here (shapes
    as app/schemas/scheduled.py), so the run can be seen queued, then running:
    the page keeps the form busy and polls the run until it is done, then shows
    the card and its episodes."""
    import json

    now = "2026-06-04T07:00:00Z"
    run = dict(id="run1", kind="podcast", subject_id="pod1", trigger="create", detail=None, results=[])
    run.update(created_at=now, started_at=None, finished_at=None)
    podcast = dict(id="pod1", owner="mum", feed_url=feed.url, title="", episodes=1, order="newest_first")
    podcast.update(refresh_hours=6.0, card_id=None, yoto_card_id=None, held=[], status="new", last_error=None)
    podcast.update(checked_at=None, created_at=now, updated_at=now)
    held = [{"guid": "g1", "title": feed.episode(1), "audio_ids": ["a1"]}]
    done = {**podcast, "title": feed.title, "card_id": "c1", "yoto_card_id": "QUEUED1", "status": "ok"}
    done.update(checked_at=now, held=held)
    polls: list[str] = []
    state = {"podcast": podcast}

    def answer(route: Any, status: int, body: Any) -> None:
        route.fulfill(status=status, content_type="application/json", body=json.dumps(body))

    def podcasts(route: Any) -> None:
        if route.request.method == "POST":
            answer(route, 202, {**podcast, "last_run": {**run, "status": "queued"}})
        else:
            answer(route, 200, {"items": [state["podcast"]], "next_cursor": None})

    def runs(route: Any) -> None:
        polls.append(route.request.url)
        if len(polls) < 3:
            answer(route, 200, {**run, "status": "running" if polls else "queued"})
        else:
            state["podcast"] = done
            answer(route, 200, {**run, "status": "ok", "detail": "1 new episode(s); the card holds 1"})

    page = ui.page
    ui.sign_in()
    page.route(re.compile(r".*/api/podcasts(\?.*)?$"), podcasts)
    page.route(
        re.compile(r".*/api/podcasts/pod1$"), lambda route: answer(route, 200, {**state["podcast"], "last_run": run})
    )
    page.route(re.compile(r".*/api/runs/run1$"), runs)
    ui.goto("podcasts")
    page.get_by_label("Feed address").fill(feed.url)
    page.get_by_label("Episodes on the card", exact=True).fill("1")
    page.get_by_role("button", name="Add podcast").click()
    status = page.get_by_role("region", name="Add a podcast").get_by_role("status")
    expect(status).to_have_text("Reading the feed and fetching the episodes… this can take a little while.")
    expect(page.get_by_role("button", name="Add podcast")).to_be_disabled()
    expect(status).to_contain_text(f"Added “{feed.title}”: Yoto card QUEUED1 holds 1 episode.", timeout=SLOW)
    expect(_episodes(ui, feed.title)).to_have_text([feed.episode(1)])
    expect(_row(ui, feed.title)).to_contain_text("Yoto card QUEUED1")
    expect(page.get_by_label("Feed address")).to_have_value("")
    assert len(polls) == 3
