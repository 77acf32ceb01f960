"""Cards bought in Yoto's shop: served at `GET /card/{id}` to the families that own them, never at `/content/{id}`.

The seeded catalogue is invented; what is imitated is the shape (chapters under
`card.content`, audio tracks on Yoto's CDN) and that keys need not be numeric
(an intro chapter "01-INT" before "01").
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from simulator.cloud.config import DEFAULT_ACCOUNT


def _track(key: str, title: str, seconds: int, digest: str) -> dict[str, Any]:
    return {
        "key": key,
        "title": title,
        "type": "audio",
        "format": "aac",
        "trackUrl": f"yoto:#{digest * 8}",
        "duration": seconds,
        "fileSize": seconds * 16_000,
        "channels": "stereo",
        "overlayLabel": "",
    }


def _chapter(key: str, title: str, label: str, seconds: int, digest: str) -> dict[str, Any]:
    return {
        "key": key,
        "title": title,
        "overlayLabel": label,
        "duration": seconds,
        "tracks": [_track("01", title, seconds, digest)],
        "display": {"icon16x16": None},
    }


SHOP_CARDS: tuple[dict[str, Any], ...] = (
    {
        "cardId": "sHOwL",
        "title": "The Owl Who Lost Her Hoot",
        "content": {
            "playbackType": "linear",
            "chapters": [
                _chapter("01-INT", "Introduction", "", 45, "a1b2c3d4"),
                _chapter("01", "Chapter One", "1", 610, "b2c3d4e5"),
                _chapter("02", "Chapter Two", "2", 575, "c3d4e5f6"),
            ],
        },
        "metadata": {"author": "A. Storyteller", "category": "stories", "media": {"hasStreams": False}},
    },
    {
        "cardId": "sHSng",
        "title": "Songs for a Sleepy Night",
        "content": {
            "playbackType": "linear",
            "chapters": [
                _chapter("01", "Twinkle", "1", 130, "d4e5f6a7"),
                _chapter("02", "Hush", "2", 150, "e5f6a7b8"),
            ],
        },
        "metadata": {"author": "The Sleepy Band", "category": "music", "media": {"hasStreams": False}},
    },
)


class ShopCatalogue:
    """Shop cards and which families own them."""

    def __init__(self, seed: bool = True) -> None:
        self._lock = threading.Lock()
        self._cards: dict[str, dict[str, Any]] = {}
        self._owners: dict[str, set[str]] = {}
        for card in SHOP_CARDS if seed else ():
            self.add(card, DEFAULT_ACCOUNT)

    def add(self, card: dict[str, Any], account: str) -> dict[str, Any]:
        card_id = card.get("cardId")
        if not isinstance(card_id, str) or not card_id:
            raise ValueError("a shop card needs a cardId")
        with self._lock:
            self._cards[card_id] = copy.deepcopy(card)
            self._owners.setdefault(card_id, set()).add(account)
            return copy.deepcopy(self._cards[card_id])

    def read(self, card_id: str, account: str) -> dict[str, Any] | None:
        with self._lock:
            if account not in self._owners.get(card_id, set()):
                return None
            return copy.deepcopy(self._cards[card_id])

    def all(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._cards)
