"""The web UI in a real browser: Debian's Chromium driven by Playwright
against the app under uvicorn on the local adapters, wired to the Yoto
simulator and a real mosquitto the way `make demo` wires them.

One app server serves the whole UI package (signing in is cheap; starting
uvicorn is not). Every test gets a fresh browser context at a phone width
and at a laptop width (`ui` is parametrised), watched for console errors,
page errors, 5xx answers and 4xx answers the test did not say it expects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from tests.brokers import Mosquitto, mosquitto  # noqa: F401 - the session broker fixture
from tests.conftest import TEST_SECRET
from tests.live_server import live_app
from tests.waiting import eventually  # noqa: F401 - the UI tests take it from here

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # No host but this machine resolves: the browser cannot reach anything else.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    # A microphone without a microphone, and no permission prompt (recording).
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1280, "height": 800}}
ADMIN = ("mum", "mum-has-a-long-password")

if not Path(CHROMIUM).exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium (scripts/system-deps.sh test)", allow_module_level=True)

from playwright.sync_api import Browser, ConsoleMessage, Page, Response, sync_playwright  # noqa: E402


@dataclass
class UiServer:
    url: str
    data_dir: Path
    cloud: Any
    broker: Mosquitto


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module: while Playwright's sync API runs, its event loop is the
    thread's running loop, which would break later tests that run their own
    (Mangum, for one)."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def yoto_cloud_for_ui() -> Iterator[Any]:
    from simulator.cloud import start_cloud
    from tests.yoto_sim import TEST_DEVICE_INTERVAL_S

    with start_cloud(access_ttl_s=3600, device_interval_s=TEST_DEVICE_INTERVAL_S) as cloud:
        yield cloud


@contextmanager
def serve_ui(
    root: Path, cloud: Any, broker: Mosquitto, prepare: Callable[[Settings], None] | None = None
) -> Iterator[UiServer]:
    """The app under uvicorn with its own data dir holding the admin, wired to
    `cloud` and `broker`; `prepare` runs on the data before the server starts."""
    from adapters import Adapters
    from services import users

    settings = Settings(use_aws=False, data_dir=root / "data", session_secret=TEST_SECRET, tts_engine="espeak")
    made = Adapters(settings)
    users.create_user(users.Family(made.identity, made.records, made.storage), *ADMIN, is_admin=True)
    if prepare:
        prepare(settings)
    wiring = {
        **cloud.env(),
        "ALLOW_HTTP_PUBLIC_URL": "true",
        "ALLOW_PRIVATE_FEEDS": "true",  # the podcast tests serve their feed on 127.0.0.1
        "CARD_SYNC_DEBOUNCE_S": "0.5",
        "CARD_SYNC_TIMER": "true",
        "MQTT_HOST": broker.host,
        "MQTT_PORT": str(broker.tcp_port),
        "MQTT_TRANSPORT": "tcp",
        "MQTT_TLS": "false",
        "MQTT_COMMAND_TIMEOUT_S": "3",
    }
    # A setting this branch's Settings knows goes in the object (live_app writes
    # every field out, defaults too); one it does not know yet, as the variable
    # that a newer Settings reads.
    known = {k: v for k, v in wiring.items() if k.lower() in Settings.model_fields}
    settings = Settings.model_validate({**settings.model_dump(), **{k.lower(): v for k, v in known.items()}})
    with ExitStack() as stack:
        # The environment is the server's only: set while it starts, then restored.
        with pytest.MonkeyPatch.context() as mp:
            for name, value in wiring.items():
                if name not in known:
                    mp.setenv(name, value)
            url = stack.enter_context(live_app(settings, root))
        yield UiServer(url, settings.data_dir, cloud, broker)


def linked_admin(cloud: Any) -> Callable[[Settings], None]:
    """A `serve_ui` preparation: the admin's Yoto account is linked (tokens from
    `cloud`, stored as the link routes store them) before the server starts."""

    def prepare(settings: Settings) -> None:
        from adapters import Adapters
        from adapters.yoto.client import YotoClient
        from core.yoto.cloud import TokenGrant
        from services.yoto_tokens import YotoTokenService

        answer = cloud.issue_tokens()
        grant = TokenGrant(answer["access_token"], int(answer["expires_in"]), answer.get("refresh_token"))
        records = Adapters(settings).records
        wired = {"yoto_api_url": cloud.url, "yoto_auth_url": cloud.url, "yoto_client_id": cloud.client_id}
        client = YotoClient.from_settings(settings.model_copy(update=wired))
        try:
            YotoTokenService(records.tokens, records.counters, client).store_new_link(ADMIN[0], grant)
        finally:
            client.close()

    return prepare


@pytest.fixture(scope="package")
def ui_server(
    tmp_path_factory: pytest.TempPathFactory,
    yoto_cloud_for_ui: Any,
    mosquitto: Mosquitto,  # noqa: F811
) -> Iterator[UiServer]:
    with serve_ui(tmp_path_factory.mktemp("ui"), yoto_cloud_for_ui, mosquitto) as server:
        yield server


@dataclass
class PlayerRig:
    server: UiServer
    player: Any


@pytest.fixture(scope="module")
def player_rig(tmp_path_factory: pytest.TempPathFactory, ui_server: UiServer) -> Iterator[PlayerRig]:
    """A server of its own whose admin has a linked Yoto account and a simulated
    player before it starts: the in-process listener finds both at once (it
    looks for new accounts and players only every minute). Per module, not per
    package: the tests leave the player's volume, card and timers changed, and
    each module's checks start from a player nobody else has touched."""
    import uuid

    import httpx

    features = httpx.get(f"{ui_server.url}/api/ui/features", timeout=10).json()["features"]
    if not {"yoto", "cards", "players"} <= {k for k, v in features.items() if v}:
        pytest.skip("waiting for the API: yoto, cards and players not all on this server yet")
    from simulator.players import PlayerSpec, start_players

    cloud = ui_server.cloud
    player_id = f"ui-{uuid.uuid4().hex[:8]}"
    cloud.add_device(player_id, f"Bedroom {player_id[-4:]}")
    # listed by Yoto but never heard over MQTT: the players page must not show it as live
    cloud.add_device(f"{player_id}-shelf", f"Shelf {player_id[-4:]}", online=True)

    with start_players(ui_server.broker.config("tcp"), [PlayerSpec(player_id, volume_level=8)]) as fleet:
        root = tmp_path_factory.mktemp("ui-players")
        with serve_ui(root, cloud, ui_server.broker, prepare=linked_admin(cloud)) as server:
            yield PlayerRig(server, fleet[player_id])


