"""The real app through `app.lambda_handler.handler`, in-process, against moto.

The same event shapes as `test_events.py`, now on the routes that need them:
login's Set-Cookie in the v2 `cookies` field and the cookie coming back in
the event's `cookies` array, logout's clearing cookie, a direct upload whose
multipart body arrives base64-encoded, the signed two-step upload, repeated
query keys on the listing, and a player's `/s/{token}.mp3` answered with a
302 to a presigned S3 URL that really serves the MP3.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from adapters import Adapters
from core.settings import Settings
from tests.audio_fixtures import write_tone

USERNAME = "dad"
PASSWORD = "four words make a passphrase"


class Client:
    """Sends events through the real handler, keeping the session cookie like a browser."""

    def __init__(self, apigw: ModuleType, origin: str) -> None:
        from app.lambda_handler import handler

        self.handler = handler
        self.apigw = apigw
        self.origin = origin
        self.cookies: list[str] = []

    def send(self, method: str, path: str, **kw: Any) -> tuple[dict[str, Any], Any]:
        headers = {"origin": self.origin, **kw.pop("headers", {})}
        if "json_body" in kw:
            kw["body"] = json.dumps(kw.pop("json_body"))
            headers["content-type"] = "application/json"
        event = self.apigw.http_event(method, path, headers=headers, cookies=self.cookies or None, **kw)
        response = self.handler(event, self.apigw.LambdaContext())
        raw = self.apigw.response_body(response)
        if response.get("headers", {}).get("content-type", "").startswith("application/json") and raw:
            return response, json.loads(raw)
        return response, raw

    def login(self) -> dict[str, Any]:
        response, body = self.send("POST", "/api/auth/login", json_body={"username": USERNAME, "password": PASSWORD})
        assert response["statusCode"] == 200, body
        (cookie,) = [c for c in response["cookies"] if c.startswith("yss_session=")]
        self.cookies = [cookie.split(";", 1)[0], "theme=dark"]  # a second, unrelated cookie rides along
        return response


@pytest.fixture
def client(lambda_env: Settings, apigw: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Client:
    origin = f"https://{apigw.DOMAIN}"
    monkeypatch.setenv("PUBLIC_URL", origin)
    Adapters(lambda_env).identity.create_user(USERNAME, PASSWORD)
    return Client(apigw, origin)


def test_login_cookie_round_trip_and_logout(client: Client) -> None:
    response = client.login()
    (cookie,) = response["cookies"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    response, me = client.send("GET", "/api/auth/me")
    assert response["statusCode"] == 200 and me["username"] == USERNAME

    response, _ = client.send("POST", "/api/auth/logout")
    assert response["statusCode"] == 204
    (cleared,) = response["cookies"]
    assert cleared.startswith('yss_session="";') and "Max-Age=0" in cleared
    response, body = client.send("GET", "/api/auth/me")
    assert response["statusCode"] == 401, body  # the old cookie's session was revoked


def test_direct_upload_with_a_base64_multipart_body(client: Client, apigw: ModuleType, tmp_path: Path) -> None:
    client.login()
    tone = write_tone(tmp_path / "song.mp3", "mp3", seconds=1.0)
    body, ctype = apigw.multipart({"title": "Bath song"}, {"file": ("song.mp3", tone.read_bytes(), "audio/mpeg")})
    response, item = client.send("POST", "/api/audio", headers={"content-type": ctype}, body=body)
    assert response["statusCode"] == 201, item
    assert item["title"] == "Bath song" and 0.8 < item["duration_s"] < 1.3

    # Not audio: the API's reason, and nothing added to the library.
    junk, ctype = apigw.multipart({}, {"file": ("notes.mp3", b"shopping list\n" * 50, "audio/mpeg")})
    response, err = client.send("POST", "/api/audio", headers={"content-type": ctype}, body=junk)
    assert response["statusCode"] in (415, 422), err
    assert err["detail"]
    response, page = client.send("GET", "/api/audio")
    assert [i["id"] for i in page["items"]] == [item["id"]]


def test_signed_upload_listing_and_stream_redirect(
    client: Client, lambda_env: Settings, apigw: ModuleType, tmp_path: Path
) -> None:
    client.login()
    tone = write_tone(tmp_path / "lullaby.mp3", "mp3", seconds=1.0)
    response, upload = client.send("POST", "/api/audio/uploads", json_body={"filename": "lullaby.mp3"})
    assert response["statusCode"] == 201, upload
    target = upload["target"]
    sent = httpx.post(
        target["url"],
        data=target["fields"],
        files={target["file_field"]: ("lullaby.mp3", tone.read_bytes(), "audio/mpeg")},
        timeout=30,
    )
    assert sent.status_code in (200, 201, 204), sent.text
    response, item = client.send("POST", f"/api/audio/uploads/{upload['id']}/complete", json_body={})
    assert response["statusCode"] == 201, item

    # Repeated and unknown query keys: the last `limit` wins in FastAPI, the listing still answers.
    response, page = client.send("GET", "/api/audio", query=[("q", "lull"), ("limit", "5"), ("limit", "10")])
    assert response["statusCode"] == 200, page
    assert [i["title"] for i in page["items"]] == [item["title"]]
    response, page = client.send("GET", "/api/audio", query=[("q", "no such title")])
    assert page["items"] == []

    response, out = client.send("GET", f"/api/audio/{item['id']}/stream-url")
    assert response["statusCode"] == 200, out
    client.cookies = []
    response, _ = client.send("GET", urlsplit(out["url"]).path)
    assert response["statusCode"] == 302
    location = response["headers"]["location"]
    assert location.startswith(os.environ["AWS_ENDPOINT_URL"]) and "Signature" in location
    audio = httpx.get(location, timeout=30)
    assert audio.status_code == 200
    assert len(audio.content) == item["size_bytes"]
    head = audio.content[:3]
    assert head == b"ID3" or (head[0] == 0xFF and head[1] & 0xE0 == 0xE0), head  # ID3 tag or MPEG frame sync

    response, body = client.send("GET", urlsplit(out["url"]).path.replace(item["id"], "nope"))
    assert response["statusCode"] == 403, body


def test_clients_are_built_once_per_container(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first authenticated request builds the adapters and their boto3 clients;
    later invocations of the same container reuse them."""
    from botocore.client import ClientCreator

    created: list[str] = []
    original = ClientCreator.create_client

    def counting(self: ClientCreator, service_name: str, *args: Any, **kwargs: Any) -> Any:
        created.append(service_name)
        return original(self, service_name, *args, **kwargs)

    monkeypatch.setattr(ClientCreator, "create_client", counting)
    client.login()
    response, _ = client.send("GET", "/api/audio")
    assert response["statusCode"] == 200
    first = list(created)
    assert first, "the first requests should have created the clients they use"
    for _ in range(3):
        response, _ = client.send("GET", "/api/audio")
        assert response["statusCode"] == 200
    response, _ = client.send("GET", "/api/health")
    assert created == first  # nothing new per invocation
