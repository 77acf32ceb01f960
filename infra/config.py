"""Every configuration key of the Pulumi program, with its default, read in one place.

`load_stack_config()` turns the stack's Pulumi config into a frozen
`StackConfig`; the components receive that object and never call
`pulumi.Config` themselves, so `docs/infra.md` and this file are the whole
list of knobs. Bad values fail here, before any resource is declared, with a
message naming the key.

`parse_stack_config()` is the pure half (a dict in, a `StackConfig` out) so the
tests and the cost model can use it without a Pulumi runtime.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.settings import Settings

if TYPE_CHECKING:
    import pulumi

PROJECT = "yoto-smart-stream"
ROOT = Path(__file__).resolve().parents[1]

LAMBDA_RUNTIME = "python3.12"
LAMBDA_PYTHON_VERSION = "3.12"
LAMBDA_TIMEOUT_S = 30
LAMBDA_HANDLER = "app.lambda_handler.handler"
# The file the Lambda handler is imported from, inside the package (and this tree).
LAMBDA_HANDLER_FILE = LAMBDA_HANDLER.rsplit(".", 1)[0].replace(".", "/") + ".py"
# The client-address rule (docs/infra.md, "Client address"): which source the app
# takes a request's client address from, per deployment. CloudFront passes the
# viewer's address in VIEWER_ADDRESS_HEADER and proves a request came through it
# with ORIGIN_VERIFY_HEADER (a generated secret, ORIGIN_SECRET for the app).
CLIENT_ADDRESS_FROM_CLOUDFRONT = "cloudfront"
CLIENT_ADDRESS_FROM_APIGW = "apigw"
VIEWER_ADDRESS_HEADER = "CloudFront-Viewer-Address"
ORIGIN_VERIFY_HEADER = "x-origin-verify"
# What the MQTT task runs: `python -m mqtt` (the CMD of mqtt/Dockerfile).
MQTT_ENTRY_MODULE = "mqtt"
MQTT_ENTRY_FILE = ROOT / MQTT_ENTRY_MODULE / "__main__.py"
# What the on-demand listener's Lambda function runs (mqttMode=on-demand).
MQTT_LAMBDA_HANDLER = "mqtt.lambda_handler.handler"
MQTT_LAMBDA_HANDLER_FILE = ROOT / "mqtt" / "lambda_handler.py"
# always: the Fargate Spot service; on-demand: a Lambda function started by the API
# while someone watches the players; off: commands only (short-lived connections).
MQTT_MODES = ("always", "on-demand", "off")
# CloudWatch Logs accepts only these retention periods (days).
VALID_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)
ARCHITECTURES = ("arm64", "x86_64")
CAPACITY_PROVIDERS = ("FARGATE_SPOT", "FARGATE")
MQTT_TRANSPORTS = ("websockets", "tcp")
POLLY_ENGINES = ("auto", "neural", "standard")


class StackConfigError(ValueError):
    """A stack configuration value is missing or wrong; the message names the key."""


def is_production_stack(stack: str) -> bool:
    """`prod` and `prod-*` stacks hold a family's data: they get PITR, protection, retention."""
    return stack == "prod" or stack.startswith("prod-")


def _setting_default(name: str) -> Any:
    """The app's own default for a setting, so the stack and `Settings` cannot disagree."""
    return Settings.model_fields[name].default


@dataclass(frozen=True)
class StackConfig:
    stack: str
    region: str
    production: bool
    enable_mqtt_handler: bool = True  # the always-on ECS service (mqttMode=always)
    enable_cloudfront: bool = False
    mqtt_mode: str = "always"
    mqtt_idle_s: int = 300
    yoto_client_id: str = ""
    lambda_architecture: str = "arm64"
    lambda_memory_mb: int = 1024
    log_retention_days: int = 7
    allowed_origins: tuple[str, ...] = ()
    monthly_budget_usd: float | None = None
    alert_email: str | None = None
    mqtt_image: str | None = None
    mqtt_capacity_provider: str = "FARGATE_SPOT"
    mqtt_host: str = field(default_factory=lambda: _setting_default("mqtt_host"))
    mqtt_port: int = field(default_factory=lambda: _setting_default("mqtt_port"))
    mqtt_transport: str = field(default_factory=lambda: _setting_default("mqtt_transport"))
    mqtt_path: str = field(default_factory=lambda: _setting_default("mqtt_path"))
    polly_engine: str = field(default_factory=lambda: _setting_default("polly_engine"))
    family_timezone: str = field(default_factory=lambda: _setting_default("family_timezone"))
    api_throttle_rate: int = 20
    api_throttle_burst: int = 40
    noncurrent_version_days: int = 30
    lambda_package_zip: Path | None = None
    # Pulumi secret or None; kept out of `repr` so it never lands in a log line.
    session_secret: Any = field(default=None, repr=False)

    @property
    def force_destroy(self) -> bool:
        """Dev buckets are emptied on `pulumi destroy`; prod buckets are retained."""
        return not self.production

    @property
    def budget_enabled(self) -> bool:
        return self.monthly_budget_usd is not None and bool(self.alert_email)


