"""tools/tidy_outputs.py: progress bars render as one line in the book; other output is untouched."""

from __future__ import annotations

import json
from pathlib import Path

from tools.tidy_outputs import resolve_carriage_returns, tidy_notebook, tidy_outputs


def _stream(text: str, name: str = "stderr") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def test_carriage_returns_resolve_as_in_a_terminal() -> None:
    assert resolve_carriage_returns("a\rb\rc\nnext") == "c\nnext"
    assert resolve_carriage_returns("plain\ntext\n") == "plain\ntext\n"


def test_each_bar_keeps_only_its_last_draw_in_place() -> None:
    outputs = [
        _stream("\rtrain:   0%|          | 0/3 [00:00<?, ?it/s]"),
        _stream("epoch 1 done\n", "stdout"),
        _stream("\rtrain:  33%|███▎      | 1/3 [00:01<00:02, 1.0it/s, loss=0.5]"),
        _stream("\reval: 100%|██████████| 9/9 [00:00<00:00, 50.0it/s]"),
        _stream("epoch 2 done\n", "stdout"),
        _stream("\rtrain: 100%|██████████| 3/3 [00:03<00:00, 1.0it/s, loss=0.2]\n"),
        {"output_type": "display_data", "data": {"text/plain": "<Figure>"}, "metadata": {}},
    ]
    tidy = tidy_outputs(outputs)
    texts = [o.get("text", "figure") for o in tidy]
    assert texts == ["epoch 1 done\n", "eval: 100%|██████████| 9/9 [00:00<00:00, 50.0it/s]", "epoch 2 done\n",
                     "train: 100%|██████████| 3/3 [00:03<00:00, 1.0it/s, loss=0.2]\n", "figure"]


def test_empty_stream_blocks_are_dropped() -> None:
    assert tidy_outputs([_stream("\n"), _stream("ok\n", "stdout"), _stream("  \n", "stdout")]) == [_stream("ok\n", "stdout")]


def test_warnings_and_prints_are_untouched() -> None:
    outputs = [_stream("UserWarning: something\n"), _stream("result 3\n", "stdout")]
    assert tidy_outputs(outputs) == outputs


def test_tidy_notebook_rewrites_in_place(tmp_path: Path) -> None:
    nb = {"cells": [{"cell_type": "code", "outputs": [_stream("\rx: 50%|█    | 1/2 [00:01<00:01]"),
                                                       _stream("\rx: 100%|██| 2/2 [00:02<00:00]")],
                     "source": "", "metadata": {}, "execution_count": 1},
                    {"cell_type": "markdown", "source": "text", "metadata": {}}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert tidy_notebook(path) == 1
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert [o["text"] for o in cells[0]["outputs"]] == ["x: 100%|██| 2/2 [00:02<00:00]"]
    assert cells[1]["source"] == "text"
