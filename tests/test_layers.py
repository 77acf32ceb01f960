"""The layer rules of docs/architecture.md, read from the source with `ast`.

1. Nothing under `services/`, `core/`, `adapters/` or `wiring/` imports an HTTP
   framework (fastapi, starlette), neither itself nor through a module it
   imports: one of ours (followed transitively) or an installed package that
   depends on one.
2. Nothing outside `adapters/` imports boto3, botocore or sqlalchemy (or an
   installed package that depends on one); tests, which talk to moto and SQLite
   directly, are outside the rule, and `ALLOWED_BACKEND_IMPORTS` names the
   other exceptions with their reason. The same for `av` (PyAV): only
   `adapters/` transcodes, and the simulator, a stand-in for Yoto (`AV_FOLDERS`,
   `ALLOWED_AV_IMPORTS`).
3. `services/` and `core/` never import `adapters`; `adapters/` and `infra/`
   never import `services` (each also through a module of ours).
4. `core/` imports no paho, httpx or av, itself or through anything it imports.
5. Only entrypoints (`ENTRYPOINTS`) import the composition root (`wiring`), and
   nothing imports `mqtt/` (the MQTT entrypoint) but its own files and tests.
6. Drawn from the imports, the folders form a graph without a cycle in which
   every arrow points down (`LAYERS`: core, then services and adapters, then
   the root and the deployment, then the entrypoints, then the tools).

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
AV = frozenset({"av"})
# The fake Yoto cloud and players decode and transcode audio as Yoto does: a stand-in for Yoto, not our path.
AV_FOLDERS = ("adapters", "simulator", "tests")
ALLOWED_AV_IMPORTS = {
    "bench.transcode": "measures PyAV's own encoder beside the adapter's (instrumentation)",
    "bench.ingest_vs_lame": "generates its WAV input with PyAV and prints its version (instrumentation)",
}
# Top-level names (import names, then the distributions that provide them).
WIRE_LIBRARIES = frozenset({"paho", "httpx", "av"})
WIRE_DISTRIBUTIONS = frozenset({"paho-mqtt", "httpx", "av"})
# Who may import the composition root: the API and its CLI and scheduled worker
# (app/), the MQTT entrypoint, tools and tests, and the root itself.
ENTRYPOINTS = ("app", "mqtt", "scripts", "bench", "tests", "wiring")
# The folders' ranks: an import between two folders must go to a lower rank.
LAYERS = {
    "core": 0,
    "services": 1,
    "adapters": 1,
    "wiring": 2,  # the composition root: services over adapters
    "infra": 2,  # the Pulumi program's parts: core and adapters' AWS layout
    "simulator": 2,  # the fake Yoto cloud and players: core's vocabulary, the MQTT transport
    "app": 3,
    "mqtt": 3,
    "policy": 3,
    "__main__": 3,  # the Pulumi program
    "tests": 4,
    "bench": 5,
    "scripts": 5,
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


def imports_any(forbidden: frozenset[str], distributions: frozenset[str] | None = None) -> Check:
    """A check: the forbidden package a module imports itself, or through an installed
    package (`distributions`: their names where they differ from the import names)."""
    dists = frozenset(_normalise(f) for f in (forbidden if distributions is None else distributions))

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


def layer_violations(
    root: Path, allowed_backend: dict[str, str] | None = None, allowed_av: dict[str, str] | None = None
) -> list[str]:
    modules = scan(root)
    allowed = ALLOWED_BACKEND_IMPORTS if allowed_backend is None else allowed_backend
    av_allowed = ALLOWED_AV_IMPORTS if allowed_av is None else allowed_av
    found: list[str] = []
    http = imports_any(HTTP_FRAMEWORKS)
    backend = imports_any(BACKEND_LIBRARIES)
    av = imports_any(AV)
    wire = imports_any(WIRE_LIBRARIES, WIRE_DISTRIBUTIONS)
    adapters, services = imports_own("adapters"), imports_own("services")
    root_of_all, entry = imports_own("wiring"), imports_own("mqtt")
    for name in sorted(modules):
        module = modules[name]
        if in_layer(name, "services", "core", "adapters", "wiring") and (why := violation(name, modules, http)):
            found.append(f"HTTP framework below the API layer: {why}")
        if in_layer(name, "services", "core") and (why := violation(name, modules, adapters)) is not None:
            found.append(f"adapters imported by services/core: {why}")
        if in_layer(name, "adapters", "infra") and (why := violation(name, modules, services)) is not None:
            found.append(f"services imported by adapters/infra: {why}")
        if in_layer(name, "core") and (why := violation(name, modules, wire)) is not None:
            found.append(f"wire library in core/: {why}")
        backend_allowed = in_layer(name, "adapters", "tests") or name in allowed
        if not backend_allowed and (why := backend(module, modules)) is not None:
            found.append(f"backend library outside adapters/: {name} {why}")
        if not (in_layer(name, *AV_FOLDERS) or name in av_allowed) and (why := av(module, modules)):
            found.append(f"av outside adapters/: {name} {why}")
        if not in_layer(name, *ENTRYPOINTS) and (why := root_of_all(module, modules)) is not None:
            found.append(f"composition root imported outside the entrypoints: {name} {why}")
        if not in_layer(name, "mqtt", "tests") and (why := entry(module, modules)) is not None:
            found.append(f"the MQTT entrypoint imported: {name} {why}")
    found += graph_violations(modules)
    return found


def folder_of(name: str) -> str:
    return name.split(".")[0]


def folder_graph(modules: dict[str, Module]) -> dict[str, set[str]]:
    """Folder -> the folders its modules import (imports within a folder left out)."""
    graph: dict[str, set[str]] = {folder_of(name): set() for name in modules}
    for name, module in modules.items():
        graph[folder_of(name)] |= {folder_of(dep) for dep in own_imports(module, modules)} - {folder_of(name)}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def graph_violations(modules: dict[str, Module], layers: dict[str, int] | None = None) -> list[str]:
    ranks = LAYERS if layers is None else layers
    graph = folder_graph(modules)
    found = [f"folder without a layer: {f} (add it to LAYERS)" for f in sorted(graph) if f not in ranks]
    for source in sorted(graph):
        for target in sorted(graph[source]):
            if source in ranks and target in ranks and ranks[target] >= ranks[source]:
                example = next(
                    f"{n} imports {d}"
                    for n in sorted(modules)
                    if folder_of(n) == source
                    for d in sorted(own_imports(modules[n], modules))
                    if folder_of(d) == target
                )
                found.append(f"arrow back up: {source} -> {target} ({example})")
    cycle = find_cycle(graph)
    if cycle is not None:
        found.append(f"cycle between folders: {' -> '.join(cycle)}")
    return found


# --------------------------------------------------------------------------- the project


def test_the_project_keeps_its_layers() -> None:
    modules = scan(ROOT)
    assert {"services.streams", "core.ports", "adapters", "app.main"} <= modules.keys()  # the scan sees the tree
    assert layer_violations(ROOT) == []


def test_every_allowed_exception_still_exists_and_still_needs_its_permission() -> None:
    modules = scan(ROOT)
    for allowed, check in (
        (ALLOWED_BACKEND_IMPORTS, imports_any(BACKEND_LIBRARIES)),
        (ALLOWED_AV_IMPORTS, imports_any(AV)),
    ):
        for name in allowed:
            assert name in modules, f"{name} is gone: drop it from the allowed exceptions"
            assert check(modules[name], modules) is not None, f"{name} no longer needs its exception"


def test_the_project_folders_form_the_documented_graph() -> None:
    """The arrows docs/architecture.md draws, and no others (a new arrow is a design change: draw it there)."""
    graph = folder_graph(scan(ROOT))
    expected = {
        "core": set(),
        "services": {"core"},
        "adapters": {"core"},
        "wiring": {"core", "services", "adapters"},
        "infra": {"core", "adapters"},
        "simulator": {"core", "adapters"},
        "app": {"core", "services", "adapters", "wiring"},
        "mqtt": {"core", "services", "adapters", "wiring"},
        "policy": {"infra"},
        "__main__": {"infra"},
    }
    assert {f: graph[f] for f in expected} == expected
    assert find_cycle(graph) is None


# --------------------------------------------------------------------------- the checker itself


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in ("services", "core", "adapters", "app", "adapters/local", "wiring", "infra", "mqtt"):
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


# --------------------------------------------------------------------------- the rules of issue 19


def _found(files: dict[str, str], kind: str, **allowed: dict[str, str]) -> list[str]:
    found = layer_violations(
        write_tree(Path(files.pop("__root__")), {**CLEAN, **files}), allowed.get("backend", {}), allowed.get("av", {})
    )
    return [f for f in found if f.startswith(kind)]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"adapters/web.py": "from services import streams\n"}, "adapters.web imports services"),
        ({"adapters/late.py": "def f():\n    import services.streams\n"}, "adapters.late imports services"),
        ({"adapters/via.py": "from app import main\n"}, "adapters.via -> app.main imports services"),
        ({"infra/data.py": "from services.streams import dataclass\n"}, "infra.data imports services"),
    ],
)
def test_services_imported_by_adapters_or_infra_are_found(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    found = _found({"__root__": str(tmp_path), **files}, "services imported by adapters/infra")
    assert any(expected in f for f in found), found


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"core/net.py": "import httpx\n"}, "core.net imports httpx"),
        ({"core/broker.py": "def f():\n    import paho.mqtt.client as paho\n"}, "core.broker imports paho"),
        (
            {"core/media.py": "from core import deep\n", "core/deep.py": "import av\n"},
            "core.media -> core.deep imports av",
        ),
        (
            {"core/leak.py": "from adapters.local import sql\n", "adapters/local/sql.py": "import httpx\n"},
            "imports httpx",
        ),
    ],
)
def test_wire_libraries_in_core_are_found(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    found = _found({"__root__": str(tmp_path), **files}, "wire library in core/")
    assert any(expected in f for f in found), found


def test_wire_libraries_are_judged_by_import_and_distribution_name(tmp_path: Path) -> None:
    """paho is imported as `paho` but installed as `paho-mqtt`: an installed package
    that depends on one is caught by the distribution's name (shown with fastapi,
    whose distribution depends on starlette's)."""
    modules = scan(
        write_tree(tmp_path, {**CLEAN, "core/x.py": "import paho.mqtt.client\n", "core/y.py": "import fastapi\n"})
    )
    check = imports_any(WIRE_LIBRARIES, WIRE_DISTRIBUTIONS)
    assert check(modules["core.x"], modules) == "imports paho"
    assert "paho-mqtt" in installed_dependencies("paho")  # the distribution behind the import name
    by_distribution = imports_any(frozenset({"not_an_import_name"}), frozenset({"starlette"}))
    assert by_distribution(modules["core.y"], modules) == "imports fastapi, which depends on starlette"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"services/compose.py": "import wiring\n"}, "services.compose imports wiring"),
        ({"adapters/root.py": "def f():\n    from wiring import Root\n"}, "adapters.root imports wiring"),
        (
            {"core/types.py": "import typing\nif typing.TYPE_CHECKING:\n    import wiring\n"},
            "core.types imports wiring",
        ),
        ({"infra/stack.py": "import importlib\nimportlib.import_module('wiring')\n"}, "infra.stack imports wiring"),
    ],
)
def test_the_composition_root_imported_outside_the_entrypoints_is_found(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    entry = {"app/run.py": "from wiring import Root\n", "mqtt/__main__.py": "import wiring\n", "tests/__init__.py": ""}
    found = _found({"__root__": str(tmp_path), **entry, **files}, "composition root imported")
    assert len(found) == 1 and expected in found[0], found


def test_only_the_mqtt_entrypoint_and_tests_import_mqtt(tmp_path: Path) -> None:
    files = {
        "mqtt/loop.py": "",
        "mqtt/__main__.py": "from mqtt import loop\n",
        "tests/__init__.py": "",
        "tests/test_mqtt.py": "import mqtt.__main__\n",
        "app/hook.py": "def f():\n    from mqtt.loop import run\n",
        "services/late.py": "import mqtt\n",
    }
    found = _found({"__root__": str(tmp_path), **files}, "the MQTT entrypoint imported")
    assert sorted(f.split(": ", 1)[1] for f in found) == ["app.hook imports mqtt", "services.late imports mqtt"]


def test_av_outside_adapters_is_found_unless_allowed(tmp_path: Path) -> None:
    files = {
        "adapters/audio.py": "import av\n",
        "services/probe.py": "def f():\n    import av\n",
        "app/cover.py": "import av.container\n",
        "tests/__init__.py": "",
        "tests/tones.py": "import av\n",
    }
    found = _found({"__root__": str(tmp_path), **files}, "av outside adapters/", av={"app.cover": "a reason"})
    assert found == ["av outside adapters/: services.probe imports av"]


def test_an_arrow_back_up_between_folders_is_found(tmp_path: Path) -> None:
    found = _found({"__root__": str(tmp_path), "core/late.py": "def f():\n    from app import main\n"}, "arrow")
    assert "arrow back up: core -> app (core.late imports app)" in found, found
    assert any(f.startswith("arrow back up: core -> adapters") for f in found) is False  # only what core imports itself


def test_a_sideways_arrow_between_peers_is_found(tmp_path: Path) -> None:
    """services and adapters share a rank: neither may import the other."""
    found = _found({"__root__": str(tmp_path), "adapters/web.py": "from services import streams\n"}, "arrow")
    assert found == ["arrow back up: adapters -> services (adapters.web imports services)"]


def test_a_cycle_between_folders_is_found(tmp_path: Path) -> None:
    files = {"adapters/web.py": "from services import streams\n", "services/fetch.py": "import adapters.web\n"}
    found = _found({"__root__": str(tmp_path), **files}, "cycle")
    assert found == ["cycle between folders: adapters -> services -> adapters"]


def test_a_folder_without_a_layer_is_found(tmp_path: Path) -> None:
    files = {"plugins/__init__.py": "", "plugins/extra.py": "from core import records\n"}
    assert _found({"__root__": str(tmp_path), **files}, "folder without") == [
        "folder without a layer: plugins (add it to LAYERS)"
    ]


def test_find_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"a"}}) == ["a", "a"]
