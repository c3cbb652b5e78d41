"""edgehelpers.data: the pinned registry, the three sources, the download path, the datasets."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from edgehelpers import data, datafiles
from edgehelpers.data import ChecksumError, DataFileError, RemoteFile

MIRROR = os.environ.get(data.DATA_ENV)
needs_mirror = pytest.mark.skipif(
    not MIRROR or not Path(MIRROR, "SHA256SUMS").is_file(),
    reason="set EDGEHELPERS_DATA to the data mirror (see README) to run the dataset tests",
)

PAYLOAD = "text,labels\nFirst headline,Auto\n\"A headline\nover two lines\",World\n".encode()


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own empty download cache."""
    monkeypatch.setenv("EDGEHELPERS_CACHE", str(tmp_path / "cache"))
    datafiles._VERIFIED.clear()


def _pinned(payload: bytes = PAYLOAD, **kw: str) -> RemoteFile:
    """A RemoteFile whose pin is the SHA-256 of `payload`."""
    return RemoteFile("someone", "somerepo", "0" * 40, "dir/file.csv", hashlib.sha256(payload).hexdigest(), **kw)


class FakeResponse:
    """A urlopen result that serves `body`, claims `length` bytes, and may fail after `fail_after`."""

    def __init__(self, body: bytes, length: int | None = None, fail_after: int | None = None) -> None:
        self.body, self.pos, self.fail_after = body, 0, fail_after
        self.headers = {"Content-Length": str(len(body) if length is None else length)}

    def read(self, n: int) -> bytes:
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        chunk = self.body[self.pos : self.pos + min(n, 7)]  # small chunks: the loop runs many times
        self.pos += len(chunk)
        return chunk

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _serve(monkeypatch: pytest.MonkeyPatch, response: FakeResponse | Exception) -> list[str]:
    """Make downloads answer with `response` (or raise it); return the list of URLs asked for."""
    asked: list[str] = []

    def fake_open(url: str, timeout: float = 30.0) -> FakeResponse:
        asked.append(url)
        if isinstance(response, Exception):
            raise response
        return response

    monkeypatch.setattr(datafiles, "open_url", fake_open)
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    return asked


def _downloads() -> list[Path]:
    """Every file in the downloads tree of the cache."""
    root = Path(os.environ["EDGEHELPERS_CACHE"], "downloads")
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# ---------------------------------------------------------------------------------------------
# the registry


def test_remote_file_url_and_cache_path() -> None:
    f = data.REMOTE_FILES["indicnews-en/test"]
    assert f.url == ("https://raw.githubusercontent.com/l3cube-pune/indic-nlp/"
                     "0c6014be94385b357e31ce6250da7094e8a7c0fb/L3Cube-IndicNews/English/SHC/English_test_shc.csv")
    assert f.cache_relpath == "l3cube-pune/indic-nlp/L3Cube-IndicNews/English/SHC/English_test_shc.csv"


@needs_mirror
def test_registry_matches_sha256sums() -> None:
    sums = {}
    for line in Path(MIRROR, "SHA256SUMS").read_text().splitlines():
        digest, rel = line.split(maxsplit=1)
        sums[rel.strip()] = digest
    assert {f.cache_relpath: f.sha256 for f in data.REMOTE_FILES.values()} == sums
    assert len(sums) == 15


def test_every_dataset_split_is_pinned_and_licensed() -> None:
    for name in data.list_datasets():
        spec = data.DATASETS[name]
        assert all(key in data.REMOTE_FILES for key in spec.files.values())
        assert list(spec.label_names) == sorted(spec.label_names)
        assert "CC BY-NC-SA 4.0" in data.DATA_LICENSE[name] and "commercial" in data.DATA_LICENSE[name]


# ---------------------------------------------------------------------------------------------
# the mirror


@needs_mirror
def test_indicnews_en_splits_from_the_mirror() -> None:
    expected = {"train": 36857, "valid": 4606, "test": 4608}  # data README, minus empty labels
    loaded = {split: data.load_text_classification("indicnews-en", split) for split in expected}
    for split, n in expected.items():
        d = loaded[split]
        assert (len(d), len(d.label_names), d.source) == (n, 12, "mirror")
        assert sum(d.class_counts().values()) == n and min(d.class_counts().values()) > 100
    # label ids are the same in every split
    assert loaded["train"].label_names == loaded["valid"].label_names == loaded["test"].label_names
    assert loaded["test"].texts[0].startswith("Homegrown Social Media Firm ShareChat")
    assert loaded["test"].label_names[loaded["test"].labels[0]] == "Technology"


