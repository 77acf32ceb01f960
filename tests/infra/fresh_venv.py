"""A virtualenv built from `requirements.txt` alone, as `pulumi up` builds `.venv` for the program.

Pulumi's pip toolchain (`Pulumi.yaml`: `toolchain: pip`, `virtualenv: .venv`)
creates the virtualenv, upgrades pip, setuptools and wheel, then runs
`pip install -r requirements.txt`: nothing from requirements-dev.txt, nothing
from the developer's own venv. This does the same in `.build/pulumi-venv/`,
keyed by the hash of the requirements file (and the interpreter), so an
unchanged file reuses the venv and any edit builds a new one from scratch.
The requirements file is copied into an empty directory first and pip runs
there, so nothing else of the project can take part in the install.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".build" / "pulumi-venv"
RECIPE = "1"  # bump when the steps below change
INSTALL_TIMEOUT_S = 1800


class VenvBuildError(RuntimeError):
    pass


def venv_key(requirements: Path) -> str:
    h = hashlib.sha256()
    for part in (RECIPE, sys.version, sys.platform, requirements.read_bytes().decode()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def clean_env() -> dict[str, str]:
    """This process's environment minus whatever would point Python at another venv or path."""
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    if proc.returncode != 0:
        raise VenvBuildError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")


def requirements_venv(requirements: Path = ROOT / "requirements.txt") -> Path:
    """The venv for this requirements file: reused when complete, else built (one builder at a time)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    venv = CACHE / venv_key(requirements)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / ".complete").exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)  # a build that was cut off
        with tempfile.TemporaryDirectory(prefix="reqs-") as empty:
            work = Path(empty)
            shutil.copyfile(requirements, work / "requirements.txt")
            _run([sys._base_executable, "-m", "venv", str(venv)], work)  # type: ignore[attr-defined]
            python = str(venv / "bin" / "python")
            _run([python, "-m", "pip", "install", "-q", "--upgrade", "pip", "setuptools", "wheel"], work)
            _run([python, "-m", "pip", "install", "-q", "-r", "requirements.txt"], work)
        (venv / ".complete").write_text(requirements.read_text())
        for old in CACHE.iterdir():  # one venv per requirements file is ~1 GB: keep only the current one
            if old.is_dir() and old != venv:
                shutil.rmtree(old, ignore_errors=True)
    return venv
