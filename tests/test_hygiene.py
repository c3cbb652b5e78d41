"""Repository hygiene: notebooks committed clean and well-formed, TOC complete, README honest.

These are fast, need no model and no browser, and run with the unit tests.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHAPTER_RE = re.compile(r"^(\d\d)[a-z]?_")  # 07b_...: the second notebook of a chapter
GITHUB_RE = re.compile(r"https?://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# chapters are notebooks numbered 01 and up (00 is the set-up check)
CHAPTERS = [p for p in NOTEBOOKS if (m := CHAPTER_RE.match(p.name)) and int(m.group(1)) >= 1]


def _load(nb: Path) -> dict:
    return json.loads(nb.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def _repo_url() -> str:
    return _config()["repository"]["url"].rstrip("/")


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts") or []:
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def _headings(nb: dict) -> list[tuple[int, str, int]]:
    """(level, text, cell index) of every markdown heading, outside code fences."""
    found = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "markdown":
            continue
        fenced = False
        for line in _source(cell).splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
                continue
            match = None if fenced else HEADING_RE.match(line)
            if match:
                found.append((len(match.group(1)), match.group(2).strip(), index))
    return found


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


# --------------------------------------------------------------------------------------------
# notebooks


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks in {ROOT / 'notebooks'}"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_committed_without_outputs(nb_path):
    nb = _load(nb_path)
    dirty = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            dirty.append(f"cell {index} has {len(cell['outputs'])} output(s)")
        if cell.get("execution_count") is not None:
            dirty.append(f"cell {index} has execution_count {cell['execution_count']}")
        if "widgets" in cell.get("metadata", {}):
            dirty.append(f"cell {index} has widget metadata")
    if "widgets" in nb.get("metadata", {}):
        dirty.append("the notebook metadata holds widget state ('widgets')")
    assert not dirty, (
        f"{nb_path.name} must be committed clean (`jupyter nbconvert --clear-output --inplace` and "
        f"remove metadata.widgets):\n- " + "\n- ".join(dirty)
    )


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_no_control_characters_in_cells(nb_path):
    """A stray control character (e.g. '\\a' turned into BEL by a string escape) breaks MathJax."""
    bad = [f"cell {i}: {ascii(ch)} near {ascii(src[max(0, j - 20):j + 10])}"
           for i, cell in enumerate(_load(nb_path).get("cells", []))
           for src in ["".join(cell.get("source", ""))]
           for j, ch in enumerate(src) if ord(ch) < 32 and ch not in "\n\t"]
    assert not bad, f"{nb_path.name} has control characters:\n" + "\n".join(bad)


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_first_code_cell_is_colab_setup(nb_path):
    cells = [c for c in _load(nb_path).get("cells", []) if c.get("cell_type") == "code"]
    assert cells, f"{nb_path.name} has no code cell"
    first = _source(cells[0])
    assert "google.colab" in first, (
        f"{nb_path.name}: the first code cell must be the Colab set-up cell (it checks "
        f"'google.colab' in sys.modules and installs the book's package there); it is:\n{first}"
    )
    urls = {u.removesuffix(".git").rstrip("/") for u in GITHUB_RE.findall(first)}
    assert urls, f"{nb_path.name}: the Colab set-up cell does not name the repository {_repo_url()}"
    assert urls == {_repo_url()}, (
        f"{nb_path.name}: the Colab set-up cell names {sorted(urls)}, but _config.yml's repository.url "
        f"is {_repo_url()}"
    )
    assert "remove-cell" in cells[0].get("metadata", {}).get("tags", []), (
        f"{nb_path.name}: tag the Colab set-up cell 'remove-cell' (it is for Colab, not for the rendered page)"
    )


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=_ids(CHAPTERS))
def test_chapter_structure(nb_path):
    nb = _load(nb_path)
    headings = _headings(nb)
    assert headings and headings[0][0] == 1, f"{nb_path.name}: the first heading must be the chapter title (# ...)"
    sections = [(text, index) for level, text, index in headings if level == 2]
    assert sections, f"{nb_path.name}: no sections (## ...)"
    problems = []
    # near the top: a heading or a bold lead-in, before the second ## section starts
    top_end = sections[1][1] if len(sections) > 1 else len(nb["cells"])
    objectives = re.compile(r"^\s*(?:#{2,6}\s+|\*\*|__)\s*(?:what you will learn|learning objectives)", re.I | re.M)
    if not any(
        cell.get("cell_type") == "markdown" and objectives.search(_source(cell)) for cell in nb["cells"][:top_end]
    ):
        problems.append(
            "a 'What you will learn' section near the top (a heading or a bold lead-in before the second ## section)"
        )
    sections = [text for text, _ in sections]
    tail = sections[-3:]
    for name in ("Summary", "Exercises"):
        if not any(re.match(name, s, re.I) for s in tail):
            problems.append(f"a '{name}' section near the end (one of the last three ## sections; they are {tail})")
    assert not problems, f"{nb_path.name} needs:\n- " + "\n- ".join(problems)


# --------------------------------------------------------------------------------------------
# the ledger's chapter ids


def _chapter_id(nb: dict) -> str | None:
    """The CHAPTER = "..." a notebook records its ledger rows under, if it has one."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and (m := re.search(r'^CHAPTER = "([^"]+)"', _source(cell), re.M)):
            return m.group(1)
    return None


def test_each_notebook_records_under_its_own_chapter_id():
    from edgehelpers.ledger import CHAPTER_NOTEBOOKS

    found = {p.name: _chapter_id(_load(p)) for p in NOTEBOOKS}
    for name, chapter in found.items():
        records = any("ledger.record(" in _source(c) for c in _load(ROOT / "notebooks" / name)["cells"])
        assert chapter or not records, f"{name} writes ledger rows but sets no CHAPTER = \"...\""
        if chapter:
            assert CHAPTER_NOTEBOOKS.get(chapter) == name, (
                f"{name} records under {chapter!r}, which edgehelpers.ledger.CHAPTER_NOTEBOOKS maps to "
                f"{CHAPTER_NOTEBOOKS.get(chapter)}: add or correct its entry there")
    ids = [c for c in found.values() if c]
    assert len(ids) == len(set(ids)), f"two notebooks share a chapter id: {ids}"
    assert set(CHAPTER_NOTEBOOKS) == set(ids), "CHAPTER_NOTEBOOKS names a chapter no notebook records under"


# --------------------------------------------------------------------------------------------
# table of contents


def test_every_notebook_is_in_the_toc():
    listed = {str(Path(f).with_suffix("")) for f in _toc_files()}
    missing = [p.name for p in NOTEBOOKS if f"notebooks/{p.stem}" not in listed]
    assert not missing, f"notebooks not listed in _toc.yml: {missing}"


def test_every_toc_entry_exists():
    missing = []
    for entry in _toc_files():
        path = ROOT / entry
        candidates = [path] if path.suffix else [path.with_suffix(s) for s in (".md", ".ipynb", ".rst")]
        if not any(c.is_file() for c in candidates):
            missing.append(entry)
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_config_keeps_execution_off_and_one_repository_url():
    config = _config()
    assert config["execute"]["execute_notebooks"] == "off", (
        "the book is built from notebooks executed once by `make book`; execution in jupyter-book must stay off"
    )
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert "mathjax" in config["sphinx"]["config"]["mathjax_path"] and "://" not in config["sphinx"]["config"]["mathjax_path"], (
        "mathjax_path must point at the book's own copy of MathJax, not a CDN"
    )
    assert not (ROOT / "_static").exists() or not list((ROOT / "_static").rglob("*mathjax*")), (
        "MathJax must not live in _static/: Jupyter Book adds every .js file there to every page"
    )
    scripts = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "_static").rglob("*.js"))
    assert not scripts, f"no JavaScript in _static/ (Jupyter Book loads every .js file there on every page): {scripts}"
    assert (ROOT / "_static" / "book.css").is_file(), "the book's stylesheet (code font size) is _static/book.css"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_code_lines_fit_the_page(nb_path):
    """Every code line the rendered page shows fits its code column (tools/format_notebooks.py).

    That is every line of a code cell the page shows, and of a ```python block in a markdown cell
    (the exercises' folded solutions).
    """
    from tools.format_notebooks import LINE_LENGTH, too_long as long_code

    cells = _load(nb_path)["cells"]
    too_long = [f"cell {i} ({len(line)} chars): {line.strip()[:60]}"
                for i, cell in enumerate(cells) for line in long_code(cell)]
    assert not too_long, (
        f"{len(too_long)} code line(s) longer than {LINE_LENGTH} characters, which the page cuts off: run "
        f"`.venv/bin/python tools/format_notebooks.py {nb_path.relative_to(ROOT)}` and shorten what it lists:\n- "
        + "\n- ".join(too_long[:20])
    )


