"""Simulated players that play what the fake cloud holds (issue 20): a card of Yoto-hosted audio
downloaded at start and played with our service stopped; stream tracks fetched from a stand-in for
our service as they start; one download per sha256 and player; downloads checked against the card.

Real parts: mosquitto, the fake cloud over HTTP (in process and as `python -m simulator`), and a
small HTTP server on 127.0.0.1 standing in for the service's stream URLs.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.yoto.mqtt.transport import Transport
from core.yoto import payloads as p
from core.yoto.messages import Events
from simulator.cloud import RemoteCloud, RunningCloud
from simulator.cloud.storage_routes import ranged
from simulator.players import STREAM_PROBE_BYTES, PlayerSpec, start_players
from tests import yoto_sim
from tests.audio_fixtures import write_tone
from tests.brokers import Mosquitto
from tests.mqtt.conftest import Controller
from tests.simulator.flows import audio_card, audio_track, upload_audio

yoto_cloud = yoto_sim.yoto_cloud
yoto_cloud_process = yoto_sim.yoto_cloud_process
yoto_cloud_process_session = yoto_sim.yoto_cloud_process_session


class StandIn:
    """Our service's stream URLs: serves `files` with Range (as the service does), records each
    GET's path and Range header; `stop()` closes the port (connection refused), `start()` reopens it."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.gets: list[tuple[str, str | None]] = []
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> StandIn:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.gets.append((self.path, self.headers.get("Range")))
                data = owner.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                answer = ranged(data, self.headers.get("Range", ""), "audio/mpeg")
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[StandIn]:
    """The service's library: 2 s, 3 s and 2 s tones, and a 10 s one bigger than a stream probe."""
    files = {
        f"/audio/{name}.mp3": write_tone(tmp_path / f"{name}.mp3", "mp3", seconds=s, channels=2, freq=f).read_bytes()
        for name, s, f in (("one", 2.0, 330.0), ("two", 3.0, 440.0), ("three", 2.0, 550.0), ("long", 10.0, 660.0))
    }
    assert len(files["/audio/long.mp3"]) > 1.5 * STREAM_PROBE_BYTES
    server = StandIn(files).start()
    yield server
    server.stop()


@pytest.fixture
def watcher(mosquitto: Mosquitto) -> Iterator[Controller]:
    holder: list[Controller] = []
    transport = Transport(mosquitto.config("tcp"), on_message=lambda t, b: holder[0].on_message(t, b))
    holder.append(Controller(transport))
    transport.connect()
    yield holder[0]
    transport.close()


def account_http(cloud: RunningCloud | RemoteCloud) -> tuple[httpx.Client, dict[str, str]]:
    """A client on the cloud and the Bearer header of its default account (the player's `account`)."""
    token = cloud.issue_tokens()["access_token"]
    client = httpx.Client(base_url=cloud.url, timeout=10, verify=False, trust_env=False)
    return client, {"Authorization": f"Bearer {token}"}


def upload_library(cloud: RunningCloud | RemoteCloud, stand_in: StandIn, *names: str) -> list[dict[str, Any]]:
    """What the service does for a `yoto` card: its library's audio through Yoto's upload flow."""
    cloud.configure(transcode_delay_s=0)
    client, auth = account_http(cloud)
    with client:
        library = [httpx.get(f"{stand_in.url}/audio/{n}.mp3", trust_env=False).content for n in names]
        return [upload_audio(client, auth, data) for data in library]


def post_card(cloud: RunningCloud | RemoteCloud, body: dict[str, Any]) -> str:
    client, auth = account_http(cloud)
    with client:
        answer = client.post("/content", json=body, headers=auth)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["card"]["cardId"])


def media_gets(cloud: RunningCloud | RemoteCloud) -> int:
    return len(cloud.requests(method="GET", path_prefix="/storage/audio/"))


def events_of(watcher: Controller, player_id: str) -> list[dict[str, Any]]:
    return [m.changes for m in list(watcher.messages) if isinstance(m, Events) and m.player_id == player_id]


def last_event(watcher: Controller, player_id: str) -> dict[str, Any]:
    found = events_of(watcher, player_id)
    return found[-1] if found else {}


def stream_card(stand_in: StandIn) -> dict[str, Any]:
    """Two stream tracks on the stand-in: 01 of a declared second, 02 (10 s of audio) with no duration."""
    first = {"key": "01", "title": "Short", "type": "stream", "format": "mp3", "duration": 1}
    second = {"key": "02", "title": "Long", "type": "stream", "format": "mp3"}
    first["trackUrl"], second["trackUrl"] = f"{stand_in.url}/audio/one.mp3", f"{stand_in.url}/audio/long.mp3"
    chapters = [{"key": "01", "title": "One", "tracks": [first]}, {"key": "02", "title": "Two", "tracks": [second]}]
    content = {"chapters": chapters, "playbackType": "linear", "editSettings": {"transcodeAudioUploads": True}}
    return {"title": "Streamed", "content": content, "metadata": {}}


