"""The package boundaries of hpcseq, read from its source (AST) and checked by importing it.

1. TensorFlow and Horovod belong to hpcseq.training and hpcseq.evaluation. Every module that
   does not import them when it is imported is importable in the workflow environment (which
   has no TensorFlow) and leaves TensorFlow unloaded.
2. No module outside those two packages imports TensorFlow, Horovod or a module that needs them,
   at any level (inside functions too), except the few listed in LAZY_TENSORFLOW with a reason.
3. Dependencies point one way: the log inspector, the cluster code and data preparation do not
   reach into the packages that sit beside or above them, and only the command line (the top)
   imports the command line and the development tools.

A module "imports" a name when its source has an import statement of it (at any level), or when
importing the module loads it through a chain of module-level imports.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

# The rules live in the package, where docs/developing/modules.md is written from them.
from hpcseq.devtools.architecture import FORBIDDEN, HEAVY, LAZY_TENSORFLOW, TF_PACKAGES, TOP_LEVEL

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
PACKAGE = SCRIPTS / "hpcseq"

# Not imported by the import check, with the reason.
NOT_IMPORTED = {"hpcseq.__main__": "it runs the command line when imported"}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str  # the dotted name, resolved to an hpcseq module where it names one
    line: int
    module_level: bool  # runs when the importer is imported (not inside a function)

    def names(self, prefix: str) -> bool:
        return self.imported == prefix or self.imported.startswith(prefix + ".")

    def __str__(self) -> str:
        where = "at module level" if self.module_level else "inside a function"
        return f"{self.importer} (line {self.line}, {where}) imports {self.imported}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SCRIPTS).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    files = sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)
    return {module_name(path): path for path in files}


def _resolve(importer: str, node: ast.ImportFrom) -> list[str]:
    """The modules an import-from statement names (a name that is not a module stays its package)."""
    if node.level:
        package = importer if modules()[importer].name == "__init__.py" else importer.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules() else base for alias in node.names]


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, importer: str) -> None:
        self.importer = importer
        self.imports: list[Import] = []
        self.depth = 0  # functions around the current node

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return  # never runs
        self.generic_visit(node)

    def _add(self, name: str, node: ast.AST) -> None:
        self.imports.append(Import(self.importer, name, node.lineno, self.depth == 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module == "__future__":
            return
        for name in _resolve(self.importer, node):
            self._add(name, node)


@cache
def imports_of(module: str) -> tuple[Import, ...]:
    collector = _ImportCollector(module)
    collector.visit(ast.parse(modules()[module].read_text(), filename=str(modules()[module])))
    return tuple(dict.fromkeys(collector.imports))  # `from x import a, b` of one module: once


def _loaded_with(name: str) -> list[str]:
    """The hpcseq modules that importing `name` runs: its parent packages, then itself."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in modules()]


@cache
def loads(module: str) -> dict[str, tuple[str, ...]]:
    """Everything importing `module` loads (hpcseq modules and top-level third-party names), each
    with the shortest chain of module-level imports that loads it."""
    chains: dict[str, tuple[str, ...]] = {}
    queue = [(module, (module,))]
    while queue:  # breadth first: the first chain found to a name is a shortest one
        name, chain = queue.pop(0)
        if name in chains:
            continue
        chains[name] = chain
        if name not in modules():
            continue  # a third-party package: not followed
        loaded = [parent for parent in _loaded_with(name) if parent != name]
        for item in imports_of(name):
            if item.module_level:
                loaded += _loaded_with(item.imported) or [item.imported.split(".")[0]]
        queue += [(other, (*chain, other)) for other in loaded]
    del chains[module]
    return chains


def needs_tensorflow(module: str) -> tuple[str, ...] | None:
    """The chain through which importing `module` imports TensorFlow or Horovod; None if it does not."""
    found = [chain for name, chain in loads(module).items() if name in HEAVY]
    return min(found, key=len) if found else None


def inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _in_tf_packages(module: str) -> bool:
    return any(inside(module, package) for package in TF_PACKAGES)


def depends_on(module: str, package: str, home: str) -> list[str]:
    """How `module` (of package `home`) imports something of `package`: its own import statements,
    and the shortest chain of module-level imports that leaves `home` here and reaches `package`."""
    found = [str(item) for item in imports_of(module) if item.names(package)]
    chains = [
        chain
        for name, chain in loads(module).items()
        if inside(name, package) and len(chain) > 2 and not inside(chain[1], home)
    ]
    if chains and not found:
        shortest = min(chains, key=lambda chain: (len(chain), -len(chain[-1])))  # the module, not its package
        found.append(" -> ".join(shortest) + " (module-level imports)")
    return found


TENSORFLOW_MODULES = sorted(module for module in modules() if needs_tensorflow(module))
WORKFLOW_MODULES = sorted(module for module in modules() if module not in TENSORFLOW_MODULES + list(NOT_IMPORTED))


