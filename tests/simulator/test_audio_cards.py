"""Cards of uploaded audio: `yoto:#` references checked against transcodes; signed media URLs with ?playable=true."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from simulator.cloud import RunningCloud
from tests.audio_fixtures import write_tone
from tests.simulator.flows import ask_upload, audio_card, audio_track, sha256_hex, stream_track, upload_audio


@pytest.fixture
def transcode(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    yoto_cloud.configure(transcode_delay_s=0)
    return upload_audio(http, auth, write_tone(tmp_path / "fox.mp3", "mp3", seconds=3.0, channels=2).read_bytes())


def post(http: httpx.Client, auth: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return http.post("/content", json=body, headers=auth)


def test_a_card_of_a_transcode_with_its_true_metadata_is_accepted(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str], transcode: dict[str, Any]
) -> None:
    answer = post(http, auth, audio_card(audio_track(transcode)))
    assert answer.status_code == 200, answer.text
    track = answer.json()["card"]["content"]["chapters"][0]["tracks"][0]
    assert track["trackUrl"] == f"yoto:#{transcode['transcodedSha256']}" and track["format"] == "opus"
    bare = {"key": "01", "type": "audio", "trackUrl": f"yoto:#{transcode['transcodedSha256']}"}
    assert post(http, auth, audio_card(bare)).status_code == 200, "metadata is checked only when given"
    close = audio_track(transcode, duration=transcode["transcodedInfo"]["duration"] + 0.9, channels=2)
    assert post(http, auth, audio_card(close)).status_code == 200, "within a second; 2 is stereo"


def test_a_reference_the_account_never_produced_is_refused(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str], transcode: dict[str, Any], tmp_path: Path
) -> None:
    made_up = audio_track(transcode, trackUrl="yoto:#" + "ab" * 32)
    refused = post(http, auth, audio_card(stream_track("01"), made_up, title="Mixed"))
    assert refused.status_code == 400
    assert refused.json()["message"].startswith("content.chapters[1].tracks[0].trackUrl names 'yoto:#abab")
    source = {"key": "01", "type": "audio", "trackUrl": "yoto:#" + transcode["uploadSha256"]}
    assert post(http, auth, audio_card(source)).status_code == 400, "the source's hash is not the transcode's"

    stranger = {"Authorization": f"Bearer {yoto_cloud.issue_tokens(account='stranger')['access_token']}"}
    theirs = post(http, stranger, audio_card(audio_track(transcode)))
    assert theirs.status_code == 400, "another account never uploaded those bytes"
    data = write_tone(tmp_path / "fox.mp3", "mp3", seconds=3.0, channels=2).read_bytes()
    assert sha256_hex(data) == transcode["uploadSha256"]
    assert ask_upload(http, stranger, data)["uploadUrl"] is None
    assert post(http, stranger, audio_card(audio_track(transcode))).status_code == 200, "once it names the bytes"
    assert len(yoto_cloud.cards()) == 1


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"format": "mp3"}, "format is 'mp3', the transcode's is 'opus'"),
        ({"duration": "+1.5"}, "duration is"),
        ({"fileSize": "+1"}, "fileSize is"),
        ({"channels": "mono"}, "channels is 'mono', the transcode's is 'stereo'"),
        ({"channels": 1}, "channels is 1"),
    ],
)
def test_declared_metadata_that_does_not_match_the_transcode_is_refused(
    http: httpx.Client, auth: dict[str, str], transcode: dict[str, Any], change: dict[str, Any], named: str
) -> None:
    info = transcode["transcodedInfo"]
    fields = {
        key: info[key] + float(value) if isinstance(value, str) and value.startswith("+") else value
        for key, value in change.items()
    }
    if "fileSize" in fields:
        fields["fileSize"] = int(fields["fileSize"])
    refused = post(http, auth, audio_card(audio_track(transcode), audio_track(transcode, **fields)))
    assert refused.status_code == 400
    message = refused.json()["message"]
    assert message.startswith("content.chapters[1].tracks[0] does not match its transcode") and named in message


def test_channels_must_be_mono_or_stereo(http: httpx.Client, auth: dict[str, str], transcode: dict[str, Any]) -> None:
    for bad in ("surround", True, [2]):
        refused = post(http, auth, audio_card(audio_track(transcode, channels=bad)))
        assert refused.status_code == 400 and "channels" in refused.json()["message"]


def test_playable_read_gives_signed_media_urls_that_serve_the_transcode(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str], transcode: dict[str, Any]
) -> None:
    sha = transcode["transcodedSha256"]
    card = audio_card(audio_track(transcode), stream_track("01"))
    card["content"]["editSettings"] = {"transcodeAudioUploads": True}
    card_id = post(http, auth, card).json()["card"]["cardId"]

    plain = http.get(f"/content/{card_id}", headers=auth).json()["card"]
    assert plain["content"]["chapters"][0]["tracks"][0]["trackUrl"] == f"yoto:#{sha}"
    playable = http.get(f"/content/{card_id}", params={"playable": "true"}, headers=auth).json()["card"]
    audio, stream = (c["tracks"][0] for c in playable["content"]["chapters"])
    assert stream == card["content"]["chapters"][1]["tracks"][0], "stream tracks are left alone"
    url = audio["trackUrl"]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == yoto_cloud.url and parts.path.endswith(sha)
    assert set(parse_qs(parts.query)) == {"expires", "signature"}
    assert yoto_cloud.card(card_id)["content"]["chapters"][0]["tracks"][0]["trackUrl"] == f"yoto:#{sha}"

    whole = http.get(url)  # no Bearer: the signature is the key
    assert whole.status_code == 200 and whole.headers["content-type"] == "audio/ogg"
    assert whole.headers["accept-ranges"] == "bytes"
    assert sha256_hex(whole.content) == sha and len(whole.content) == transcode["transcodedInfo"]["fileSize"]
    size = len(whole.content)
    first = http.get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206 and first.headers["content-range"] == f"bytes 0-99/{size}"
    assert first.content == whole.content[:100]
    tail = http.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    rest = http.get(url, headers={"Range": f"bytes={size - 5}-"})
    assert rest.content == whole.content[-5:] and rest.headers["content-range"] == f"bytes {size - 5}-{size - 1}/{size}"
    past = http.get(url, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}"
    head = http.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == size and head.content == b""
    forged = http.get(re.sub(r"signature=\w+", "signature=" + "1" * 64, url))
    assert forged.status_code == 403
    other = http.get(url.replace(sha, "0" * 64))
    assert other.status_code == 403, "a signature is for one file"

    yoto_cloud.advance(5)
    later = http.get(f"/content/{card_id}", params={"playable": "true"}, headers=auth).json()["card"]
    assert later["content"]["chapters"][0]["tracks"][0]["trackUrl"] != url, "signed URLs change with time"
    yoto_cloud.advance(yoto_cloud.config.media_url_ttl_s)
    expired = http.get(url)
    assert expired.status_code == 403 and "expired" in expired.json()["message"]


def test_a_read_modify_write_must_turn_media_urls_back_into_references(
    http: httpx.Client, auth: dict[str, str], transcode: dict[str, Any]
) -> None:
    card = post(http, auth, audio_card(audio_track(transcode))).json()["card"]
    playable = http.get(f"/content/{card['cardId']}", params={"playable": "true"}, headers=auth).json()["card"]
    written_back = copy.deepcopy(playable)
    refused = post(http, auth, written_back)
    assert refused.status_code == 400 and "yoto:#" in refused.json()["message"]
    written_back["content"]["chapters"][0]["tracks"][0]["trackUrl"] = f"yoto:#{transcode['transcodedSha256']}"
    assert post(http, auth, written_back).status_code == 200