# --------------------------------------------------------------------------------------------
# repository files


def _ignored(path: str, patterns: list[str]) -> bool:
    parts = path.split("/")
    for pattern in patterns:
        pat = pattern.rstrip("/")
        if any(fnmatch.fnmatch(part, pat) for part in parts) or fnmatch.fnmatch(path, pat):
            return True
    return False


@pytest.mark.parametrize(
    "path", [".venv/bin/python", "_build/html/index.html", "model.onnx", "notebooks/model.safetensors",
             "0a1b2c3d-export.data", "model.onnx.data"]
)
def test_gitignore_covers(path):
    git = shutil.which("git")
    if git and (ROOT / ".git").exists():
        result = subprocess.run(
            [git, "check-ignore", "-q", "--no-index", path], cwd=ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, f".gitignore does not ignore {path}"
    else:
        lines = (ROOT / ".gitignore").read_text().splitlines()
        patterns = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
        assert _ignored(path, patterns), f".gitignore does not ignore {path}"


def test_readme_quick_start_has_exactly_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^##\s+Quick start\s*$(.*?)(?=^##\s|\Z)", text, re.M | re.S | re.I)
    assert match, "README.md needs a '## Quick start' section"
    section = match.group(1)
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", section, re.M | re.S)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                commands.append(line.removeprefix("$ ").strip())
    assert commands == ["make book", "make test"], (
        f"README's Quick start must hold exactly the two commands `make book` and `make test`; it holds {commands}"
    )


def test_readme_states_the_makefiles_notebook_budgets():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    each = re.search(r"^NB_BUDGET_S \?= (\d+)$", makefile, re.M)
    total = re.search(r"^NB_TOTAL_BUDGET_S \?= (\d+)$", makefile, re.M)
    assert each and total, "the Makefile should set NB_BUDGET_S and NB_TOTAL_BUDGET_S"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    stated = f"({each.group(1)} s each, {total.group(1)} s in all"
    assert stated in readme, f"README.md should state the Makefile's notebook budgets as {stated!r}"


# --------------------------------------------------------------------------------------------
# exercises

EXERCISE_RE = re.compile(r"^###\s+Exercise\s+(\d+\.\d+)\b", re.M)
CHECK_RE = re.compile(r"exercises\.check\(\s*\"(\d+\.\d+)\"")
MIN_EXERCISES = 3


def _exercises(nb: dict) -> dict[str, dict[str, bool]]:
    """Exercise id -> whether a check cell and a folded solution follow it, before the next exercise."""
    found: dict[str, dict[str, bool]] = {}
    current = None
    for cell in nb.get("cells", []):
        src = _source(cell)
        if cell.get("cell_type") == "markdown":
            # the text before a heading belongs to the exercise before it (a solution, then the next one)
            parts = EXERCISE_RE.split(src)  # [text, id, text, id, text, ...]
            for i, text in enumerate(parts):
                if i % 2 == 1:
                    current = text
                    found[current] = {"check": False, "solution": False}
                elif current and re.search(r"\{admonition\}\s*Solution[^\n]*\n:class:\s*dropdown", text):
                    found[current]["solution"] = True
        elif current and current in CHECK_RE.findall(src):
            found[current]["check"] = True
    return found


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=_ids(CHAPTERS))
def test_chapter_has_checked_exercises_with_folded_solutions(nb_path):
    from edgehelpers.exercises import CHECKS

    found = _exercises(_load(nb_path))
    chapter = str(int(CHAPTER_RE.match(nb_path.name).group(1)))
    problems = [f"exercise {e}: no `exercises.check(\"{e}\", ...)` cell" for e, f in found.items() if not f["check"]]
    problems += [f"exercise {e}: no folded solution (:::{{admonition}} Solution / :class: dropdown)"
                 for e, f in found.items() if not f["solution"]]
    problems += [f"exercise {e} is numbered for another chapter" for e in found if e.split(".")[0] != chapter]
    problems += [f"exercise {e} has no check in edgehelpers.exercises" for e in found if e not in CHECKS]
    assert len(found) >= MIN_EXERCISES, f"{nb_path.name} has {len(found)} exercises (### Exercise N.k); it needs {MIN_EXERCISES}"
    assert not problems, f"{nb_path.name}:\n- " + "\n- ".join(problems)
