"""The app under a real uvicorn process, started with the arguments `make run`
uses (read from the Makefile's `run` target, so a test of what `make run`
promises breaks when that line changes), on 127.0.0.1 and a free port,
stopped by its PID."""

from __future__ import annotations

import os
import shlex
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port, stop

ROOT = Path(__file__).resolve().parents[1]


def make_run_uvicorn_args(port: int) -> list[str]:
    """The uvicorn arguments of the Makefile's `run` recipe, `$(PORT)` filled in."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = lines.index(next(line for line in lines if line.startswith("run:")))
    recipe: list[str] = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    command = " ".join(recipe).replace("\\ ", " ")
    # Make's own variable for the proxy flags: its value when FORWARDED_ALLOW_IPS is unset.
    default_proxy = next(line for line in lines if line.startswith("PROXY_FLAGS :="))
    command = command.replace("$(PROXY_FLAGS)", default_proxy.split(":=", 1)[1].strip())
    words = shlex.split(command.replace("$$", "$"))
    at = next(i for i, w in enumerate(words) if w.endswith("/uvicorn"))
    args = [w.replace("$(PORT)", str(port)) for w in words[at + 1 :]]
    host = args[args.index("--host") + 1]
    assert host == "127.0.0.1", f"make run binds {host}, not 127.0.0.1"
    return args


@dataclass
class Server:
    url: str
    pid: int
    log: Path

    def peak_rss_kib(self) -> int:
        """The process's peak resident set size so far (VmHWM)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM in /proc status")


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 (openssl), as (cert, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    subprocess.run(
        [*request, "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


def trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


@contextmanager
def make_run_server(
    data_dir: Path, env: Mapping[str, str] | None = None, *, tls: tuple[Path, Path] | None = None
) -> Iterator[Server]:
    """uvicorn serving `app.main:app` as `make run` starts it, with a local
    data dir and `env` added to a minimal environment (no AWS variables)."""
    port = free_port()
    scheme = "https" if tls else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    args = make_run_uvicorn_args(port)
    if tls:
        args += ["--ssl-certfile", str(tls[0]), "--ssl-keyfile", str(tls[1])]
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "USE_AWS": "false",
        "DATA_DIR": str(data_dir),
        "PUBLIC_URL": url,
        "TTS_ENGINE": "espeak",
        **(env or {}),
    }
    log = data_dir.parent / f"uvicorn-{port}.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", *args], env=full_env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
        try:
            _wait_answering(f"{url}/api/health", trusting(tls[0]) if tls else None)
            yield Server(url=url, pid=proc.pid, log=log)
        finally:
            stop(proc)


def _wait_answering(url: str, context: ssl.SSLContext | None) -> None:
    """Until the server answers anything (a 403 from the origin check counts)."""
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1, context=context):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
