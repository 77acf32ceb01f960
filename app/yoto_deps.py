"""The Yoto-side services of an adapter set, built once per set (one per process).

They hold process-wide state that must be shared by every request: the icon
catalogue's cache, and the playlist-card debounce timers. Keyed by the adapter
set like the signing keys (`app.keys`), so tests that build a fresh set get
fresh services. Other routers that talk to Yoto (players) take `tokens` from
here: one token service per process keeps one refresh in flight.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated
from weakref import WeakKeyDictionary

from fastapi import Depends

from adapters import Adapters
from app.deps import AdaptersDep
from app.keys import keys_for
from services.card_content import CardPorts, CardRules, YotoAccess
from services.icons import IconCatalog
from services.members import MemberLookup, Members
from services.playlist_cards import PlaylistCards
from services.playlists import Playlists
from services.yoto_link import LinkRules, YotoLink
from services.yoto_tokens import YotoTokenService


@dataclass(frozen=True)
class YotoServices:
    tokens: YotoTokenService
    icons: IconCatalog
    link: YotoLink
    cards: CardPorts
    playlist_cards: PlaylistCards
    playlists: Playlists


def _build(adapters: Adapters) -> YotoServices:
    settings = adapters.settings
    records = adapters.records
    cloud = adapters.yoto
    tokens = YotoTokenService(records.tokens, records.counters, cloud)
    icons = IconCatalog(cloud)
    card_ports = CardPorts(
        audio=records.audio,
        cards=records.cards,
        users=MemberLookup(adapters.identity, Members(records)),
        yoto=YotoAccess(cloud, tokens, icons),
        stream_key=keys_for(adapters).stream,
        rules=CardRules.of(settings),
    )
    followers = PlaylistCards(
        card_ports,
        records.playlists,
        records.counters,
        debounce_s=settings.card_sync_debounce_s,
        timer=settings.card_sync_timer_enabled,
    )
    link = YotoLink(cloud, tokens, records.tokens, records.settings, records.counters, LinkRules.of(settings))
    return YotoServices(tokens, icons, link, card_ports, followers, Playlists(followers))


_lock = threading.Lock()
_built: WeakKeyDictionary[Adapters, YotoServices] = WeakKeyDictionary()


def yoto_services(adapters: Adapters) -> YotoServices:
    found = _built.get(adapters)
    if found is not None:
        return found
    with _lock:
        found = _built.get(adapters)
        if found is None:
            found = _built[adapters] = _build(adapters)
    return found


def _services(adapters: AdaptersDep) -> YotoServices:
    """Sync (a worker thread): the first build opens the records and reads the secret."""
    return yoto_services(adapters)


YotoDep = Annotated[YotoServices, Depends(_services)]
