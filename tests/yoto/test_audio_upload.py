"""`YotoAudioUploader` against the fake Yoto cloud over real HTTP: a new file is sent once
and transcoded, bytes Yoto holds are not sent again, a lost PUT is resent, a failed or
stalled transcode is a clear error, and the track it gives is one the cloud accepts on a card."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.yoto import cards
from adapters.yoto.audio_upload import YotoAudioUploader
from core.errors import UpstreamTimeout
from core.yoto.cloud import AccessTokenRejected, YotoCard, YotoChapter
from core.yoto.uploads import TranscodeFailed, UploadProgress
from simulator.cloud import RunningCloud
from tests.audio_fixtures import write_tone


@pytest.fixture
def uploader(yoto_cloud: RunningCloud) -> Iterator[YotoAudioUploader]:
    yoto_cloud.configure(transcode_delay_s=0.3)
    up = YotoAudioUploader(yoto_cloud.api_url, poll_first_s=0.05, poll_max_s=0.1, transcode_deadline_s=20)
    yield up
    up.close()


@pytest.fixture
def token(yoto_cloud: RunningCloud) -> str:
    return str(yoto_cloud.issue_tokens()["access_token"])


@pytest.fixture
def tone(tmp_path: Path) -> Path:
    return write_tone(tmp_path / "story.mp3", "mp3", seconds=3.0, channels=2)


def puts(cloud: RunningCloud) -> list[str]:
    return [r.path for r in cloud.requests(method="PUT", path_prefix="/storage/uploads/")]


def test_a_new_file_is_sent_once_and_its_transcode_is_what_the_cloud_holds(
    yoto_cloud: RunningCloud, uploader: YotoAudioUploader, token: str, tone: Path
) -> None:
    seen: list[UploadProgress] = []
    done = uploader.upload(token, tone, filename="story.mp3", on_progress=seen.append)
    assert done.uploaded is True and len(puts(yoto_cloud)) == 1
    assert done.source_sha256 == hashlib.sha256(tone.read_bytes()).hexdigest()
    put = yoto_cloud.requests(method="PUT", path_prefix="/storage/uploads/")[0]
    assert "authorization" not in {k.lower() for k in put.headers}  # a presigned target gets no Bearer
    assert put.headers.get("content-type") == "audio/mpeg" and put.body == tone.read_bytes()
    polled = yoto_cloud.requests(method="GET", path_prefix=f"/media/upload/{done.upload_id}/transcoded")
    assert polled and all(r.query.get("loudnorm") == "false" for r in polled)
    assert done.format == "opus" and done.channels == "stereo" and abs(done.duration_s - 3.0) < 0.1
    assert done.file_size > 0 and len(done.sha256) == 64 and done.track_url == f"yoto:#{done.sha256}"
    phases = [p.phase for p in seen]
    assert phases[0] == "hashing" and "uploading" in phases and "transcoding" in phases
    assert phases[-1] == "complete"


def test_bytes_yoto_already_holds_are_not_sent_again(
    yoto_cloud: RunningCloud, uploader: YotoAudioUploader, token: str, tone: Path, tmp_path: Path
) -> None:
    first = uploader.upload(token, tone, filename="story.mp3")
    copy = tmp_path / "again.mp3"
    copy.write_bytes(tone.read_bytes())
    second = uploader.upload(token, copy, filename="again.mp3")
    assert second.uploaded is False and len(puts(yoto_cloud)) == 1
    assert second.sha256 == first.sha256 and second.upload_id != first.upload_id


def test_a_put_lost_to_a_5xx_is_resent(
    yoto_cloud: RunningCloud, uploader: YotoAudioUploader, token: str, tone: Path
) -> None:
    yoto_cloud.server_error_next(1, 503, path_prefix="/storage/uploads/", method="PUT")
    uploader._sleep = lambda _s: None  # the backoff's length is not what is tested
    done = uploader.upload(token, tone, filename="story.mp3")
    assert done.uploaded is True and len(puts(yoto_cloud)) == 2


def test_a_failed_transcode_says_yotos_reason(
    yoto_cloud: RunningCloud, uploader: YotoAudioUploader, token: str, tone: Path
) -> None:
    yoto_cloud.fail_transcode(message="unsupported sample format")
    with pytest.raises(TranscodeFailed, match="unsupported sample format"):
        uploader.upload(token, tone, filename="story.mp3")


def test_bytes_that_are_not_audio_fail_with_the_clouds_reason(
    uploader: YotoAudioUploader, token: str, tmp_path: Path
) -> None:
    junk = tmp_path / "notes.mp3"
    junk.write_bytes(b"this is a shopping list, not audio\n" * 100)
    with pytest.raises(TranscodeFailed, match="cannot be decoded as audio"):
        uploader.upload(token, junk, filename="notes.mp3")


def test_a_stalled_transcode_ends_at_the_deadline(yoto_cloud: RunningCloud, token: str, tone: Path) -> None:
    yoto_cloud.stall_transcode()
    now = [0.0]
    up = YotoAudioUploader(
        yoto_cloud.api_url,
        poll_first_s=1.0,
        poll_max_s=30.0,
        transcode_deadline_s=120.0,
        sleep=lambda s: now.__setitem__(0, now[0] + s),
        clock=lambda: now[0],
    )
    with up, pytest.raises(UpstreamTimeout, match=r"still transcoding .* after 120 s"):
        up.upload(token, tone, filename="story.mp3")
    assert 100.0 <= now[0] <= 120.0  # waited out the deadline on the manual clock, and no further
    polls = yoto_cloud.requests(method="GET", path_prefix="/media/upload/")
    assert 5 <= len(polls) <= 20  # backed off (1 s growing to 30 s), not a poll a millisecond


def test_a_refused_token_is_the_port_s_token_error(uploader: YotoAudioUploader, tone: Path) -> None:
    with pytest.raises(AccessTokenRejected):
        uploader.upload("not-a-token", tone, filename="story.mp3")


def test_the_track_it_gives_is_one_the_cloud_accepts_and_plays(
    yoto_cloud: RunningCloud, uploader: YotoAudioUploader, token: str, tone: Path
) -> None:
    """The card JSON our card module builds from the transcode passes the cloud's strict track
    checks (format, duration, fileSize, channels), and its playable form downloads those bytes."""
    done = uploader.upload(token, tone, filename="story.mp3")
    card = YotoCard(title="Offline stories", chapters=(YotoChapter(title="One", tracks=(done.track("Story"),)),))
    body = cards.card_json(card)
    track = body["content"]["chapters"][0]["tracks"][0]
    assert track["type"] == "audio" and track["trackUrl"] == done.track_url and "isNew" not in track
    assert track["channels"] == "stereo" and track["fileSize"] == done.file_size
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=yoto_cloud.api_url, trust_env=False, timeout=10) as http:
        made = http.post("/content", json=body, headers=auth)
        assert made.status_code == 200, made.text
        card_id = made.json()["card"]["cardId"]
        playable = http.get(f"/content/{card_id}", params={"playable": "true"}, headers=auth).json()["card"]
        url = playable["content"]["chapters"][0]["tracks"][0]["trackUrl"]
        audio = http.get(url)
    assert audio.status_code == 200 and len(audio.content) == done.file_size
    assert hashlib.sha256(audio.content).hexdigest() == done.sha256
