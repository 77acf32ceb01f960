"""`python -m app …`: the command line, whose commands live in app/cli/."""

import sys

from app.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