def test_imports_are_read_with_where_they_run():
    source = """
from __future__ import annotations
import numpy as np
from hpcseq import config, errors
from hpcseq.cluster.options import SBATCH_OPTIONS, sbatch_options
if TYPE_CHECKING:
    import horovod
def train():
    import tensorflow as tf
"""
    collector = _ImportCollector("hpcseq.example")
    collector.visit(ast.parse(source))
    found = {(item.imported, item.module_level) for item in dict.fromkeys(collector.imports)}
    assert found == {
        ("numpy", True),
        ("hpcseq.config", True),
        ("hpcseq.errors", True),
        ("hpcseq.cluster.options", True),
        ("tensorflow", False),
    }


def test_only_training_and_evaluation_modules_need_tensorflow_when_imported():
    outside = [
        f"{module}: " + " -> ".join(needs_tensorflow(module))
        for module in TENSORFLOW_MODULES
        if not _in_tf_packages(module)
    ]
    assert not outside, "modules outside hpcseq.training and hpcseq.evaluation need TensorFlow:\n" + "\n".join(outside)


IMPORT_CHECK = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
report = {}
for name in sys.argv[2:]:
    try:
        importlib.import_module(name)
    except Exception as error:
        report[name] = f"import failed: {type(error).__name__}: {error}"
        continue
    loaded = [heavy for heavy in ("tensorflow", "horovod") if heavy in sys.modules]
    if loaded:
        report[name] = "loaded " + " and ".join(loaded)
        break  # every later module would be blamed too
print(json.dumps(report))
"""


def test_every_other_module_imports_without_tensorflow():
    """Imported one after another in a fresh interpreter (a clean sys.modules), as the workflow environment does."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK, str(SCRIPTS), *WORKFLOW_MODULES],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert not report, "modules that must import without TensorFlow:\n" + "\n".join(
        f"  {module}: {problem}" for module, problem in report.items()
    )


def _allowed_lazily(item: Import) -> bool:
    allowed, _reason = LAZY_TENSORFLOW.get(item.importer, ((), ""))
    return not item.module_level and any(item.names(prefix) for prefix in allowed)


def _tensorflow_imports() -> list[Import]:
    """Every import statement outside TF_PACKAGES of TensorFlow, Horovod, or a module of TF_PACKAGES
    that needs them (a module elsewhere that needs them is reported by the test above)."""
    found = []
    for module in modules():
        if _in_tf_packages(module):
            continue
        for item in imports_of(module):
            top = item.imported.split(".")[0]
            if top in HEAVY or (item.imported in TENSORFLOW_MODULES and _in_tf_packages(item.imported)):
                found.append(item)
    return found


def test_no_module_outside_training_and_evaluation_imports_tensorflow():
    broken = [f"  {item}" for item in _tensorflow_imports() if not _allowed_lazily(item)]
    assert not broken, (
        "TensorFlow and Horovod belong to hpcseq.training and hpcseq.evaluation "
        "(or list an explained exception in LAZY_TENSORFLOW):\n" + "\n".join(broken)
    )


def test_every_tensorflow_exception_is_still_needed():
    used = {item.importer for item in _tensorflow_imports() if _allowed_lazily(item)}
    assert set(LAZY_TENSORFLOW) <= used, f"no longer needed, remove: {sorted(set(LAZY_TENSORFLOW) - used)}"


@pytest.mark.parametrize(
    "importer,forbidden",
    [(importer, forbidden) for importer, rules in FORBIDDEN.items() for forbidden in rules],
)
def test_dependencies_point_one_way(importer, forbidden):
    broken = [
        f"  {how}"
        for module in modules()
        if inside(module, importer)
        for how in depends_on(module, forbidden, importer)
    ]
    why = FORBIDDEN[importer][forbidden]
    assert not broken, f"{importer} must not import {forbidden} ({why}):\n" + "\n".join(broken)


@pytest.mark.parametrize("top", sorted(TOP_LEVEL))
def test_only_the_command_line_imports_the_top_level(top):
    allowed = TOP_LEVEL[top]
    broken = [
        f"  {item}"
        for module in modules()
        if not inside(module, top) and not any(inside(module, importer) for importer in allowed)
        for item in imports_of(module)
        if item.names(top)
    ]
    only = ", ".join(allowed) or "nothing"
    assert not broken, f"{top} sits on top of the package; only {only} may import it:\n" + "\n".join(broken)


def test_the_rules_name_real_packages():
    names = set(modules())
    for package in [*FORBIDDEN, *(f for rules in FORBIDDEN.values() for f in rules), *TOP_LEVEL, *TF_PACKAGES]:
        assert package in names, f"{package} is not a module of hpcseq: update hpcseq/devtools/architecture.py"
    assert set(LAZY_TENSORFLOW) <= names and set(NOT_IMPORTED) <= names
