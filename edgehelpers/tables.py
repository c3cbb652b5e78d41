"""Result tables that render as tables in the notebook and in the book, numbers right-aligned.

A plain table is Markdown (MyST parses it in the book). A table whose columns come in groups
(the same three timings for each of three inputs) gets a two-row header, the group's name once
over its columns, which Markdown cannot express: it is written as HTML instead.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

# a cell that starts with a number (12.3, -0.4, +1.2 pt, 3,000, 1.05x, 12.3 / 14.1) is right-aligned
_NUMBER = re.compile(r"^[-+−]?(\d[\d,]*(\.\d+)?|\.\d+)")
_EMPTY = {"", "-", "–", "—", "n/a"}


def _check(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if not header:
        raise ValueError("a table needs at least one column")
    bad = [i for i, row in enumerate(rows) if len(row) != len(header)]
    if bad:
        raise ValueError(f"rows {bad[:5]} do not have {len(header)} cells like the header")


def numeric_columns(rows: Sequence[Sequence[Any]], width: int) -> list[bool]:
    """For each of `width` columns: whether every filled cell of it starts with a number."""
    flags = []
    for j in range(width):
        cells = [str(row[j]).strip() for row in rows if str(row[j]).strip() not in _EMPTY]
        flags.append(bool(cells) and all(_NUMBER.match(c) for c in cells))
    return flags


def markdown_source(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The Markdown text of a table with `header` and `rows` (cells are str()-ed; | is escaped)."""
    _check(header, rows)

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    align = ["--:" if numeric else "---" for numeric in numeric_columns(rows, len(header))]
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join(align) + "|"]
    return "\n".join(lines + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows])


def grouped_html(header: Sequence[str], rows: Sequence[Sequence[Any]], groups: Sequence[tuple[str, int]]) -> str:
    """An HTML table whose header names each group of columns once, above the columns' own names.

    `groups` are (name, number of columns) covering the header from left to right; a group named ""
    is columns without a group, whose names span both header rows.
    """
    _check(header, rows)
    if sum(span for _, span in groups) != len(header) or any(span < 1 for _, span in groups):
        raise ValueError(f"groups {list(groups)} must cover the {len(header)} columns, each at least one column")
    numeric = numeric_columns(rows, len(header))
    esc = html.escape
    top, bottom, column = [], [], 0
    for name, span in groups:
        if name:
            top.append(f'<th colspan="{span}" style="text-align: center">{esc(name)}</th>')
            bottom += [f"<th>{esc(str(h))}</th>" for h in header[column:column + span]]
        else:
            top += [f'<th rowspan="2">{esc(str(h))}</th>' for h in header[column:column + span]]
        column += span
    body = ["<tr>" + "".join(f'<td style="text-align: {"right" if numeric[j] else "left"}">{esc(str(c))}</td>'
                             for j, c in enumerate(row)) + "</tr>" for row in rows]
    return ('<table class="table grouped-header">\n<thead>\n<tr>' + "".join(top) + "</tr>\n<tr>" + "".join(bottom)
            + "</tr>\n</thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]],
                   groups: Sequence[tuple[str, int]] | None = None) -> None:
    """Display a table in a notebook; with `groups`, a header row that names each group of columns once."""
    from IPython.display import HTML, Markdown, display

    display(HTML(grouped_html(header, rows, groups)) if groups else Markdown(markdown_source(header, rows)))
