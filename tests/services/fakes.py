"""Fakes for service tests: an identity that keeps plain passwords in a dict
(argon2 would make each test slow), and a TTS that returns a small tone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from core.errors import AlreadyExists, NotFound
from core.records import Speech, User, Voice
from core.usernames import canonical_username


class FakeIdentity:
    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.passwords: dict[str, str] = {}
        self.checked = 0  # how many passwords were compared

    def create_user(self, username: str, password: str, *, is_admin: bool = False) -> User:
        name = canonical_username(username)
        if name in self.users:
            raise AlreadyExists(f"user {name!r} already exists")
        self.users[name] = User(username=name, is_admin=is_admin)
        self.passwords[name] = password
        return self.users[name]

    def authenticate(self, username: str, password: str) -> User | None:
        self.checked += 1
        user = self.users.get(username.lower())
        if user is None or user.disabled or self.passwords[user.username] != password:
            return None
        return user

    def get_user(self, username: str) -> User:
        try:
            return self.users[username.lower()]
        except KeyError:
            raise NotFound(f"no user {username!r}") from None

    def list_users(self) -> list[User]:
        return list(self.users.values())

    def update_user(
        self,
        username: str,
        *,
        password: str | None = None,
        is_admin: bool | None = None,
        disabled: bool | None = None,
    ) -> User:
        user = self.get_user(username)
        if password is not None:
            self.passwords[user.username] = password
        changes = {k: v for k, v in (("is_admin", is_admin), ("disabled", disabled)) if v is not None}
        self.users[user.username] = replace(user, **changes)
        return self.users[user.username]

    def delete_user(self, username: str) -> None:
        user = self.get_user(username)
        del self.users[user.username]


class FakeTTS:
    """Speaks every text as the same short MP3 tone."""

    def __init__(self, mp3: Path) -> None:
        self.mp3 = mp3.read_bytes()
        self.spoken: list[str] = []
        self.fail: Exception | None = None

    def voices(self) -> list[Voice]:
        return [Voice(id="test", name="Test", language="en", engine="fake")]

    def synthesize(self, text: str, *, voice: str | None = None, language: str | None = None) -> Speech:
        if self.fail is not None:
            raise self.fail
        self.spoken.append(text)
        return Speech(audio=self.mp3, format="mp3", voice="test", engine="fake", characters=len(text))
