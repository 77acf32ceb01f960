"""`YotoClient`: the one way to speak HTTP to the Yoto cloud, implementing
`core.yoto.cloud.YotoCloud` from its parts: the retrying core
(`adapters.yoto.retrying`), OAuth (`adapters.yoto.oauth`) and the REST calls
(`adapters.yoto.rest`). Every Yoto URL is built in those modules."""

from __future__ import annotations

from typing import Any

from adapters.yoto.oauth import OAuthCalls
from adapters.yoto.rest import ContentCalls, PlayerCalls
from core.settings import Settings


class YotoClient(OAuthCalls, PlayerCalls, ContentCalls):
    """Implements `core.yoto.cloud.YotoCloud` over httpx. Build one per process
    (`from_settings`) and share it; `close()` releases its connections. Calls are
    synchronous (the API runs them in worker threads) on one thread-safe pool."""

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> YotoClient:
        return cls(
            api_url=settings.yoto_api_url,
            auth_url=settings.yoto_auth_url,
            client_id=settings.yoto_client_id,
            scope=settings.yoto_scopes,
            **options,
        )
