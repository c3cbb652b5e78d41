"""A model card (Mitchell et al., 2019) written from measurements, not typed: every number comes in as data.

`ModelCard` holds what a team ships beside a model file; `render` turns it into Markdown and
`write` saves it atomically next to the artifact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .cache import atomic_write_text
from .tables import markdown_source

REQUIRED = ("name", "version", "date", "artifact", "task", "base_model", "data", "licences", "intended_use",
            "out_of_scope")


@dataclass
class ModelCard:
    """The facts of one shipped model; metrics and latency are (header, rows) tables from measurements."""

    name: str
    version: str  # what made it: code and model versions, so two cards can be told apart
    date: str  # when it was measured (ISO date)
    artifact: str  # file name, format and runtime
    task: str
    base_model: str
    data: str
    licences: Sequence[str]
    intended_use: str
    out_of_scope: Sequence[str]  # uses the card warns against: not measured, or not allowed
    pipeline: Sequence[str] = ()
    metrics: tuple[Sequence[str], Sequence[Sequence[object]]] = ((), ())
    per_class: tuple[Sequence[str], Sequence[Sequence[object]]] = ((), ())  # optional: metrics for each class
    latency: tuple[Sequence[str], Sequence[Sequence[object]]] = ((), ())
    machine: str = ""
    limits: Sequence[str] = ()
    reproduce: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        """Raise ValueError naming every required field that is empty, and every empty table."""
        empty = [f for f in REQUIRED if not getattr(self, f)]
        empty += [t for t in ("metrics", "latency") if not getattr(self, t)[1]]
        if empty:
            raise ValueError(f"the model card lacks {', '.join(empty)}: a card ships only with every fact measured")


def render(card: ModelCard) -> str:
    """The card as Markdown."""
    card.check()
    lines = [f"# Model card: {card.name}", "", f"**Version:** {card.version}, measured {card.date}  ",
             f"**Artifact:** {card.artifact}  ", f"**Task:** {card.task}  ",
             f"**Base model:** {card.base_model}  ", f"**Data:** {card.data}", "", "## Licences", ""]
    lines += [f"- {item}" for item in card.licences]
    lines += ["", "## Intended use", "", card.intended_use, ""]
    lines += ["## Out of scope", ""] + [f"- {item}" for item in card.out_of_scope] + [""]
    if card.pipeline:
        lines += ["## How it was made", ""] + [f"{i}. {step}" for i, step in enumerate(card.pipeline, 1)] + [""]
    lines += ["## Metrics", "", markdown_source(*card.metrics), ""]
    if card.per_class[1]:
        lines += ["### Per class", "", markdown_source(*card.per_class), ""]
    lines += ["## Latency and size", "", markdown_source(*card.latency), ""]
    if card.machine:
        lines += [f"Measured on: {card.machine}", ""]
    if card.limits:
        lines += ["## Known limits", ""] + [f"- {item}" for item in card.limits] + [""]
    for title, text in card.extra.items():
        lines += [f"## {title}", "", text, ""]
    if card.reproduce:
        lines += ["## Reproduce", "", card.reproduce, ""]
    return "\n".join(lines)


def write(card: ModelCard, path: str | Path) -> Path:
    """Render the card and write it atomically to `path` (e.g. MODEL_CARD.md beside the model file)."""
    return atomic_write_text(path, render(card))