@needs_mirror
def test_indic_and_sentiment_datasets_load() -> None:
    mr = data.load_text_classification("indicnews-mr", "test")
    assert len(mr.label_names) == 12 and "Label" not in mr.label_names  # repeated headers dropped
    gt = data.load_text_classification("mahasent-gt", "valid")
    assert gt.class_counts() == {"negative": 500, "neutral": 500, "positive": 500}
    mahamr = data.load_text_classification("mahasent-mr", "test")
    assert len(mahamr) == 1500 and mahamr.label_names == ["negative", "neutral", "positive"]


def test_unknown_dataset_and_split() -> None:
    with pytest.raises(ValueError, match="indicnews-en.*mahasent-mr"):
        data.load_text_classification("sst2", "train")
    with pytest.raises(ValueError, match="train, valid, test"):
        data.load_text_classification("indicnews-en", "dev")
    with pytest.raises(ValueError, match="not mirrored"):
        data.load_text_classification("indicnews-hi", "train")


def test_empty_or_header_only_file_is_an_error(tmp_path: Path) -> None:
    spec = data.DATASETS["indicnews-en"]
    empty, header = tmp_path / "empty.csv", tmp_path / "header.csv"
    empty.write_text("")
    header.write_text("text,labels\n")
    for path in (empty, header):
        with pytest.raises(ValueError, match="fetch again"):
            data.read_text_classification(path, spec, "test")


def test_rows_without_label_are_dropped_and_quoted_newlines_kept(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(PAYLOAD + b"No label here,\n")
    d = data.read_text_classification(path, data.DATASETS["indicnews-en"], "test")
    assert d.texts == ["First headline", "A headline\nover two lines"]
    assert [d.label_names[i] for i in d.labels] == ["Auto", "World"]


def test_checksum_mismatch_in_the_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = _pinned()
    bad = tmp_path / "mirror" / f.cache_relpath
    bad.parent.mkdir(parents=True)
    bad.write_bytes(PAYLOAD + b"tampered")
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "mirror"))
    with pytest.raises(ChecksumError, match="file.csv.*mirror.*corrupt"):
        data.fetch(f)


def test_subset_is_stratified_and_deterministic() -> None:
    labels = [0] * 600 + [1] * 300 + [2] * 100
    d = data.TextData([f"t{i}" for i in range(1000)], labels, ["a", "b", "c"], "toy", "train")
    s = d.subset(100, seed=0)
    assert len(s) == 100 and s.class_counts() == {"a": 60, "b": 30, "c": 10}
    assert s.texts == d.subset(100, seed=0).texts != d.subset(100, seed=1).texts
    assert len(d.subset(5000)) == 1000
    with pytest.raises(ValueError):
        d.subset(0)


# ---------------------------------------------------------------------------------------------
# the download path (a fake opener: no internet here)


def test_download_writes_the_verified_file_once(monkeypatch: pytest.MonkeyPatch) -> None:
    f = _pinned()
    asked = _serve(monkeypatch, FakeResponse(PAYLOAD))
    path, source = data.fetch_with_source(f, progress=False)
    assert source == "download" and path.read_bytes() == PAYLOAD and asked == [f.url]
    assert path == Path(os.environ["EDGEHELPERS_CACHE"], "downloads", f.cache_relpath)
    assert data.fetch_with_source(f, progress=False) == (path, "download cache")
    assert asked == [f.url]  # served from the cache: no second download
    assert _downloads() == [path]


def test_download_with_wrong_bytes_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(monkeypatch, FakeResponse(PAYLOAD.replace(b"Auto", b"Beta")))
    with pytest.raises(ChecksumError, match="SHA-256.*nothing was kept"):
        data.fetch(_pinned(), progress=False)
    assert _downloads() == []


@pytest.mark.parametrize("response", [FakeResponse(PAYLOAD, length=len(PAYLOAD) + 100),
                                      FakeResponse(PAYLOAD, fail_after=21)], ids=["short", "reset"])
