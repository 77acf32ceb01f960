"""`make run` on a fresh machine: offline speech installed (or said to be off, once), proxy headers not trusted.

Real processes throughout: the Makefile's run target starts uvicorn on
127.0.0.1, `scripts/system-deps.sh` runs with stand-in `id`/`apt-get` on its
PATH (so the root and non-root branches can both be seen without touching
the machine's packages), and the CLI's start-up note is read from its stderr.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "system-deps.sh"
SPOOFED = "203.0.113.9"  # TEST-NET-3: never a real client here


def fake_bin(tmp_path: Path, programs: dict[str, str]) -> Path:
    """A directory of tiny shell scripts standing in for system programs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, body in programs.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return bin_dir


def system_deps(mode: str, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(bin_dir), "HOME": str(bin_dir)}
    return subprocess.run(["/bin/bash", str(SCRIPT), mode], env=env, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("uid", ["0", "1000"])
def test_run_mode_installs_only_what_the_service_needs(tmp_path: Path, uid: str) -> None:
    log = tmp_path / "apt.log"
    bin_dir = fake_bin(tmp_path, {"id": f"echo {uid}", "apt-get": f'echo "$@" >> {log}', "sort": "/usr/bin/sort"})
    proc = system_deps("run", bin_dir)
    assert proc.returncode == 0, proc.stderr
    if uid == "0":
        calls = log.read_text().splitlines()
        assert calls[0] == "update -qq"
        assert calls[1].split()[-2:] == ["espeak-ng", "lame"]  # no mosquitto: the service does not use it
    else:  # not root: nothing installed, nothing said; the service says it at start-up
        assert not log.exists() and proc.stdout == proc.stderr == ""


def test_run_mode_never_blocks_the_start_but_test_mode_fails(tmp_path: Path) -> None:
    bin_dir = fake_bin(tmp_path, {"id": "echo 0", "apt-get": "exit 100", "sort": "/usr/bin/sort"})
    run = system_deps("run", bin_dir)
    assert run.returncode == 0 and "could not install espeak-ng lame" in run.stderr
    # (mosquitto lives in /usr/sbin, which the script also looks in: on this machine it may be there)
    broker = [] if Path("/usr/sbin/mosquitto").exists() else ["mosquitto"]
    test = system_deps("test", bin_dir)
    # Test mode also wants the UI tests' browser (in /usr/bin, outside this PATH).
    wanted = " ".join(sorted(["chromium", "espeak-ng", "lame", *broker]))
    assert test.returncode == 1 and f"could not install {wanted}\n" in test.stderr
    non_root = fake_bin(tmp_path / "user", {"id": "echo 1000", "lame": "exit 0", "sort": "/usr/bin/sort"})
    proc = system_deps("test", non_root)
    wanted = " ".join(sorted(["chromium", "espeak-ng", *broker]))
    assert proc.returncode == 1 and f"install them with: sudo apt-get install {wanted}\n" in proc.stderr
    assert system_deps("run", non_root).returncode == 0
    assert system_deps("bogus", non_root).returncode == 2


def first_run_hint(tmp_path: Path, path: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path, "DATA_DIR": str(tmp_path / "data"), "USE_AWS": "false"}
    return subprocess.run(
        [sys.executable, "-m", "app", "first-run-hint"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_start_up_says_once_that_offline_speech_is_off(tmp_path: Path) -> None:
    without = first_run_hint(tmp_path, str(tmp_path / "empty"))
    assert without.returncode == 0
    assert without.stderr.count("Offline speech is off") == 1
    assert "espeak-ng and lame are not installed" in without.stderr
    assert "sudo apt-get install espeak-ng lame" in without.stderr
    only_lame = first_run_hint(tmp_path, str(fake_bin(tmp_path / "l", {"lame": "exit 0"})))
    assert "espeak-ng is not installed" in only_lame.stderr
    both = first_run_hint(tmp_path, str(fake_bin(tmp_path / "b", {"espeak-ng": "exit 0", "lame": "exit 0"})))
    assert both.returncode == 0 and "Offline speech" not in both.stderr + both.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


MakeRun = Callable[..., tuple[int, Path]]


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[MakeRun]:
    started: list[subprocess.Popen[bytes]] = []

    def start(**variables: str) -> tuple[int, Path]:
        port = free_port()
        log = tmp_path / f"run-{port}.log"
        # -o: never reinstall the (shared) venv from here; the test is about the run recipe.
        cmd = ["make", "-o", ".venv/bin/.runtime", "run", f"PORT={port}", f"DATA_DIR={tmp_path / 'data'}"]
        cmd += [f"{k}={v}" for k, v in variables.items()]
        env = {k: v for k, v in os.environ.items() if k != "FORWARDED_ALLOW_IPS"}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        started.append(proc)
        deadline = time.monotonic() + 60
        while "Uvicorn running" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        return port, log

    yield start
    for proc in started:
        os.killpg(proc.pid, signal.SIGTERM)  # make and the uvicorn it started: our own process group
        proc.wait(timeout=30)


def client_address_logged(port: int, log: Path) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/api/health", headers={"X-Forwarded-For": SPOOFED})
    assert conn.getresponse().status == 200
    conn.close()
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in log.read_text().splitlines() if '"GET /api/health' in line]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert lines, log.read_text()
    return lines[-1].split("INFO:", 1)[1].split()[0].rsplit(":", 1)[0]


def test_make_run_ignores_a_spoofed_forwarded_for(make_run: MakeRun) -> None:
    port, log = make_run()
    assert client_address_logged(port, log) == "127.0.0.1"
    assert "--no-proxy-headers" in log.read_text()


def test_make_run_trusts_only_the_proxies_it_is_told_of(make_run: MakeRun) -> None:
    port, log = make_run(FORWARDED_ALLOW_IPS="127.0.0.1")
    assert client_address_logged(port, log) == SPOOFED  # the named proxy's header is believed