@dataclass
class Ui:
    """One browser context at one width, and what it saw go wrong."""

    page: Page
    base: str
    width: str
    allowed: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def allow(self, *statuses: int) -> None:
        """4xx answers this test provokes on purpose (each still shows in words)."""
        self.allowed.update(statuses)

    def url(self, route: str = "library") -> str:
        return f"{self.base}/#/{route}"

    def sign_in(self, username: str = ADMIN[0], password: str = ADMIN[1], route: str = "library") -> None:
        self.page.goto(self.url(route))
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_role("heading", level=1).filter(has_not_text="Sign in").wait_for()

    def goto(self, route: str) -> None:
        self.page.evaluate("r => { location.hash = '#/' + r; }", route)
        self.page.wait_for_function("r => document.querySelector('.page-' + r + ' h1')", arg=route)
        self.page.locator("main[aria-busy='false']").wait_for(state="attached")

    def check(self) -> None:
        assert not self.problems, "\n".join(self.problems)


def _watch(ui: Ui) -> None:
    def console(msg: ConsoleMessage) -> None:
        # A refused request also logs "Failed to load resource": the response
        # watcher below judges those by status.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            ui.problems.append(f"console error: {msg.text}")

    def response(r: Response) -> None:
        if r.status >= 500:
            ui.problems.append(f"{r.status} from {r.request.method} {r.url}")
        elif r.status >= 400 and r.status not in ui.allowed:
            ui.problems.append(f"unexpected {r.status} from {r.request.method} {r.url}")

    ui.page.on("console", console)
    ui.page.on("pageerror", lambda err: ui.problems.append(f"page error: {err}"))
    ui.page.on("response", response)


def new_ui(browser: Browser, base: str, width: str, **context: Any) -> Ui:
    ctx = browser.new_context(
        viewport=VIEWPORTS[width],
        has_touch=width == "phone",
        base_url=base,
        permissions=["microphone"],
        **context,
    )
    ctx.set_default_timeout(15_000)
    ui = Ui(ctx.new_page(), base, width)
    _watch(ui)
    return ui


@pytest.fixture(params=list(VIEWPORTS))
def ui(request: pytest.FixtureRequest, browser: Browser, ui_server: UiServer) -> Iterator[Ui]:
    session = new_ui(browser, ui_server.url, request.param)
    yield session
    session.page.context.close()
    session.check()


def ui_api(ui: Ui, method: str, path: str, **kw: Any) -> Any:
    """A call of the API with the browser context's session (set-up and checks beside the page)."""
    r = ui.page.context.request.fetch(f"{ui.base}{path}", method=method, headers={"Origin": ui.base}, **kw)
    assert r.ok, f"{method} {path}: {r.status} {r.text()}"
    return r.json() if r.status != 204 else None
