"""The layer rules of docs/architecture.md, read from the source with `ast`.

1. Nothing under `services/`, `core/` or `adapters/` imports an HTTP framework
   (fastapi, starlette), neither itself nor through a module it imports: one of
   ours (followed transitively) or an installed package that depends on one.
2. Nothing outside `adapters/` imports boto3, botocore or sqlalchemy (or an
   installed package that depends on one); tests, which talk to moto and SQLite
   directly, are outside the rule, and `ALLOWED_BACKEND_IMPORTS` names the
   other exceptions with their reason.
3. `services/` and `core/` never import `adapters` (again also through a
   module of ours): the factory is composed in `app/` and the entrypoints.

Every import counts, wherever it stands: module level, inside a function,
under `if TYPE_CHECKING:` (a type-level dependency is still a dependency), and
`importlib.import_module("...")` with a literal name. The checker is tested on
small trees written for the purpose, so it is known to fail when it should.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Not the project's source: hidden folders (.venv, .git, the Lambda builder's .build, caches) and these.
SKIP_DIRS = {"venv", "__pycache__", "node_modules", "build", "dist", "site-packages"}

HTTP_FRAMEWORKS = frozenset({"fastapi", "starlette"})
BACKEND_LIBRARIES = frozenset({"boto3", "botocore", "sqlalchemy"})
ALLOWED_BACKEND_IMPORTS = {
    "bench.lambda_warm": "times botocore's HTTP send to split the moto server's share out (instrumentation)",
}


@dataclass
class Module:
    name: str
    path: Path
    imports: set[str] = field(default_factory=set)  # absolute dotted names, as written or resolved


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _source_files(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):  # pruned as it goes: .venv alone holds thousands of files
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        yield from (Path(folder, f) for f in sorted(files) if f.endswith(".py"))


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".") if package else []
                base_parts = base_parts[: len(base_parts) - (node.level - 1)] if node.level > 1 else base_parts
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            if base:
                yield base
            yield from (f"{base}.{alias.name}" if base else alias.name for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.args[0].value


def scan(root: Path) -> dict[str, Module]:
    """Every module under `root` with the names it imports."""
    modules: dict[str, Module] = {}
    for path in _source_files(root):
        name = _module_name(path, root)
        if not name:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        modules[name] = Module(name, path, set(_imported_names(tree, name, path.name == "__init__.py")))
    return modules


def _prefixes(dotted: str) -> Iterator[str]:
    parts = dotted.split(".")
    for i in range(1, len(parts) + 1):
        yield ".".join(parts[:i])


def own_imports(module: Module, modules: dict[str, Module]) -> set[str]:
    """Our modules that importing `module` runs (a.b.c runs a, a.b and a.b.c)."""
    return {p for name in module.imports for p in _prefixes(name) if p in modules and p != module.name}


def foreign_tops(module: Module, modules: dict[str, Module]) -> set[str]:
    """Top-level names of the imported modules that are not ours (stdlib or installed)."""
    ours = {name.split(".")[0] for name in modules}
    return {name.split(".")[0] for name in module.imports} - ours


def _normalise(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


@cache
def _distributions_of_top_level() -> dict[str, tuple[str, ...]]:
    return {
        top: tuple(_normalise(d) for d in dists) for top, dists in importlib.metadata.packages_distributions().items()
    }


@cache
def dependency_closure(dist: str) -> frozenset[str]:
    """The distribution and everything it requires, extras left out."""
    seen: set[str] = set()
    todo = [_normalise(dist)]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            requires = importlib.metadata.requires(current) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" in req.partition(";")[2]:
                continue
            found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req)
            if found:
                todo.append(_normalise(found.group(0)))
    return frozenset(seen)


def installed_dependencies(top: str) -> frozenset[str]:
    """Distributions an installed top-level package brings along (empty for the stdlib)."""
    out: set[str] = set()
    for dist in _distributions_of_top_level().get(top, ()):
        out |= dependency_closure(dist)
    return frozenset(out)


Check = Callable[[Module, dict[str, Module]], str | None]


def imports_any(forbidden: frozenset[str]) -> Check:
    """A check: the forbidden package a module imports itself, or through an installed package."""
    dists = frozenset(_normalise(f) for f in forbidden)

    def check(module: Module, modules: dict[str, Module]) -> str | None:
        for top in sorted(foreign_tops(module, modules)):
            if top in forbidden:
                return f"imports {top}"
            via = sorted(installed_dependencies(top) & dists)
            if via:
                return f"imports {top}, which depends on {via[0]}"
        return None

    return check


def imports_own(prefix: str) -> Check:
    def check(module: Module, modules: dict[str, Module]) -> str | None:
        hit = sorted(n for n in own_imports(module, modules) if n == prefix or n.startswith(prefix + "."))
        return f"imports {hit[0]}" if hit else None

    return check


def violation(start: str, modules: dict[str, Module], check: Check) -> str | None:
    """The first import chain from `start` to a module failing `check`, as text."""
    parents: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        name = queue.popleft()
        reason = check(modules[name], modules)
        if reason is not None:
            chain = [name]
            while (parent := parents[chain[-1]]) is not None:
                chain.append(parent)
            return f"{' -> '.join(reversed(chain))} {reason}"
        for dep in sorted(own_imports(modules[name], modules)):
            if dep not in parents:
                parents[dep] = name
                queue.append(dep)
    return None


def in_layer(name: str, *layers: str) -> bool:
    return any(name == layer or name.startswith(layer + ".") for layer in layers)


def layer_violations(root: Path, allowed_backend: dict[str, str] | None = None) -> list[str]:
    modules = scan(root)
    allowed = ALLOWED_BACKEND_IMPORTS if allowed_backend is None else allowed_backend
    found: list[str] = []
    http = imports_any(HTTP_FRAMEWORKS)
    backend = imports_any(BACKEND_LIBRARIES)
    adapters = imports_own("adapters")
    for name in sorted(modules):
        below_api = in_layer(name, "services", "core", "adapters")
        if below_api and (why := violation(name, modules, http)) is not None:
            found.append(f"HTTP framework below the API layer: {why}")
        if in_layer(name, "services", "core") and (why := violation(name, modules, adapters)) is not None:
            found.append(f"adapters imported by services/core: {why}")
        backend_allowed = in_layer(name, "adapters", "tests") or name in allowed
        if not backend_allowed and (why := backend(modules[name], modules)) is not None:
            found.append(f"backend library outside adapters/: {name} {why}")
    return found


# --------------------------------------------------------------------------- the project


def test_the_project_keeps_its_layers() -> None:
    modules = scan(ROOT)
    assert {"services.streams", "core.ports", "adapters", "app.main"} <= modules.keys()  # the scan sees the tree
    assert layer_violations(ROOT) == []


def test_every_allowed_exception_still_exists_and_still_needs_its_permission() -> None:
    modules = scan(ROOT)
    backend = imports_any(BACKEND_LIBRARIES)
    for name in ALLOWED_BACKEND_IMPORTS:
        assert name in modules, f"{name} is gone: drop it from ALLOWED_BACKEND_IMPORTS"
        assert backend(modules[name], modules) is not None, f"{name} no longer needs its exception"


# --------------------------------------------------------------------------- the checker itself


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in ("services", "core", "adapters", "app", "adapters/local"):
        init = root / package / "__init__.py"
        if not init.exists():
            init.parent.mkdir(parents=True, exist_ok=True)
            init.write_text("")
    return root


CLEAN = {
    "core/records.py": "from dataclasses import dataclass\n",
    "services/streams.py": "from core.records import dataclass\nimport hmac\n",
    "adapters/local/sql.py": "import sqlalchemy as sa\nfrom core import records\n",
    "adapters/__init__.py": "def get():\n    from adapters.local import sql\n",
    "app/main.py": "from fastapi import FastAPI\nfrom adapters import get\nfrom services import streams\n",
}


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    assert layer_violations(write_tree(tmp_path, CLEAN), {}) == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"services/web.py": "from starlette.responses import Response\n"}, "services.web imports starlette"),
        ({"core/late.py": "def f():\n    import fastapi.routing\n"}, "core.late imports fastapi"),
        (
            {"adapters/hooks.py": "import typing\nif typing.TYPE_CHECKING:\n    from fastapi import Request\n"},
            "adapters.hooks imports fastapi",
        ),
        (
            {"services/keys.py": "from app import main\n"},
            "services.keys -> app.main imports fastapi",
        ),
        (
            {"services/dyn.py": "import importlib\nimportlib.import_module('starlette')\n"},
            "services.dyn imports starlette",
        ),
        ({"core/plug.py": "import fastapi_like_plugin\n"}, None),  # unknown package, no dependency known
    ],
)
def test_http_frameworks_below_the_api_layer_are_found(
    tmp_path: Path, files: dict[str, str], expected: str | None
) -> None:
    found = layer_violations(write_tree(tmp_path, {**CLEAN, **files}), {})
    if expected is None:
        assert found == []
    else:
        assert any(expected in f and f.startswith("HTTP framework") for f in found), found


def test_an_installed_package_that_depends_on_a_framework_counts(tmp_path: Path) -> None:
    """fastapi's own distribution depends on starlette; importing it under a
    name the rule does not list by itself must still be caught."""
    assert "starlette" in installed_dependencies("fastapi")
    check = imports_any(frozenset({"starlette"}))
    modules = scan(write_tree(tmp_path, {**CLEAN, "services/api.py": "import fastapi\n"}))
    assert check(modules["services.api"], modules) == "imports fastapi, which depends on starlette"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"services/direct.py": "import adapters\n"}, "services.direct imports adapters"),
        ({"core/deep.py": "def f():\n    from adapters.local import sql\n"}, "core.deep imports adapters"),
        (
            {"services/sub/__init__.py": "", "services/sub/rel.py": "from ...adapters import local\n"},
            "imports adapters",
        ),
        ({"services/via.py": "from app.main import FastAPI\n"}, "services.via -> app.main imports adapters"),
    ],
)
def test_adapters_imported_by_services_or_core_are_found(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    found = layer_violations(write_tree(tmp_path, {**CLEAN, **files}), {})
    assert any(expected in f and f.startswith("adapters imported") for f in found), found


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"app/db.py": "import sqlalchemy\n"}, "app.db imports sqlalchemy"),
        (
            {"services/s3.py": "def f():\n    from botocore.exceptions import ClientError\n"},
            "services.s3 imports botocore",
        ),
        ({"mqtt/__init__.py": "", "mqtt/store.py": "import boto3.session\n"}, "mqtt.store imports boto3"),
        ({"__main__.py": "import boto3\n"}, "__main__ imports boto3"),
    ],
)
def test_backend_libraries_outside_adapters_are_found(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    found = layer_violations(write_tree(tmp_path, {**CLEAN, **files}), {})
    assert any(expected in f and f.startswith("backend library") for f in found), found


def test_tests_and_allowed_modules_may_import_backend_libraries(tmp_path: Path) -> None:
    files = {
        **CLEAN,
        "tests/__init__.py": "",
        "tests/test_x.py": "import boto3\n",
        "bench/tool.py": "import botocore\n",
    }
    root = write_tree(tmp_path, files)
    assert layer_violations(root, {"bench.tool": "instrumentation"}) == []
    assert layer_violations(root, {}) == ["backend library outside adapters/: bench.tool imports botocore"]
