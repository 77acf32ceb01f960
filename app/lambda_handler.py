"""The AWS Lambda entry point: `app.lambda_handler.handler`.

Importing this module builds the ASGI app and nothing else: no boto3, no
sqlalchemy, no network. Adapters (boto3 clients included) are created on the
first request that needs them by `adapters.get_adapters()` and then live as
long as the container, so a warm invocation reuses them. Mangum runs with
`lifespan="off"` because a Lambda container has no shutdown to hook and the
app keeps no start-up work in a lifespan.
"""

from __future__ import annotations

import os
from typing import Any

from mangum import Mangum

from app.http.errors import install_error_handling
from app.http.logging import configure_logging
from app.main import app

# JSON log lines only inside Lambda (or when asked): importing this module in a
# test or a script must not restyle the caller's logging.
if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or os.environ.get("LOG_FORMAT") == "json":
    configure_logging()

install_error_handling(app)  # idempotent: a no-op once create_app() installs it itself

http_handler = Mangum(app, lifespan="off")


def handler(event: Any, context: Any) -> Any:
    """HTTP events go to the app; the worker's scheduled tick and queued runs
    (`{"yss": "tick" | "run", ...}`, sent by EventBridge Scheduler and by the
    API itself) go to `app.scheduled`."""
    if isinstance(event, dict) and "yss" in event:
        from adapters import get_adapters
        from app.scheduled import handle_event
        from wiring import root_for

        return handle_event(root_for(get_adapters()), event)
    return http_handler(event, context)
