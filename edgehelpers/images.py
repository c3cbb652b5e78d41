"""The vision chapter's image data: Fashion-MNIST from a system package, the mirror or a pinned download.

Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017; MIT licence): 60,000 training and 10,000 test
grayscale images of 28 x 28 pixels in 10 clothing classes. Sources, in order:

1. the Debian/Ubuntu package `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist`), which
   the book's set-up installs next to Chromium;
2. the data mirror in $EDGEHELPERS_DATA (`zalandoresearch/fashion-mnist/data/fashion/...`);
3. a download from the upstream repository, pinned to one commit, into the cache.

Debian recompressed the .gz files, so their bytes differ from upstream's; what every source must
match is the SHA-256 of the *decompressed* IDX files, pinned below.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgehelpers.cache import atomic_path, cache_dir, file_lock
from edgehelpers.datafiles import DATA_ENV, ChecksumError, DataFileError

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_ENV = "EDGEHELPERS_FASHION_MNIST"  # another folder holding the four .gz files
FASHION_COMMIT = "55506a91af88bac38da7169389bdffed53be3621"  # the commit Debian's package was made from
# where the files lie in a data mirror, and in the download cache (which has the mirror's layout)
FASHION_MIRROR_PATH = "zalandoresearch/fashion-mnist/data/fashion"
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                   "Bag", "Ankle boot")
# (images, labels) file names per split, and the SHA-256 of each file's decompressed bytes
_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
_SHA256 = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
_INSTALL_HINT = ("install Debian/Ubuntu's package (sudo apt-get install dataset-fashion-mnist), point "
                 f"{FASHION_ENV} at a folder holding the four .gz files, or connect to the internet")


@dataclass(frozen=True)
class ImageData:
    """Images (N, H, W) as uint8 with integer labels; `label_names[i]` names label i."""

    images: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]
    name: str
    split: str
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels: give one label per image")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int, seed: int = 0) -> ImageData:
        """A deterministic, class-stratified sample of n images (all of them when n >= len)."""
        if n <= 0:
            raise ValueError(f"subset size must be positive, got {n}")
        if n >= len(self):
            return self
        rng = np.random.default_rng(seed)
        classes = np.unique(self.labels)
        picked = []
        for i, c in enumerate(classes):  # n split as evenly as the classes allow
            rows = np.flatnonzero(self.labels == c)
            take = n // len(classes) + (1 if i < n % len(classes) else 0)
            picked.append(rng.choice(rows, size=min(take, rows.size), replace=False))
        rows = np.sort(np.concatenate(picked))
        return ImageData(self.images[rows], self.labels[rows], self.label_names, self.name, self.split, self.source)


def _decompressed(path: Path) -> bytes:
    """The decompressed bytes of a .gz file, or a DataFileError naming the file."""
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise ChecksumError(f"{path} is not a readable gzip file ({err}); delete it and load again") from err


def _verified(path: Path) -> bytes:
    """The decompressed bytes of `path` if they match the pinned SHA-256, else a ChecksumError."""
    raw = _decompressed(path)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != _SHA256[path.name]:
        raise ChecksumError(f"{path} does not hold the pinned Fashion-MNIST bytes (SHA-256 of the decompressed "
                            f"file {digest[:12]}..., want {_SHA256[path.name][:12]}...); remove it or fix the source")
    return raw


def fashion_mnist_files() -> list[str]:
    """The names of Fashion-MNIST's four pinned files (images and labels of both splits)."""
    return [name for pair in _FILES.values() for name in pair]


def check_fashion_mnist_file(path: str | os.PathLike) -> None:
    """Raise ChecksumError unless `path` holds the pinned bytes of the Fashion-MNIST file it is named after."""
    path = Path(path)
    if path.name not in _SHA256:
        raise ChecksumError(f"{path.name} is not one of Fashion-MNIST's files: {fashion_mnist_files()}")
    _verified(path)


def _local_dirs() -> list[tuple[Path, str]]:
    """Folders that may hold the files, with the name of each source, in the order they are tried."""
    dirs = []
    if os.environ.get(FASHION_ENV):
        dirs.append((Path(os.environ[FASHION_ENV]).expanduser(), f"${FASHION_ENV}"))
    dirs.append((Path(FASHION_MNIST_DIR), "package dataset-fashion-mnist"))
    if os.environ.get(DATA_ENV):
        dirs.append((Path(os.environ[DATA_ENV]).expanduser() / FASHION_MIRROR_PATH, "mirror"))
    return dirs


def fashion_mnist_url(name: str) -> str:
    """The pinned upstream address of one of the four files."""
    return f"https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/{FASHION_COMMIT}/data/fashion/{name}"


def _download(name: str) -> Path:
    """The file in the download cache, fetched once under a lock and kept only if verified."""
    from edgehelpers import datafiles  # its opener is the seam tests replace

    dest = cache_dir("downloads") / FASHION_MIRROR_PATH / name
    with file_lock(cache_dir("locks") / f"download-{_SHA256[name][:16]}"):
        if dest.is_file():
            try:
                _verified(dest)
                return dest
            except ChecksumError:
                dest.unlink()  # a damaged cached copy: fetch it again
        try:
            response = datafiles.open_url(fashion_mnist_url(name))
        except OSError as err:  # URLError and HTTPError are OSErrors
            raise DataFileError(f"Fashion-MNIST's {name} is not on this machine and could not be downloaded "
                                f"({err}): {_INSTALL_HINT}") from err
        with response, atomic_path(dest) as tmp:  # atomic_path deletes the temporary file on any error
            tmp.write_bytes(response.read())
            digest = hashlib.sha256(_decompressed(tmp)).hexdigest()
            if digest != _SHA256[name]:
                raise ChecksumError(f"the download of {name} from {fashion_mnist_url(name)} does not match its "
                                    f"pinned SHA-256 (got {digest[:12]}...); nothing was kept")
    return dest


def load_fashion_mnist(split: str) -> ImageData:
    """Fashion-MNIST's "train" (60,000) or "test" (10,000) split, verified, as uint8 28 x 28 images."""
    if split not in _FILES:
        raise ValueError(f"unknown split {split!r}: Fashion-MNIST has 'train' and 'test'")
    arrays, source = [], ""
    for name in _FILES[split]:
        for folder, where in _local_dirs():
            if (folder / name).is_file():
                raw, source = _verified(folder / name), where
                break
        else:
            raw, source = _verified(_download(name)), "download"
        arrays.append(raw)
    images, labels = _parse_idx(arrays[0], 3), _parse_idx(arrays[1], 1)
    return ImageData(images, labels.astype(np.int64), FASHION_CLASSES, "fashion-mnist", split, source)


def _parse_idx(raw: bytes, dims: int) -> np.ndarray:
    """An IDX file (big-endian magic 0x00000800 + dims, then the sizes) as a uint8 array."""
    magic = int.from_bytes(raw[:4], "big")
    if magic != 0x800 + dims:
        raise DataFileError(f"not an IDX file of {dims} dimensions (magic {magic:#x})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)
