"""requirements.txt is what `pulumi up` installs; the Lambda package leaves the deploy-only part out."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import zipfile
from pathlib import Path

from infra import lambda_package
from infra.lambda_package import (
    DEPLOY_ONLY_PACKAGES,
    LOCAL_ONLY_PACKAGES,
    lambda_requirements,
    requirement_name,
)

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = {"app", "core", "services", "adapters", "infra", "mqtt", "simulator"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def listed(path: Path) -> set[str]:
    names = (requirement_name(line) for line in path.read_text().splitlines() if not line.startswith("-r"))
    return {n for n in names if n}


def program_imports() -> set[str]:
    """Top-level modules imported anywhere in the Pulumi program (`__main__.py`, `infra/`), lazily or not."""
    found: set[str] = set()
    for path in [ROOT / "__main__.py", *sorted((ROOT / "infra").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - PROJECT_PACKAGES


def test_everything_the_program_imports_is_in_requirements_txt() -> None:
    providers = importlib.metadata.packages_distributions()
    runtime = listed(ROOT / "requirements.txt")
    modules = program_imports()
    assert {"pulumi", "pulumi_aws", "pulumi_random", "pulumi_docker_build", "yaml"} <= modules
    missing = {m: providers.get(m) for m in modules if not {normalise(d) for d in providers.get(m, [])} & runtime}
    assert missing == {}, f"imported by the program but not in requirements.txt: {missing}"


def test_deploy_only_packages_are_in_requirements_txt_and_not_in_dev() -> None:
    runtime = listed(ROOT / "requirements.txt")
    assert runtime >= DEPLOY_ONLY_PACKAGES
    # Listed once: requirements-dev.txt includes requirements.txt and must not pin them differently.
    assert not DEPLOY_ONLY_PACKAGES & listed(ROOT / "requirements-dev.txt")


def test_lambda_package_leaves_out_deploy_and_local_only_packages() -> None:
    specs = lambda_requirements(ROOT / "requirements.txt")
    names = {requirement_name(s) for s in specs}
    assert not names & (DEPLOY_ONLY_PACKAGES | LOCAL_ONLY_PACKAGES)
    assert {"fastapi", "mangum", "pydantic", "av", "boto3"} <= names
    assert not any(n and n.startswith("pulumi") for n in names)


def test_filter_reads_every_spelling_of_a_name(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text(
        "Pulumi>=3.130,<4\n"
        "pulumi_aws >= 7  # comment\n"
        "pulumi.random~=4.16\n"
        "Pulumi-Docker-Build[extra]>=0.0.8\n"
        "PyYAML>=6\n"
        "uvicorn[standard]>=0.30\n"
        "pulumi-policy>=1.13\n"
        "fastapi>=0.115\n"
    )
    # Not named in DEPLOY_ONLY_PACKAGES, but no `pulumi-*` package ever ships.
    assert lambda_requirements(req) == ["fastapi>=0.115"]


def test_built_package_ships_none_of_the_program_packages() -> None:
    """The real Lambda zip (cached under .build/lambda, shared with test_program.py)."""
    from infra.lambda_package import build_lambda_package

    built = build_lambda_package("arm64", "3.12")
    with zipfile.ZipFile(built.zip_path) as zf:
        tops = {name.split("/", 1)[0].lower() for name in zf.namelist()}
    assert {"fastapi", "mangum", "app"} <= tops
    shipped = {t for t in tops if t.startswith(("pulumi", "yaml", "_yaml", "pyyaml", "grpc"))}
    assert shipped == set()


def test_a_local_only_package_pulled_in_by_a_shipped_one_is_dropped_and_nothing_outside(tmp_path: Path) -> None:
    tree = tmp_path / "deps"
    for name in ("uvicorn", "mcp"):
        (tree / name).mkdir(parents=True)
        (tree / name / "__init__.py").write_text("")
    info = tree / "uvicorn-0.55.0.dist-info"
    info.mkdir()
    (info / "RECORD").write_text("uvicorn/__init__.py,,\n../../bin/uvicorn,,\nuvicorn-0.55.0.dist-info/RECORD,,\n")
    (tree / "mcp-2.3.0.dist-info").mkdir()
    beside = tmp_path / "bin"
    beside.mkdir()
    lambda_package._drop_local_only(tree)
    assert sorted(p.name for p in tree.iterdir()) == ["mcp", "mcp-2.3.0.dist-info"]
    assert beside.is_dir()  # RECORD's ../../bin entry is outside the tree: untouched
