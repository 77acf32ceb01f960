"""The policy pack as the Pulumi CLI runs it: a real analyzer process on 127.0.0.1, spoken to over gRPC."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc

from infra.rules import RESOURCE_RULES, STACK_RULES
from tests.servers import stop

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    env = {**os.environ, "PULUMI_STACK": "prod"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "policy" / "__main__.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT / "policy",
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()  # the pack announces its port, as the CLI expects
        assert line.isdigit(), f"no port from the pack: {line!r} {proc.stderr.read(2000) if proc.poll() else ''}"
        channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(channel).result(timeout=20)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        stop(proc)


def analyze(stub: analyzer_pb2_grpc.AnalyzerStub, typ: str, props: dict, *, protect: bool = False) -> list:
    struct = struct_pb2.Struct()
    struct.update(props)
    request = proto.AnalyzeRequest(
        type=typ,
        properties=struct,
        urn=f"urn:pulumi:prod::yoto-smart-stream::{typ}::x",
        name="x",
        options=proto.AnalyzerResourceOptions(protect=protect),
    )
    return list(stub.Analyze(request).diagnostics)


def test_pack_lists_every_rule(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "yoto-smart-stream-security"
    assert {p.name for p in info.policies} == {r.name for r in RESOURCE_RULES} | {r.name for r in STACK_RULES}


def test_pack_reports_a_log_group_without_retention(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    found = analyze(analyzer, "aws:cloudwatch/logGroup:LogGroup", {"name": "/x"})
    assert [d.policyName for d in found] == ["log-group-retention"]
    assert analyze(analyzer, "aws:cloudwatch/logGroup:LogGroup", {"name": "/x", "retentionInDays": 7}) == []


def test_pack_knows_the_stack_is_prod(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    props = {"pointInTimeRecovery": {"enabled": True}, "deletionProtectionEnabled": True}
    found = analyze(analyzer, "aws:dynamodb/table:Table", props, protect=False)
    assert [d.policyName for d in found] == ["prod-data-protected"]
    assert analyze(analyzer, "aws:dynamodb/table:Table", props, protect=True) == []
