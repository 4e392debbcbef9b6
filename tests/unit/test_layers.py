"""The layering of `src/pjobs` holds: cli → app/queue → worker/handlers → control/adapters
→ store → settings → errors. No module imports from a layer above its own (imports for type
checking only excepted), and runtime imports form no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[2] / "src"

LAYERS: dict[str, int] = {
    "pjobs": 0,
    "pjobs.errors": 0,
    "pjobs.config": 1,
    "pjobs.settings_groups": 1,
    "pjobs.settings_limits": 1,
    "pjobs.dburl": 1,
    "pjobs.redaction": 1,
    "pjobs.secretfile": 1,
    "pjobs.locations": 1,
    "pjobs.timeutil": 1,
    "pjobs.ids": 1,
    "pjobs.retry": 1,
    "pjobs.orphans": 1,
    "pjobs.store": 2,
    "pjobs.control": 3,
    "pjobs.adapters": 3,
    "pjobs.notify": 3,
    "pjobs.apikeys": 3,
    "pjobs.tenant_schema": 3,
    "pjobs.secretbox": 3,
    "pjobs.backups": 3,
    "pjobs.deliveries": 4,
    "pjobs.usage": 3,
    "pjobs.usage_lines": 3,
    "pjobs.usage_import": 3,
    "pjobs.quotas": 3,
    "pjobs.abuse": 3,
    "pjobs.jobtypes": 4,
    "pjobs.enqueue": 4,
    "pjobs.plugins": 4,
    "pjobs.attempt": 4,
    "pjobs.leases": 4,
    "pjobs.worker": 4,
    "pjobs.handlers": 4,
    "pjobs.app": 5,
    "pjobs.queue": 5,
    "pjobs.scheduler": 5,
    "pjobs.http": 5,
    "pjobs.cli": 6,
    "pjobs.__main__": 6,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> int:
    best = max(
        (name for name in LAYERS if module == name or module.startswith(name + ".")), key=len
    )
    return LAYERS[best]


def runtime_imports(tree: ast.Module, modules: set[str]) -> set[str]:
    """pjobs modules imported anywhere in the file, except under `if TYPE_CHECKING:`
    (`from package import module` counts as importing the module, not the package)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pjobs"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pjobs"):
            assert node.module is not None
            named = {f"{node.module}.{a.name}" for a in node.names}
            found.update(named & modules or {node.module})
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in SRC.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = runtime_imports(ast.parse(path.read_text()), set(modules))
        edges[name] = {m for m in imported if m in modules and m != name}
    return edges


def test_no_module_imports_from_a_higher_layer() -> None:
    wrong = [
        f"{importer} (layer {layer(importer)}) imports {imported} (layer {layer(imported)})"
        for importer, imports in graph().items()
        for imported in imports
        if layer(imported) > layer(importer)
    ]
    assert wrong == []


def test_no_import_cycle() -> None:
    edges = graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            walk(start, [start])
    # a package's __init__ importing its own submodules is how packages are built
    real = [c for c in cycles if not all(m == c[0] or m.startswith(c[0] + ".") for m in c)]
    assert real == []
