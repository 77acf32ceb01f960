"""The command line: make the first users, on either backend.

    python -m app create-user NAME [--admin] --password-stdin
    python -m app first-run-hint
    python -m app migrate --to-aws | --to-local [--dry-run] [--repair]   (app/migrate_command.py)
    python -m app reset-password NAME --code-stdin

The password is read from standard input (typed at a hidden prompt, or piped
from a password manager) and never taken as an argument, where it would show
up in the shell history and in every `ps` listing. The adapters come from
`adapters.get_adapters()`, so the same command creates a local user or a
Cognito user depending on `USE_AWS` and the variables next to it.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import sys
from typing import TextIO

from adapters import get_adapters
from core.errors import BackendUnavailable, ConfigError, Conflict, Invalid
from services import users

EXIT_REFUSED = 1
EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3


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
        return _fail(str(exc), EXIT_REFUSED)
    try:
        adapters = get_adapters()
        family = users.Family(adapters.identity, adapters.records, adapters.storage)
        user = users.create_user(family, args.username, password, is_admin=args.admin)
    except (Conflict, Invalid) as exc:
        return _fail(str(exc), EXIT_REFUSED)
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


def _fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="yoto-smart-stream administration")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-user", help="create a user (the password is read from stdin)")
    create.add_argument("username")
    create.add_argument("--admin", action="store_true", help="make the user an admin")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from standard input (required: passwords are never accepted as arguments)",
    )
    create.set_defaults(run=create_user)
    hint = commands.add_parser("first-run-hint", help="print how to create the first admin, if none exists")
    hint.set_defaults(run=first_run_hint)
    from app.migrate_command import add_commands

    add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    except BackendUnavailable as exc:
        return _fail(str(exc), EXIT_UNAVAILABLE)


if __name__ == "__main__":
    sys.exit(main())
