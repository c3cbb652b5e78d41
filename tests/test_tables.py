"""Result tables: Markdown for plain ones, HTML with a two-row header for grouped columns."""

from __future__ import annotations

import html.parser

import pytest

from edgehelpers.tables import grouped_html, markdown_source, numeric_columns


def test_markdown_source_escapes_pipes_and_checks_widths():
    assert markdown_source(["a", "b"], [["x|y", 1]]).splitlines() == ["| a | b |", "|---|--:|", "| x\\|y | 1 |"]
    with pytest.raises(ValueError, match="do not have 2 cells"):
        markdown_source(["a", "b"], [["only one"]])


def test_numbers_are_right_aligned_and_text_is_not():
    rows = [["int8", "12.3 (1.05x)", "-0.4", "+1.2 pt", "3,000", "91.2% [90, 92]"],
            ["fp32", "–", "0.0", "-", "12", "n/a"]]
    assert numeric_columns(rows, 6) == [False, True, True, True, True, True]
    assert numeric_columns([["a", "-"]], 2) == [False, False], "a column with no number is not numeric"
    assert markdown_source(["v", "a", "b", "c", "d", "e"], rows).splitlines()[1] == "|---|--:|--:|--:|--:|--:|"


class _Cells(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("th", "td"):
            self.cells.append((tag, dict(attrs)))


def test_grouped_header_names_each_group_once():
    header = ["variant", "p50 1t", "p95 1t", "p50 1t", "p95 1t"]
    rows = [["FP32 <ORT>", "1.00", "1.10", "2.00", "2.20"]]
    text = grouped_html(header, rows, [("", 1), ("22 tokens", 2), ("128 tokens", 2)])
    assert text.count("22 tokens") == 1 and text.count("128 tokens") == 1
    assert '<th rowspan="2">variant</th>' in text and '<th colspan="2" style="text-align: center">22 tokens</th>' in text
    assert "FP32 &lt;ORT&gt;" in text, "cells are escaped"
    parser = _Cells()
    parser.feed(text)
    tds = [attrs["style"] for tag, attrs in parser.cells if tag == "td"]
    assert tds == ["text-align: left"] + ["text-align: right"] * 4
    assert sum(1 for tag, _ in parser.cells if tag == "th") == 1 + 2 + 4


@pytest.mark.parametrize("groups", [[("", 1), ("a", 1)], [("", 1), ("a", 0), ("b", 2)], [("a", 4)]])
def test_groups_must_cover_every_column(groups):
    with pytest.raises(ValueError, match="must cover the 3 columns"):
        grouped_html(["v", "x", "y"], [["a", "1", "2"]], groups)
