"""Audio uploaded into the simulator's store: upload URL, presigned PUT, transcode poll, dedup, faults."""

from __future__ import annotations

import hashlib
import io
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from simulator.cloud import RemoteCloud, RunningCloud
from tests.audio_fixtures import write_tone
from tests.simulator.flows import ask_upload, poll, put_audio, sha256_hex, upload_audio, wait_transcoded

HEX64 = re.compile(r"[0-9a-f]{64}")


@pytest.fixture(scope="module")
def tones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Real MP3s made here: a 3 s stereo tone, a 2 s mono one, and four more 1 s stereo ones of their own bytes."""
    folder: Path = tmp_path_factory.mktemp("tones")
    made = {
        "stereo": write_tone(folder / "stereo.mp3", "mp3", seconds=3.0, channels=2),
        "mono": write_tone(folder / "mono.mp3", "mp3", seconds=2.0, channels=1),
    }
    for n, freq in enumerate((330.0, 550.0, 660.0, 770.0), 1):
        made[f"other{n}"] = write_tone(folder / f"other{n}.mp3", "mp3", seconds=1.0, channels=2, freq=freq)
    return {name: path.read_bytes() for name, path in made.items()}


def other_account(cloud: RunningCloud, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {cloud.issue_tokens(account=name)['access_token']}"}


def test_upload_put_and_poll_as_yoto_dev_documents(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str], tones: dict[str, bytes]
) -> None:
    import av

    yoto_cloud.configure(transcode_delay_s=30)
    data = tones["stereo"]
    upload = ask_upload(http, auth, data, filename="The Fox.mp3")
    assert set(upload) == {"uploadId", "uploadUrl"}
    assert len(upload["uploadId"]) == 43
    target = urlsplit(upload["uploadUrl"])
    assert f"{target.scheme}://{target.netloc}" == yoto_cloud.url and not target.path.startswith("/_sim/")
    before = poll(http, auth, upload["uploadId"])
    assert before.status_code == 202
    assert before.json()["transcode"]["progress"]["phase"] == "awaiting_upload"

    put = put_audio(http, upload["uploadUrl"], data)  # no Authorization header: the URL is the key
    assert put.status_code == 200, put.text
    assert put.headers["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
    working = poll(http, auth, upload["uploadId"])
    assert working.status_code == 202
    body = working.json()["transcode"]
    assert body["status"] == "processing" and "transcodedSha256" not in body
    assert body["uploadSha256"] == sha256_hex(data) and body["uploadFilename"] == "The Fox.mp3"
    assert body["options"] == {"loudnorm": "false"}

    yoto_cloud.advance(30)
    done = wait_transcoded(http, auth, upload["uploadId"])
    assert done["status"] == "complete" and HEX64.fullmatch(done["transcodedSha256"])
    info = done["transcodedInfo"]
    assert info["format"] == "opus" and info["codec"] == "opus" and info["channels"] == "stereo"
    assert abs(info["duration"] - 3.0) < 0.1, "the duration is decoded from the upload, not guessed"
    assert done["uploadInfo"]["format"] == done["uploadInfo"]["codec"] == "mp3"
    assert done["uploadInfo"]["fileSize"] == len(data) and done["uploadInfo"]["sampleRate"] == 44100

    served = next(t for t in yoto_cloud.transcodes() if t["transcodedSha256"] == done["transcodedSha256"])
    assert served["transcodedInfo"] == info
    (recorded,) = yoto_cloud.requests(method="PUT")
    assert "authorization" not in recorded.headers and recorded.headers["content-type"] == "audio/mpeg"
    transcoded = yoto_cloud.state.audio.finished(done["transcodedSha256"], None, yoto_cloud.state.clock.now())
    assert transcoded is not None and transcoded.encoded is not None
    opus = transcoded.encoded.data
    assert len(opus) == info["fileSize"] and sha256_hex(opus) == done["transcodedSha256"]
    with av.open(io.BytesIO(opus)) as check:
        stream = check.streams.audio[0]
        assert (check.format.name, stream.codec_context.name, stream.channels) == ("ogg", "opus", 2)
        seconds = sum(frame.samples for frame in check.decode(stream)) / 48000
    assert abs(seconds - info["duration"]) < 0.05


def test_mono_upload_and_the_transcode_is_a_function_of_the_bytes(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str], tones: dict[str, bytes]
) -> None:
    yoto_cloud.configure(transcode_delay_s=0)
    mono = upload_audio(http, auth, tones["mono"])
    assert mono["transcodedInfo"]["channels"] == "mono"
    assert abs(mono["transcodedInfo"]["duration"] - 2.0) < 0.1
    yoto_cloud.reset()  # a fresh store re-encodes the same bytes to the same file
    yoto_cloud.configure(transcode_delay_s=0)
    fresh = {"Authorization": f"Bearer {yoto_cloud.issue_tokens()['access_token']}"}
    again = upload_audio(http, fresh, tones["mono"])
    assert again["transcodedSha256"] == mono["transcodedSha256"]
    assert again["transcodedInfo"] == mono["transcodedInfo"]


def test_the_poll_answers_202_until_the_delay_has_passed(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str], tones: dict[str, bytes]
) -> None:
    yoto_cloud.configure(transcode_delay_s=0.6)
    upload = ask_upload(http, auth, tones["other1"])
    started = time.monotonic()
    assert put_audio(http, upload["uploadUrl"], tones["other1"]).status_code == 200
    statuses = []
    while True:
        answer = poll(http, auth, upload["uploadId"])
        statuses.append(answer.status_code)
        if answer.status_code == 200:
            break
        time.sleep(0.05)
    assert time.monotonic() - started >= 0.6
    assert statuses[0] == 202 and set(statuses[:-1]) == {202}
    assert answer.json()["transcode"]["progress"]["phase"] == "complete"


def test_same_bytes_are_held_once_for_every_account(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str], tones: dict[str, bytes]
) -> None:
    yoto_cloud.configure(transcode_delay_s=30)
    data = tones["stereo"]
    first = ask_upload(http, auth, data)
    assert put_audio(http, first["uploadUrl"], data).status_code == 200
    while_working = ask_upload(http, auth, data)
    assert while_working["uploadUrl"] is None and while_working["uploadId"] != first["uploadId"]
    assert poll(http, auth, while_working["uploadId"]).status_code == 202, "held, not finished yet"
    yoto_cloud.advance(30)
    done = wait_transcoded(http, auth, first["uploadId"])
    again = ask_upload(http, auth, data)
    assert again["uploadUrl"] is None
    at_once = poll(http, auth, again["uploadId"])
    assert at_once.status_code == 200
    assert at_once.json()["transcode"]["transcodedSha256"] == done["transcodedSha256"]

    grandma = other_account(yoto_cloud, "grandma")
    theirs = ask_upload(http, grandma, data)
    assert theirs["uploadUrl"] is None, "the store is global: Yoto already holds those bytes"
    assert poll(http, grandma, theirs["uploadId"]).json()["transcode"]["transcodedSha256"] == done["transcodedSha256"]
    assert poll(http, grandma, first["uploadId"]).status_code == 404, "another account's upload id"
    assert len(yoto_cloud.transcodes()) == 1 and len(yoto_cloud.audio_uploads()) == 4
    assert [u["urlIssued"] for u in yoto_cloud.audio_uploads()] == [True, False, False, False]


def test_upload_url_and_poll_refuse_bad_requests(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]
) -> None:
    path = "/media/transcode/audio/uploadUrl"
    assert http.get(path, params={"sha256": "a" * 64}).status_code == 401
    for bad in ({}, {"sha256": "not-a-hash"}, {"sha256": "a" * 63}, {"sha256": "The Fox.mp3"}):
        refused = http.get(path, params=bad, headers=auth)
        assert refused.status_code == 400 and "sha256" in refused.json()["message"]
    upper = http.get(path, params={"sha256": "A" * 64}, headers=auth)
    assert upper.status_code == 200, "hex digits of either case"
    assert http.get("/media/upload/nope/transcoded", headers=auth).status_code == 404
    assert http.get(f"/media/upload/{upper.json()['upload']['uploadId']}/transcoded").status_code == 401


def test_the_put_target_checks_like_a_presigned_url(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str], tones: dict[str, bytes]
) -> None:
    data = tones["other2"]
    upload = ask_upload(http, auth, data)
    url = upload["uploadUrl"]
    wrong = put_audio(http, url, tones["other3"])
    assert wrong.status_code == 400
    assert sha256_hex(tones["other3"]) in wrong.json()["message"] and sha256_hex(data) in wrong.json()["message"]
    untyped = put_audio(http, url, data, content_type=None)
    assert untyped.status_code == 400 and "Content-Type" in untyped.json()["message"]
    assert put_audio(http, url, data, content_type="text/plain").status_code == 415
    assert put_audio(http, url, b"").status_code == 400
    forged = put_audio(http, re.sub(r"signature=\w+", "signature=" + "0" * 64, url), data)
    assert forged.status_code == 403 and "signature" in forged.json()["message"]
    unsigned = put_audio(http, url.split("?")[0], data)
    assert unsigned.status_code == 403
    yoto_cloud.configure(max_audio_upload_bytes=len(data) - 1)
    big = put_audio(http, url, data)
    assert big.status_code == 413 and str(len(data) - 1) in big.json()["message"]
    yoto_cloud.configure(max_audio_upload_bytes=len(data))
    assert yoto_cloud.transcodes() == [], "a refused PUT stores nothing"

    ok = put_audio(http, url, data, content_type="application/octet-stream")
    assert ok.status_code == 200, "refused PUTs did not use the URL up"
    again = put_audio(http, url, data)
    assert again.status_code == 409
    (upload_seen,) = yoto_cloud.audio_uploads()
    assert upload_seen["contentType"] == "application/octet-stream" and upload_seen["putAt"]

    late = ask_upload(http, auth, tones["other3"])
    yoto_cloud.advance(yoto_cloud.config.upload_url_ttl_s + 1)
    expired = put_audio(http, late["uploadUrl"], tones["other3"])
    assert expired.status_code == 403 and "expired" in expired.json()["message"]


def test_a_failed_transcode_answers_failed_and_holds_nothing(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str], tones: dict[str, bytes]
) -> None:
    yoto_cloud.configure(transcode_delay_s=0)
    yoto_cloud.fail_transcode(2, message="Transcoding failed: unsupported audio")
    for name in ("other1", "other2"):
        upload = ask_upload(http, auth, tones[name])
        assert put_audio(http, upload["uploadUrl"], tones[name]).status_code == 200
        failed = wait_transcoded(http, auth, upload["uploadId"])
        assert failed["status"] == "failed" and failed["progress"]["phase"] == "failed"
        assert failed["error"] == "Transcoding failed: unsupported audio"
        assert "transcodedSha256" not in failed and "transcodedInfo" not in failed
    assert yoto_cloud.pending_transcode_faults() == []
    assert upload_audio(http, auth, tones["other3"])["status"] == "complete", "only the next two"
    retry = ask_upload(http, auth, tones["other1"])
    assert retry["uploadUrl"] is not None, "a failed transcode holds no bytes: upload again"
    assert upload_audio(http, auth, tones["other1"])["transcodedSha256"]

    garbage = b"This is not audio at all. " * 40
    upload = ask_upload(http, auth, garbage)
    assert put_audio(http, upload["uploadUrl"], garbage).status_code == 200
    unreadable = wait_transcoded(http, auth, upload["uploadId"])
    assert unreadable["status"] == "failed" and "cannot be decoded" in unreadable["error"]


def test_a_stalled_transcode_answers_202_for_ever(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str], tones: dict[str, bytes]
) -> None:
    yoto_cloud.configure(transcode_delay_s=0)
    stuck = ask_upload(http, auth, tones["other1"])
    yoto_cloud.stall_transcode(upload_id=stuck["uploadId"])
    assert put_audio(http, stuck["uploadUrl"], tones["other1"]).status_code == 200
    assert upload_audio(http, auth, tones["other2"])["status"] == "complete", "only that upload stalls"
    yoto_cloud.advance(3000)  # far past the delay, within the access token's hour
    time.sleep(0.2)
    still = poll(http, auth, stuck["uploadId"])
    assert still.status_code == 202 and still.json()["transcode"]["status"] == "processing"
    assert ask_upload(http, auth, tones["other1"])["uploadUrl"] is None, "a stalled transcode still holds its bytes"

    yoto_cloud.fail_transcode(upload_id=stuck["uploadId"], message="gave up")
    assert wait_transcoded(http, auth, stuck["uploadId"])["error"] == "gave up"
    done = ask_upload(http, auth, tones["other2"])
    refused = http.post("/_sim/transcode-faults", json={"kind": "stall", "upload_id": done["uploadId"]})
    assert refused.status_code == 400 and "finished" in refused.json()["message"]

    yoto_cloud.stall_transcode(1)
    next_one = ask_upload(http, auth, tones["other4"])
    assert put_audio(http, next_one["uploadUrl"], tones["other4"]).status_code == 200
    assert yoto_cloud.pending_transcode_faults() == []
    yoto_cloud.advance(60)
    time.sleep(0.2)
    assert poll(http, auth, next_one["uploadId"]).status_code == 202, "the next transcode a PUT started stalls"

    yoto_cloud.stall_transcode(2)
    assert len(yoto_cloud.pending_transcode_faults()) == 1
    yoto_cloud.clear_faults()
    assert yoto_cloud.pending_transcode_faults() == []
    assert upload_audio(http, auth, tones["other3"])["status"] == "complete"


def test_control_endpoints_for_uploads(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str], tones: dict[str, bytes]
) -> None:
    assert http.patch("/_sim/config", json={"transcode_delay_s": 0}).json()["transcode_delay_s"] == 0
    fault = http.post("/_sim/transcode-faults", json={"kind": "fail", "count": 1, "message": "boom"})
    assert fault.status_code == 200 and fault.json()["fault"]["kind"] == "fail"
    assert http.post("/_sim/transcode-faults", json={"kind": "melt"}).status_code == 400
    assert http.post("/_sim/transcode-faults", json={"kind": "fail", "colour": "red"}).status_code == 400
    assert http.post("/_sim/transcode-faults", json={"kind": "fail", "upload_id": "nope"}).status_code == 400
    assert [f["message"] for f in http.get("/_sim/transcode-faults").json()["faults"]] == ["boom"]
    upload = ask_upload(http, auth, tones["other1"])
    put_audio(http, upload["uploadUrl"], tones["other1"])
    assert wait_transcoded(http, auth, upload["uploadId"])["error"] == "boom"
    (listed,) = http.get("/_sim/uploads").json()["uploads"]
    assert listed["uploadId"] == upload["uploadId"] and listed["status"] == "failed"
    assert http.get("/_sim/transcodes").json()["transcodes"][0]["error"] == "boom"
    http.post("/_sim/transcode-faults", json={"kind": "stall"})
    assert http.delete("/_sim/faults").status_code == 200
    assert http.get("/_sim/transcode-faults").json()["faults"] == []
    http.post("/_sim/transcode-faults", json={"kind": "stall"})
    assert http.delete("/_sim/transcode-faults").status_code == 200
    assert http.get("/_sim/transcode-faults").json()["faults"] == []
    assert http.post("/_sim/reset").status_code == 200
    assert http.get("/_sim/uploads").json()["uploads"] == [] and http.get("/_sim/transcodes").json()["transcodes"] == []


@pytest.mark.parametrize("which", ["yoto_cloud", "yoto_cloud_process"])
def test_the_python_api_inspects_uploads_and_injects_transcode_faults(
    which: str, request: pytest.FixtureRequest, tones: dict[str, bytes]
) -> None:
    """The same calls on the in-process handle and on RemoteCloud (python -m simulator in its own process)."""
    cloud: RunningCloud | RemoteCloud = request.getfixturevalue(which)
    delay = cloud.configure()["transcode_delay_s"]
    cloud.configure(transcode_delay_s=0)
    try:
        auth = {"Authorization": f"Bearer {cloud.issue_tokens()['access_token']}"}
        with httpx.Client(base_url=cloud.url, timeout=10, verify=False) as http:
            failed = cloud.fail_transcode(message="injected")
            assert (failed.kind, failed.count, failed.upload_id) == ("fail", 1, None)
            first = ask_upload(http, auth, tones["other1"], filename="one.mp3")
            put_audio(http, first["uploadUrl"], tones["other1"])
            assert wait_transcoded(http, auth, first["uploadId"])["error"] == "injected"
            second = ask_upload(http, auth, tones["other2"])
            stalled = cloud.stall_transcode(upload_id=second["uploadId"])
            assert [f.upload_id for f in cloud.pending_transcode_faults()] == [stalled.upload_id]
            put_audio(http, second["uploadUrl"], tones["other2"])
            assert cloud.pending_transcode_faults() == []
            done = upload_audio(http, auth, tones["other3"])

            uploads = {u["uploadId"]: u for u in cloud.audio_uploads()}
            assert uploads[first["uploadId"]]["filename"] == "one.mp3"
            assert uploads[first["uploadId"]]["sha256"] == sha256_hex(tones["other1"])
            assert [u["status"] for u in uploads.values()] == ["failed", "processing", "complete"]
            transcodes = {t["sourceSha256"]: t for t in cloud.transcodes()}
            assert transcodes[sha256_hex(tones["other2"])]["fault"] == "stall"
            finished = transcodes[sha256_hex(tones["other3"])]
            assert finished["transcodedSha256"] == done["transcodedSha256"]
            assert finished["transcodedInfo"] == done["transcodedInfo"]
            cloud.stall_transcode(3)
            cloud.clear_faults()
            assert cloud.pending_transcode_faults() == []
    finally:
        cloud.configure(transcode_delay_s=delay)
