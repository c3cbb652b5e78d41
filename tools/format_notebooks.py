"""Format the notebooks' code to the book's line length, so every line shows whole on the page.

    python tools/format_notebooks.py notebooks/*.ipynb          # rewrite in place
    python tools/format_notebooks.py --check notebooks/*.ipynb  # list what is too long, change nothing

Three passes:
1. long comments reflowed here (a long trailing comment moves onto its own lines above its code,
   so that black does not fold it into the code) and long docstring lines wrapped;
2. black (pinned in requirements.txt), with its string splitting, at `LINE_LENGTH`;
3. the first pass again, for what black left long.
The ```python blocks of markdown cells (the exercises' folded solutions) get the same treatment. Code inside a string that is not a docstring (a
   snippet run in a subprocess) and anything else left over is listed, to be shortened by hand.

`LINE_LENGTH` is what the rendered page's code column shows whole: measured in Chromium at 1280 px
by tests/test_book_render.py, which fails if the column gets narrower. tests/test_hygiene.py fails
on any longer line in a cell the page shows.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import subprocess
import sys
import textwrap
import tokenize
from pathlib import Path

LINE_LENGTH = 80
# cells the rendered page does not show (the Colab install cell): their lines may be longer
HIDDEN_TAGS = {"remove-cell", "remove-input"}
_MAGIC = re.compile(r"^\s*[%!]")
_LIST_ITEM = re.compile(r"^([-*]|\d+[.)])\s")  # a comment line that starts a list item keeps its line


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def shown(cell: dict) -> bool:
    """Whether the rendered page shows this code cell's source."""
    return cell.get("cell_type") == "code" and not HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", []))


def long_lines(source: str, limit: int = LINE_LENGTH) -> list[tuple[int, str]]:
    """(line number from 1, line) of every line of `source` longer than `limit` characters."""
    return [(i, line) for i, line in enumerate(source.split("\n"), 1) if len(line) > limit]


def _wrap(text: str, indent: str, prefix: str, limit: int) -> list[str]:
    """`text` reflowed into lines of at most `limit` characters, each `indent + prefix + words`."""
    width = max(limit - len(indent) - len(prefix), 20)
    return [indent + prefix + part for part in textwrap.wrap(text, width, break_long_words=False,
                                                              break_on_hyphens=False)] or [indent + prefix.rstrip()]


def too_long(cell: dict, limit: int = LINE_LENGTH) -> list[str]:
    """The lines of a cell's code that the page shows and that are longer than `limit`.

    For a code cell its source (unless the page hides the cell); for a markdown cell, its ```python
    blocks.
    """
    source = _cell_source(cell)
    if cell.get("cell_type") == "markdown":
        return [line for block in python_blocks(source) for _, line in long_lines(block, limit)]
    return [line for _, line in long_lines(source, limit)] if shown(cell) else []


def _masked(source: str) -> str:
    """`source` with IPython magics (`%pip`, `!ls`) turned into comments, so that it tokenizes."""
    return "\n".join(re.sub(r"^(\s*)[%!]", r"\1#", line) for line in source.split("\n"))


def _docstring_lines(tree: ast.AST) -> set[int]:
    """Line numbers (from 1) of every docstring in `tree`."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def reflow(source: str, limit: int = LINE_LENGTH) -> str:
    """Reflow the comments and docstring lines of `source` that are longer than `limit`."""
    if not long_lines(source, limit):
        return source
    masked = _masked(source)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(masked + "\n").readline))
        docstrings = _docstring_lines(ast.parse(masked))
    except (SyntaxError, tokenize.TokenError):
        return source
    lines = source.split("\n")
    comments = {tok.start[0]: tok for tok in tokens if tok.type == tokenize.COMMENT}
    # comments on lines of their own (a magic masked as a comment is not one: it is left alone)
    own_line = {n for n, tok in comments.items()
                if not lines[n - 1][: tok.start[1]].strip() and not _MAGIC.match(lines[n - 1])}
    out: list[str] = []
    number = 0
    while number < len(lines):
        number += 1
        line = lines[number - 1]
        indent = line[: len(line) - len(line.lstrip())]
        if number in own_line:  # a block of comment lines: reflowed together if one is too long
            block = [line]
            while (number + len(block) in own_line and len(block) < 50
                   and _indent(lines[number + len(block) - 1]) == indent):
                block.append(lines[number + len(block) - 1])
            number += len(block) - 1
            texts = [b.strip()[1:].strip() for b in block]
            if max(map(len, block)) <= limit or any(_LIST_ITEM.match(t) or not t for t in texts):
                out += block if max(map(len, block)) <= limit else [
                    w for b in block for w in (_wrap(b.strip()[1:].strip(), indent, "# ", limit)
                                               if len(b) > limit else [b])]
            else:
                out += _wrap(" ".join(texts), indent, "# ", limit)
            continue
        if len(line) <= limit or _MAGIC.match(line):
            out.append(line)
            continue
        comment = comments.get(number)
        if comment is not None:  # a trailing comment: onto its own lines above the code
            code = line[: comment.start[1]].rstrip()
            out += _wrap(comment.string.lstrip("#").strip(), indent, "# ", limit) + [code]
        elif number in docstrings:
            body = line.strip()
            opening = next((q for q in ('"""', "'''") if body.startswith(q)), "")
            closing = next((q for q in ('"""', "'''") if body.endswith(q) and len(body) > len(opening) + 2), "")
            text = body[len(opening): len(body) - len(closing)]
            # room for the quotes on every line, so that neither end grows past the limit
            wrapped = _wrap(text, indent, "", limit - 6)
            wrapped[0] = indent + opening + wrapped[0][len(indent):]
            wrapped[-1] += closing
            out += wrapped
        else:
            out.append(line)
    return "\n".join(out)