def _bool(key: str, raw: str | None, default: bool) -> bool:
    if raw is None or raw == "":
        return default
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise StackConfigError(f"{PROJECT}:{key} must be true or false, got {raw!r}")


def _int(key: str, raw: str | None, default: int, *, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise StackConfigError(f"{PROJECT}:{key} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise StackConfigError(f"{PROJECT}:{key} must be between {low} and {high}, got {value}")
    return value


def _choice(key: str, raw: str | None, default: str, choices: tuple[str, ...]) -> str:
    value = default if raw in (None, "") else str(raw)
    if value not in choices:
        raise StackConfigError(f"{PROJECT}:{key} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _origins(raw: str | None) -> tuple[str, ...]:
    if raw in (None, ""):
        return ()
    try:
        value = json.loads(str(raw))
    except json.JSONDecodeError:
        value = [part.strip() for part in str(raw).split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StackConfigError(f"{PROJECT}:allowedOrigins must be a list of origins, got {raw!r}")
    value = [origin.rstrip("/") for origin in value]
    for origin in value:
        if not origin.startswith(("https://", "http://localhost", "http://127.0.0.1")) or origin.count("/") != 2:
            raise StackConfigError(
                f"{PROJECT}:allowedOrigins entry {origin!r} must be an origin like https://example.org "
                "(https, no path; http only for localhost)"
            )
    return tuple(value)


def _timezone(raw: str | None) -> str:
    value = (raw or "").strip() or _setting_default("family_timezone")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise StackConfigError(
            f"{PROJECT}:familyTimezone must be an IANA time zone such as Europe/London, got {raw!r}"
        ) from None
    return value


def parse_stack_config(
    stack: str, values: Mapping[str, str | None], *, region: str | None = None, session_secret: Any = None
) -> StackConfig:
    """Build the typed configuration from raw string values keyed by the short key names."""
    production = is_production_stack(stack)
    get = values.get
    retention = _int(
        "logRetentionDays", get("logRetentionDays"), 30 if production else 7, low=1, high=max(VALID_RETENTION_DAYS)
    )
    if retention not in VALID_RETENTION_DAYS:
        raise StackConfigError(
            f"{PROJECT}:logRetentionDays={retention} is not a CloudWatch retention period; "
            f"use one of {sorted(VALID_RETENTION_DAYS)}"
        )
    budget_raw = get("monthlyBudgetUsd")
    budget: float | None = None
    if budget_raw not in (None, ""):
        try:
            budget = float(str(budget_raw))
        except ValueError:
            raise StackConfigError(f"{PROJECT}:monthlyBudgetUsd must be a number, got {budget_raw!r}") from None
        if budget <= 0:
            raise StackConfigError(f"{PROJECT}:monthlyBudgetUsd must be positive, got {budget}")
    alert_email = (get("alertEmail") or "").strip() or None
    if budget is not None and alert_email is None:
        raise StackConfigError(f"{PROJECT}:monthlyBudgetUsd needs {PROJECT}:alertEmail to send the alert to")
    if alert_email is not None and "@" not in alert_email:
        raise StackConfigError(f"{PROJECT}:alertEmail must be an e-mail address, got {alert_email!r}")
    zip_raw = (get("lambdaPackageZip") or "").strip()
    lambda_zip: Path | None = None
    if zip_raw:
        lambda_zip = Path(zip_raw) if Path(zip_raw).is_absolute() else ROOT / zip_raw
        if not lambda_zip.is_file():
            raise StackConfigError(f"{PROJECT}:lambdaPackageZip={zip_raw!r} is not a file")
    mqtt_image = (get("mqttImage") or "").strip() or None
    # mqttMode (always | on-demand | off, default always). The older key enableMqttHandler,
    # when set, still means what it did: true = always, false = off.
    mqtt_mode = _choice("mqttMode", get("mqttMode"), "always", MQTT_MODES)
    if get("enableMqttHandler") not in (None, ""):
        mqtt_mode = "always" if _bool("enableMqttHandler", get("enableMqttHandler"), True) else "off"
    return StackConfig(
        stack=stack,
        region=region or "eu-west-2",
        production=production,
        enable_mqtt_handler=mqtt_mode == "always",
        mqtt_mode=mqtt_mode,
        mqtt_idle_s=_int("mqttIdleSeconds", get("mqttIdleSeconds"), 300, low=30, high=3600),
        enable_cloudfront=_bool("enableCloudFront", get("enableCloudFront"), False),
        yoto_client_id=(get("yotoClientId") or "").strip(),
        lambda_architecture=_choice("lambdaArchitecture", get("lambdaArchitecture"), "arm64", ARCHITECTURES),
        lambda_memory_mb=_int("lambdaMemoryMb", get("lambdaMemoryMb"), 1024, low=128, high=10240),
        log_retention_days=retention,
        allowed_origins=_origins(get("allowedOrigins")),
        monthly_budget_usd=budget,
        alert_email=alert_email,
        mqtt_image=mqtt_image,
        mqtt_capacity_provider=_choice(
            "mqttCapacityProvider", get("mqttCapacityProvider"), "FARGATE_SPOT", CAPACITY_PROVIDERS
        ),
        mqtt_host=(get("mqttHost") or "").strip() or _setting_default("mqtt_host"),
        mqtt_port=_int("mqttPort", get("mqttPort"), _setting_default("mqtt_port"), low=1, high=65535),
        mqtt_transport=_choice(
            "mqttTransport", get("mqttTransport"), _setting_default("mqtt_transport"), MQTT_TRANSPORTS
        ),
        mqtt_path=(get("mqttPath") or "").strip() or _setting_default("mqtt_path"),
        polly_engine=_choice("pollyEngine", get("pollyEngine"), _setting_default("polly_engine"), POLLY_ENGINES),
        family_timezone=_timezone(get("familyTimezone")),
        api_throttle_rate=_int("apiThrottleRateLimit", get("apiThrottleRateLimit"), 20, low=1, high=10000),
        api_throttle_burst=_int("apiThrottleBurstLimit", get("apiThrottleBurstLimit"), 40, low=1, high=5000),
        noncurrent_version_days=_int(
            "noncurrentVersionExpiryDays", get("noncurrentVersionExpiryDays"), 30, low=1, high=3650
        ),
        lambda_package_zip=lambda_zip,
        session_secret=session_secret,
    )


# Every key `load_stack_config` reads (besides the secret `sessionSecret`).
KEYS: tuple[str, ...] = (
    "mqttMode",
    "mqttIdleSeconds",
    "enableMqttHandler",
    "enableCloudFront",
    "yotoClientId",
    "lambdaArchitecture",
    "lambdaMemoryMb",
    "logRetentionDays",
    "allowedOrigins",
    "monthlyBudgetUsd",
    "alertEmail",
    "mqttImage",
    "mqttCapacityProvider",
    "mqttHost",
    "mqttPort",
    "mqttTransport",
    "mqttPath",
    "pollyEngine",
    "familyTimezone",
    "apiThrottleRateLimit",
    "apiThrottleBurstLimit",
    "noncurrentVersionExpiryDays",
    "lambdaPackageZip",
)


def missing_entry_modules(config: StackConfig) -> list[str]:
    """Why a workload this configuration deploys would crash at start: its entry module is absent.

    A task whose module is missing starts, exits and is restarted until ECS's
    circuit breaker gives up; a Lambda without its handler fails every request.
    """
    problems: list[str] = []
    if config.lambda_package_zip is not None:
        with zipfile.ZipFile(config.lambda_package_zip) as zf:
            if LAMBDA_HANDLER_FILE not in zf.namelist():
                problems.append(
                    f"{PROJECT}:lambdaPackageZip={config.lambda_package_zip} has no {LAMBDA_HANDLER_FILE} "
                    f"(the handler {LAMBDA_HANDLER})"
                )
    elif not (ROOT / LAMBDA_HANDLER_FILE).is_file():
        problems.append(f"{LAMBDA_HANDLER_FILE} (the Lambda handler {LAMBDA_HANDLER}) is missing")
    if config.enable_mqtt_handler and not MQTT_ENTRY_FILE.is_file():
        problems.append(
            f"{PROJECT}:enableMqttHandler is true but {MQTT_ENTRY_MODULE}/__main__.py "
            f"(`python -m {MQTT_ENTRY_MODULE}`, the task's entry module) does not exist; "
            "set it to false until the handler lands"
        )
    if config.mqtt_mode == "on-demand" and not MQTT_LAMBDA_HANDLER_FILE.is_file():
        problems.append(
            f"{PROJECT}:mqttMode is on-demand but mqtt/lambda_handler.py ({MQTT_LAMBDA_HANDLER}) is missing"
        )
    return problems


def check_entry_modules(config: StackConfig) -> None:
    """Stop the program before any resource is declared if a workload has nothing to run."""
    problems = missing_entry_modules(config)
    if problems:
        raise StackConfigError("; ".join(problems))


def load_stack_config() -> StackConfig:
    """Read the running stack's configuration (inside a Pulumi program only)."""
    import pulumi

    cfg = pulumi.Config(PROJECT)
    values = {key: cfg.get(key) for key in KEYS}
    region = pulumi.Config("aws").get("region")
    secret: pulumi.Output[str] | None = cfg.get_secret("sessionSecret")
    config = parse_stack_config(pulumi.get_stack(), values, region=region, session_secret=secret)
    check_entry_modules(config)
    return config


def log_group_name(config: StackConfig, workload: str) -> str:
    """Fixed, readable log group names: /yoto-smart-stream/<stack>/<workload>."""
    return f"/{PROJECT}/{config.stack}/{workload}"


def resource_options(config: StackConfig, parent: pulumi.Resource, *, data: bool = False) -> pulumi.ResourceOptions:
    """Children of a component; `data=True` marks a user's data: protected and retained in prod."""
    import pulumi

    if data and config.production:
        return pulumi.ResourceOptions(parent=parent, protect=True, retain_on_delete=True)
    return pulumi.ResourceOptions(parent=parent)
