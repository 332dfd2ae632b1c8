"""snnx's import graph is acyclic, and the ground floor needs no torch.

The graph is built statically (ast over snnx/**/*.py). Imports inside functions count as
well as module-level ones: a lazy import only postpones a cycle (export/loihinet <->
export/netx was one), and a stage that must import a later one lazily is the layering bug
this test is for. Imports under ``if TYPE_CHECKING:`` never run and are not counted.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import snnx

ROOT = Path(snnx.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """snnx modules imported anywhere in ``tree`` (``from a import b`` counts a.b if it is a module)."""
    out: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name in known and name != module:
                out.add(name)
    return out


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    known = set(files)
    graph = {}
    for mod, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        graph[mod] = _imports(tree, mod, path.name == "__init__.py", known)
        # importing a.b.c runs a/__init__ and a/b/__init__: those are not cycles of a.b.c's making
        graph[mod] -= {p for p in known if mod.startswith(p + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_function_level_imports() -> None:
    graph = import_graph()
    assert "snnx.train.attention" in graph["snnx.train.models"]  # imported inside build_model
    assert "snnx.sim.fast" in graph["snnx.sim.trace"]  # imported inside fixed_trace


def test_snnx_imports_are_acyclic() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_loihi_ground_floor_imports_without_torch() -> None:
    """snnx.loihi and every module in it import with torch blocked (and snnx/__init__ must not
    import torch eagerly for that)."""
    mods = sorted(_module_name(p) for p in (ROOT / "loihi").rglob("*.py"))
    assert len(mods) >= 8, mods
    code = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "import importlib\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "assert 'torch' not in [k for k, v in sys.modules.items() if v is not None]\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]
