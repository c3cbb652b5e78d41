"""Peak resident memory of a snippet, measured in a fresh process."""

import pytest

from edgehelpers.memory import PeakMemory, peak_rss_series, peak_rss_subprocess


def test_allocation_shows_up_in_delta():
    mem = peak_rss_subprocess("a = np.ones(25_000_000)  # 200 MB, touched", setup="import numpy as np")
    assert 150e6 <= mem.delta_bytes < 260e6, mem
    assert mem.peak_bytes >= mem.after_setup_bytes + mem.delta_bytes - 1
    assert mem.after_setup_bytes > 5e6  # an interpreter with numpy loaded holds megabytes


def test_setup_memory_is_not_charged_to_code():
    # set-up allocates and frees 200 MB: the code's own delta must not include that peak
    mem = peak_rss_subprocess("b = 1", setup="import numpy as np\na = np.ones(25_000_000)\ndel a")
    assert mem.delta_bytes < 50e6, mem


def test_a_big_parent_does_not_inflate_the_child():
    import numpy as np

    ballast = np.ones(40_000_000)  # 320 MB held by this (parent) process while the child runs
    mem = peak_rss_subprocess("b = 1")
    assert mem.peak_bytes < 150e6, mem
    del ballast


def test_str_reads_well():
    text = str(PeakMemory(peak_bytes=300_000_000, after_setup_bytes=100_000_000))
    assert text == "peak 300.0 MB (code: +200.0 MB over 100.0 MB after set-up)"


def test_failing_snippet_shows_its_error():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        peak_rss_subprocess("1 / 0")
    with pytest.raises(RuntimeError, match="NameError"):
        peak_rss_subprocess("pass", setup="undefined_name")


def test_snippet_that_exits_early_is_reported():
    with pytest.raises(RuntimeError, match="exited before reporting"):
        peak_rss_subprocess("import sys; sys.exit(0)")


def test_timeout():
    with pytest.raises(TimeoutError, match="timeout_s"):
        peak_rss_subprocess("import time; time.sleep(30)", timeout_s=1)


def test_bad_arguments():
    with pytest.raises(ValueError):
        peak_rss_subprocess("pass", timeout_s=0)
    with pytest.raises(TypeError):
        peak_rss_subprocess(lambda: None)  # type: ignore[arg-type]


def test_series_gives_each_snippet_its_own_peak():
    big, small = peak_rss_series(["a = np.ones(25_000_000); del a", "b = np.ones(2_500_000); del b"],
                                 setup="import numpy as np")
    assert big.delta_bytes > 150e6  # 200 MB touched
    assert small.delta_bytes < 60e6, "the second snippet must not inherit the first one's peak"
    assert small.delta_bytes > 10e6


def test_series_rejects_bad_input():
    with pytest.raises(TypeError, match="list of source strings"):
        peak_rss_series("a = 1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one snippet"):
        peak_rss_series([])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        peak_rss_series(["a = 1", "1 / 0"])
