"""Client-side steps the simulator tests repeat: PKCE pairs, authorize, exchange, cards."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

REDIRECT_URI = "http://127.0.0.1:8000/api/yoto/callback"
SCOPE = "offline_access user:content:manage"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(http: httpx.Client, client_id: str, challenge: str | None, **extra: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "code_challenge_method": "S256",
        "audience": "https://api.yotoplay.com",
        "scope": SCOPE,
        "state": "st-123",
        **extra,
    }
    if challenge is not None:
        params["code_challenge"] = challenge
    return http.get("/authorize", params=params)


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI.split("?")[0])
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def get_code(http: httpx.Client, client_id: str) -> tuple[str, str]:
    """(code, verifier) after an approved authorize."""
    verifier, challenge = pkce_pair()
    return redirect_params(authorize(http, client_id, challenge))["code"], verifier


def exchange(http: httpx.Client, client_id: str, code: str, verifier: str, as_json: bool = False) -> httpx.Response:
    body = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": REDIRECT_URI,
    }
    return http.post("/oauth/token", json=body) if as_json else http.post("/oauth/token", data=body)


def link(http: httpx.Client, client_id: str) -> dict[str, Any]:
    code, verifier = get_code(http, client_id)
    answer = exchange(http, client_id, code, verifier)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def refresh(http: httpx.Client, client_id: str, refresh_token: str) -> httpx.Response:
    body = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token}
    return http.post("/oauth/token", data=body)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stream_track(key: str = "01", **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "title": f"Track {key}",
        "type": "stream",
        "format": "mp3",
        "trackUrl": f"https://family.example/stream/{key}.mp3",
        "duration": 120,
        **extra,
    }


def card_body(title: str = "Bedtime stories", chapters: int = 2, icon: str | None = None) -> dict[str, Any]:
    display = {"icon16x16": f"yoto:#{icon}"} if icon else None
    body_chapters = []
    for n in range(1, chapters + 1):
        key = f"{n:02d}"
        chapter: dict[str, Any] = {"key": key, "title": f"Chapter {n}", "overlayLabel": str(n)}
        chapter["tracks"] = [stream_track(key)]
        if display:
            chapter["display"] = dict(display)
        body_chapters.append(chapter)
    return {
        "title": title,
        "content": {
            "chapters": body_chapters,
            "playbackType": "linear",
            "config": {"resumeTimeout": 2592000},
            "editSettings": {"transcodeAudioUploads": True},
        },
        "metadata": {"description": "Read by Grandma", "author": "Grandma", "media": {"hasStreams": True}},
    }


# ---- audio uploads (yoto.dev, "Uploading content to MYO cards")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ask_upload(http: httpx.Client, auth: dict[str, str], data: bytes, filename: str = "story.mp3") -> dict[str, Any]:
    """`{uploadId, uploadUrl}` for these bytes."""
    answer = http.get(
        "/media/transcode/audio/uploadUrl", params={"sha256": sha256_hex(data), "filename": filename}, headers=auth
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["upload"])


def put_audio(http: httpx.Client, url: str, data: bytes, content_type: str | None = "audio/mpeg") -> httpx.Response:
    """PUT to a presigned target: no Bearer, as a client does with an S3 URL."""
    headers = {"Content-Type": content_type} if content_type else {}
    return http.put(url, content=data, headers=headers)


def poll(http: httpx.Client, auth: dict[str, str], upload_id: str) -> httpx.Response:
    return http.get(f"/media/upload/{upload_id}/transcoded", params={"loudnorm": "false"}, headers=auth)


def wait_transcoded(http: httpx.Client, auth: dict[str, str], upload_id: str, timeout_s: float = 20) -> dict[str, Any]:
    """Poll until the answer is 200; returns its `transcode` (complete or failed)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = poll(http, auth, upload_id)
        if answer.status_code == 200:
            return dict(answer.json()["transcode"])
        assert answer.status_code == 202, answer.text
        assert "transcodedSha256" not in answer.json()["transcode"]
        assert time.monotonic() < deadline, f"transcode of {upload_id} still 202 after {timeout_s} s"
        time.sleep(0.02)


def upload_audio(
    http: httpx.Client, auth: dict[str, str], data: bytes, content_type: str = "audio/mpeg"
) -> dict[str, Any]:
    """The whole flow: ask, PUT when asked to, poll until complete; returns the transcode."""
    upload = ask_upload(http, auth, data)
    if upload["uploadUrl"] is not None:
        put = put_audio(http, upload["uploadUrl"], data, content_type)
        assert put.status_code == 200, put.text
    transcode = wait_transcoded(http, auth, upload["uploadId"])
    assert transcode["status"] == "complete", transcode
    return transcode


def audio_track(transcode: dict[str, Any], key: str = "01", **extra: Any) -> dict[str, Any]:
    """A track that plays a transcode, its metadata copied from transcodedInfo as a client must."""
    info = transcode["transcodedInfo"]
    return {
        "key": key,
        "title": f"Track {key}",
        "type": "audio",
        "trackUrl": f"yoto:#{transcode['transcodedSha256']}",
        "format": info["format"],
        "duration": info["duration"],
        "fileSize": info["fileSize"],
        "channels": info["channels"],
        **extra,
    }


def audio_card(*tracks: dict[str, Any], title: str = "Offline stories") -> dict[str, Any]:
    chapters = [{"key": f"{n:02d}", "title": f"Chapter {n}", "tracks": [t]} for n, t in enumerate(tracks, 1)]
    return {"title": title, "content": {"chapters": chapters, "playbackType": "linear"}, "metadata": {}}