def test_partial_download_leaves_nothing(monkeypatch: pytest.MonkeyPatch, response: FakeResponse) -> None:
    _serve(monkeypatch, response)
    with pytest.raises(DataFileError, match="nothing was kept"):
        data.fetch(_pinned(), progress=False)
    assert _downloads() == []


def test_network_failure_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(monkeypatch, urllib.error.URLError("Temporary failure in name resolution"))
    with pytest.raises(DataFileError, match="no internet\\? point EDGEHELPERS_DATA"):
        data.fetch(_pinned(), progress=False)
    assert _downloads() == []


def test_download_over_real_http(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = _pinned()
    served = tmp_path / "www" / f.owner / f.repo / f.commit / f.path
    served.parent.mkdir(parents=True)
    served.write_bytes(PAYLOAD)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(datafiles, "open_url", lambda url, timeout=30.0: urllib.request.urlopen(
        url.replace("https://raw.githubusercontent.com", base), timeout=timeout))
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    try:
        assert data.fetch(f, progress=False).read_bytes() == PAYLOAD
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------------------------
# the package source (a fake installed distribution)


def _fake_dist(site: Path, payload: bytes) -> None:
    """Install a distribution 'fakedata' that ships fakedata/news.csv, as pip would lay it out."""
    (site / "fakedata").mkdir(parents=True)
    (site / "fakedata" / "news.csv").write_bytes(payload)
    info = site / "fakedata-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakedata\nVersion: 1.0\n")
    (info / "RECORD").write_text("fakedata/news.csv,,\nfakedata-1.0.dist-info/METADATA,,\n")


def test_package_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dist(tmp_path / "site", PAYLOAD)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    asked = _serve(monkeypatch, FakeResponse(PAYLOAD))
    f = _pinned(package="fakedata", package_path="fakedata/news.csv")
    path, source = data.fetch_with_source(f, progress=False)
    assert source == "package fakedata" and path == tmp_path / "site" / "fakedata" / "news.csv"
    assert asked == []
    # not installed: the source does not apply, the download does
    other = _pinned(package="not-installed-anywhere", package_path="x/news.csv")
    assert data.fetch_with_source(other, progress=False)[1] == "download"


def test_package_with_other_bytes_falls_back_to_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dist(tmp_path / "site", b"other bytes")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    _serve(monkeypatch, FakeResponse(PAYLOAD))
    f = _pinned(package="fakedata", package_path="fakedata/news.csv")
    with pytest.warns(UserWarning, match="differs from the pinned SHA-256"):
        assert data.fetch_with_source(f, progress=False)[1] == "download"


def test_a_mirror_without_the_file_is_named_in_the_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(monkeypatch, urllib.error.URLError("offline"))
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "empty-mirror"))
    with pytest.raises(DataFileError, match="no internet.*empty-mirror holds no someone/somerepo/dir/file.csv"):
        data.fetch(_pinned(), progress=False)


# ---------------------------------------------------------------------------------------------
# clean splits


def _td(rows: list[tuple[str, int]], split: str) -> data.TextData:
    """A TextData from (text, label) rows with three classes."""
    return data.TextData([t for t, _ in rows], [y for _, y in rows], ["a", "b", "c"], "toy", split, "memory")


def test_normalize_text_ignores_case_spacing_punctuation_and_width() -> None:
    assert data.normalize_text("  Sensex  JUMPS 500 points!  ") == "sensex jumps 500 points"
    assert data.normalize_text("Sensex jumps, 500 points") == data.normalize_text("sensex jumps 500 points")
    assert data.normalize_text("ＡＢＣ\u00a0news") == "abc news"  # NFKC: full-width letters, no-break space
    assert data.normalize_text(" -- ") == ""
    assert data.normalize_text("मुंबई में बारिश") == "मुंबई में बारिश"  # Devanagari words survive


def test_clean_rule_duplicates_conflicts_and_empties() -> None:
    train = _td([("Same headline", 0), ("same headline!", 0), ("SAME headline", 1),  # 2 of 3: majority a
                 ("tie", 0), ("Tie", 1),  # no strict majority: dropped
                 ("", 2), ("  ", 2), ("...", 1),  # empty after normalisation
                 ("unique one", 2)], "train")
    clean = data.clean_split_data({"train": train})
    t = clean.train
    assert t.texts == ["Same headline", "unique one"] and t.labels == [0, 2]
    (a,) = clean.audit
    assert (a.rows, a.empty_rows, a.distinct, a.max_copies, a.conflicts, a.conflicts_resolved, a.leaked, a.kept) == \
        (9, 3, 3, 3, 2, 1, 0, 2)
    assert a.duplicate_rows == 3
    assert t.split == "train" and t.source == "memory, cleaned" and t.label_names == ["a", "b", "c"]


