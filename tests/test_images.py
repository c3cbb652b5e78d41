"""edgehelpers.images: Fashion-MNIST from the system package, a folder or a verified download."""

from __future__ import annotations

import gzip
import io
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from edgehelpers import data, datafiles, images
from edgehelpers.data import ChecksumError, DataFileError

PACKAGE = Path(images.FASHION_MNIST_DIR)
HAVE_PACKAGE = (PACKAGE / "t10k-labels-idx1-ubyte.gz").is_file()
needs_package = pytest.mark.skipif(not HAVE_PACKAGE, reason="apt-get install dataset-fashion-mnist (.ci/run does)")


def _idx(array: np.ndarray) -> bytes:
    """An IDX file of uint8 `array`."""
    head = (0x800 + array.ndim).to_bytes(4, "big") + b"".join(s.to_bytes(4, "big") for s in array.shape)
    return head + array.astype(np.uint8).tobytes()


def test_parse_idx_round_trips_and_rejects_other_files():
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(images._parse_idx(_idx(arr), 3), arr)
    with pytest.raises(DataFileError, match="IDX"):
        images._parse_idx(_idx(arr), 1)


@needs_package
def test_test_split_loads_verified_from_the_package(monkeypatch):
    monkeypatch.delenv(images.FASHION_ENV, raising=False)
    test = images.load_fashion_mnist("test")
    assert test.images.shape == (10_000, 28, 28) and test.images.dtype == np.uint8
    assert test.source == "package dataset-fashion-mnist"
    assert np.array_equal(np.bincount(test.labels), np.full(10, 1000))  # balanced: 1,000 per class
    assert len(test.label_names) == 10


def test_unknown_split_is_a_clear_error():
    with pytest.raises(ValueError, match="'train' and 'test'"):
        images.load_fashion_mnist("validation")


def test_a_folder_with_other_bytes_is_refused(monkeypatch, tmp_path):
    for name in images._FILES["test"]:
        (tmp_path / name).write_bytes(gzip.compress(b"not fashion-mnist"))
    monkeypatch.setenv(images.FASHION_ENV, str(tmp_path))
    with pytest.raises(ChecksumError, match="pinned Fashion-MNIST bytes"):
        images.load_fashion_mnist("test")
    (tmp_path / images._FILES["test"][0]).write_bytes(b"not even gzip")
    with pytest.raises(ChecksumError, match="gzip"):
        images.load_fashion_mnist("test")


class _Response(io.BytesIO):
    headers = None


@needs_package
def test_download_is_verified_and_cached(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEHELPERS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(images, "_local_dirs", lambda: [])  # as on a machine without the package
    calls = []

    def opener(url, timeout=30.0):
        calls.append(url)
        return _Response((PACKAGE / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(datafiles, "open_url", opener)
    test = images.load_fashion_mnist("test")
    assert test.source == "download" and len(test) == 10_000
    assert all(images.FASHION_COMMIT in u for u in calls) and len(calls) == 2
    images.load_fashion_mnist("test")  # cached: no new download
    assert len(calls) == 2
    # the download cache has the mirror's layout: the offline kit copies it as a mirror
    kept = tmp_path / "cache" / "downloads" / images.FASHION_MIRROR_PATH
    assert sorted(p.name for p in kept.iterdir()) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_download_with_other_bytes_keeps_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEHELPERS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(images, "_local_dirs", lambda: [])
    monkeypatch.setattr(datafiles, "open_url", lambda url, timeout=30.0: _Response(gzip.compress(b"tampered")))
    with pytest.raises(ChecksumError, match="nothing was kept"):
        images.load_fashion_mnist("test")
    assert not list((tmp_path / "cache" / "downloads").rglob("*.gz"))


def test_no_source_names_the_apt_command(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEHELPERS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(images, "_local_dirs", lambda: [])

    def offline(url, timeout=30.0):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(datafiles, "open_url", offline)
    with pytest.raises(DataFileError, match="apt-get install dataset-fashion-mnist"):
        images.load_fashion_mnist("train")


def test_subset_is_stratified_and_deterministic():
    labels = np.repeat(np.arange(4), 25)
    d = images.ImageData(np.zeros((100, 2, 2), np.uint8), labels, ("a", "b", "c", "d"), "toy", "train")
    s = d.subset(20, seed=1)
    assert np.array_equal(np.bincount(s.labels), [5, 5, 5, 5])
    assert np.array_equal(s.labels, d.subset(20, seed=1).labels)
    assert d.subset(500) is d
    with pytest.raises(ValueError, match="positive"):
        d.subset(0)
    with pytest.raises(ValueError, match="one label per image"):
        images.ImageData(np.zeros((3, 2, 2), np.uint8), np.zeros(2), ("a",), "toy", "train")