_FENCE = re.compile(r"^```python[ \t]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)


def python_blocks(markdown: str) -> list[str]:
    """The code of every ```python block of a markdown cell (the exercises' folded solutions)."""
    return [m.group("body") for m in _FENCE.finditer(markdown)]


def _black_str(code: str, limit: int) -> str:
    """`code` formatted by black as the notebooks are; unchanged if it is not valid Python alone."""
    import black

    mode = black.Mode(line_length=limit, preview=True, enabled_features={black.Preview.string_processing})
    try:
        return black.format_str(code, mode=mode)
    except black.InvalidInput:
        return code


def format_markdown(markdown: str, limit: int = LINE_LENGTH) -> str:
    """`markdown` with every ```python block formatted like a code cell."""
    def fix(match: re.Match) -> str:
        body = match.group("body")
        return "```python\n" + reflow(_black_str(reflow(body, limit), limit), limit) + "```"

    return _FENCE.sub(fix, markdown)


def _black(paths: list[Path], limit: int) -> None:
    """Run black on the notebooks, with its (preview) splitting of long strings."""
    subprocess.run([sys.executable, "-m", "black", "--quiet", "--ipynb", "--preview", "--enable-unstable-feature",
                    "string_processing", "--line-length", str(limit), *map(str, paths)], check=True)


def _cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def format_notebook(path: Path, limit: int = LINE_LENGTH) -> list[str]:
    """Reflow the comments and docstrings of one notebook in place; returns its lines still too long."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    left = []
    changed = False
    for index, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") == "markdown":
            before = _cell_source(cell)
            after = format_markdown(before, limit) if python_blocks(before) else before
            if after != before:
                cell["source"] = after
                changed = True
            left += [f"{path.name} cell {index} (a python block) ({len(line)} chars): {line.strip()[:70]}"
                     for block in python_blocks(after) for _, line in long_lines(block, limit)]
            continue
        if cell.get("cell_type") != "code":
            continue
        before = _cell_source(cell)
        after = reflow(before, limit)
        if after != before or not isinstance(cell.get("source"), str):
            cell["source"] = after  # one string per cell, as the repository stores them
            changed = True
        if shown(cell):
            left += [f"{path.name} cell {index} line {n} ({len(line)} chars): {line.strip()[:70]}"
                     for n, line in long_lines(after, limit)]
    if changed:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return left


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="only list the lines that are too long")
    parser.add_argument("--line-length", type=int, default=LINE_LENGTH)
    args = parser.parse_args(argv)
    if args.check:
        left = [f"{p.name} cell {i}: {line.strip()[:70]}" for p in args.notebooks
                for i, cell in enumerate(json.loads(p.read_text(encoding="utf-8"))["cells"])
                for line in too_long(cell, args.line_length)]
    else:
        for path in args.notebooks:  # first, so that black never folds a long comment into the code
            format_notebook(path, args.line_length)
        _black(args.notebooks, args.line_length)
        left = [line for p in args.notebooks for line in format_notebook(p, args.line_length)]
    for line in left:
        print(line)
    print(f"{len(left)} shown code lines longer than {args.line_length} characters")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
