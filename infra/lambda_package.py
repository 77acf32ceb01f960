"""The one Lambda package builder, shared by the Pulumi program, the package
test and `scripts/build_lambda.py`, so what the test runs is what gets deployed.

The zip holds the project's own sources (`app/`, `core/`, `services/`,
`adapters/`, `wiring/`, `mqtt/`) next to the third-party wheels of `requirements.txt` minus the
local-only and deploy-only (Pulumi) packages, fetched for Lambda's platform
(manylinux, the function's architecture and CPython version) rather than for
this machine. Builds are deterministic: sorted
entries, one fixed timestamp and normalised permissions, so unchanged inputs
give the same `source_code_hash` and Pulumi sees no diff.

boto3/botocore are shipped although Lambda's runtime provides them: the
runtime's copy changes whenever AWS updates it, and the package test can only
vouch for the versions it ran. Only the API models of the services the IAM
policy grants are kept, which makes that cheap; `scripts/build_lambda.py
--compare-boto3` shows what it costs (figures in bench/RESULTS.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = ROOT / ".build" / "lambda"

# Bumped whenever the build recipe changes, so cached packages are not reused
# (DEPS_RECIPE only when the pip step changes: it keys the installed wheels).
RECIPE_VERSION = "4"
DEPS_RECIPE = "3"

SOURCE_PACKAGES: tuple[str, ...] = ("app", "core", "services", "adapters", "wiring", "mqtt")
# Needed only by the local (uvicorn + SQLite + gTTS) side, or only by the CLI (rich: the
# migration's progress bar); never shipped. argon2-cffi ships: the first sign-in of a
# user migrated from the local side checks their argon2 hash (docs/migration.md).
# swagger-ui-bundle-v2: interactive docs are off on AWS by default (API_DOCS); 11 MB the cold start need not unpack.
# lameenc: the local ingest's MP3 encoder; Lambda's PyAV 19 bundles a fast LAME (docs/audio.md).
LOCAL_ONLY_PACKAGES: frozenset[str] = frozenset(
    {"uvicorn", "sqlalchemy", "gtts", "swagger-ui-bundle-v2", "rich", "lameenc"}
)
# Needed only by the machine that runs `pulumi up` (the program and the cost
# model); requirements.txt lists them because Pulumi builds its virtualenv
# from that file alone. Never shipped, nor is any other `pulumi-*` package.
DEPLOY_ONLY_PACKAGES: frozenset[str] = frozenset(
    {"pulumi", "pulumi-aws", "pulumi-random", "pulumi-docker-build", "pyyaml"}
)
# Provided by the Lambda runtime, shipped anyway (see the module docstring).
RUNTIME_PROVIDED_PACKAGES: frozenset[str] = frozenset({"boto3", "botocore", "s3transfer", "jmespath"})

ARCHES: dict[str, str] = {"x86_64": "x86_64", "amd64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}
# Lambda's 3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34). Naming the
# newer tag as well stops pip from settling for old manylinux2014-only releases.
PLATFORM_TAGS: tuple[str, ...] = ("manylinux_2_28_{arch}", "manylinux2014_{arch}")

# botocore ships the API models of ~450 services (about 15 MB zipped). The
# function's IAM role allows only the services in adapters/aws/permissions.py,
# so only their models ship (plus STS, which the credential chain may use).
EXTRA_BOTOCORE_SERVICES: frozenset[str] = frozenset({"sts"})

# Lambda never reads these; every one is dropped from the installed tree.
_DROP_DIRS = frozenset({"__pycache__", "tests", "test"})
_DROP_DIST_INFO_FILES = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class PackageBuildError(RuntimeError):
    """pip could not provide a wheel for Lambda's platform, or the inputs are wrong."""


@dataclass(frozen=True)
class PackageResult:
    zip_path: Path
    sha256_b64: str  # base64 SHA-256 of the zip: Lambda's `source_code_hash`
    zipped_bytes: int
    unzipped_bytes: int
    arch: str = "x86_64"
    python_version: str = "3.12"
    files: int = 0
    precompiled: bool = False  # .pyc for the target CPython shipped next to the sources


def normalise_arch(arch: str) -> str:
    """`arm64`/`aarch64` -> aarch64, `x86_64`/`amd64` -> x86_64 (pip's spelling)."""
    try:
        return ARCHES[arch.lower()]
    except KeyError:
        raise PackageBuildError(f"unknown architecture {arch!r}; use one of {', '.join(sorted(ARCHES))}") from None


