"""The fake Yoto cloud in-process, for the unit tier: the simulator's own request handling
(`CloudApp`) behind an httpx transport, no socket and no thread.

`InProcessCloud` is a `RunningCloud` (the same tokens, faults, request log and
shortcuts) whose client side is `transport`; `now()` is the simulator's clock as a
datetime, which only `advance` moves on past the wall clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx

from adapters.yoto.client import YotoClient
from simulator.cloud.app import CloudApp
from simulator.cloud.config import DEFAULT_CLIENT_ID, CloudConfig
from simulator.cloud.http import Request
from simulator.cloud.running import RunningCloud
from simulator.cloud.state import Cloud

BASE_URL = "http://yoto-sim.invalid"  # never resolved: every request goes through the transport


class CloudTransport(httpx.BaseTransport):
    """One httpx request in, the simulator's answer out (a dropped connection is a RemoteProtocolError)."""

    def __init__(self, app: CloudApp) -> None:
        self.app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        sim = Request(
            method=request.method,
            path=unquote(request.url.path),
            query=dict(parse_qsl(request.url.query.decode(), keep_blank_values=True)),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        answer = self.app.handle(sim)
        if answer.close:
            raise httpx.RemoteProtocolError("the simulator dropped the connection", request=request)
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body, request=request)


class InProcessCloud(RunningCloud):
    def __init__(self, client_id: str = DEFAULT_CLIENT_ID, access_ttl_s: float = 86400.0, **settings: Any) -> None:
        state = Cloud(CloudConfig(client_id=client_id, access_ttl_s=access_ttl_s, **settings))
        state.base_url = BASE_URL
        self.state = state
        self.transport = CloudTransport(CloudApp(state))

    @property
    def port(self) -> int:
        raise AttributeError("an in-process cloud has no port")

    def stop(self) -> None:
        """Nothing runs: there is no server to stop."""

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.state.clock.now(), UTC)

    def advance(self, seconds: float) -> None:
        self.state.clock.advance(seconds)

    def settle_then_advance(self, seconds: float) -> None:
        """A poll's wait: every transcode the store has started finishes its real work
        first (a thread of the simulator's), then the clock moves `seconds` on."""
        for transcode in list(self.state.audio._held.values()):
            transcode.encoded_event.wait(30)
        self.advance(seconds)

    def client(self, **options: Any) -> YotoClient:
        """A YotoClient on the transport whose retry waits move the simulator's clock instead of sleeping."""
        settings: dict[str, Any] = {"backoff_s": 0.01, "max_backoff_s": 0.05, "max_wait_s": 3.0, **options}
        return YotoClient(
            api_url=self.api_url,
            auth_url=self.auth_url,
            client_id=self.client_id,
            transport=self.transport,
            sleep=self.advance,
            **settings,
        )
