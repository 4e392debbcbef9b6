"""The layering of `src/pjobs` holds: cli → app/service/http/scheduler → handlers → domain
→ the queue's machinery → control/adapters → store → settings → errors. No module imports
from a layer above its own, and runtime imports form no cycle — imports inside functions
count as much as those at the top of a module; only imports for type checking
(`if TYPE_CHECKING:`) are annotations, not dependencies."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[2] / "src"

LAYERS: dict[str, int] = {
    "pjobs": 0,
    "pjobs.errors": 0,
    "pjobs.settings": 1,
    "pjobs.redaction": 1,
    "pjobs.timeutil": 1,
    "pjobs.shown": 1,  # values as people read them, on a terminal or a page
    "pjobs.ids": 1,
    "pjobs.orphans": 1,
    "pjobs.queue.retry": 1,
    "pjobs.store": 2,
    "pjobs.control": 3,
    "pjobs.adapters": 3,
    "pjobs.tenant_schema": 3,
    "pjobs.queue": 4,  # the machinery: job types, context, enqueue, attempts, worker, leases
    "pjobs.domain": 5,
    "pjobs.backups": 5,
    "pjobs.handlers": 6,
    "pjobs.app": 7,
    "pjobs.client": 7,  # for the platform's other Python services: enqueue, read
    "pjobs.service": 7,
    "pjobs.queue.jobqueue": 7,
    "pjobs.queue.scheduler": 7,
    "pjobs.queue.plugins": 7,  # where job types come from: the handlers, plugins
    "pjobs.http": 7,
    "pjobs.cli": 8,
    "pjobs.__main__": 8,
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