def test_a_card_of_yoto_hosted_audio_plays_through_with_the_service_stopped(
    mosquitto: Mosquitto, yoto_cloud: RunningCloud, stand_in: StandIn, watcher: Controller, player_id: str
) -> None:
    one, two, three = upload_library(yoto_cloud, stand_in, "one", "two", "three")
    untimed = {k: v for k, v in audio_track(three, "03").items() if k not in ("duration", "fileSize")}
    card_id = post_card(yoto_cloud, audio_card(audio_track(one, "01"), audio_track(two, "02"), untimed))
    stand_in.stop()
    served_before = len(stand_in.gets)

    watcher.watch(player_id)
    spec = PlayerSpec(player_id, cloud=yoto_cloud, speed=8.0)
    with start_players(mosquitto.config("tcp"), [spec]) as fleet:
        assert watcher.send(player_id, p.events_request()).ok
        result = watcher.send(player_id, p.play(card_id), timeout=10)
        assert result.ok, result
        assert media_gets(yoto_cloud) == 3, "each Yoto-hosted track downloaded when the card starts"
        yoto_cloud.stop()  # from here on nothing answers over the network: the card plays from the player

        watcher.wait_for(lambda: watcher.api(player_id)["chapter_key"] == "03", timeout=10)
        watcher.wait_for(lambda: watcher.api(player_id)["playback_status"] == "stopped", timeout=10)
        snapshot = fleet[player_id].snapshot()
        assert snapshot["playback_status"] == "stopped" and snapshot["playback_error"] is None
        seen = [e for e in events_of(watcher, player_id) if "chapterKey" in e]
        assert [e["chapterKey"] for e in seen] == ["01", "02", "03"]
        lengths = {e["trackKey"]: e["trackLength"] for e in seen}
        assert lengths == {"01": 2, "02": 3, "03": 2}, "03 has no duration: its length is read from the audio"
        assert {e.get("cardId") for e in seen} <= {card_id, None}
    assert len(stand_in.gets) == served_before


def test_a_stream_card_fetches_each_track_as_it_starts_and_stops_when_the_service_is_down(
    mosquitto: Mosquitto, yoto_cloud: RunningCloud, stand_in: StandIn, watcher: Controller, player_id: str
) -> None:
    card_id = post_card(yoto_cloud, stream_card(stand_in))
    watcher.watch(player_id)
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id, cloud=yoto_cloud)]) as fleet:
        player = fleet[player_id]
        assert watcher.send(player_id, p.events_request()).ok

        # the service runs: each track fetched (one small Range request) when it starts playing
        assert watcher.send(player_id, p.play(card_id)).ok
        assert stand_in.gets == [("/audio/one.mp3", f"bytes=0-{STREAM_PROBE_BYTES - 1}")]
        watcher.wait_for(lambda: watcher.api(player_id)["track_key"] == "02", timeout=5)
        assert stand_in.gets[1] == ("/audio/long.mp3", f"bytes=0-{STREAM_PROBE_BYTES - 1}")
        assert player.snapshot()["playback_status"] == "playing"
        watcher.wait_for(lambda: watcher.api(player_id)["track_length_s"] is not None)
        assert abs(watcher.api(player_id)["track_length_s"] - 10) <= 1, "02's length read from its first bytes"

        # stopped: the start is refused with the reason, and the player stops
        stand_in.stop()
        refused = watcher.send(player_id, p.play(card_id, chapter=1))
        assert refused.outcome == "failed"
        assert refused.reason == f"could not stream track 01 of card {card_id}: connection refused"
        assert player.snapshot()["playback_status"] == "stopped"
        watcher.wait_for(lambda: last_event(watcher, player_id).get("playbackError") == refused.reason)
        assert last_event(watcher, player_id)["playbackStatus"] == "stopped"

        # running again: it plays; stopped while 01 plays, the player stops when 02 should start
        stand_in.start()
        assert watcher.send(player_id, p.play(card_id, chapter=1)).ok
        assert player.snapshot()["playback_error"] is None
        stand_in.stop()
        watcher.wait_for(lambda: player.snapshot()["playback_status"] == "stopped", timeout=5)
        failed = f"could not stream track 02 of card {card_id}: connection refused"
        assert player.snapshot()["playback_error"] == failed
        watcher.wait_for(lambda: last_event(watcher, player_id).get("playbackError") == failed)

        # back once more: a plain start resumes at the track that could not stream, and plays
        stand_in.start()
        fetched = len(stand_in.gets)
        assert watcher.send(player_id, p.play(card_id)).ok
        assert player.snapshot()["track_key"] == "02" and player.snapshot()["playback_status"] == "playing"
        assert [path for path, _ in stand_in.gets[fetched:]] == ["/audio/long.mp3"]
        assert all(rng == f"bytes=0-{STREAM_PROBE_BYTES - 1}" for _, rng in stand_in.gets)


