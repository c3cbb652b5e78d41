"""Atomic cache writes, the file lock (in one process and across two) and build_once."""

import json
import multiprocessing as mp
import time
from pathlib import Path

import pytest

from edgehelpers.cache import (
    BUILD_RECORD,
    atomic_dir,
    atomic_path,
    atomic_write_text,
    build_once,
    build_note,
    cache_dir,
    file_lock,
    last_build,
)


def test_cache_dir_uses_env(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEHELPERS_CACHE", str(tmp_path))
    path = cache_dir("models", "teacher")
    assert path == tmp_path / "models" / "teacher" and path.is_dir()


def test_atomic_path_leaves_no_partial_file(tmp_path):
    dest = tmp_path / "model.onnx"
    dest.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(dest) as tmp:
            tmp.write_text("half of a new fi")
            raise RuntimeError("export crashed")
    assert dest.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_atomic_path_and_write_text_replace_on_success(tmp_path):
    dest = tmp_path / "sub" / "a.txt"
    with atomic_path(dest) as tmp:
        assert tmp.parent == dest.parent and tmp != dest
        tmp.write_text("new")
    assert dest.read_text() == "new"
    assert atomic_write_text(dest, "newer") == dest and dest.read_text() == "newer"
    assert [p.name for p in dest.parent.iterdir()] == ["a.txt"]


def test_atomic_dir(tmp_path):
    dest = tmp_path / "model"
    with pytest.raises(RuntimeError):
        with atomic_dir(dest) as tmp:
            (tmp / "w.bin").write_bytes(b"1")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    with atomic_dir(dest) as tmp:
        (tmp / "w.bin").write_bytes(b"1")
    assert (dest / "w.bin").read_bytes() == b"1"
    with atomic_dir(dest) as tmp:  # someone else finished first: theirs is kept
        (tmp / "w.bin").write_bytes(b"2")
    assert (dest / "w.bin").read_bytes() == b"1" and [p.name for p in tmp_path.iterdir()] == ["model"]


def _hold_lock(target: str, ready, release) -> None:
    with file_lock(target):
        ready.set()
        release.wait(10)


def test_file_lock_times_out_while_another_process_holds_it(tmp_path):
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    target = str(tmp_path / "teacher")
    holder = ctx.Process(target=_hold_lock, args=(target, ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="teacher.lock"):
            with file_lock(target, timeout_s=0.3):
                pass
        assert time.monotonic() - start < 3
    finally:
        release.set()
        holder.join(10)
    with file_lock(target, timeout_s=1):  # free again once the holder is done
        pass


def _increment(path: str, times: int) -> None:
    from pathlib import Path

    for _ in range(times):
        with file_lock(path):
            value = int(Path(path).read_text())
            atomic_write_text(path, str(value + 1))


def test_two_processes_under_the_lock_lose_no_update(tmp_path):
    counter = tmp_path / "counter.txt"
    counter.write_text("0")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_increment, args=(str(counter), 50)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert counter.read_text() == "100"


def test_cache_files_follow_the_umask_not_mkstemp_0600(tmp_path):
    """A cache shared by a workshop's users must be readable by all of them."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "f.txt", "x")
        with atomic_dir(tmp_path / "d") as d:
            (d / "inner").write_text("y")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755


def test_scratch_dir_is_fresh_and_sweeps_only_stale_runs(tmp_path, monkeypatch):
    import os
    import time

    from edgehelpers.cache import scratch_dir

    monkeypatch.setenv("EDGEHELPERS_CACHE", str(tmp_path))
    stale, live = scratch_dir("ch99-"), scratch_dir("ch99-")
    (stale / "model.onnx").write_bytes(b"x")
    old = time.time() - 48 * 3600
    os.utime(stale / "model.onnx", (old, old))
    os.utime(stale, (old, old))
    other = scratch_dir("ch98-")
    os.utime(other, (old, old))
    new = scratch_dir("ch99-")
    assert new.is_dir() and new not in (stale, live)
    assert not stale.exists() and live.is_dir() and other.is_dir()  # other prefixes are not ours to sweep


def _fill(folder: Path) -> dict:
    (folder / "weights.bin").write_bytes(b"w" * 10)
    (folder / "metrics.json").write_text("{}")
    return {"made": ["weights"]}


def test_build_once_builds_once_and_records_the_build(tmp_path, capsys):
    dest = tmp_path / "models" / "teacher-x-0123456789"
    calls = []
    assert build_once(dest, lambda f: calls.append(f) or _fill(f), what="the teacher", ready="metrics.json")
    out = capsys.readouterr().out
    assert "building the teacher, once; cached at" in out and "no earlier build of it here" in out
    record = json.loads((dest / BUILD_RECORD).read_text())
    assert record["made"] == ["weights"] and record["build_seconds"] >= 0 and record["cores"] >= 1
    assert not build_once(dest, lambda f: calls.append(f), what="the teacher", ready="metrics.json")
    assert len(calls) == 1 and calls[0] != dest, "built once, in a temporary folder renamed into place"


def test_build_once_keeps_nothing_of_a_failed_build(tmp_path):
    dest = tmp_path / "indic-e5-0123456789"

    def crash(folder: Path) -> None:
        (folder / "half.bin").write_bytes(b"h")
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        build_once(dest, crash, what="x")
    assert not dest.exists() and [p.name for p in tmp_path.iterdir()] == ["indic-e5-0123456789.lock"]


def test_build_once_in_place_keeps_what_is_there(tmp_path):
    dest = tmp_path / "teacher-x-0123456789.edge-abcdef0123"
    dest.mkdir()
    (dest / "made-by-the-chapter.pte").write_bytes(b"p")
    assert build_once(dest, lambda f: {"made": []}, what="the conversions", in_place=True)
    assert (dest / "made-by-the-chapter.pte").is_file() and (dest / BUILD_RECORD).is_file()


def test_the_message_gives_the_last_measured_build_of_the_same_kind(tmp_path):
    models = tmp_path / "models"
    for name, seconds, built in [("teacher-x-aaaaaaaaaa", 600.0, "2026-11-01 10:00:00"),
                                 ("teacher-x-bbbbbbbbbb", 300.0, "2026-12-01 10:00:00"),
                                 ("indic-e5-cccccccccc", 900.0, "2026-12-02 10:00:00"),
                                 ("teacher-x-aaaaaaaaaa.edge-dddddddddd", 60.0, "2026-12-03 10:00:00")]:
        (models / name).mkdir(parents=True)
        (models / name / BUILD_RECORD).write_text(json.dumps({"build_seconds": seconds, "cores": 2, "built": built}))
    new = models / "teacher-x-eeeeeeeeee"
    assert last_build(new)["build_seconds"] == 300.0, "the newest teacher, not chapter 8's or the conversions"
    assert "its last build here took 5.0 min on 2 cores (2026-12-01)" in build_note(new)
    assert last_build(models / "teacher-x-eeeeeeeeee.edge-ffffffffff")["build_seconds"] == 60.0


def _build_slowly(dest: str, log: str) -> None:
    def build(folder: Path) -> None:
        with open(log, "a") as f:
            f.write("built\n")
        time.sleep(0.5)
        (folder / "done").write_text("1")

    build_once(dest, build, what="x", ready="done")


def test_two_processes_build_it_once(tmp_path):
    dest, log = tmp_path / "m-0123456789", tmp_path / "log.txt"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_build_slowly, args=(str(dest), str(log))) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert log.read_text() == "built\n" and (dest / "done").is_file()
