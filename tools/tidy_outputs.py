"""Tidy the outputs of executed notebooks before the book is rendered from them.

A progress bar (tqdm) redraws itself with carriage returns; a live notebook shows one line, but
the saved notebook keeps every redraw, and the rendered page would show them all. This keeps, for
each bar of a cell, only its last state (one line, where the bar was last drawn), and resolves
carriage returns in the other stream outputs as a terminal would. Nothing else changes.

`make notebooks` runs it on the executed copies in _build/src/notebooks:

    python tools/tidy_outputs.py NOTEBOOK [NOTEBOOK ...]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

# a tqdm line: "desc: 42%|████      | 5/12 [00:03<00:04, 1.6it/s, loss=0.3]" (desc optional)
_BAR = re.compile(r"^(?P<desc>[^|\n]*?):?\s*\d+%\|.*\|\s*\S+/\S+ \[.*\]\s*$")


def resolve_carriage_returns(text: str) -> str:
    """What a terminal would show: on each line, only the text after its last carriage return."""
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def _text(output: dict) -> str:
    text = output.get("text", "")
    return "".join(text) if isinstance(text, list) else text


def _bar_desc(output: dict) -> str | None:
    """The description of the progress bar this stream output draws, or None if it is not a bar."""
    if output.get("output_type") != "stream" or "\r" not in _text(output):
        return None
    shown = resolve_carriage_returns(_text(output)).strip("\n")
    match = _BAR.match(shown) if "\n" not in shown else None
    return match.group("desc").strip() if match else None


def tidy_outputs(outputs: list[dict]) -> list[dict]:
    """The outputs of one cell with every progress bar reduced to its last state (and no empty streams)."""
    last_draw = {}
    for i, output in enumerate(outputs):
        desc = _bar_desc(output)
        if desc is not None:
            last_draw[desc] = i
    keep = set(last_draw.values())
    tidy = []
    for i, output in enumerate(outputs):
        if _bar_desc(output) is not None and i not in keep:
            continue  # an earlier redraw of a bar drawn again later
        if output.get("output_type") == "stream" and "\r" in _text(output):
            output = {**output, "text": resolve_carriage_returns(_text(output))}
        if output.get("output_type") == "stream" and not _text(output).strip():
            continue  # the newline a bar prints when it closes: an empty block on the page
        tidy.append(output)
    return tidy


def tidy_notebook(path: Path) -> int:
    """Tidy every code cell's outputs in place; return how many outputs were dropped."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    dropped = 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and cell.get("outputs"):
            before = len(cell["outputs"])
            cell["outputs"] = tidy_outputs(cell["outputs"])
            dropped += before - len(cell["outputs"])
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return dropped


def main(paths: list[str]) -> None:
    """Tidy each notebook named on the command line."""
    if not paths:
        raise SystemExit("usage: python tools/tidy_outputs.py NOTEBOOK [NOTEBOOK ...]")
    for name in paths:
        path = Path(name)
        if not path.is_file():
            raise SystemExit(f"no notebook at {path}: run the notebooks first (make notebooks)")
        print(f"{path.name}: {tidy_notebook(path)} progress-bar redraws dropped")


if __name__ == "__main__":
    main(sys.argv[1:])