def test_clean_rule_removes_leakage_in_split_order() -> None:
    train = _td([("alpha", 0), ("beta", 1), ("gamma", 2), ("gamma", 0)], "train")  # gamma: a tie
    valid = _td([("Alpha.", 0), ("delta", 1), ("delta", 1)], "valid")
    test = _td([("ALPHA", 1), ("delta", 1), ("gamma", 2), ("epsilon", 2), ("zeta", 0)], "test")
    clean = data.clean_split_data({"train": train, "valid": valid, "test": test})
    assert clean.train.texts == ["alpha", "beta"]
    assert clean.valid.texts == ["delta"]
    # alpha is in train, delta in valid; gamma was dropped from train as a conflict but was still seen
    assert clean.test.texts == ["epsilon", "zeta"] and clean.test.labels == [2, 0]
    assert [a.leaked for a in clean.audit] == [0, 1, 3]
    assert clean.raw["test"] is test
    table = clean.audit_table()
    assert table.splitlines()[0].split()[:3] == ["split", "rows", "empty"] and len(table.splitlines()) == 4
    with pytest.raises(AttributeError, match="the splits are train, valid, test"):
        clean.dev  # noqa: B018


def test_clean_rule_errors() -> None:
    with pytest.raises(ValueError, match="no splits"):
        data.clean_split_data({})
    with pytest.raises(ValueError, match="left no rows in toy test"):
        data.clean_split_data({"train": _td([("x", 0)], "train"), "test": _td([("X!", 0), ("", 1)], "test")})


def test_text_only_ceiling_and_groups() -> None:
    test = _td([("one", 0), ("One", 1), ("one", 0), ("two", 2), ("", 1)], "test")
    # "one" x3 (best answer right twice), "two" right once, the empty row never: 3 of 5
    assert data.text_only_ceiling(test) == pytest.approx(3 / 5)
    assert data.text_groups(["One", "one!", "two", "ONE"]) == [0, 0, 1, 0]
    with pytest.raises(ValueError, match="empty"):
        data.text_only_ceiling(_td([], "test"))


@needs_mirror
def test_indicnews_en_clean_splits_audit() -> None:
    clean = data.load_clean_splits("indicnews-en", progress=False)
    audit = {a.split: a for a in clean.audit}
    assert {s: a.rows for s, a in audit.items()} == {"train": 36857, "valid": 4606, "test": 4608}
    assert audit["train"].max_copies == 453 and audit["test"].max_copies == 68
    assert 25_000 < audit["train"].distinct < 25_500 and audit["train"].conflicts > 1_500
    assert 2_800 < len(clean.test) < 2_950 and audit["test"].leaked > 400
    seen = {data.normalize_text(t) for s in ("train", "valid") for t in clean.raw[s].texts}
    assert not any(data.normalize_text(t) in seen for t in clean.test.texts)  # no leakage
    assert len({data.normalize_text(t) for t in clean.test.texts}) == len(clean.test)  # no duplicates
    assert 0.84 < data.text_only_ceiling(clean.raw["test"]) < 0.86
    assert data.load_clean_splits("indicnews-en") is clean  # parsed once per process


def test_split_off_is_a_disjoint_stratified_partition() -> None:
    d = _td([(f"text {i}", i % 3) for i in range(90)], "train")
    rest, held = d.split_off(30, seed=1, name="pool")
    assert len(rest) == 60 and len(held) == 30 and held.split == "pool" and rest.split == "train"
    assert set(rest.texts) | set(held.texts) == set(d.texts) and not set(rest.texts) & set(held.texts)
    assert held.class_counts() == {"a": 10, "b": 10, "c": 10}  # stratified
    assert held.texts == d.subset(30, seed=1).texts  # the same rows subset() picks
    assert d.split_off(30, seed=1)[1].texts == held.texts  # deterministic
    for bad in (0, 90, -1):
        with pytest.raises(ValueError, match="split off"):
            d.split_off(bad)
