"""`migrate --to-aws | --to-local [--dry-run] [--repair]` and `reset-password
NAME --code-stdin`: the migration (services/migration) and the reset codes it
prints. Both sides are named by the usual settings at once, the direction
decides which is read (read-only) and which written (docs/migration.md)."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
import time
from typing import Any, TextIO

from adapters import Adapters, get_adapters, local_install_exists
from core.errors import Forbidden, Invalid
from core.settings import Settings, load_settings
from services.migration import Options, Report, Side, migrate
from services.migration.run import Direction, human_bytes
from services.password_fallback import Fallbacks, redeem_reset_code

EXIT_DIFFERENCES = 1


def _sides(settings: Settings, direction: Direction, dry_run: bool) -> tuple[Side, Side | None, Adapters]:
    secret = settings.session_secret or secrets.token_urlsafe(48)
    local = settings.model_copy(update={"use_aws": False, "session_secret": secret})
    aws = settings.model_copy(update={"use_aws": True, "session_secret": secret})
    aws_label = f"AWS (table {aws.dynamodb_table}, bucket {aws.s3_audio_bucket}, pool {aws.cognito_user_pool_id})"
    local_label = f"local ({local.data_dir})"
    if direction == "to-aws":
        source = Adapters(local, read_only=True)
        target: Adapters | None = Adapters(aws)
        labels = (local_label, aws_label)
    else:
        source = Adapters(aws)
        exists = local_install_exists(local)
        target = Adapters(local, read_only=dry_run) if (exists or not dry_run) else None
        labels = (aws_label, local_label)
    source_side = Side(source.records, source.storage, source.identity, labels[0])
    target_side = Side(target.records, target.storage, target.identity, labels[1]) if target else None
    return source_side, target_side, source if target is None else target


class PlainProgress:
    """Lines for a log or a pipe: each phase, then at most one line every `every_s` seconds."""

    def __init__(self, out: TextIO, every_s: float = 2.0) -> None:
        self.out = out
        self.every_s = every_s
        self._phase, self._items, self._bytes, self._done, self._done_bytes, self._last = "", 0, 0, 0, 0, 0.0

    def begin(self, phase: str, *, items: int, total_bytes: int) -> None:
        self._phase, self._items, self._bytes, self._done, self._done_bytes = phase, items, total_bytes, 0, 0
        self._last = time.monotonic()
        self.say(f"{phase}: {items} items, {human_bytes(total_bytes)}")

    def advance(self, *, items: int = 1, done_bytes: int = 0) -> None:
        self._done += items
        self._done_bytes += done_bytes
        if time.monotonic() - self._last >= self.every_s:
            self._last = time.monotonic()
            self.say(self._status())

    def _status(self) -> str:
        return (
            f"{self._phase}: {self._done}/{self._items} items, "
            f"{human_bytes(self._done_bytes)}/{human_bytes(self._bytes)}"
        )

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def end(self) -> None:
        self.say(self._status() + " done")


class BarProgress:
    """A rich progress bar with counts and bytes, for a terminal."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("items"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        self._progress_type = Progress
        self._bar: Any = None
        self._items = self._bytes = None

    def begin(self, phase: str, *, items: int, total_bytes: int) -> None:
        self._bar = self._progress_type(*self._columns, transient=False)
        self._bar.start()
        self._items = self._bar.add_task(phase, total=items)
        # DownloadColumn shows the bytes of this task: its `completed` is bytes, counted separately.
        self._bytes_task = self._bar.add_task(f"{phase} bytes", total=max(total_bytes, 1), visible=total_bytes > 0)

    def advance(self, *, items: int = 1, done_bytes: int = 0) -> None:
        self._bar.advance(self._items, items)
        if done_bytes:
            self._bar.advance(self._bytes_task, done_bytes)

    def say(self, line: str) -> None:
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
        else:
            print(line, flush=True)

    def end(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def run_migrate(args: argparse.Namespace) -> int:
    direction: Direction = "to-aws" if args.to_aws else "to-local"
    settings = load_settings()
    source, target, writer = _sides(settings, direction, args.dry_run)
    shown = BarProgress() if sys.stdout.isatty() else PlainProgress(sys.stdout)
    what = "dry run: nothing is written" if args.dry_run else "copying"
    shown.say(f"migrate {direction}: {source.label} -> {target.label if target else 'a new local install'} ({what})")

    def show_code(username: str, code: str) -> None:
        shown.say(f"reset code for {username}: {code}  (python -m app reset-password {username} --code-stdin)")

    days = settings.migrated_password_days
    options = Options(direction, dry_run=args.dry_run, repair=args.repair, fallback_days=days)
    report = migrate(
        source, target, writer.hasher if not args.dry_run else None, options, progress=shown, on_reset_code=show_code
    )
    return _finish(report, shown)


def _finish(report: Report, shown: Any) -> int:
    for line in report.summary():
        shown.say(line)
    if report.dry_run:
        shown.say(f"would move {human_bytes(report.total_bytes)} of audio in all; nothing was written")
    if report.reset_codes:
        shown.say(
            f"{len(report.reset_codes)} reset code(s) above: each works once, until it expires; "
            "passwords cannot leave Cognito"
        )
    if not report.ok:
        hint = "" if report.dry_run else "; run again to resume, or with --repair to copy differing objects again"
        print(f"error: {len(report.differences)} difference(s) between source and target{hint}", file=sys.stderr)
        return EXIT_DIFFERENCES
    return 0


def _read_lines(stream: TextIO, username: str) -> tuple[str, str]:
    """The reset code and the new password: prompted on a terminal, else two lines of stdin."""
    if stream.isatty():
        code = getpass.getpass(f"Reset code for {username}: ")
        first = getpass.getpass("New password: ")
        if getpass.getpass("Repeat it: ") != first:
            raise Invalid("the two passwords differ")
        return code, first
    lines = stream.read().splitlines()
    if len(lines) != 2 or not all(lines):
        raise Invalid("standard input must hold two lines: the reset code, then the new password")
    return lines[0], lines[1]


def run_reset_password(args: argparse.Namespace) -> int:
    try:
        code, password = _read_lines(sys.stdin, args.username)
        adapters = get_adapters()
        fallbacks = Fallbacks(adapters.records.fallbacks, adapters.hasher)
        user = redeem_reset_code(adapters.identity, adapters.records.sessions, fallbacks, args.username, code, password)
    except (Invalid, Forbidden) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_DIFFERENCES
    print(f"new password set for {user.username}; they can sign in now")
    return 0


def add_commands(commands: Any) -> None:
    """Register `migrate` and `reset-password` on the CLI's subparsers."""
    move = commands.add_parser("migrate", help="copy a local install to AWS, or AWS to a local install")
    way = move.add_mutually_exclusive_group(required=True)
    way.add_argument("--to-aws", action="store_true", help="DATA_DIR's install -> the AWS resources in the settings")
    way.add_argument("--to-local", action="store_true", help="the AWS resources -> a local install in DATA_DIR")
    move.add_argument("--dry-run", action="store_true", help="count what would move (records, bytes); write nothing")
    move.add_argument("--repair", action="store_true", help="copy audio objects that fail verification again")
    move.set_defaults(run=run_migrate)
    reset = commands.add_parser("reset-password", help="set a new password with a reset code from migrate --to-local")
    reset.add_argument("username")
    reset.add_argument(
        "--code-stdin",
        action="store_true",
        required=True,
        help="read the code, then the new password, from standard input (never from arguments)",
    )
    reset.set_defaults(run=run_reset_password)
