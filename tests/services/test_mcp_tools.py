"""services.mcp_tools on the memory root and the in-process Yoto cloud (a stand-in
sender for MQTT): a dry run checks as the real call does and changes nothing; the
real call changes what it said; a token's scopes are checked before either."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.errors import DomainError, Forbidden, Invalid
from core.records import User
from services import mcp_tools
from services.mcp_tools import ToolPorts
from services.personal_tokens import Caller
from tests.services.memory_root import add_item
from tests.services.test_player_commands import PLAYER, FakeSender, Listener, cloud, commands_of, root, sender
from wiring import Root

__all__ = ["cloud", "root", "sender"]  # the fixtures of the players' command tests
MUM = Caller(User("mum", is_admin=True, id="mum"))
KID = Caller(User("kid", id="kid"))


@pytest.fixture
def ports(root: Root, sender: FakeSender) -> ToolPorts:
    return replace(root.mcp_tools, commands=commands_of(root, sender, Listener()))


def test_a_player_command_dry_run_sends_nothing_and_checks_the_command(ports: ToolPorts, sender: FakeSender) -> None:
    dry = mcp_tools.player_command(ports, MUM, PLAYER, "volume", {"volume": 40}, dry_run=True)
    assert dry["dry_run"] is True and "volume" in dry["would"] and "'Bedroom'" in dry["would"]
    assert sender.sent == []
    with pytest.raises(Invalid):  # the same refusal the real command gives, with nothing sent
        mcp_tools.player_command(ports, MUM, PLAYER, "volume", {"volume": 150}, dry_run=True)
    with pytest.raises(DomainError):
        mcp_tools.player_command(ports, MUM, "no-such-player", "pause", {}, dry_run=True)
    assert sender.sent == []
    done = mcp_tools.player_command(ports, MUM, PLAYER, "volume", {"volume": 40})
    assert done["dry_run"] is False and [p.payload for p in sender.sent] == [b'{"volume":40}']


def test_player_tools_that_drive_need_the_players_scope(ports: ToolPorts, sender: FakeSender) -> None:
    cards_only = Caller(MUM.user, frozenset({"read", "cards"}), "t1")
    assert PLAYER in [p["id"] for p in mcp_tools.list_players(ports, cards_only)["players"]]  # reading is every scope's
    for dry_run in (True, False):
        with pytest.raises(Forbidden, match="'players' scope"):
            mcp_tools.player_command(ports, cards_only, PLAYER, "pause", {}, dry_run=dry_run)
    assert sender.sent == []


def test_a_playlist_is_made_and_added_to_only_for_real(root: Root, ports: ToolPorts) -> None:
    owl, bat = add_item(root, "Owl"), add_item(root, "Bat")
    dry = mcp_tools.make_playlist(ports, MUM, "Night", [owl], dry_run=True)
    assert dry["would"] == "make playlist 'Night' (sequential) of 1. 'Owl'"
    assert root.playlists.list(MUM.user, everyone=True, limit=5, cursor=None).items == []
    made = mcp_tools.make_playlist(ports, MUM, "Night", [owl])["playlist"]
    assert made["audio_ids"] == [owl]

    dry = mcp_tools.add_to_playlist(ports, MUM, made["id"], [bat], dry_run=True)
    assert dry["would"] == "add 1. 'Bat' to playlist 'Night'"
    assert root.playlists.get(MUM.user, made["id"]).playlist.audio_ids == (owl,)
    after = mcp_tools.add_to_playlist(ports, MUM, made["id"], [bat])["playlist"]
    assert after["audio_ids"] == [owl, bat]
    assert [i["title"] for i in mcp_tools.describe_playlist(ports, MUM, made["id"])["items"]] == ["Owl", "Bat"]

    with pytest.raises(DomainError):  # someone else's playlist: refused in the dry run as for real
        mcp_tools.add_to_playlist(ports, KID, made["id"], [bat], dry_run=True)
    with pytest.raises(DomainError, match="no audio item"):
        mcp_tools.make_playlist(ports, MUM, "Night", ["nosuchitem"], dry_run=True)


def test_a_card_dry_run_refuses_what_the_write_would(root: Root, ports: ToolPorts) -> None:
    owl = add_item(root, "Owl")
    with pytest.raises(Invalid):
        mcp_tools.make_card(ports, MUM, "   ", [owl], dry_run=True)  # a blank title
    with pytest.raises(Invalid, match="track_titles"):
        mcp_tools.make_card(ports, MUM, "Owls", [owl], track_titles=["a", "b"], dry_run=True)
    dry = mcp_tools.make_card(ports, MUM, "Owls", [owl], dry_run=True)
    assert dry["linked"] is True and dry["would"] == "make card 'Owls' with 1 track: 1. 'Owl'"
    assert root.records.cards.list(limit=5).items == []
    unlinked = mcp_tools.make_card(ports, KID, "Owls", [owl], dry_run=True)
    assert unlinked["linked"] is False and "not linked" in unlinked["would"]
