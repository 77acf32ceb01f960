"""A listener process for the SIGTERM test: local SQLite records, one account with
one player, a fixed token. Usage: python -m tests.mqtt.listener_process PORT DATA_DIR PLAYER_ID"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from adapters import get_adapters
from adapters.yoto.mqtt.listener import Backoff, Listener, run_until_signalled
from adapters.yoto.mqtt.transport import BrokerConfig
from core.settings import Settings


def main() -> int:
    port, data_dir, player_id = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    logging.basicConfig(level=logging.INFO)
    records = get_adapters(Settings(data_dir=data_dir, session_secret="x" * 40)).records
    listener = Listener(
        BrokerConfig("127.0.0.1", port, "tcp", tls=False, authorizer=None),
        accounts=lambda: ["family"],
        token_for=lambda account, rejected=None: "token",
        players_for=lambda account: [player_id],
        players=records.players,
        backoff=Backoff(first_s=0.1, cap_s=0.5),
    )
    code = run_until_signalled(listener)
    print("stopped cleanly", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
