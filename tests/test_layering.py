"""Imports point one way: no cycles among the project's modules, none that import a layer above
their own, and no Qt in the engine. Every import counts, also one inside a function, except those
under `if TYPE_CHECKING:`, which never run."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "gui")

#: From the bottom up; a module may import its own layer or one below. An entry names a module
#: or a package (all its modules); `engine` alone is the package's facade (its __init__).
LAYERS = (
    ("engine.errors", "engine.wording"),
    ("engine.jsontext", "engine.bounded_io", "engine.jit", "engine.step_kernels"),
    (
        "engine.backend",
        "engine.gpu",
        "engine.spec",
        "engine.activations",
        "engine.init",
        "engine.unpickle",
        "engine.output_path",
        "engine.atomic_file",
        "engine.evaluation",
        "engine.winograd",
    ),
    ("engine.limits",),
    ("engine.layers", "engine.data", "engine.cifar", "engine.image_folder", "engine.optim",
     "engine.augment", "engine.parallel"),
    ("engine.network", "engine.last_good", "engine.captured_step", "engine.explain", "engine.drawing"),
    ("engine.training", "engine.weights", "engine.recipe", "engine.occlusion"),
    ("engine.onnx_export", "engine.torch_export", "engine.runs"),
    ("engine.export",),
    ("engine",),
    ("engine.cli", "engine.network3", "engine.__main__"),
    ("gui",),
)
QT = ("PySide6", "pyqtgraph", "shiboken6")


@cache
def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _runs(node: ast.AST) -> list[ast.AST]:
    """`node`'s children, without the bodies of `if TYPE_CHECKING:`."""
    if isinstance(node, ast.If):
        test = node.test
        name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
        if name == "TYPE_CHECKING":
            return list(node.orelse)
    return list(ast.iter_child_nodes(node))


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """Every module `module` imports: project modules as they are named in `known`, others by
    their top-level name."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def resolve(name: str) -> str:
        while name and name not in known:
            if "." not in name:
                return name
            name = name.rpartition(".")[0]
        return name

    stack: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"), str(path))]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            found.update(resolve(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else resolve(base))
        stack.extend(_runs(node))
    found.discard(module)
    return found


@cache
def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {m: imports(m, path, known) for m, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path that starts and ends at the same module, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if n not in graph:
                continue
            if state.get(n) == 1:
                return [*path[path.index(n) :], n]
            if n not in state and (cycle := visit(n)):
                return cycle
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            return cycle
    return None


def level(module: str) -> int:
    best, best_len = None, -1
    for i, entries in enumerate(LAYERS):
        for entry in entries:
            covers = module == entry or (entry != "engine" and module.startswith(entry + "."))
            if covers and len(entry) > best_len:
                best, best_len = i, len(entry)
    if best is None:
        raise LookupError(f"{module} has no place in LAYERS: add it where it belongs")
    return best


def test_the_checker_sees_a_lazy_import_cycle_and_skips_type_checking(tmp_path):
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("def f():\n    import c\n")
    (tmp_path / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import b\nelse:\n    import a\n"
    )
    known = {"a", "b", "c"}
    graph = {m: imports(m, tmp_path / f"{m}.py", known) for m in known}
    assert graph == {"a": {"b"}, "b": {"c"}, "c": {"a", "typing"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    del graph["c"]
    assert find_cycle(graph) is None


def test_no_import_cycle():
    assert find_cycle(import_graph()) is None


def test_every_module_has_a_layer():
    for module in project_modules():
        level(module)


@pytest.mark.parametrize("module", sorted(project_modules()))
def test_imports_point_down(module):
    graph = import_graph()
    upward = [n for n in graph[module] if n in graph and level(n) > level(module)]
    assert not upward, f"{module} imports {upward}, a layer above its own"


def test_engine_imports_no_qt():
    for module, deps in import_graph().items():
        if module.split(".")[0] == "engine":
            assert not deps & set(QT), f"{module} imports Qt"
