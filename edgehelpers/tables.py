"""Result tables as Markdown, so they render as tables in the notebook and in the book."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def markdown_source(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The Markdown text of a table with `header` and `rows` (cells are str()-ed; | is escaped)."""
    if not header:
        raise ValueError("a table needs at least one column")
    bad = [i for i, row in enumerate(rows) if len(row) != len(header)]
    if bad:
        raise ValueError(f"rows {bad[:5]} do not have {len(header)} cells like the header")

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows])


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Display a table in a notebook (MyST Markdown: it renders as a table in the book too)."""
    from IPython.display import Markdown, display

    display(Markdown(markdown_source(header, rows)))
