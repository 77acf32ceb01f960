"""Personal access tokens on the memory records: what a token stands for, when it
stops (expiry, revocation, its user disabled or made anew) and what its scopes let
an HTTP request change."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.memory import MemoryRecords
from core.errors import Forbidden, Invalid, Unauthenticated
from core.records import User, utcnow
from services import personal_tokens
from services.members import Members
from services.personal_tokens import Caller, TokenPorts
from tests.services.fakes import FakeIdentity


@pytest.fixture
def ports(memory_records: MemoryRecords) -> TokenPorts:
    identity = FakeIdentity()
    identity.create_user("mum", "pw", is_admin=True)
    identity.create_user("kid", "pw")
    return TokenPorts(memory_records.settings, identity, Members(memory_records), b"k" * 32)


def user(ports: TokenPorts, name: str) -> User:
    return ports.members.resolved(ports.identity.get_user(name))


def test_a_token_stands_for_its_owner_with_its_scopes(ports: TokenPorts) -> None:
    token, secret = personal_tokens.create(ports, user(ports, "kid"), " script ", ["players", "read"], 30)
    assert token.name == "script" and token.scopes == ("read", "players")
    caller = personal_tokens.authenticate(ports, secret)
    assert caller.user.username == "kid" and not caller.user.is_admin and caller.token_id == token.id
    assert caller.may("read") and caller.may("players") and not caller.may("cards")
    other_key = TokenPorts(ports.settings, ports.identity, ports.members, b"x" * 32)
    with pytest.raises(Unauthenticated):  # the stored hash is keyed: another key matches nothing
        personal_tokens.authenticate(other_key, secret)


def test_an_expired_token_is_refused(ports: TokenPorts, monkeypatch: pytest.MonkeyPatch) -> None:
    _, secret = personal_tokens.create(ports, user(ports, "kid"), "script", ["read"], 1)
    later = utcnow() + timedelta(days=1, seconds=1)
    monkeypatch.setattr(personal_tokens, "utcnow", lambda: later)
    with pytest.raises(Unauthenticated, match="expired"):
        personal_tokens.authenticate(ports, secret)


def test_a_disabled_or_new_user_of_the_name_ends_the_token(ports: TokenPorts) -> None:
    _, secret = personal_tokens.create(ports, user(ports, "kid"), "script", ["read"], 30)
    ports.identity.update_user("kid", disabled=True)
    with pytest.raises(Unauthenticated, match="disabled"):
        personal_tokens.authenticate(ports, secret)
    ports.identity.delete_user("kid")
    ports.identity.create_user("kid", "pw")  # someone else of the same name
    with pytest.raises(Unauthenticated):
        personal_tokens.authenticate(ports, secret)


def test_only_its_owner_or_an_admin_revokes_it(ports: TokenPorts) -> None:
    kid, mum = user(ports, "kid"), user(ports, "mum")
    token, secret = personal_tokens.create(ports, kid, "script", ["read"], 30)
    assert personal_tokens.list_for(ports, mum) == []
    personal_tokens.revoke(ports, mum, token.id)  # an admin may
    with pytest.raises(Unauthenticated):
        personal_tokens.authenticate(ports, secret)
    assert personal_tokens.list_for(ports, kid) == []


def test_bad_requests_for_a_token_say_why(ports: TokenPorts) -> None:
    kid = user(ports, "kid")
    refusals = ((["root"], 30, "unknown scope 'root'"), ([], 30, "at least one"), (["read"], 0, "1 to"))
    for scopes, days, reason in refusals:
        with pytest.raises(Invalid, match=reason):
            personal_tokens.create(ports, kid, "script", scopes, days)
    for _ in range(personal_tokens.MAX_PER_MEMBER):
        personal_tokens.create(ports, kid, "script", ["read"], 30)
    with pytest.raises(Exception, match="revoke one first"):
        personal_tokens.create(ports, kid, "script", ["read"], 30)


@pytest.mark.parametrize(
    ("scopes", "method", "path", "allowed"),
    [
        ({"read"}, "GET", "/api/cards", True),
        ({"read"}, "POST", "/api/cards", False),
        ({"read"}, "DELETE", "/api/audio/abc", False),
        ({"cards"}, "POST", "/api/playlists/abc/items", True),
        ({"cards"}, "POST", "/api/audio/tts", True),
        ({"cards"}, "POST", "/api/players/p1/commands", False),
        ({"players"}, "POST", "/api/players/p1/commands", True),
        ({"players"}, "POST", "/api/announcements", True),
        ({"players"}, "PUT", "/api/cards/abc", False),
        ({"read", "cards", "players"}, "POST", "/api/tokens", False),
        ({"read", "cards", "players"}, "GET", "/api/tokens", False),
        ({"read", "cards", "players"}, "GET", "/api/yoto/status", False),
        ({"read", "cards", "players"}, "POST", "/api/podcasts", False),
        ({"read", "cards", "players"}, "PATCH", "/api/users/kid", False),
        ({"cards"}, "POST", "/api/cardsharing", False),  # a prefix is a whole path segment
    ],
)
def test_what_a_tokens_scopes_let_a_request_do(scopes: set[str], method: str, path: str, allowed: bool) -> None:
    caller = Caller(User("kid"), frozenset(scopes), "t1")
    if allowed:
        personal_tokens.check_request(caller, method, path)
    else:
        with pytest.raises(Forbidden):
            personal_tokens.check_request(caller, method, path)
    personal_tokens.check_request(Caller(User("kid")), method, path)  # a session: its user's rights decide
