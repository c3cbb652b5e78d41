"""fresh: the one fresh-process harness (marked JSON lines back, clear errors on failure or timeout)."""

from __future__ import annotations

import sys

import pytest

from edgehelpers.fresh import peak_bytes, run_marked

CHILD = ("import json, sys; job = json.loads(sys.stdin.read()); print('noise'); "
         "[print('@@ ' + json.dumps({'i': i})) for i in range(job['n'])]; print('oops', file=sys.stderr)")


def test_marked_lines_come_back_and_other_output_is_ignored():
    reports, stderr = run_marked([sys.executable, "-c", CHILD], {"n": 3}, "@@ ", timeout_s=60, what="a test")
    assert reports == [{"i": 0}, {"i": 1}, {"i": 2}] and "oops" in stderr


def test_a_failing_child_shows_the_end_of_its_stderr():
    with pytest.raises(RuntimeError, match="(?s)a test failed in its fresh process.*ZeroDivisionError"):
        run_marked([sys.executable, "-c", "1 / 0"], {}, "@@ ", timeout_s=60, what="a test")


def test_a_slow_child_is_stopped_with_what_to_do():
    with pytest.raises(TimeoutError, match="a test ran longer than timeout_s=0.5 s"):
        run_marked([sys.executable, "-c", "import time; time.sleep(5)"], {}, "@@ ", timeout_s=0.5, what="a test")


def test_peak_bytes_is_at_least_what_this_process_holds():
    block = bytearray(64 << 20)
    assert peak_bytes() >= len(block)