def requirement_name(line: str) -> str | None:
    """The normalised project name of one requirements line, None for blanks/comments."""
    text = line.split("#", 1)[0].strip()
    if not text:
        return None
    if text.startswith("-"):
        raise PackageBuildError(f"requirements.txt option not supported in the Lambda build: {text!r}")
    match = _NAME.match(text)
    if not match:
        raise PackageBuildError(f"cannot read requirement {text!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def lambda_requirements(requirements: Path | None = None, *, include_boto3: bool = True) -> list[str]:
    """The requirement specifiers to install for Lambda, in file order."""
    path = requirements or ROOT / "requirements.txt"
    skip = set(LOCAL_ONLY_PACKAGES) | set(DEPLOY_ONLY_PACKAGES)
    if not include_boto3:
        skip |= RUNTIME_PROVIDED_PACKAGES
    specs: list[str] = []
    for line in path.read_text().splitlines():
        name = requirement_name(line)
        if name is not None and name not in skip and not name.startswith("pulumi-"):
            specs.append(line.split("#", 1)[0].strip())
    return specs


def _source_files(root: Path) -> list[tuple[str, bytes]]:
    """(archive name, content) of every project source file that ships, read
    once so the cache key and the zip cannot disagree while someone edits."""
    out: list[tuple[str, bytes]] = []
    for package in SOURCE_PACKAGES:
        for path in sorted((root / package).rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and not _dropped(rel) and path.suffix != ".pyc":
                out.append((rel.as_posix(), path.read_bytes()))
    return out


def _dropped(rel: Path) -> bool:
    parts = rel.parts
    if any(p == "__pycache__" for p in parts):
        return True
    # A `tests` dir inside an installed package (depth >= 2) is test data; a
    # top-level one would be a real (if oddly named) package, so it stays.
    if any(p in _DROP_DIRS for p in parts[1:-1]):
        return True
    if len(parts) >= 2 and parts[-2].endswith(".dist-info") and parts[-1] in _DROP_DIST_INFO_FILES:
        return True
    return parts[0] == "bin"  # console scripts with a shebang for the build machine


def _digest(*chunks: bytes) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(len(chunk).to_bytes(8, "big"))
        h.update(chunk)
    return h.hexdigest()


def _deps_key(specs: list[str], arch: str, python_version: str) -> str:
    tags = ",".join(PLATFORM_TAGS).encode()
    return _digest(DEPS_RECIPE.encode(), tags, arch.encode(), python_version.encode(), "\n".join(specs).encode())


def _install_deps(specs: list[str], arch: str, python_version: str) -> Path:
    """pip-install the wheels for Lambda's platform once per input set (cached)."""
    target = CACHE_DIR / f"deps-{arch}-py{python_version}-{_deps_key(specs, arch, python_version)[:16]}"
    if (target / ".complete").exists():
        os.utime(target)  # recently used: kept by _prune_deps
        return target
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="deps-", dir=CACHE_DIR))
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"]
    cmd += ["--no-compile", "--implementation", "cp", "--python-version", python_version, "--only-binary=:all:"]
    for tag in PLATFORM_TAGS:
        cmd += ["--platform", tag.format(arch=arch)]
    cmd += ["--target", str(work), *specs]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise PackageBuildError(
            f"pip could not install the Lambda dependencies for {arch}/cp{python_version}:\n{proc.stderr.strip()}"
        )
    _drop_local_only(work)
    (work / ".complete").write_text(json.dumps(specs))
    try:
        os.replace(work, target)
    except OSError:  # another build finished first; its tree is equivalent
        shutil.rmtree(work, ignore_errors=True)
    _prune_deps(f"deps-{arch}-py{python_version}-", keep=2, current=target)
    return target


