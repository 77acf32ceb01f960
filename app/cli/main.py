"""The command line's parser and dispatch (`python -m app COMMAND`):

python -m app create-user NAME [--admin] --password-stdin    (app/cli/users.py)
python -m app first-run-hint                                 (app/cli/users.py)
python -m app migrate --to-aws | --to-local [--dry-run] [--repair]   (app/cli/migrate.py)
python -m app reset-password NAME --code-stdin               (app/cli/migrate.py)
python -m app mcp                                            (app/cli/mcp_stdio.py)
"""

from __future__ import annotations

import argparse

from app.cli import mcp_stdio, migrate, users
from app.cli.exits import EXIT_CONFIG, EXIT_UNAVAILABLE, fail
from core.errors import BackendUnavailable, ConfigError


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
    create.set_defaults(run=users.create_user)
    hint = commands.add_parser("first-run-hint", help="print how to create the first admin, if none exists")
    hint.set_defaults(run=users.first_run_hint)
    migrate.add_commands(commands)
    mcp_stdio.add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as exc:
        return fail(str(exc), EXIT_CONFIG)
    except BackendUnavailable as exc:
        return fail(str(exc), EXIT_UNAVAILABLE)
