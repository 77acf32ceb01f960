"""`/?yoto=error&reason=…` carries only known reason codes (issue 18, finding
11): the callback, over real HTTP against a server started as `make run`
starts it, turns whatever Yoto (or a forged link) says into one code; the web
UI's Yoto page words only those codes (its module, run under node)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.api.family_server import YOTO_LOGIN_ONLY, FamilyServer, family_server

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "app" / "ui" / "assets" / "js" / "pages" / "yoto.js"
PHISH = "Your account is locked: call 0800 123 456"


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FamilyServer]:
    with family_server(tmp_path_factory.mktemp("yoto-reasons"), YOTO_LOGIN_ONLY) as f:
        yield f


def _back_from_yoto(family: FamilyServer, **query: str) -> dict[str, list[str]]:
    """Start a login, come back with its real state and `query`: the UI address the callback sends to."""
    client = family.login()
    started = client.get("/api/yoto/login", follow_redirects=False)
    assert started.status_code == 302, started.text
    (state,) = parse_qs(urlsplit(started.headers["location"]).query)["state"]
    r = client.get("/api/yoto/callback", params={"state": state, **query}, follow_redirects=False)
    assert r.status_code == 303, r.text
    to = urlsplit(r.headers["location"])
    assert to.path == "/"
    return parse_qs(to.query)


@pytest.mark.parametrize(
    ("query", "reason"),
    [({"error": "access_denied", "error_description": PHISH}, "access_denied"),
     ({"error": "temporarily_unavailable"}, "temporarily_unavailable"),
     ({"error": PHISH, "error_description": PHISH}, "failed"),
     ({"error": "<img src=x onerror=alert(1)>"}, "failed"),
     ({"error_description": PHISH}, "no_code")],
    ids=["denied", "unavailable", "unknown", "markup", "no-code"],
)  # fmt: skip
def test_the_callback_sends_only_a_known_reason_code(family: FamilyServer, query: dict[str, str], reason: str) -> None:
    assert _back_from_yoto(family, **query) == {"yoto": ["error"], "reason": [reason]}


def _reason_texts(codes: list[str]) -> list[str]:
    script = (
        f"const page = await import({json.dumps(PAGE.as_uri())});"
        f"console.log(JSON.stringify({json.dumps(codes)}.map((c) => page.reasonText(c))));"
    )
    done = subprocess.run(
        ["node", "--experimental-default-type=module", "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return list(json.loads(done.stdout))


def test_the_yoto_page_words_known_codes_and_shows_nothing_else() -> None:
    known = ["access_denied", "no_code", "temporarily_unavailable"]
    forged = [PHISH, "<b>hi</b>", "__proto__", "constructor", "toString", "", "failed"]
    texts = _reason_texts(known + forged)
    worded, generic = texts[: len(known)], texts[len(known) :]
    assert len(set(worded)) == len(known) and all(w and "undefined" not in w for w in worded), worded
    assert set(generic) == {"Yoto did not say why"}, generic
