"""Pinned data files: one loader, three sources (a mirror, a pip package, a download), verified by SHA-256.

`fetch(file)` returns a local path of a `RemoteFile` (pinned to a commit, with the SHA-256 of its
bytes): from the mirror in $EDGEHELPERS_DATA, from an installed pip package that ships the same
bytes, or from the download cache, downloading it once under a lock and keeping it only if its
bytes match. `REMOTE_FILES` lists every file the book reads; `edgehelpers.data` turns them into
datasets.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.metadata
import os
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

from edgehelpers.cache import atomic_path, cache_dir, file_lock

DATA_ENV = "EDGEHELPERS_DATA"
NO_INTERNET_HINT = "no internet? point EDGEHELPERS_DATA at a folder holding the mirror (see README)"
_CHUNK = 1 << 16


class DataFileError(RuntimeError):
    """A pinned data file could not be found, verified or downloaded."""


class ChecksumError(DataFileError):
    """A file's bytes differ from the pinned SHA-256."""


@dataclass(frozen=True)
class RemoteFile:
    """A file pinned to one commit of a GitHub repository, with the SHA-256 of its bytes."""

    owner: str
    repo: str
    commit: str
    path: str
    sha256: str
    package: str | None = None  # a pip distribution that ships the same bytes, if any
    package_path: str | None = None  # the file's path as importlib.metadata.files lists it

    @property
    def url(self) -> str:
        """The raw.githubusercontent.com address of the pinned bytes."""
        return f"https://raw.githubusercontent.com/{self.owner}/{self.repo}/{self.commit}/{self.path}"

    @property
    def cache_relpath(self) -> str:
        """owner/repo/path: where the file lies in the mirror and in the download cache."""
        return f"{self.owner}/{self.repo}/{self.path}"

    @property
    def name(self) -> str:
        """The file name, for messages."""
        return self.path.rsplit("/", 1)[-1]


INDIC_NLP_COMMIT = "0c6014be94385b357e31ce6250da7094e8a7c0fb"
MARATHI_NLP_COMMIT = "8ee29fa1329d6a841030eb46659d3c10614b5e59"


def _news(path: str, sha256: str) -> RemoteFile:
    """A file of L3Cube-IndicNews (short headline classification)."""
    return RemoteFile("l3cube-pune", "indic-nlp", INDIC_NLP_COMMIT, f"L3Cube-IndicNews/{path}", sha256)


def _mahasent(path: str, sha256: str) -> RemoteFile:
    """A file of L3Cube-MahaSent-MD (Marathi sentiment)."""
    return RemoteFile("l3cube-pune", "MarathiNLP", MARATHI_NLP_COMMIT, f"L3Cube-MahaSent-MD/{path}", sha256)


