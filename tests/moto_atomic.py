"""The moto server with DynamoDB's atomicity: `python -m tests.moto_atomic -H 127.0.0.1 -p PORT`.

moto serves each request on its own thread and its DynamoDB backend takes no
lock, so two racing conditional writes, transactions or `ADD` updates can both
read the old item and both succeed: a lost update real DynamoDB never allows
(every single-item write and every transaction is serialisable there). Tests
that race threads against our compare-and-swap code need the real guarantee,
so this runs moto's own application with its DynamoDB requests taken one at a
time; every other service keeps moto's threading (an SQS long poll must not
hold up the rest).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

DYNAMODB_TARGET = "DynamoDB_"  # X-Amz-Target of every DynamoDB API call: DynamoDB_20120810.PutItem …

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serialise_dynamodb(app: Wsgi) -> Wsgi:
    """Wrap a WSGI app so DynamoDB calls run one at a time, body read to the end inside the lock."""
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(DYNAMODB_TARGET):
            return app(environ, start_response)
        with lock:
            answer = app(environ, start_response)
            try:
                return [b"".join(answer)]
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()

    return serve


def main(argv: list[str] | None = None) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, serialise_dynamodb(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
