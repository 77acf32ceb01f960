"""A podcast feed as the episodes a card can hold (no fetch: the document is given)."""

from __future__ import annotations

import pytest

from core.errors import Invalid
from services.podcast_feeds import MAX_ENTRIES, Feed, first_entries, parse_feed

BASE = "https://feeds.example/show/"


def _rss(items: str, title: str = "Bedtime Stories") -> bytes:
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>{items}</channel></rss>'.encode()


def _item(n: int, date: str, *, audio: bool = True, guid: bool = True) -> str:
    enclosure = f'<enclosure url="ep{n}.mp3" type="audio/mpeg" length="1"/>' if audio else ""
    ident = f'<guid isPermaLink="false">tag:feeds.example,2026:g{n}</guid>' if guid else ""
    return f"<item><title>Episode {n}</title>{ident}<pubDate>{date}</pubDate>{enclosure}</item>"


def test_audio_episodes_newest_first_with_absolute_urls_and_stable_ids() -> None:
    feed = parse_feed(
        _rss(
            _item(1, "Mon, 02 Mar 2026 18:00:00 GMT")
            + _item(2, "Wed, 04 Mar 2026 18:00:00 GMT", guid=False)
            + _item(3, "Tue, 03 Mar 2026 18:00:00 GMT", audio=False)
        ),
        BASE,
    )
    assert feed.title == "Bedtime Stories"
    assert [e.title for e in feed.episodes] == ["Episode 2", "Episode 1"]
    assert feed.episodes[0].audio_url == BASE + "ep2.mp3" and feed.episodes[0].guid == BASE + "ep2.mp3"
    assert feed.episodes[1].guid == "tag:feeds.example,2026:g1"
    assert Feed.from_dict(feed.to_dict()) == feed


def test_documents_that_are_not_feeds_or_hold_no_audio_are_invalid() -> None:
    with pytest.raises(Invalid, match="not an RSS or Atom feed"):
        parse_feed(b"<html><body>hello</body></html>", BASE)
    with pytest.raises(Invalid, match="no episodes with audio"):
        parse_feed(_rss(_item(1, "Mon, 02 Mar 2026 18:00:00 GMT", audio=False)), BASE)


def test_a_feed_declaring_its_own_entities_is_refused_before_parsing() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">]><rss version="2.0"><channel/></rss>'
    with pytest.raises(Invalid, match="declares its own entities"):
        parse_feed(bomb, BASE)


def test_a_long_feed_is_cut_after_the_first_entries_and_stays_a_feed() -> None:
    body = _rss("".join(_item(n, "Mon, 02 Mar 2026 18:00:00 GMT") for n in range(MAX_ENTRIES + 50)))
    cut = first_entries(body)
    assert len(cut) < len(body) and cut.count(b"<item>") == MAX_ENTRIES
    assert len(parse_feed(body, BASE).episodes) == MAX_ENTRIES
