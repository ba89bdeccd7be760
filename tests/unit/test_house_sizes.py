"""Rooms of a size a reader takes in: every module of the package at most MAX_MODULE_LINES lines and
every function at most MAX_FUNCTION_LINES (issue 25). `make lint` runs this file.

A module or function may stay larger only with an entry in ALLOWED and the reason it is better
whole; an entry that is no longer needed fails too, so the list stays short and true.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "scripts" / "hpcseq"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60

# {"module path relative to scripts/hpcseq" or "path::function": why it stays larger}
ALLOWED: dict[str, str] = {}


def _modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


def _name(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _long_functions(path: Path) -> dict[str, int]:
    """{"path::qualified.name": lines} of the functions over the limit (methods and nested ones too)."""
    found: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                qualified = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    lines = child.end_lineno - child.lineno + 1
                    if lines > MAX_FUNCTION_LINES:
                        found[f"{_name(path)}::{qualified}"] = lines
                visit(child, qualified + ".")

    visit(ast.parse(path.read_text(encoding="utf-8")), "")
    return found


def _sizes() -> dict[str, int]:
    sizes: dict[str, int] = {}
    for path in _modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            sizes[_name(path)] = lines
        sizes.update(_long_functions(path))
    return sizes


def test_modules_and_functions_fit_their_limits():
    over = {name: lines for name, lines in _sizes().items() if name not in ALLOWED}
    assert not over, (
        f"over {MAX_MODULE_LINES} lines a module or {MAX_FUNCTION_LINES} a function: "
        + ", ".join(f"{name} ({lines})" for name, lines in sorted(over.items()))
        + ". Split it by concern, or add it to ALLOWED in tests/unit/test_house_sizes.py with why."
    )


def test_every_allowance_is_still_needed_and_says_why():
    sizes = _sizes()
    for name, why in ALLOWED.items():
        assert why.strip(), f"{name}: an allowance needs its reason"
        assert name in sizes, f"{name} fits its limit now: remove it from ALLOWED"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def short():\n    return 1\n", {}),
        ("def long():\n" + "    x = 1\n" * MAX_FUNCTION_LINES, {"m.py::long": MAX_FUNCTION_LINES + 1}),
        (
            "class C:\n    def method(self):\n" + "        x = 1\n" * MAX_FUNCTION_LINES,
            {"m.py::C.method": MAX_FUNCTION_LINES + 1},
        ),
    ],
)
def test_long_functions_are_found_with_their_names(tmp_path, monkeypatch, source, expected):
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path)
    module = tmp_path / "m.py"
    module.write_text(source, encoding="utf-8")
    assert _long_functions(module) == expected
