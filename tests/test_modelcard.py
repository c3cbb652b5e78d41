"""edgehelpers.modelcard: a card renders every section it has, refuses a missing fact, writes atomically."""

from __future__ import annotations

import dataclasses

import pytest

from edgehelpers.modelcard import REQUIRED, ModelCard, render, write


def full_card(**changes) -> ModelCard:
    card = ModelCard(
        name="headline-int8",
        version="edgehelpers 0.1, teacher abc123",
        date="2026-12-03",
        artifact="model_int8.onnx (ONNX, ONNX Runtime 1.20)",
        task="English headline topic, 4 classes",
        base_model="all-MiniLM-L6-v2",
        data="IndicNews-en, clean split",
        licences=["model: Apache-2.0", "data: CC BY 4.0"],
        intended_use="Sorting headlines on a phone, offline.",
        out_of_scope=["articles and social media posts", "commercial use"],
        per_class=(["class", "recall"], [["sports", "95.0%"], ["business", "88.1%"]]),
        pipeline=["prune 50% of heads", "distil from the teacher", "INT8 dynamic quantization"],
        metrics=(["set", "accuracy"], [["clean test", "91.2%"], ["noisy test", "84.0%"]]),
        latency=(["input", "p50 ms"], [["median headline", 3.4]]),
        machine="Test CPU, 4 cores",
        limits=["English only", "headlines, not articles"],
        reproduce="make ship",
        extra={"Fairness": "not measured per region"},
    )
    return dataclasses.replace(card, **changes)


def test_render_has_every_section_in_order():
    text = render(full_card())
    sections = ["# Model card: headline-int8", "**Version:** edgehelpers 0.1", "## Licences", "## Intended use",
                "## Out of scope", "## How it was made", "## Metrics", "### Per class", "## Latency and size",
                "## Known limits", "## Fairness", "## Reproduce"]
    at = [text.index(s) for s in sections]
    assert at == sorted(at)
    for fact in ("**Artifact:** model_int8.onnx", "**Task:** English headline", "**Base model:** all-MiniLM-L6-v2",
                 "**Data:** IndicNews-en", "- model: Apache-2.0", "- data: CC BY 4.0", "Sorting headlines on a phone",
                 "1. prune 50% of heads", "3. INT8 dynamic quantization", "Measured on: Test CPU, 4 cores",
                 "- English only", "not measured per region", "make ship", "measured 2026-12-03",
                 "- articles and social media posts", "| business | 88.1% |"):
        assert fact in text, fact


def test_render_includes_both_tables():
    text = render(full_card())
    assert "| set | accuracy |\n|---|--:|\n| clean test | 91.2% |\n| noisy test | 84.0% |" in text
    assert "| input | p50 ms |\n|---|--:|\n| median headline | 3.4 |" in text


def test_render_leaves_out_optional_sections_that_are_empty():
    text = render(full_card(pipeline=(), machine="", limits=(), reproduce="", extra={}, per_class=((), ())))
    for absent in ("## How it was made", "Measured on:", "## Known limits", "## Reproduce", "## Fairness", "### Per class"):
        assert absent not in text
    assert "## Metrics" in text and "## Latency and size" in text


@pytest.mark.parametrize("field", REQUIRED)
def test_check_names_an_empty_required_field(field):
    empty = [] if field == "licences" else ""
    card = full_card(**{field: empty})
    with pytest.raises(ValueError, match=f"lacks {field}:"):
        card.check()
    with pytest.raises(ValueError, match=field):
        render(card)


def test_check_names_empty_tables_and_every_missing_fact():
    card = full_card(task="", metrics=(["set", "accuracy"], []), latency=((), ()))
    with pytest.raises(ValueError, match="lacks task, metrics, latency: a card ships only"):
        card.check()


def test_a_complete_card_passes_check():
    assert full_card().check() is None


def test_write_saves_the_rendered_card(tmp_path):
    dest = tmp_path / "ship" / "MODEL_CARD.md"
    out = write(full_card(), dest)
    assert out == dest and dest.read_text(encoding="utf-8") == render(full_card())
    assert [p.name for p in dest.parent.iterdir()] == ["MODEL_CARD.md"]  # no temporary file left behind


def test_write_replaces_an_older_card(tmp_path):
    dest = tmp_path / "MODEL_CARD.md"
    write(full_card(), dest)
    write(full_card(name="headline-int4"), dest)
    assert dest.read_text(encoding="utf-8").startswith("# Model card: headline-int4\n")


def test_write_refuses_an_incomplete_card_and_leaves_the_old_one(tmp_path):
    dest = tmp_path / "MODEL_CARD.md"
    write(full_card(), dest)
    with pytest.raises(ValueError, match="lacks intended_use"):
        write(full_card(intended_use=""), dest)
    assert dest.read_text(encoding="utf-8") == render(full_card())
