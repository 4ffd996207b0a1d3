"""The layers of docs/architecture.md, enforced: imports run one way and form no loop.

Every `import` in fediverse_biz/ counts, at module level or inside a function, so a loop cannot hide in a
function body. A module may import its own package and anything in a lower layer; modules of one layer
(web and api, say) do not import each other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "fediverse_biz"

# Top to bottom, as docs/architecture.md draws them. Names are the first part after `fediverse_biz.`.
LAYERS: list[tuple[str, ...]] = [
    ("cli",),
    ("app",),
    ("assembly",),  # the job handler table and the extension points, built for app and cli
    ("middleware", "ratelimit", "slow_clients", "gc_tuning"),  # what the server process runs with
    ("web", "api"),  # doors for people and apps
    ("federation",),  # doors for servers, inbound processing, addressing, the hall relay
    ("services",),  # the typed application state the doors use
    ("business",),  # organizations, teams, approvals, halls, boards, directory
    ("core",),  # accounts, statuses, timelines, notifications, fan-out, hooks
    ("jobs",),  # the queue, the worker loop, host health
    ("db", "net"),  # PostgreSQL; the SSRF-safe outgoing HTTP client
    ("activitypub",),  # the protocol: documents, signatures, validation
    ("text", "urls", "config", "jsonio", "storable", "ttl_cache", "package_data", ""),  # foundations
]
RANK = {name: len(LAYERS) - i for i, names in enumerate(LAYERS) for name in names}
# The protocol layer parses and renders; it never talks to the database or the network.
PURE = {"activitypub": ("asyncpg", "aiohttp", "starlette")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py") if "schemas" not in p.relative_to(ROOT).parts}


def imported(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in the file, resolved to a module of the package when it
    is one; third-party names are yielded as written."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                candidate = f"{prefix}.{alias.name}"
                yield node.lineno, candidate if candidate in MODULES else prefix


def project_module(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def edges() -> dict[str, set[tuple[int, str]]]:
    found: dict[str, set[tuple[int, str]]] = {}
    for module, path in MODULES.items():
        found[module] = set()
        for line, name in imported(module, path):
            if name.split(".")[0] != "fediverse_biz":
                continue
            target = project_module(name)
            if target is not None and target != module:
                found[module].add((line, target))
    return found


def test_every_module_has_a_layer() -> None:
    assert sorted({layer_of(m) for m in MODULES} - RANK.keys()) == []


def test_imports_run_down_the_layers() -> None:
    upward = []
    for module, targets in edges().items():
        for line, target in targets:
            source_layer, target_layer = layer_of(module), layer_of(target)
            if source_layer == target_layer and source_layer != "":
                continue  # within one package
            if RANK[target_layer] >= RANK[source_layer]:
                upward.append(f"{MODULES[module].relative_to(ROOT.parent)}:{line} imports {target}")
    assert upward == []


def test_no_import_loops() -> None:
    graph = {m: {t for _, t in ts} for m, ts in edges().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert loops == []


@pytest.mark.parametrize("layer", sorted(PURE))
def test_the_protocol_layer_has_no_database_or_network(layer: str) -> None:
    banned = PURE[layer]
    found = [
        f"{path.relative_to(ROOT.parent)}:{line} imports {name}"
        for module, path in MODULES.items()
        if layer_of(module) == layer
        for line, name in imported(module, path)
        if name.split(".")[0] in banned
    ]
    assert found == []


def test_no_dynamic_imports() -> None:
    """What a module uses is named in an import statement, where this test and a reader can see it."""
    found = []
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name in {"__import__", "importlib.import_module", "import_module"}:
                    found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} calls {name}")
    assert found == []


def test_the_checks_see_an_upward_import(tmp_path: Path) -> None:
    """The walker resolves relative and function-level imports: a core module reaching into federation
    from inside a function is found."""
    source = tmp_path / "statuses.py"
    source.write_text("def f():\n    from ..federation import outbox\n    return outbox\n")
    [(line, name)] = list(imported("fediverse_biz.core.statuses", source))
    assert line == 2
    assert project_module(name) == "fediverse_biz.federation.outbox"
    assert RANK[layer_of(project_module(name) or "")] > RANK["core"]


def _sources_matching(pattern: str) -> set[str]:
    import re

    compiled = re.compile(pattern)
    return {str(p.relative_to(ROOT)) for p in MODULES.values() if compiled.search(p.read_text())}


def test_each_shared_rule_has_one_owner() -> None:
    # one writer of notifications, one reader of domain blocks, one executor alias, one acting-actor rule
    assert _sources_matching(r"INSERT INTO notifications") == {"core/notifications.py"}
    assert _sources_matching(r"(FROM|JOIN) domain_blocks\b") == {"core/domain_blocks.py"}
    assert _sources_matching(r"TypeAlias = asyncpg") == {"db/executor.py"}
    assert _sources_matching(r"def acting_actor\(") == {"core/accounts.py", "api/_accounts.py"}
    assert "accounts.acting_actor(" in (ROOT / "api" / "_accounts.py").read_text()
    # one fan-out: only core/outbound.py enqueues deliveries
    assert _sources_matching(r"enqueue_many\(conn, DELIVER|\"deliver\"") <= {"core/outbound.py"}
