"""The import graph follows the data flow (ARCHITECTURE.md): every module of the package has a declared
level, and no module imports one of a higher level. Imports inside functions and under TYPE_CHECKING count
too: a lazy import against the flow is still a back-arrow."""

from __future__ import annotations

import ast
from pathlib import Path

import duelbandit

ROOT = Path(duelbandit.__file__).parent

# Lower levels never import higher ones. Same level: allowed only inside one package (or module).
LEVELS: dict[str, int] = {
    "errors": 0,
    "rng": 0,
    "types": 1,
    "pool": 1,  # compatibility path for the types
    "io": 2,
    "data": 2,
    "embed": 2,
    "plots": 2,
    "design": 3,
    "reward": 3,
    "regret": 3,
    "rl": 4,  # finite-MDP agents: know nothing of pools or selectors
    "annotate": 5,
    "select": 6,
    "theory": 7,
    "finetune": 8,
    "pipeline": 9,
    "commands": 10,
    "cli": 10,
    "__init__": 10,
    "__main__": 10,
}


def _unit(module: str) -> str:
    """'duelbandit.select.online' -> 'select'; 'duelbandit' -> '__init__'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported duelbandit module) for every import statement in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "duelbandit"]
        elif (isinstance(node, ast.ImportFrom) and node.module and node.level == 0
              and node.module.split(".")[0] == "duelbandit"):
            out.append((node.lineno, node.module))
    return out


def _edges() -> list[tuple[str, int, str, str]]:
    """(file, line, importer unit, imported unit) over the package."""
    edges = []
    for path in sorted(ROOT.rglob("*.py")):
        importer = _unit(_module_name(path))
        for line, mod in _imports(path):
            edges.append((str(path.relative_to(ROOT.parent)), line, importer, _unit(mod)))
    return edges


def test_every_unit_has_a_level():
    units = {_unit(_module_name(p)) for p in ROOT.rglob("*.py")}
    missing = sorted(u for u in units if u not in LEVELS)
    assert not missing, f"declare a level in tests/test_layout.py for: {missing}"


def test_no_import_against_the_flow():
    bad = [
        f"{f}:{line}: {a} (level {LEVELS[a]}) imports {b} (level {LEVELS[b]})"
        for f, line, a, b in _edges()
        if a != b and a in LEVELS and b in LEVELS and LEVELS[b] > LEVELS[a]
    ]
    assert not bad, "imports against the data flow:\n" + "\n".join(bad)


def test_no_import_circle_between_modules():
    """No cycle among modules (module-level imports only: what runs at import time)."""
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        name = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        deps = set()
        for node in tree.body:  # top-level statements only
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("duelbandit"):
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("duelbandit")}
        # a package's __init__ re-exports its children; the child -> package edge is not a circle
        graph[name] = {d for d in deps if not name.startswith(d + ".") and d != name}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(u: str) -> list[str] | None:
        state[u] = 1
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if state.get(v) == 1:
                return stack[stack.index(v):] + [v]
            if v not in state and (cycle := visit(v)):
                return cycle
        stack.pop()
        state[u] = 2
        return None

    for u in sorted(graph):
        if u not in state and (cycle := visit(u)):
            raise AssertionError("import circle: " + " -> ".join(cycle))


def test_the_checker_catches_a_back_arrow(tmp_path):
    """The checker is not vacuous: a planted import of select from io is flagged."""
    f = tmp_path / "planted.py"
    f.write_text("from duelbandit.select import SELECTORS\n")
    (line, mod), = _imports(f)
    assert LEVELS[_unit(mod)] > LEVELS["io"]