# the SHA-256 of every file, as in the mirror's SHA256SUMS (a test checks they agree)
REMOTE_FILES: dict[str, RemoteFile] = {
    "indicnews-en/train": _news("English/SHC/English_train_shc.csv", "6b3f12a89af9dd4c27dfc4226a40740d0a6e0c1c7e3a5f2b494db34f9820ade1"),
    "indicnews-en/valid": _news("English/SHC/English_valid_shc.csv", "45b4f36a0b0df949f01d936b0bedddd1d93ad88e2b5a39af13340fffc68a0eb6"),
    "indicnews-en/test": _news("English/SHC/English_test_shc.csv", "db60ab93edba3f5f8bcfbae3b425e2a287ba5968325c203e2e774eb45cae4e92"),
    "indicnews-hi/valid": _news("Hindi/SHC/Hindi_SHC_Valid.csv", "df681b57d0859c39829b21fffdd46e7e881c8f4c5f452f3c9dd7a940460f5b53"),
    "indicnews-hi/test": _news("Hindi/SHC/Hindi_SHC_Test.csv", "03fd7a26628ffa43b426472732dee8a344b1a280690ebd32a814e0db9c323323"),
    "indicnews-mr/valid": _news("Marathi/SHC/Marathi_SHC_Valid.csv", "4682ba92da0119c84f7d8456c20c9ee206fcd7f37c0e94710f8437ae9916663a"),
    "indicnews-mr/test": _news("Marathi/SHC/Marathi_SHC_Test.csv", "c7e2e3894554ea929c9d2c6e81ef5a7ae204f99f261d84e947b5e95d9b9eb8e8"),
    "indicnews-te/valid": _news("Telugu/SHC/Telugu_SHC_Valid.csv", "2ae4745439e3849cf82d08a40d4798b00173541c498a421f9e6562a8620007a7"),
    "indicnews-te/test": _news("Telugu/SHC/Telugu_SHC_Test.csv", "ffe8b8fff8af17174aaaea28a0e830790e0720b5ee4e12f2145cf13297877504"),
    "mahasent-gt/train": _mahasent("MahaSent_GT/tweets-train.csv", "eff7d575d0ed2ff7fe38ae1f728e357b3559a4ef293912042e9465ea32d97834"),
    "mahasent-gt/valid": _mahasent("MahaSent_GT/tweets-valid.csv", "da5dc3e3fee61a09b887c06fe18fc148291295821345ff44d6804554938d4cea"),
    "mahasent-gt/test": _mahasent("MahaSent_GT/tweets-test.csv", "cb4daa8659aa2a0192bc1e52894818e8484a1c12c2c8cb5ac05148854d616a9c"),
    "mahasent-mr/train": _mahasent("MahaSent_MR/MahaSent_MR_Train.csv", "31792a42f68ee11f8107d75e0946072f057d2355a5ded989936dae98bb60bfa3"),
    "mahasent-mr/valid": _mahasent("MahaSent_MR/MahaSent_MR_Val.csv", "98a37fd2cc472c7cf9b610f05a1d01a81de9d2d3782c1779aed6504d4ccc8f12"),
    "mahasent-mr/test": _mahasent("MahaSent_MR/MahaSent_MR_Test.csv", "884c4eff84e9747fcc35550e1573a5b5a0cc808f9ee3a962fbb0fce01990ca88"),
}


# ---------------------------------------------------------------------------------------------
# fetching: the mirror, an installed package, then the download cache


def sha256_of(path: str | os.PathLike) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


_VERIFIED: set[tuple[str, int, int, str]] = set()  # (path, size, mtime, sha) already checked


