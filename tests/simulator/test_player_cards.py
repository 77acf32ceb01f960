"""`card_for_player`: the read a simulated player makes when a card starts (the playable form), in
process and over `/_sim/player-cards/{id}`; only the account's own live cards."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx

from simulator.cloud import RemoteCloud, RunningCloud
from tests.audio_fixtures import write_tone
from tests.simulator.flows import audio_card, audio_track, upload_audio


def test_a_player_reads_the_playable_card_of_its_own_account(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str], tmp_path: Path
) -> None:
    yoto_cloud.configure(transcode_delay_s=0)
    transcode = upload_audio(http, auth, write_tone(tmp_path / "a.mp3", "mp3", seconds=1.0).read_bytes())
    card_id = http.post("/content", json=audio_card(audio_track(transcode)), headers=auth).json()["card"]["cardId"]
    yoto_cloud.clear_requests()

    card = yoto_cloud.card_for_player(card_id, "family")
    assert card is not None and card["cardId"] == card_id
    url = card["content"]["chapters"][0]["tracks"][0]["trackUrl"]
    assert urlsplit(url).path == f"/storage/audio/{transcode['transcodedSha256']}" and "signature=" in url
    assert httpx.get(url, trust_env=False).content[:4] == b"OggS"
    stored = yoto_cloud.card(card_id)
    assert stored is not None and stored["content"]["chapters"][0]["tracks"][0]["trackUrl"].startswith("yoto:#")
    assert [r.path for r in yoto_cloud.requests()] == [urlsplit(url).path], "the read itself is not logged"

    assert yoto_cloud.card_for_player(card_id, "stranger") is None
    assert yoto_cloud.card_for_player("nOpe1", "family") is None
    assert http.delete(f"/content/{card_id}", headers=auth).status_code == 200
    assert yoto_cloud.card_for_player(card_id, "family") is None


def test_over_http_for_a_player_in_another_process(yoto_cloud_process: RemoteCloud) -> None:
    cloud = yoto_cloud_process
    token = cloud.issue_tokens()["access_token"]
    body = audio_card({"key": "01", "type": "stream", "format": "mp3", "trackUrl": "http://127.0.0.1:9/a.mp3"})
    body["content"]["editSettings"] = {"transcodeAudioUploads": True}
    made = httpx.post(f"{cloud.url}/content", json=body, headers={"Authorization": f"Bearer {token}"}, trust_env=False)
    card_id = made.json()["card"]["cardId"]

    card = cloud.card_for_player(card_id, "family")
    assert card is not None and card["content"]["chapters"][0]["tracks"][0]["trackUrl"] == "http://127.0.0.1:9/a.mp3"
    assert cloud.card_for_player(card_id, "stranger") is None
    missing = httpx.get(f"{cloud.url}/_sim/player-cards/{card_id}", trust_env=False)
    assert missing.status_code == 400 and "account is required" in missing.json()["message"]