def test_a_second_start_downloads_nothing_and_each_player_keeps_its_own_copy(
    mosquitto: Mosquitto, yoto_cloud_process: RemoteCloud, stand_in: StandIn, watcher: Controller, player_id: str
) -> None:
    cloud = yoto_cloud_process
    one, two = upload_library(cloud, stand_in, "one", "two")
    card_id = post_card(cloud, audio_card(audio_track(one, "01"), audio_track(two, "02")))
    sharing = post_card(cloud, audio_card(audio_track(two, "01"), title="Shares a track"))
    other = f"{player_id}-b"
    specs = [PlayerSpec(player_id, cloud=cloud), PlayerSpec(other, cloud=cloud)]
    with start_players(mosquitto.config("tcp"), specs) as fleet:
        assert watcher.send(player_id, p.play(card_id)).ok
        assert media_gets(cloud) == 2
        assert watcher.send(player_id, p.stop()).ok
        assert watcher.send(player_id, p.play(card_id, chapter=2)).ok
        assert watcher.send(player_id, p.play(sharing)).ok
        assert media_gets(cloud) == 2, "the same transcodes again: played from the player's cache"
        assert sorted(fleet[player_id].media) == sorted([one["transcodedSha256"], two["transcodedSha256"]])
        assert fleet[player_id].snapshot()["card_id"] == sharing

        assert watcher.send(other, p.play(sharing)).ok
        assert media_gets(cloud) == 3, "another player downloads for itself"
        assert watcher.send(other, p.play("nOpe1")).reason == "unknown card https://yoto.io/nOpe1"


def test_a_download_that_fails_or_is_not_what_the_card_declares_is_refused(
    mosquitto: Mosquitto, yoto_cloud: RunningCloud, stand_in: StandIn, watcher: Controller, player_id: str
) -> None:
    (one,) = upload_library(yoto_cloud, stand_in, "one")
    card_id = post_card(yoto_cloud, audio_card(audio_track(one)))
    sha256, size = one["transcodedSha256"], one["transcodedInfo"]["fileSize"]
    # The cloud refuses a card whose fileSize is not its transcode's, so the bytes behind the URL change instead.
    transcode = yoto_cloud.state.audio.finished(sha256, None, yoto_cloud.state.clock.now())
    assert transcode is not None and transcode.encoded is not None
    true = transcode.encoded
    flipped = true.data[:100] + bytes([true.data[100] ^ 0xFF]) + true.data[101:]
    where = f"track 01 of card {card_id}"
    watcher.watch(player_id)
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id, cloud=yoto_cloud)]) as fleet:
        player = fleet[player_id]
        assert watcher.send(player_id, p.events_request()).ok
        cases = [
            (true.data[:-100], f"{where}: downloaded {size - 100} bytes, the card declares fileSize {size}"),
            (flipped, f"{where}: the downloaded audio's sha256 is "),
        ]
        for data, reason in cases:
            transcode.encoded = dataclasses.replace(true, data=data)
            result = watcher.send(player_id, p.play(card_id))
            assert result.outcome == "failed" and result.reason is not None and result.reason.startswith(reason)
            assert player.snapshot()["playback_status"] == "stopped" and player.media == {}
            watcher.wait_for(lambda r=result.reason: last_event(watcher, player_id).get("playbackError") == r)
        assert f"its URL names {sha256}" in str(result.reason)

        transcode.encoded = true
        yoto_cloud.fail_next("server_error", path_prefix="/storage/audio/")
        failed = watcher.send(player_id, p.play(card_id))
        assert failed.reason == f"could not download {where}: HTTP 500"
        assert player.media == {}

        assert watcher.send(player_id, p.play(card_id)).ok, "the true bytes play"
        assert list(player.media) == [sha256] and player.snapshot()["playback_error"] is None
        watcher.wait_for(lambda: watcher.api(player_id)["playback_status"] == "playing")
