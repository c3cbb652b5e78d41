"""The package's floors: every import points down, no private name crosses a module, the map is whole.

`edgehelpers/__init__.py`'s docstring is the package's map: modules grouped by floor. Every import
of another edgehelpers module, at the top of a file or inside a function (the lazy imports that keep
start-up light), must go to a strictly lower floor; read with `ast`, so no import is missed by
running only some code paths.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

import edgehelpers

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "edgehelpers"
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def floors() -> dict[str, int]:
    """module -> floor, read from the map in the package docstring."""
    found, floor = {}, None
    for line in (edgehelpers.__doc__ or "").splitlines():
        heading = re.match(r"Floor (\d+):", line)
        if heading:
            floor = int(heading.group(1))
        for name in re.findall(r"``(\w+)``", line) if line.startswith("- ") and floor else []:
            assert name not in found, f"{name} is listed twice in the package map"
            found[name] = floor
    return found


def imports_of(path: Path) -> list[tuple[str, list[str], int]]:
    """(edgehelpers module imported, names taken from it, line) for every import in `path`."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [a.name for a in node.names]
            if node.level == 1 and module:
                out.append((module.split(".")[0], names, node.lineno))
            elif node.level == 1 or module == "edgehelpers":  # from . import x / from edgehelpers import x
                out += [(n, [], node.lineno) for n in names if n in MODULES]
            elif module.startswith("edgehelpers."):
                out.append((module.split(".")[1], names, node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name.split(".")[1], [], node.lineno) for a in node.names if a.name.startswith("edgehelpers.")]
    return out


def test_the_map_lists_every_module_once_on_a_floor():
    listed = floors()
    assert sorted(listed) == MODULES, (
        f"not in the map: {sorted(set(MODULES) - set(listed))}; listed but missing: {sorted(set(listed) - set(MODULES))}")


def test_every_import_points_to_a_lower_floor():
    listed = floors()
    wrong = []
    for module in MODULES:
        for target, _, line in imports_of(PACKAGE / f"{module}.py"):
            if target != module and listed[target] >= listed[module]:
                wrong.append(f"{module}.py:{line} (floor {listed[module]}) imports {target} (floor {listed[target]})")
    assert not wrong, "imports that do not point down (move the code, or the module up a floor):\n" + "\n".join(wrong)


def test_no_private_name_crosses_a_module():
    crossing = []
    for module in MODULES:
        path = PACKAGE / f"{module}.py"
        for target, names, line in imports_of(path):
            crossing += [f"{module}.py:{line} imports {target}.{n}" for n in names if n.startswith("_") and target != module]
        aliases = {a.asname or a.name for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                   if isinstance(node, ast.ImportFrom) and (node.module == "edgehelpers" or node.level == 1)
                   for a in node.names if a.name in MODULES}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_")):
                crossing.append(f"{module}.py:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not crossing, "private names used across modules (make them public, or move them):\n" + "\n".join(crossing)


def test_the_floor_check_sees_lazy_and_relative_imports(tmp_path):
    """The checker itself: an import inside a function and a relative one are both found."""
    src = tmp_path / "m.py"
    src.write_text("from .cache import atomic_path\n\ndef f():\n    from edgehelpers.models import load_teacher\n"
                   "    from edgehelpers import data as d\n    import edgehelpers.indic\n")
    assert [(t, n) for t, n, _ in imports_of(src)] == [
        ("cache", ["atomic_path"]), ("models", ["load_teacher"]), ("data", []), ("indic", [])]


def _notebook_imports() -> list[tuple[str, str, str]]:
    """(notebook, module, name) of every `from edgehelpers.module import name` in the chapters."""
    out = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            text = "".join(cell["source"])
            if cell["cell_type"] == "markdown":  # the folded solutions' code blocks
                text = "\n".join(re.findall(r"```python\n(.*?)```", text, flags=re.S))
            try:
                tree = ast.parse(text)
            except SyntaxError:  # IPython magics: not the imports this test is about
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("edgehelpers."):
                    out += [(nb.name, node.module, a.name) for a in node.names]
    return out


@pytest.mark.parametrize("module", sorted({m for _, m, _ in _notebook_imports()}))
def test_every_name_a_chapter_imports_still_exists(module):
    """Moving code between modules keeps the names the chapters use (re-exported from the old place)."""
    import importlib

    pytest.importorskip("torch")
    mod = importlib.import_module(module)
    missing = [f"{nb}: {name}" for nb, m, name in _notebook_imports() if m == module and not hasattr(mod, name)]
    assert not missing, f"{module} lost names the chapters import: {missing}"