def _drop_local_only(tree: Path) -> None:
    """Remove what a shipped package pulled in that never ships (uvicorn, through mcp's
    requirements: the SDK imports it only to run a server of its own, which we never do)."""
    for info in tree.glob("*.dist-info"):
        dist = re.sub(r"[-_.]+", "-", info.name.removesuffix(".dist-info").rsplit("-", 1)[0]).lower()
        if dist not in LOCAL_ONLY_PACKAGES:
            continue
        record = info / "RECORD"
        lines = record.read_text().splitlines() if record.exists() else []
        tops = {line.split(",", 1)[0].split("/", 1)[0] for line in lines}
        # RECORD also names files outside the tree (`../../bin/uvicorn`): only plain top-level names.
        for top in {t for t in tops if t and t not in (".", "..") and "\\" not in t} - {info.name}:
            path = tree / top
            if path.resolve().parent != tree.resolve():
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.is_file():
                path.unlink()
        shutil.rmtree(info, ignore_errors=True)


def _prune_deps(prefix: str, *, keep: int, current: Path) -> None:
    """Installed trees of older requirement sets (~170 MB each): keep the newest few."""
    trees = sorted(CACHE_DIR.glob(f"{prefix}*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [t for t in trees if t != current][keep - 1 :]:
        shutil.rmtree(old, ignore_errors=True)


def botocore_services() -> frozenset[str]:
    """The botocore model directories the function can use: those its IAM policy grants."""
    from adapters.aws import permissions

    actions = [a for name in dir(permissions) if name.endswith("_ACTIONS") for a in getattr(permissions, name)]
    return frozenset(a.split(":", 1)[0] for a in actions) | EXTRA_BOTOCORE_SERVICES


def _dependency_files(deps: Path) -> list[tuple[str, Path]]:
    services = botocore_services()
    out: list[tuple[str, Path]] = []
    for path in deps.rglob("*"):
        rel = path.relative_to(deps)
        if not path.is_file() or rel.name == ".complete" or _dropped(rel) or path.suffix == ".pyc":
            continue
        parts = rel.parts
        if parts[:2] == ("botocore", "data") and len(parts) > 3 and parts[2] not in services:
            continue
        out.append((rel.as_posix(), path))
    return out


def _write_zip(entries: list[tuple[str, Path | bytes]], dest: Path) -> int:
    """A reproducible zip: sorted names, fixed time, 0644/0755 only. Returns unzipped bytes."""
    total = 0
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, source in sorted(entries, key=lambda e: e[0]):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            executable = isinstance(source, Path) and os.stat(source).st_mode & 0o111
            mode = 0o755 if executable else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            data = source.read_bytes() if isinstance(source, Path) else source
            total += len(data)
            zf.writestr(info, data, compresslevel=6)
    return total


def lambda_python(python_version: str) -> Path | None:
    """A CPython of exactly `python_version` on this machine, to compile the .pyc with
    (a pyenv install first: pyenv's `python3.X` shim may point elsewhere)."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python_version:
        return Path(sys.executable)
    candidates = sorted(Path.home().glob(f".pyenv/versions/{python_version}.*/bin/python{python_version}"))[::-1]
    found = shutil.which(f"python{python_version}")
    for candidate in [*candidates, *([Path(found)] if found else [])]:
        if _compiler_version(candidate).startswith(f"{python_version}."):
            return candidate
    return None


def _compiler_version(python: Path) -> str:
    try:
        proc = subprocess.run([str(python), "-c", "import sys; print(sys.version)"], capture_output=True, text=True)
    except OSError:
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _precompile(entries: list[tuple[str, Path | bytes]], python: Path) -> list[tuple[str, Path | bytes]]:
    """The `__pycache__/*.pyc` of every module, compiled by the target CPython.

    /var/task is read-only, so a package without bytecode is compiled from
    source at every cold start (half of it, measured: bench/RESULTS.md).
    `unchecked-hash` pycs never look at mtimes (the zip has none); a fixed
    hash seed, one worker and the embedded path `/var/task` make them reproducible.
    """
    staging = Path(tempfile.mkdtemp(prefix="pyc-", dir=CACHE_DIR))
    try:
        for name, source in entries:
            if not name.endswith(".py"):
                continue
            dest = staging / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, Path):
                os.link(source, dest)
            else:
                dest.write_bytes(source)
        # One worker: marshal marks objects by refcount, so the bytes of a .pyc
        # depend on what the same process compiled before; parallel workers
        # share files out differently every run and break reproducibility.
        cmd = [str(python), "-s", "-m", "compileall", "-q", "-j", "1", "--invalidation-mode", "unchecked-hash"]
        cmd += ["-s", str(staging), "-p", "/var/task", str(staging)]
        # A file that does not compile (rare, e.g. templates named .py) just ships without bytecode.
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        pycs = [(p.relative_to(staging).as_posix(), p.read_bytes()) for p in staging.rglob("__pycache__/*.pyc")]
        if not pycs:
            raise PackageBuildError(f"{python} compiled nothing:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        return pycs
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _prune(prefix: str, *, keep: int) -> None:
    """Drop all but the `keep` newest cached zips of one arch/version (each is ~60 MB);
    a few stay because a test or a deploy may still be reading a recent one."""
    zips = sorted(CACHE_DIR.glob(f"{prefix}*.zip"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in zips[keep:]:
        old.unlink(missing_ok=True)
        old.with_suffix(".json").unlink(missing_ok=True)


def build_lambda_package(
    arch: str,
    python_version: str = "3.12",
    out_dir: Path | None = None,
    *,
    include_boto3: bool = True,
    project_root: Path | None = None,
    precompile: bool | None = None,
) -> PackageResult:
    """Build (or reuse) the Lambda zip for `arch` (x86_64/arm64) and CPython `python_version`.

    The result is cached under `.build/lambda/` by the hash of every input
    (recipe, requirement specifiers, architecture, version, source files), so a
    second call with nothing changed costs one hash of the sources. With
    `out_dir` the zip is copied there as `yoto-smart-stream-<arch>-py<ver>.zip`.
    `project_root` (default: this checkout) is where `app/`, `adapters/` and
    `requirements.txt` are read from. `precompile` ships .pyc made by a local
    CPython of `python_version` (None: when one is found; True: required).
    """
    root = project_root or ROOT
    arch = normalise_arch(arch)
    if not re.fullmatch(r"3\.\d{1,2}", python_version):
        raise PackageBuildError(f"python_version must look like '3.12', got {python_version!r}")
    specs = lambda_requirements(root / "requirements.txt", include_boto3=include_boto3)
    sources = _source_files(root)
    source_digest = _digest(*(chunk for name, data in sources for chunk in (name.encode(), data)))
    services = ",".join(sorted(botocore_services())).encode()
    compiler = lambda_python(python_version) if precompile is not False else None
    if precompile and compiler is None:
        raise PackageBuildError(f"precompile needs a CPython {python_version} on this machine; none was found")
    compiler_id = _compiler_version(compiler).encode() if compiler else b"no-pyc"
    deps_key = _deps_key(specs, arch, python_version).encode()
    key = _digest(RECIPE_VERSION.encode(), deps_key, source_digest.encode(), services, compiler_id)
    key = key[:24]
    cached_zip = CACHE_DIR / f"pkg-{arch}-py{python_version}-{key}.zip"
    meta_path = cached_zip.with_suffix(".json")
    if cached_zip.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        result = PackageResult(**{**meta, "zip_path": cached_zip})
    else:
        deps = _install_deps(specs, arch, python_version)
        entries: list[tuple[str, Path | bytes]] = [*_dependency_files(deps), *sources]
        clash = [name for name, count in Counter(n for n, _ in entries).items() if count > 1]
        if clash:
            raise PackageBuildError(f"a dependency ships files that clash with project sources: {sorted(clash)[:5]}")
        if compiler is not None:
            entries += _precompile(entries, compiler)
        fd, tmp_name = tempfile.mkstemp(prefix="pkg-", suffix=".zip", dir=CACHE_DIR)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            unzipped = _write_zip(entries, tmp)
            data = tmp.read_bytes()
            result = PackageResult(
                zip_path=cached_zip,
                sha256_b64=base64.b64encode(hashlib.sha256(data).digest()).decode(),
                zipped_bytes=len(data),
                unzipped_bytes=unzipped,
                arch=arch,
                python_version=python_version,
                files=len(entries),
                precompiled=compiler is not None,
            )
            os.replace(tmp, cached_zip)
        finally:
            tmp.unlink(missing_ok=True)
        meta = {k: v for k, v in asdict(result).items() if k != "zip_path"}
        meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True))
        _prune(f"pkg-{arch}-py{python_version}-", keep=3)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        dest = out_dir / f"yoto-smart-stream-{arch}-py{python_version}.zip"
        shutil.copyfile(result.zip_path, dest)
        result = PackageResult(**{**asdict(result), "zip_path": dest})
    return result
