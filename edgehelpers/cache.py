"""Where edgehelpers keeps what it downloads or builds, and how it writes there safely.

Every write goes to a temporary name in the destination folder and is renamed into place, so a
reader never sees a half-written file; builders of the same artifact take a file lock, so two
notebooks running at once build it once and both use the result (`build_once`, which every cached
model of the book is built by).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from edgehelpers.machine import usable_cores

CACHE_ENV = "EDGEHELPERS_CACHE"


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder in the cache: $EDGEHELPERS_CACHE, else ~/.cache/edgehelpers."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "edgehelpers"
    path = Path(root).expanduser().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path next to `dest`; rename it onto `dest` only if the block succeeds."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; a shared cache must be readable
        os.replace(tmp_path, dest)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to `dest`; move it onto `dest` only if the block succeeds."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent))
    try:
        yield tmp
        if dest.exists():  # another process finished first: keep theirs, the bytes are the same recipe
            return
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; a shared cache must be readable
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    """The process's file-creation mask (reading it means setting it, so set it straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(dest: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `dest` atomically and return the path."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
    return Path(dest)


def atomic_write_text(dest: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 `text` to `dest` atomically and return the path."""
    return atomic_write_bytes(dest, text.encode("utf-8"))


@contextlib.contextmanager
def file_lock(target: str | os.PathLike, timeout_s: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `<target>.lock` (blocking; raise TimeoutError after `timeout_s`)."""
    lock_path = Path(f"{os.fspath(target)}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (fcntl.LOCK_NB if timeout_s is not None else 0))
                break
            except BlockingIOError:
                if time.monotonic() - start > timeout_s:  # type: ignore[operator]
                    raise TimeoutError(
                        f"waited {timeout_s:.0f} s for {lock_path}; another process is building it. "
                        "Wait for it to finish, or delete the lock file if no such process is running."
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def scratch_dir(prefix: str, *, stale_hours: float = 12.0) -> Path:
    """A fresh folder for one run's large files (e.g. ONNX variants) under cache_dir('work').

    Folders with the same prefix untouched for `stale_hours` (runs that crashed before cleaning up)
    are deleted first; a run still going touches its folder, so two runs at once are safe.
    Delete the returned folder when done (shutil.rmtree).
    """
    root = cache_dir("work")
    cutoff = time.time() - stale_hours * 3600
    for old in root.glob(f"{prefix}*"):
        try:
            if old.is_dir() and max([old.stat().st_mtime] + [p.stat().st_mtime for p in old.iterdir()]) < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except FileNotFoundError:  # another run removed it meanwhile
            continue
    return Path(tempfile.mkdtemp(prefix=prefix, dir=root))


BUILD_RECORD = "build.json"  # in every folder build_once made: seconds, cores, date (and the builder's facts)


def _same_kind(path: Path) -> re.Pattern[str]:
    """Folder names like `path`'s with any 10-hex-digit recipe hash changed: builds of the same kind."""
    parts = re.split(r"[0-9a-f]{10}", path.name)
    return re.compile("[0-9a-f]{10}".join(re.escape(p) for p in parts))


def last_build(path: str | os.PathLike) -> dict | None:
    """The build record of the newest build of the same kind as `path` in its folder (any recipe), or None."""
    path = Path(path)
    kind = _same_kind(path)
    records = []
    for folder in path.parent.iterdir() if path.parent.is_dir() else []:
        if kind.fullmatch(folder.name) and (folder / BUILD_RECORD).is_file():
            try:
                records.append(json.loads((folder / BUILD_RECORD).read_text(encoding="utf-8")))
            except (OSError, ValueError):  # a record being replaced, or broken: not one to time by
                continue
    return max(records, key=lambda r: str(r.get("built", "")), default=None)


def build_note(path: str | os.PathLike) -> str:
    """How long building `path` took last time on this machine (a measured build of the same kind)."""
    last = last_build(path)
    if not last or "build_seconds" not in last:
        return "no earlier build of it here to time it by (the workshop page lists measured build times)"
    return (f"its last build here took {last['build_seconds'] / 60:.1f} min on {last.get('cores', '?')} cores "
            f"({str(last.get('built', '?'))[:10]}); this machine has {usable_cores()}")


def build_once(path: str | os.PathLike, build: Callable[[Path], dict | None], *, what: str,
               ready: str = BUILD_RECORD, in_place: bool = False) -> bool:
    """Make the cached folder `path` once; return True if this call built it, False if it was there.

    `path/ready` marks a finished build. Otherwise, under a file lock (two notebooks at once build it
    once), print what is built, where and how long its last build took here, then run
    `build(folder)`: it fills a temporary folder that is renamed onto `path` only when it succeeds,
    or `path` itself with in_place=True (for builders that write each file atomically and keep what
    is already there). The measured time, cores and date go to `path/build.json`, with the dict that
    `build` returns.
    """
    path = Path(path)
    if (path / ready).is_file():
        return False
    with file_lock(path):
        if (path / ready).is_file():  # another process built it while we waited
            return False
        print(f"building {what}, once; cached at {path}; {build_note(path)}")
        start = time.perf_counter()

        def run(folder: Path) -> None:
            facts = build(folder) or {}
            record = {"build_seconds": round(time.perf_counter() - start, 1), "cores": usable_cores(),
                      "built": time.strftime("%Y-%m-%d %H:%M:%S"), **facts}
            atomic_write_text(folder / BUILD_RECORD, json.dumps(record, indent=1))

        if in_place:
            path.mkdir(parents=True, exist_ok=True)
            run(path)
        else:
            with atomic_dir(path) as tmp:
                run(tmp)
    return True