def matches_sha256(path: Path, sha256: str) -> bool:
    """Whether the file at `path` has the pinned SHA-256 (remembered per size and mtime)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, sha256)
    if key not in _VERIFIED:
        if sha256_of(path) != sha256:
            return False
        _VERIFIED.add(key)
    return True


def _from_mirror(file: RemoteFile) -> Path | None:
    """The file in $EDGEHELPERS_DATA, verified; None when no mirror holds it."""
    root = os.environ.get(DATA_ENV)
    if not root:
        return None
    path = Path(root).expanduser() / file.cache_relpath
    if not path.is_file():
        return None
    if not matches_sha256(path, file.sha256):
        raise ChecksumError(
            f"{path} does not match its pinned SHA-256 ({file.sha256[:12]}...): the mirror at "
            f"{DATA_ENV}={root} is corrupt. Copy the file again from a good mirror, or unset "
            f"{DATA_ENV} to download it from {file.url}"
        )
    return path


def _from_package(file: RemoteFile) -> Path | None:
    """The file inside the installed pip package that ships it, verified; None when none does."""
    if not (file.package and file.package_path):
        return None
    try:
        listed = importlib.metadata.files(file.package) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in listed:
        if entry.as_posix() == file.package_path:
            path = Path(entry.locate())
            if path.is_file() and matches_sha256(path, file.sha256):
                return path
            # another version of the package may ship other bytes: fall back, don't fail
            warnings.warn(
                f"{file.package} is installed but its {file.package_path} is missing or differs from "
                f"the pinned SHA-256; using another source. Install the version the book pins "
                "(see requirements.txt) to use the packaged copy.",
                stacklevel=3,
            )
            return None
    return None


def open_url(url: str, timeout: float = 30.0):
    """Open `url` for streaming (a seam: tests replace it with a fake opener)."""
    request = urllib.request.Request(url, headers={"User-Agent": "edgehelpers"})
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (https only, pinned)


def _download(file: RemoteFile, dest: Path, progress: bool) -> None:
    """Stream `file.url` into a temporary file, hashing as it goes; rename to `dest` only if verified."""
    from tqdm import tqdm  # text bars: no ipywidgets needed, same in a terminal and a notebook

    try:
        response = open_url(file.url)
    except urllib.error.HTTPError as err:
        raise DataFileError(
            f"downloading {file.name} failed: the server answered {err.code} for {file.url}. "
            f"The pinned file may have moved; point {DATA_ENV} at a folder holding the mirror (see README)"
        ) from err
    except (OSError, http.client.HTTPException) as err:  # URLError is an OSError
        raise DataFileError(f"could not download {file.url} ({err}); {NO_INTERNET_HINT}") from err
    digest, received = hashlib.sha256(), 0
    with response, atomic_path(dest) as tmp:  # atomic_path deletes the temporary file on any error
        length = response.headers.get("Content-Length") if response.headers else None
        total = int(length) if length else None
        with open(tmp, "wb") as out, tqdm(
            total=total, unit="B", unit_scale=True, desc=file.name, disable=not progress, leave=False
        ) as bar:
            try:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as err:  # resets, IncompleteRead, timeouts
                raise DataFileError(
                    f"the download of {file.name} was interrupted after {received} bytes ({err}); "
                    f"nothing was kept. Run it again, or: {NO_INTERNET_HINT}"
                ) from err
        if total is not None and received != total:
            raise DataFileError(
                f"the download of {file.name} stopped after {received} of {total} bytes; nothing was "
                f"kept. Run it again, or: {NO_INTERNET_HINT}"
            )
        if digest.hexdigest() != file.sha256:
            raise ChecksumError(
                f"the download of {file.name} from {file.url} does not match its pinned SHA-256 "
                f"(got {digest.hexdigest()[:12]}..., want {file.sha256[:12]}...); nothing was kept. "
                "A proxy may have altered it: try again on another network, or use the mirror "
                f"({DATA_ENV}, see README)."
            )


def _from_downloads(file: RemoteFile, progress: bool) -> tuple[Path, str]:
    """The file in the download cache, downloading it first (once, under a lock) if needed."""
    dest = cache_dir("downloads") / file.cache_relpath
    if dest.is_file() and matches_sha256(dest, file.sha256):
        return dest, "download cache"
    # the lock lives outside the downloads tree, which holds verified files only
    with file_lock(cache_dir("locks") / f"download-{file.sha256[:16]}"):
        if dest.is_file():  # another process may have finished while we waited
            if matches_sha256(dest, file.sha256):
                return dest, "download cache"
            dest.unlink()  # a damaged cached copy: fetch it again
        _download(file, dest, progress)
    _VERIFIED.add((str(dest.resolve()), dest.stat().st_size, dest.stat().st_mtime_ns, file.sha256))
    return dest, "download"


def fetch_with_source(file: RemoteFile, *, progress: bool = True) -> tuple[Path, str]:
    """Return a verified local path of `file` and which source served it (mirror, package, download...)."""
    path = _from_mirror(file)
    if path is not None:
        return path, "mirror"
    path = _from_package(file)
    if path is not None:
        return path, f"package {file.package}"
    try:
        return _from_downloads(file, progress)
    except DataFileError as err:
        root = os.environ.get(DATA_ENV)
        if root and not isinstance(err, ChecksumError):  # say why the mirror did not serve it
            raise type(err)(f"{err} (note: {DATA_ENV}={root} holds no {file.cache_relpath})") from err
        raise


def fetch(file: RemoteFile, *, progress: bool = True) -> Path:
    """Return a verified local path of `file`: from the mirror, an installed package or a download."""
    return fetch_with_source(file, progress=progress)[0]
