"""The cost model: lines add up, the MQTT handler's share is exactly its own lines, goals hold."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace

import pytest

from infra.cost import FAMILY, HOURS_PER_MONTH, PRICES, estimate, main, stack_config, total, with_mqtt_mode


def by_service(lines: list) -> dict[str, float]:
    return {line.service: line.usd for line in lines}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_total_is_the_sum_of_the_lines(stack: str) -> None:
    lines = estimate(stack_config(stack))
    assert total(lines) == pytest.approx(sum(line.usd for line in lines))
    assert all(line.usd >= 0 for line in lines)
    assert len({line.service for line in lines}) == len(lines)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_mqtt_difference_is_exactly_its_own_lines(stack: str) -> None:
    config = stack_config(stack)
    on = estimate(with_mqtt_mode(config, "always"))
    off = estimate(with_mqtt_mode(config, "off"))
    mqtt_lines = [line for line in on if line.mqtt]
    assert {line.service for line in mqtt_lines} >= {
        "Fargate (MQTT handler)",
        "Public IPv4 (MQTT task)",
        "CloudWatch Logs (MQTT)",
    }
    assert total(on) - total(off) == pytest.approx(sum(line.usd for line in mqtt_lines))
    assert [line for line in on if not line.mqtt] == off


def test_public_ipv4_and_fargate_prices() -> None:
    lines = by_service(estimate(with_mqtt_mode(stack_config("dev"), "always")))
    assert lines["Public IPv4 (MQTT task)"] == pytest.approx(HOURS_PER_MONTH * 0.005)  # ~$3.65
    on_demand = HOURS_PER_MONTH * (0.25 * PRICES.fargate_vcpu_h + 0.5 * PRICES.fargate_gb_h)
    assert lines["Fargate (MQTT handler)"] == pytest.approx(on_demand * (1 - PRICES.fargate_spot_discount))
    fallback_config = replace(with_mqtt_mode(stack_config("dev"), "always"), mqtt_capacity_provider="FARGATE")
    fallback = by_service(estimate(fallback_config))
    assert fallback["Fargate (MQTT handler)"] == pytest.approx(on_demand)


def test_dev_without_mqtt_stays_under_one_dollar() -> None:
    config = with_mqtt_mode(stack_config("dev"), "off")
    assert config.polly_engine == "standard"
    assert total(estimate(config)) <= 1.00
    # Neural voices cost 4x per character; the model says so rather than hiding it.
    neural = by_service(estimate(config, polly_engine="neural"))["Polly"]
    standard = by_service(estimate(config))["Polly"]
    assert neural == pytest.approx(4 * standard) == pytest.approx(FAMILY.tts_characters / 1e6 * 16)


def test_prod_pays_for_what_protects_data() -> None:
    dev = by_service(estimate(replace(stack_config("dev"), polly_engine="auto")))
    prod = by_service(estimate(stack_config("prod")))
    assert prod["DynamoDB storage"] > dev["DynamoDB storage"]  # PITR
    assert prod["S3 storage"] > dev["S3 storage"]  # non-current versions
    assert prod["CloudWatch Logs (API)"] > dev["CloudWatch Logs (API)"]  # 30 days kept, not 7
    assert "CloudFront" in prod and "CloudFront" not in dev


def test_free_tiers_apply_only_up_to_their_limit() -> None:
    config = stack_config("dev")
    small = by_service(estimate(config))
    assert small["Lambda"] == 0.0 and small["Data transfer out"] == 0.0
    busy = replace(FAMILY, api_requests=3_000_000, audio_gb_streamed=150.0)
    arm = by_service(estimate(config, busy))
    x86 = by_service(estimate(replace(config, lambda_architecture="x86_64"), busy))
    assert arm["Lambda"] > 0 and x86["Lambda"] > arm["Lambda"]
    assert arm["Data transfer out"] == pytest.approx(50 * PRICES.data_out_gb)


def test_cli_prints_lines_and_total(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prod", "--mqtt", "on"]) == 0
    out = capsys.readouterr().out
    expected = total(estimate(with_mqtt_mode(stack_config("prod"), "always")))
    assert f"${expected:7.2f}" in out.split("Total", 1)[1].splitlines()[0]
    assert "Public IPv4 (MQTT task)" in out and "of which MQTT listener" in out
    # With the listener off no MQTT line is charged.
    assert main(["prod", "--mqtt-mode", "off"]) == 0
    out = capsys.readouterr().out
    assert "MQTT listener mode off" in out and "Fargate" not in out
    off = total(estimate(with_mqtt_mode(stack_config("prod"), "off")))
    assert f"${off:7.2f}" in out.split("Total", 1)[1].splitlines()[0]
    with pytest.raises(SystemExit):
        main(["staging"])


def test_module_entry_point_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "infra.cost", "dev", "--mqtt", "off"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "MQTT listener mode off" in proc.stdout and "Fargate" not in proc.stdout


def test_prices_cite_aws_price_pages_and_their_date(capsys: pytest.CaptureFixture[str]) -> None:
    """A user has only the repository: every price comes from a public AWS page, with the day it was read."""
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", PRICES.as_of)
    for url in PRICES.pages.values():
        assert re.fullmatch(r"https://aws\.amazon\.com/[a-z0-9-]+/pricing/([a-z-]+/)?", url), url
    lines = estimate(with_mqtt_mode(stack_config("prod"), "always"))
    assert {line.page for line in lines} == set(PRICES.pages)  # every page is used, every line has one
    assert main(["prod", "--mqtt", "on"]) == 0
    out = capsys.readouterr().out
    assert f"as read on {PRICES.as_of}" in out
    assert all(url in out for url in PRICES.pages.values())
    assert "/work/" not in out and "aws-notes" not in out
    assert main(["dev", "--mqtt", "off"]) == 0  # only the pages of the lines it prints
    out = capsys.readouterr().out
    assert PRICES.pages["lambda"] in out and PRICES.pages["fargate"] not in out


def test_each_listener_mode_is_priced_and_on_demand_meets_its_goal() -> None:
    """Issue 11: on-demand for a family watching 30 minutes a day at or under $1/month."""
    config = stack_config("dev")
    assert config.mqtt_mode == "on-demand"  # the dev stack file
    listener = {
        mode: sum(line.usd for line in estimate(with_mqtt_mode(config, mode)) if line.mqtt)
        for mode in ("always", "on-demand", "off")
    }
    assert listener["off"] == 0
    assert 0 < listener["on-demand"] <= 1.00 < listener["always"]
    lines = by_service(estimate(config))
    assert "Public IPv4 (MQTT task)" not in lines and "Fargate (MQTT handler)" not in lines
    # 30 min/day plus two idle tails of 5 min: 40 min/day of a 256 MB function
    gb_s = 30 * 40 * 60 * 0.25
    assert lines["Lambda (on-demand MQTT listener)"] == pytest.approx(
        gb_s * PRICES.lambda_gb_s_arm64 + 30 * 2 * 2 / 1e6 * PRICES.lambda_per_million_requests
    )
    # a family that watches twice as long pays about twice the compute, still under $1
    longer = replace(FAMILY, watch_minutes_per_day=60)
    assert sum(line.usd for line in estimate(config, usage=longer) if line.mqtt) <= 1.00


def test_the_cost_cli_prints_every_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dev", "--all-modes"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[1] for line in out.splitlines()] == ["always", "on-demand", "off"]
