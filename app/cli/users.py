"""`create-user` and `first-run-hint`: the first users, on either backend.
The password comes from standard input, never an argument (docs/security.md);
the adapters are `get_adapters()`'s, so `USE_AWS` picks local or Cognito."""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import sys
from typing import TextIO

from adapters import get_adapters
from app.cli.exits import EXIT_REFUSED, fail
from core.errors import BackendUnavailable, Conflict, Invalid
from services import users


class PasswordInputError(Exception):
    """The password could not be read from standard input."""


def read_password(stream: TextIO, username: str) -> str:
    """One password from `stream`: a hidden, repeated prompt on a terminal, else the piped text
    without its final newline."""
    if stream.isatty():
        first = getpass.getpass(f"Password for {username}: ")
        if getpass.getpass("Repeat it: ") != first:
            raise PasswordInputError("the two passwords differ")
        return first
    text = stream.read()
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text:
        raise PasswordInputError("no password on standard input")
    if "\n" in text or "\r" in text:
        raise PasswordInputError("the password on standard input must be a single line")
    return text


def create_user(args: argparse.Namespace) -> int:
    try:
        password = read_password(sys.stdin, args.username)
    except PasswordInputError as exc:
        return fail(str(exc), EXIT_REFUSED)
    try:
        adapters = get_adapters()
        family = users.Family(adapters.identity, adapters.records, adapters.storage)
        user = users.create_user(family, args.username, password, is_admin=args.admin)
    except (Conflict, Invalid) as exc:
        return fail(str(exc), EXIT_REFUSED)
    role = "admin" if user.is_admin else "member"
    print(f"created {role} {user.username!r} ({get_adapters().backend} backend)")
    return 0


# What offline speech runs on the local side (adapters/local/tts.py; scripts/system-deps.sh run).
OFFLINE_SPEECH_PROGRAMS = ("espeak-ng", "lame")


def offline_speech_note() -> str | None:
    """In words, why the local service cannot speak without the internet; None when it can."""
    if os.environ.get("USE_AWS", "").strip().lower() in ("1", "true", "yes"):
        return None  # Polly speaks on the AWS side
    missing = [p for p in OFFLINE_SPEECH_PROGRAMS if shutil.which(p) is None]
    if not missing:
        return None
    return (
        f"Offline speech is off: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed, "
        "so text to speech works only while Google's gTTS can be reached (with TTS_ENGINE=espeak, not at all). "
        f"Install with: sudo apt-get install {' '.join(OFFLINE_SPEECH_PROGRAMS)} (or run `make run` as root)."
    )


def first_run_hint(_args: argparse.Namespace) -> int:
    """Say how to make the first admin when there is none, and whether offline speech works; silent otherwise.

    `make run` calls this before starting the server, so it never fails the
    start-up over an unreachable backend (the server will report that itself).
    """
    note = offline_speech_note()
    if note:
        print(f"note: {note}", file=sys.stderr)
    try:
        everyone = users.list_users(get_adapters().identity)
    except BackendUnavailable as exc:
        print(f"warning: cannot check for users yet: {exc}", file=sys.stderr)
        return 0
    if any(u.is_admin and not u.disabled for u in everyone):
        return 0
    data_dir = os.environ.get("DATA_DIR")
    prefix = f"DATA_DIR={data_dir} " if data_dir else ""
    what = "No user exists yet" if not everyone else "No enabled admin exists"
    print(
        f"{what}. Create the first admin (you will be asked for the password; it is never\n"
        "passed on the command line, and must be at least 12 characters):\n\n"
        f"    {prefix}{sys.executable} -m app create-user NAME --admin --password-stdin\n"
    )
    return 0
