"""boto3 clients, bounded for Lambda, whose outages arrive as `BackendUnavailable`.

boto3 honours `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) itself,
which is how tests point every client at a moto server or a fault proxy.
Clients are thread-safe; resources are not, so the adapters use clients only.

Every client made here has explicit timeouts and a small retry budget
(`LIMITS`), so a persistent fault fails the request within seconds rather
than holding a Lambda until API Gateway's 30 s cut-off. Once botocore has
spent that budget, two event hooks turn what is left into the domain's
`BackendUnavailable` (with `Retry-After`): a transport failure (no connection,
connection dropped, timeout) and an error answer that means "busy or down"
(throttling codes, any 5xx). They hook the client itself, so every call path
of every adapter (single items, queries, batches, transactions, paginators)
is covered without each repository catching botocore errors. Errors that say
the request itself was wrong still arrive as botocore's `ClientError`, for
the adapter to map onto its own port.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from core.errors import BackendUnavailable
from core.settings import Settings

# What an outage tells the caller (as Retry-After, in seconds): wait about this long, then try again.
RETRY_AFTER_S = "1"


@dataclass(frozen=True)
class Limits:
    """Per service: connect and read timeouts (s) and total attempts per call.

    botocore's standard retry mode sleeps, after a throttling answer, up to
    1 s before the 2nd attempt and up to 2 s before the 3rd (at most 3 s for
    three attempts); after other transient errors only tens of milliseconds
    (25 ms scale for DynamoDB). A service that does not answer at all costs
    `attempts * read_s`: 6 s for DynamoDB, inside API Gateway's 30 s.
    """

    connect_s: float
    read_s: float
    attempts: int


LIMITS: dict[str, Limits] = {
    # Single-digit-millisecond service: a read that takes 2 s is a fault, not load.
    "dynamodb": Limits(connect_s=1.0, read_s=2.0, attempts=3),
    # Object bodies and speech take longer; the read timeout is per socket read.
    "s3": Limits(connect_s=2.0, read_s=10.0, attempts=3),
    "polly": Limits(connect_s=2.0, read_s=10.0, attempts=3),
    "cognito-idp": Limits(connect_s=2.0, read_s=5.0, attempts=3),
}
_DEFAULT_LIMITS = Limits(connect_s=2.0, read_s=10.0, attempts=3)

# Error codes meaning "too busy or briefly down; the same request may succeed later".
UNAVAILABLE_CODES = frozenset(
    {
        # DynamoDB
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        # shared spellings across services
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        # S3
        "SlowDown",
        "InternalError",
        "RequestTimeout",
        # Cognito, Polly
        "InternalErrorException",
        "ServiceFailureException",
    }
)


def client(settings: Settings, service: str, **kwargs: Any) -> Any:
    from botocore.config import Config

    limits = LIMITS.get(service, _DEFAULT_LIMITS)
    config = Config(
        retries={"total_max_attempts": limits.attempts, "mode": "standard"},
        connect_timeout=limits.connect_s,
        read_timeout=limits.read_s,
        signature_version=kwargs.pop("signature_version", None),
    )
    made = _new_client(service, region_name=settings.aws_region, config=config, **kwargs)
    install_outage_mapping(made)
    return made


_shared: Any = None
_shared_lock = threading.Lock()


def _new_client(service: str, **options: Any) -> Any:
    """A client from the process's one boto3 session: the service models, endpoint rules
    and client classes are read and built once, not once per client (clients are
    thread-safe; making one is not, hence the lock). Endpoints (`AWS_ENDPOINT_URL*`)
    are read from the environment at each creation; credentials once per process, as
    Lambda gives them."""
    import boto3

    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = boto3.session.Session()
        return _shared.client(service, **options)


def install_outage_mapping(made: Any) -> None:
    """Hook `made` (a botocore client) so its outages raise `BackendUnavailable`.

    Each client has its own copy of the event emitter, so this touches no other client.
    """
    name = made.meta.service_model.service_id

    def on_answer(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        # Emitted once per call, after botocore's own retries.
        status = int(getattr(http_response, "status_code", 0) or 0)
        if status < 300:
            return
        code = str(parsed.get("Error", {}).get("Code", "")) or str(status)
        if code in UNAVAILABLE_CODES or status >= 500:
            from botocore.exceptions import ClientError

            cause = ClientError(parsed, model.name)  # type: ignore[arg-type]
            raise unavailable(name, model.name, f"answered {code}") from cause

    def on_transport_error(exception: BaseException, event_name: str, **_: Any) -> None:
        from botocore.exceptions import ConnectionError, HTTPClientError

        if isinstance(exception, ConnectionError | HTTPClientError):
            operation = event_name.rsplit(".", 1)[-1]
            raise unavailable(name, operation, _transport_reason(exception)) from exception

    made.meta.events.register("after-call", on_answer)
    made.meta.events.register("after-call-error", on_transport_error)


def unavailable(service: str, operation: str, why: str) -> BackendUnavailable:
    """The domain error for an outage of `service` during `operation`."""
    return BackendUnavailable(
        f"{service} {operation} {why}; try again shortly",
        headers={"Retry-After": RETRY_AFTER_S},
    )


def _transport_reason(exc: BaseException) -> str:
    """Words for a transport failure, without the endpoint URL botocore puts in its message."""
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

    if isinstance(exc, ReadTimeoutError):
        return "did not answer in time"
    if isinstance(exc, ConnectTimeoutError):
        return "could not be connected to in time"
    if isinstance(exc, EndpointConnectionError):
        return "could not be reached"
    return f"failed in transit ({type(exc).__name__})"
