"""Monthly cost estimate of a stack: `python -m infra.cost dev|prod [--polly neural|standard] [--mqtt on|off]`.

(CloudFront, Lambda memory and architecture, Polly engine, prod-only PITR and
versioning all come from the stack file.)

Reads the stack file (`Pulumi.<stack>.yaml`) through the same parser as the
program, so the estimate follows the stack's own settings (MQTT handler,
CloudFront, Lambda memory and architecture, prod-only PITR and versioning).
Prices live in one dated table (`PRICES`, with the AWS price page of each
service in `PRICE_PAGES`), usage in one stated set of assumptions (`FAMILY`);
every line says what it assumes. Only always-free
tiers are applied; 12-month introductory free tiers (S3, Polly, ...) are not.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

import yaml

from infra.config import PROJECT, ROOT, StackConfig, parse_stack_config

HOURS_PER_MONTH = 730


# AWS's public price page of each service the estimate charges or counts as free;
# every `Line` names the page its figures come from.
PRICE_PAGES: dict[str, str] = {
    "lambda": "https://aws.amazon.com/lambda/pricing/",
    "api-gateway": "https://aws.amazon.com/api-gateway/pricing/",
    "dynamodb": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "s3": "https://aws.amazon.com/s3/pricing/",  # storage, requests and data transfer out
    "cloudfront": "https://aws.amazon.com/cloudfront/pricing/",
    "fargate": "https://aws.amazon.com/fargate/pricing/",
    "vpc": "https://aws.amazon.com/vpc/pricing/",  # public IPv4 addresses
    "polly": "https://aws.amazon.com/polly/pricing/",
    "cloudwatch": "https://aws.amazon.com/cloudwatch/pricing/",
    "ecr": "https://aws.amazon.com/ecr/pricing/",
    "cognito": "https://aws.amazon.com/cognito/pricing/",
    "scheduler": "https://aws.amazon.com/eventbridge/pricing/",
}


@dataclass(frozen=True)
class Prices:
    """USD, us-east-1 on-demand. eu-west-2 (the stacks' region) is typically 5-10% higher."""

    as_of: str  # the day the figures were read from `pages`
    pages: dict[str, str]
    lambda_per_million_requests: float
    lambda_gb_s_x86_64: float
    lambda_gb_s_arm64: float
    lambda_free_requests: int
    lambda_free_gb_s: int
    http_api_per_million: float
    dynamodb_per_million_writes: float
    dynamodb_per_million_reads: float
    dynamodb_gb_month: float
    dynamodb_pitr_gb_month: float
    s3_gb_month: float
    s3_get_per_1k: float
    s3_put_per_1k: float
    data_out_gb: float
    data_out_free_gb: float
    cloudfront_free_gb: float
    cloudfront_free_requests: int
    fargate_vcpu_h: float
    fargate_gb_h: float
    fargate_spot_discount: float
    public_ipv4_h: float
    polly_standard_per_million_chars: float
    polly_neural_per_million_chars: float
    logs_ingest_gb: float
    logs_store_gb_month: float
    ecr_gb_month: float
    cognito_free_mau: int
    scheduler_per_million: float = 1.00
    scheduler_free_invocations: int = 14_000_000


PRICES = Prices(
    as_of="2026-11-25",
    pages=PRICE_PAGES,
    lambda_per_million_requests=0.20,
    lambda_gb_s_x86_64=0.0000166667,
    lambda_gb_s_arm64=0.0000133334,
    lambda_free_requests=1_000_000,
    lambda_free_gb_s=400_000,
    http_api_per_million=1.00,
    dynamodb_per_million_writes=0.625,
    dynamodb_per_million_reads=0.125,
    dynamodb_gb_month=0.25,
    dynamodb_pitr_gb_month=0.20,
    s3_gb_month=0.023,
    s3_get_per_1k=0.0004,
    s3_put_per_1k=0.005,
    data_out_gb=0.09,
    data_out_free_gb=100,
    cloudfront_free_gb=1024,
    cloudfront_free_requests=10_000_000,
    fargate_vcpu_h=0.04048,
    fargate_gb_h=0.004445,
    fargate_spot_discount=0.60,  # "typically 50-70% less": the middle
    public_ipv4_h=0.005,
    polly_standard_per_million_chars=4.0,
    polly_neural_per_million_chars=16.0,
    logs_ingest_gb=0.50,
    logs_store_gb_month=0.03,
    ecr_gb_month=0.10,
    cognito_free_mau=10_000,
)


@dataclass(frozen=True)
class Usage:
    """One family's month. Change here, not in the formulas."""

    api_requests: int = 20_000  # UI + player stream redirects, all through the HTTP API and Lambda
    lambda_avg_ms: int = 300  # most calls are ~50 ms; uploads/TTS normalisation take seconds
    dynamodb_reads_per_request: float = 3.0
    dynamodb_writes_per_request: float = 0.5
    table_gb: float = 0.1
    audio_gb_stored: float = 5.0
    audio_gb_streamed: float = 10.0
    s3_puts: int = 1_000  # uploads (multipart parts included) and normalised results
    s3_gets: int = 20_000  # players' (range) requests after the redirect
    tts_characters: int = 50_000
    log_kb_per_request: float = 2.0  # Lambda JSON log + API access log line
    noncurrent_gb: float = 0.5  # prod: replaced/deleted audio kept 30 days
    users: int = 6  # Cognito monthly active users
    mqtt_events_per_month: int = 30_000  # player events/status the handler merges into the table
    mqtt_log_gb: float = 0.05
    mqtt_image_gb: float = 0.35  # python:3.12-slim + requirements (PyAV dominates)
    task_vcpu: float = 0.25
    task_gb: float = 0.5
    # Scheduled work (infra/scheduler.py): one tick a minute; most find nothing due.
    tick_ms: int = 150  # a Query of the jobs partition, nothing due
    podcast_refreshes: int = 3 * 4 * 30  # 3 podcasts every 6 h; most are 304 Not Modified
    refresh_ms: int = 1_500
    episodes_fetched: int = 30  # new episodes a month, each normalised in the worker
    episode_ms: int = 20_000  # a 30-minute episode: download + normalise at ~0.6 vCPU
    routine_runs: int = 2 * 30  # bedtime and quiet time every day
    routine_ms: int = 2_000
    worker_dynamodb_per_run: float = 6.0  # claim, run record, podcast/routine read and save
    # mqttMode=on-demand: someone has the players page open this long a day, in this
    # many visits; after each the listener idles `mqttIdleSeconds` before it stops.
    watch_minutes_per_day: float = 30.0
    watch_sessions_per_day: int = 2
    listener_mb: int = 256  # the on-demand function's memory (infra/mqtt_on_demand.py)
    poll_s: int = 3  # the players page polls GET /api/players this often
    heartbeat_s: int = 30  # the listener writes its heartbeat record this often


FAMILY = Usage()


@dataclass(frozen=True)
class Line:
    service: str
    detail: str
    usd: float
    page: str  # the PRICE_PAGES key its prices come from
    mqtt: bool = False  # exists only because the MQTT handler runs


def _lambda_line(config: StackConfig, u: Usage, p: Prices) -> Line:
    gb_s = u.api_requests * u.lambda_avg_ms / 1000 * config.lambda_memory_mb / 1024
    rate = p.lambda_gb_s_arm64 if config.lambda_architecture == "arm64" else p.lambda_gb_s_x86_64
    billable_requests = max(0, u.api_requests - p.lambda_free_requests)
    billable_gb_s = max(0.0, gb_s - p.lambda_free_gb_s)
    usd = billable_requests / 1e6 * p.lambda_per_million_requests + billable_gb_s * rate
    detail = (
        f"{u.api_requests:,} requests, {gb_s:,.0f} GB-s ({config.lambda_architecture}, "
        f"{config.lambda_memory_mb} MB, {u.lambda_avg_ms} ms avg); inside the always-free "
        f"{p.lambda_free_requests:,} requests + {p.lambda_free_gb_s:,} GB-s"
    )
    return Line("Lambda", detail, usd, page="lambda")


def polly_engine_of(config: StackConfig) -> str:
    """The price class of the stack's Polly engine; `auto` picks neural where a voice has it (priced as neural)."""
    return "standard" if config.polly_engine == "standard" else "neural"


def estimate(
    config: StackConfig, usage: Usage = FAMILY, prices: Prices = PRICES, *, polly_engine: str | None = None
) -> list[Line]:
    """Per-service monthly lines for this stack configuration."""
    u, p = usage, prices
    polly_engine = polly_engine or polly_engine_of(config)
    lines = [_lambda_line(config, u, p)]
    lines.append(
        Line(
            "API Gateway (HTTP API)",
            f"{u.api_requests:,} requests",
            u.api_requests / 1e6 * p.http_api_per_million,
            page="api-gateway",
        )
    )
    reads = u.api_requests * u.dynamodb_reads_per_request
    writes = u.api_requests * u.dynamodb_writes_per_request
    lines.append(
        Line(
            "DynamoDB requests",
            f"{reads:,.0f} reads, {writes:,.0f} writes (on demand, items < 1 KB)",
            reads / 1e6 * p.dynamodb_per_million_reads + writes / 1e6 * p.dynamodb_per_million_writes,
            page="dynamodb",
        )
    )
    storage = u.table_gb * p.dynamodb_gb_month
    detail = f"{u.table_gb} GB"
    if config.production:
        storage += u.table_gb * p.dynamodb_pitr_gb_month
        detail += " + point-in-time recovery"
    lines.append(Line("DynamoDB storage", detail, storage, page="dynamodb"))
    s3_gb = u.audio_gb_stored + (u.noncurrent_gb if config.production else 0.0)
    lines.append(
        Line(
            "S3 storage",
            f"{s3_gb} GB audio" + (" incl. non-current versions" if config.production else ""),
            s3_gb * p.s3_gb_month,
            page="s3",
        )
    )
    lines.append(
        Line(
            "S3 requests",
            f"{u.s3_puts:,} PUT, {u.s3_gets:,} GET",
            u.s3_puts / 1000 * p.s3_put_per_1k + u.s3_gets / 1000 * p.s3_get_per_1k,
            page="s3",
        )
    )
    billable_out = max(0.0, u.audio_gb_streamed - p.data_out_free_gb)
    lines.append(
        Line(
            "Data transfer out",
            f"{u.audio_gb_streamed} GB streamed from S3; first {p.data_out_free_gb:.0f} GB/month free",
            billable_out * p.data_out_gb,
            page="s3",
        )
    )
    if config.enable_cloudfront:
        lines.append(
            Line(
                "CloudFront",
                f"UI + API requests; always-free {p.cloudfront_free_gb:.0f} GB and "
                f"{p.cloudfront_free_requests:,} requests/month",
                0.0,
                page="cloudfront",
            )
        )
    polly_rate = p.polly_neural_per_million_chars if polly_engine == "neural" else p.polly_standard_per_million_chars
    lines.append(
        Line(
            "Polly",
            f"{u.tts_characters:,} characters, {polly_engine} voices",
            u.tts_characters / 1e6 * polly_rate,
            page="polly",
        )
    )
    log_gb = u.api_requests * u.log_kb_per_request / 1024 / 1024
    retention_months = config.log_retention_days / 30
    lines.append(
        Line(
            "CloudWatch Logs (API)",
            f"{log_gb * 1024:.0f} MB ingested, kept {config.log_retention_days} days",
            log_gb * p.logs_ingest_gb + log_gb * retention_months * p.logs_store_gb_month,
            page="cloudwatch",
        )
    )
    lines.append(
        Line("Cognito", f"{u.users} active users; free up to {p.cognito_free_mau:,} (Lite)", 0.0, page="cognito")
    )
    lines += scheduler_lines(config, u, p)
    if config.mqtt_mode == "always":
        lines += _mqtt_lines(config, u, p)
    elif config.mqtt_mode == "on-demand":
        lines += _on_demand_lines(config, u, p)
    return lines


def ticks_per_month() -> int:
    return HOURS_PER_MONTH * 60


def _lambda_usd(config: StackConfig, requests: float, gb_s: float, p: Prices) -> float:
    rate = p.lambda_gb_s_arm64 if config.lambda_architecture == "arm64" else p.lambda_gb_s_x86_64
    billable_requests = max(0.0, requests - p.lambda_free_requests)
    return billable_requests / 1e6 * p.lambda_per_million_requests + max(0.0, gb_s - p.lambda_free_gb_s) * rate


def scheduler_lines(config: StackConfig, u: Usage, p: Prices) -> list[Line]:
    """The minute tick, and the worker's Lambda time on top of the API's (the free tier is shared)."""
    ticks = ticks_per_month()
    gb = config.lambda_memory_mb / 1024
    worker_ms = (
        ticks * u.tick_ms + u.podcast_refreshes * u.refresh_ms + u.episodes_fetched * u.episode_ms
        + u.routine_runs * u.routine_ms
    )  # fmt: skip
    worker_requests = ticks + u.podcast_refreshes  # refreshes on demand are async invocations; ticks run the rest
    api_gb_s = u.api_requests * u.lambda_avg_ms / 1000 * gb
    worker_gb_s = worker_ms / 1000 * gb
    added = _lambda_usd(config, u.api_requests + worker_requests, api_gb_s + worker_gb_s, p) - _lambda_usd(
        config, u.api_requests, api_gb_s, p
    )
    runs = u.podcast_refreshes + u.routine_runs
    reads = ticks + runs * u.worker_dynamodb_per_run / 2
    writes = runs * u.worker_dynamodb_per_run / 2
    log_gb = (ticks * 0.3 + runs * 2.0) / 1024 / 1024  # START/END/REPORT lines per tick, a few lines per run
    return [
        Line(
            "EventBridge Scheduler",
            f"1 schedule, rate(1 minute): {ticks:,} invocations; first {p.scheduler_free_invocations:,} free",
            max(0, ticks - p.scheduler_free_invocations) / 1e6 * p.scheduler_per_million,
            page="scheduler",
        ),
        Line(
            "Lambda (scheduled worker)",
            f"{worker_requests:,} invocations, {worker_gb_s:,.0f} GB-s (ticks, {u.podcast_refreshes} "
            f"podcast refreshes, {u.episodes_fetched} episodes, {u.routine_runs} routine runs), "
            "sharing the API's free tier",
            added,
            page="lambda",
        ),
        Line(
            "DynamoDB + Logs (scheduled worker)",
            f"{reads:,.0f} reads, {writes:,.0f} writes; {log_gb * 1024:.0f} MB of logs",
            reads / 1e6 * p.dynamodb_per_million_reads
            + writes / 1e6 * p.dynamodb_per_million_writes
            + log_gb * (p.logs_ingest_gb + config.log_retention_days / 30 * p.logs_store_gb_month),
            page="dynamodb",
        ),
    ]


def with_mqtt_mode(config: StackConfig, mode: str) -> StackConfig:
    """The same stack with another listener mode (always | on-demand | off)."""
    return replace(config, mqtt_mode=mode, enable_mqtt_handler=mode == "always")


def _on_demand_lines(config: StackConfig, u: Usage, p: Prices) -> list[Line]:
    """A Lambda function runs the handler while someone watches (plus the idle tail):
    no VPC, NAT or public IPv4, so it is compute, a few writes and logs."""
    minutes = 30 * (u.watch_minutes_per_day + u.watch_sessions_per_day * config.mqtt_idle_s / 60)
    gb_s = minutes * 60 * u.listener_mb / 1024
    rate = p.lambda_gb_s_arm64 if config.lambda_architecture == "arm64" else p.lambda_gb_s_x86_64
    per_visit = u.watch_minutes_per_day / u.watch_sessions_per_day + config.mqtt_idle_s / 60
    invocations = 30 * u.watch_sessions_per_day * math.ceil(per_visit / 14)  # one run lasts at most 14 min
    share = minutes / (HOURS_PER_MONTH * 60)  # of the events an always-on listener would store
    polls = 30 * u.watch_minutes_per_day * 60 / u.poll_s
    writes = u.mqtt_events_per_month * share + minutes * 60 / u.heartbeat_s + polls  # events, heartbeats, viewer stamps
    reads = polls * 2 + minutes * 60 / u.heartbeat_s  # heartbeat + wake lease per poll; viewer check per beat
    log_gb = u.mqtt_log_gb * share * 4  # connect/stop lines per run on top of the share
    return [
        Line(
            "Lambda (on-demand MQTT listener)",
            f"{minutes:,.0f} min/month ({u.watch_minutes_per_day:g} min/day watched + {u.watch_sessions_per_day} x "
            f"{config.mqtt_idle_s} s idle), {u.listener_mb} MB, {gb_s:,.0f} GB-s, {invocations} starts; "
            "before the always-free tier the API may leave",
            gb_s * rate + invocations / 1e6 * p.lambda_per_million_requests,
            page="lambda",
            mqtt=True,
        ),
        Line(
            "DynamoDB (on-demand listener)",
            f"{writes:,.0f} writes (events while running, heartbeats, viewer stamps), {reads:,.0f} reads",
            writes / 1e6 * p.dynamodb_per_million_writes + reads / 1e6 * p.dynamodb_per_million_reads,
            page="dynamodb",
            mqtt=True,
        ),
        Line(
            "API polls (players page)",
            f"{polls:,.0f} GET /api/players every {u.poll_s} s while watched (HTTP API; Lambda inside the free tier)",
            polls / 1e6 * p.http_api_per_million,
            page="api-gateway",
            mqtt=True,
        ),
        Line(
            "CloudWatch Logs (MQTT)",
            f"{log_gb * 1024:.1f} MB ingested, kept {config.log_retention_days} days",
            log_gb * p.logs_ingest_gb + log_gb * config.log_retention_days / 30 * p.logs_store_gb_month,
            page="cloudwatch",
            mqtt=True,
        ),
    ]


def _mqtt_lines(config: StackConfig, u: Usage, p: Prices) -> list[Line]:
    on_demand = HOURS_PER_MONTH * (u.task_vcpu * p.fargate_vcpu_h + u.task_gb * p.fargate_gb_h)
    spot = config.mqtt_capacity_provider == "FARGATE_SPOT"
    compute = on_demand * (1 - p.fargate_spot_discount) if spot else on_demand
    kind = f"Spot, {p.fargate_spot_discount:.0%} off on-demand" if spot else "on-demand"
    return [
        Line(
            "Fargate (MQTT handler)",
            f"{u.task_vcpu} vCPU / {u.task_gb} GB x86_64, {HOURS_PER_MONTH} h ({kind})",
            compute,
            page="fargate",
            mqtt=True,
        ),
        Line(
            "Public IPv4 (MQTT task)",
            f"1 address x {HOURS_PER_MONTH} h; the price of having no NAT gateway",
            HOURS_PER_MONTH * p.public_ipv4_h,
            page="vpc",
            mqtt=True,
        ),
        Line(
            "CloudWatch Logs (MQTT)",
            f"{u.mqtt_log_gb * 1024:.0f} MB ingested, kept {config.log_retention_days} days",
            u.mqtt_log_gb * p.logs_ingest_gb + u.mqtt_log_gb * config.log_retention_days / 30 * p.logs_store_gb_month,
            page="cloudwatch",
            mqtt=True,
        ),
        Line(
            "DynamoDB (MQTT writes)",
            f"{u.mqtt_events_per_month:,} player events/status merges",
            u.mqtt_events_per_month / 1e6 * p.dynamodb_per_million_writes,
            page="dynamodb",
            mqtt=True,
        ),
        Line(
            "ECR storage (MQTT image)" if not config.mqtt_image else "ECR storage (prebuilt image, elsewhere)",
            f"{u.mqtt_image_gb} GB image" if not config.mqtt_image else "image stored outside this stack",
            u.mqtt_image_gb * p.ecr_gb_month if not config.mqtt_image else 0.0,
            page="ecr",
            mqtt=True,
        ),
    ]


def total(lines: Sequence[Line]) -> float:
    return sum(line.usd for line in lines)


def stack_config(stack: str) -> StackConfig:
    """The stack's configuration from its stack file, through the program's own parser."""
    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise SystemExit(f"no stack file {path.name}; known stacks: dev, prod")
    raw = yaml.safe_load(path.read_text()).get("config", {})
    prefix = f"{PROJECT}:"
    values = {
        k[len(prefix) :]: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items() if k.startswith(prefix)
    }
    return parse_stack_config(stack, values, region=raw.get("aws:region"))


def render(config: StackConfig, lines: Sequence[Line], usage: Usage = FAMILY, prices: Prices = PRICES) -> str:
    width = max(len(line.service) for line in lines)
    out = [
        f"{PROJECT} stack '{config.stack}': estimated monthly cost (prices as of {prices.as_of}, us-east-1)",
        f"MQTT listener mode {config.mqtt_mode}, CloudFront {'on' if config.enable_cloudfront else 'off'}",
        "",
    ]
    out += [f"  {line.service:<{width}}  ${line.usd:7.2f}  {line.detail}" for line in lines]
    mqtt = sum(line.usd for line in lines if line.mqtt)
    out += ["", f"  {'Total':<{width}}  ${total(lines):7.2f}"]
    if config.mqtt_mode != "off":
        out.append(f"  {'of which MQTT listener':<{width}}  ${mqtt:7.2f}")
    out += [
        "",
        f"Usage assumed: {usage.api_requests:,} API requests, {usage.audio_gb_stored} GB audio stored, "
        f"{usage.audio_gb_streamed} GB streamed, {usage.tts_characters:,} TTS characters per month.",
        "Always-free tiers applied (Lambda, data out, CloudFront, Cognito Lite); 12-month ones not.",
        f"Prices: AWS's public price pages (us-east-1, on demand) as read on {prices.as_of}:",
    ]
    out += [f"  {url}" for url in dict.fromkeys(prices.pages[line.page] for line in lines)]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.cost", description=__doc__.splitlines()[0])
    parser.add_argument("stack", choices=["dev", "prod"])
    parser.add_argument("--polly", choices=["neural", "standard"], default=None, help="override the stack's engine")
    parser.add_argument("--mqtt", choices=["on", "off", "stack"], default="stack", help="on = --mqtt-mode always")
    parser.add_argument(
        "--mqtt-mode", choices=["always", "on-demand", "off", "stack"], default="stack", help="override mqttMode"
    )
    parser.add_argument("--all-modes", action="store_true", help="one estimate per listener mode")
    args = parser.parse_args(argv)
    config = stack_config(args.stack)
    if args.mqtt != "stack":
        config = with_mqtt_mode(config, "always" if args.mqtt == "on" else "off")
    if args.mqtt_mode != "stack":
        config = with_mqtt_mode(config, args.mqtt_mode)
    if args.all_modes:
        for mode in ("always", "on-demand", "off"):
            moded = with_mqtt_mode(config, mode)
            lines = estimate(moded, polly_engine=args.polly)
            listener = sum(line.usd for line in lines if line.mqtt)
            sys.stdout.write(
                f"mqttMode {mode:<9}  total ${total(lines):6.2f}  of which the listener ${listener:5.2f}\n"
            )
        return 0
    sys.stdout.write(render(config, estimate(config, polly_engine=args.polly)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
