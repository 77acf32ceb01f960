"""Recording stand-ins for the commands scripts/deploy.sh calls (pulumi, aws, docker, curl).

Each stub is a small Python program put on a PATH that holds nothing else but
the few system tools the script needs, so a test decides exactly which
commands exist. A stub appends its arguments to `calls.jsonl` and answers as
the test's `behaviour.json` says (exit codes, outputs, how many health checks
fail before one succeeds).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "deploy.sh"
SYSTEM_TOOLS = ("bash", "python3", "seq", "sleep", "cat", "dirname", "env")
STUBS = ("pulumi", "aws", "docker", "curl")

_STUB = r"""#!{python}
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
state = os.path.join(here, "..", "state")
name, args = os.path.basename(sys.argv[0]), sys.argv[1:]
with open(os.path.join(state, "calls.jsonl"), "a") as log:
    log.write(json.dumps([name, *args]) + "\n")
b = json.load(open(os.path.join(state, "behaviour.json")))

def answer(rc=0, out="", err=""):
    sys.stdout.write(out)
    sys.stderr.write(err)
    sys.exit(rc)

if name == "pulumi":
    if args[:1] == ["whoami"]:
        answer(b.get("whoami_rc", 0), "someone\n", "error: not logged in\n" if b.get("whoami_rc") else "")
    if args[:2] == ["stack", "select"]:
        rc = b.get("select_rc", 0)
        answer(rc, "", f"error: no stack named '{args[2]}' found\n" if rc else "")
    if args[:2] == ["config", "get"]:
        key = args[2]
        if key in b.get("config", {}):
            answer(0, b["config"][key] + "\n")
        answer(1, "", f"error: configuration key '{key}' not found\n")
    if args[:1] == ["preview"]:
        rc = b.get("preview_rc", 0)
        answer(rc, "Previewing update (dev)\n", "error: policy violation\n" if rc else "")
    if args[:1] == ["up"]:
        answer(b.get("up_rc", 0), "Updating (dev)\n", "error: update failed\n" if b.get("up_rc") else "")
    if args[:2] == ["stack", "output"]:
        answer(0, json.dumps(b["outputs"]) + "\n")
    answer(9, "", f"stub pulumi: unexpected {args}\n")
if name == "aws":
    if args[:2] == ["sts", "get-caller-identity"]:
        rc = b.get("creds_rc", 0)
        if rc:
            answer(rc, "", "Unable to locate credentials.\n")
        answer(0, "arn:aws:iam::123456789012:user/family\n")
    if args[:2] == ["s3", "sync"]:
        answer(b.get("sync_rc", 0))
    if args[:2] == ["cloudfront", "list-distributions"]:
        answer(0, "E2EXAMPLE\n")
    if args[:2] == ["cloudfront", "create-invalidation"]:
        answer(0, "{}\n")
    answer(9, "", f"stub aws: unexpected {args}\n")
if name == "docker":
    answer(b.get("docker_rc", 0), "", "Cannot connect to the Docker daemon\n" if b.get("docker_rc") else "")
if name == "curl":
    url = args[-1]
    if url.endswith("/api/health"):
        counter = os.path.join(state, "health-count")
        n = int(open(counter).read()) if os.path.exists(counter) else 0
        open(counter, "w").write(str(n + 1))
        if n < b.get("health_fails", 0):
            answer(22, "", "curl: (22) The requested URL returned error: 503\n")
        answer(0, '{"status":"ok","version":"0.1.0","backend":"aws"}')
    if b.get("ui_fails"):
        answer(22, "", "curl: (22) The requested URL returned error: 403\n")
    answer(0, "<!doctype html><html><head><title>Yoto Smart Stream</title></head></html>")
answer(9, "", "unknown stub\n")
"""


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    calls: list[list[str]]

    def called(self, *prefix: str) -> list[list[str]]:
        return [c for c in self.calls if c[: len(prefix)] == list(prefix)]


OUTPUTS: dict[str, Any] = {
    "api_url": "https://abc123.execute-api.eu-west-2.amazonaws.com/",
    "ui_url": "https://abc123.execute-api.eu-west-2.amazonaws.com",
    "ui_bucket_name": "yss-dev-ui-123",
    "audio_bucket_name": "yss-dev-audio-123",
    "table_name": "yss-dev-records",
    "user_pool_id": "eu-west-2_POOL",
    "user_pool_client_id": "client123",
    "lambda_function_name": "yss-dev-api",
}


class Sandbox:
    """A PATH with the stubs (minus any the test removes) and the system tools the script needs."""

    def __init__(self, base: Path) -> None:
        self.bin = base / "bin"
        self.state = base / "state"
        self.bin.mkdir()
        self.state.mkdir()
        for tool in SYSTEM_TOOLS:
            # python3: the interpreter running the tests, not a version manager's shim
            found = os.path.realpath(sys.executable) if tool == "python3" else shutil.which(tool)
            assert found, f"{tool} is needed to run the deploy script"
            (self.bin / tool).symlink_to(os.path.realpath(found))
        for stub in STUBS:
            path = self.bin / stub
            path.write_text(_STUB.replace("{python}", sys.executable))
            path.chmod(0o755)
        self.behaviour: dict[str, Any] = {"outputs": dict(OUTPUTS), "config": {"aws:region": "eu-west-2"}}

    def remove(self, command: str) -> None:
        (self.bin / command).unlink()

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        (self.state / "behaviour.json").write_text(json.dumps(self.behaviour))
        calls = self.state / "calls.jsonl"
        calls.unlink(missing_ok=True)
        (self.state / "health-count").unlink(missing_ok=True)
        base_env = {"PATH": str(self.bin), "HOME": str(self.state), "SMOKE_WAIT_S": "0", "SMOKE_TRIES": "3"}
        base_env["UI_DIST"] = str(self.state / "no-ui")
        done = subprocess.run(
            [str(self.bin / "bash"), str(SCRIPT), *args],
            capture_output=True,
            text=True,
            env={**base_env, **(env or {})},
            cwd=ROOT,
            timeout=60,
        )
        logged = [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
        return Result(done.returncode, done.stdout, done.stderr, logged)


def mqtt_on(sandbox: Sandbox) -> None:
    sandbox.behaviour["config"]["yoto-smart-stream:enableMqttHandler"] = "true"


def mqtt_off(sandbox: Sandbox) -> None:
    sandbox.behaviour["config"]["yoto-smart-stream:enableMqttHandler"] = "false"


__all__ = ["OUTPUTS", "Result", "Sandbox", "mqtt_off", "mqtt_on"]
