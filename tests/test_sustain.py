"""edgehelpers.sustain: a sustained run keeps its warm-up apart, windows and spans; sensors read or say they can't."""

from __future__ import annotations

import io
import math
import time

import numpy as np
import pytest

pytest.importorskip("torch")  # sustained_load sets torch's thread count

from edgehelpers import sustain  # noqa: E402
from edgehelpers.sustain import Sustained, describe_sensors, drift, sustained_load  # noqa: E402
from edgehelpers.timing import LatencyStats  # noqa: E402

FAST = dict(seconds=0.3, window_s=0.1, warmup_s=0.05, threads=1, progress=False)


def _sleep() -> None:
    time.sleep(0.001)


@pytest.fixture(scope="module")
def steady() -> Sustained:
    """One 0.3 s run of a 1 ms call, shared by the tests that only read it."""
    return sustained_load(_sleep, **FAST)


def _fake_run(first_ms: float, last_ms: float) -> Sustained:
    """A 30 s run, two calls a second: 20 calls at first_ms, 20 in between, 20 at last_ms."""
    lat = np.array([first_ms] * 20 + [(first_ms + last_ms) / 2] * 20 + [last_ms] * 20)
    return Sustained(1, LatencyStats.from_samples([1.0]), np.arange(1, 61) / 2, lat)


# ---- the run ---------------------------------------------------------------------------------


def test_sustained_load_keeps_the_warmup_apart():
    calls = []

    def slow_at_first() -> None:
        calls.append(1)
        time.sleep(0.02 if len(calls) <= 3 else 0.001)  # the first 3 calls (60 ms) fall in the warm-up

    run = sustained_load(slow_at_first, **FAST)
    assert run.warmup.n >= 3 and max(run.warmup.samples_ms) >= 19.0
    assert max(run.latencies_ms) < 15.0  # no slow warm-up call among the timed ones
    assert run.warmup.n + len(run.latencies_ms) == len(calls)


def test_sustained_load_warms_up_once_even_with_no_warmup_time():
    run = sustained_load(_sleep, **{**FAST, "warmup_s": 0.0})
    assert run.warmup.n == 1


def test_sustained_load_times_increase_and_cover_the_run(steady):
    assert len(steady.times_s) == len(steady.latencies_ms) > 20
    assert np.all(np.diff(steady.times_s) > 0)
    assert 0 < steady.times_s[0] < 0.05  # the timed part starts after the warm-up
    assert 0.29 <= steady.seconds < 0.4
    assert steady.threads == 1 and steady.warmup.threads == 1


def test_sustained_load_makes_one_window_per_window_s(steady):
    assert len(steady.windows) == 3  # 0.3 s in windows of 0.1 s
    ts = [w.t for w in steady.windows]
    assert ts == sorted(ts) and ts[0] >= 0.1 and ts[1] >= 0.2
    assert sum(w.stats.n for w in steady.windows) == len(steady.latencies_ms)  # every call in exactly one window


def test_sustained_load_reads_the_sensors_into_windows_and_energy(monkeypatch):
    energy = iter([10.0, 12.5])
    monkeypatch.setattr(sustain, "rapl_joules", lambda: next(energy))
    monkeypatch.setattr(sustain, "cpu_mhz", lambda: 1234.0)
    monkeypatch.setattr(sustain, "temperature_c", lambda: 56.0)
    run = sustained_load(_sleep, **FAST)
    assert run.joules == pytest.approx(2.5)
    assert all(w.mhz == 1234.0 and w.celsius == 56.0 for w in run.windows)


def test_sustained_load_has_no_energy_where_the_counter_is_missing_or_wraps(monkeypatch):
    monkeypatch.setattr(sustain, "rapl_joules", lambda: None)
    assert sustained_load(_sleep, **{**FAST, "seconds": 0.05}).joules is None
    wrapped = iter([100.0, 3.0])  # the counter wrapped round during the run
    monkeypatch.setattr(sustain, "rapl_joules", lambda: next(wrapped))
    assert sustained_load(_sleep, **{**FAST, "seconds": 0.05}).joules is None


@pytest.mark.parametrize("bad", [{"seconds": 0}, {"window_s": 0}, {"warmup_s": -1}])
def test_sustained_load_rejects_bad_arguments(bad):
    called = []
    with pytest.raises(ValueError, match="need seconds > 0"):
        sustained_load(lambda: called.append(1), **{**FAST, **bad})
    assert not called


# ---- reading a run -------------------------------------------------------------------------


def test_span_picks_the_calls_that_ended_inside_it():
    run = _fake_run(10.0, 20.0)
    first = run.span(0.0, 10.0)
    assert first.n == 20 and first.p50_ms == 10.0
    last = run.span(-10.0, 0.0)  # negative: from the end
    assert last.n == 20 and last.p50_ms == 20.0
    assert run.span(10.0, 20.0).p50_ms == 15.0


def test_span_without_calls_raises():
    with pytest.raises(ValueError, match="no calls ended"):
        _fake_run(10.0, 20.0).span(40.0, 50.0)


def test_first_last_needs_a_run_twice_as_long(steady):
    first, last = steady.first_last(0.1)
    assert first.n > 0 and last.n > 0 and first.n + last.n <= len(steady.latencies_ms)
    with pytest.raises(ValueError, match="run longer"):
        steady.first_last(0.2)  # 2 x 0.2 s > 0.3 s
    with pytest.raises(ValueError, match="run longer"):
        _fake_run(1.0, 1.0).first_last(20.0)


def test_drift_is_last_over_first():
    assert drift(_fake_run(10.0, 20.0)) == (pytest.approx(2.0), pytest.approx(2.0))
    assert drift(_fake_run(10.0, 5.0)) == (pytest.approx(0.5), pytest.approx(0.5))
    sparse = Sustained(1, LatencyStats.from_samples([1.0]), np.arange(1.0, 31.0), np.ones(30))  # 10 calls per 10 s
    with pytest.raises(ValueError, match="fewer than 20 calls"):
        drift(sparse)


def test_drift_of_a_steady_call_is_about_one(steady):
    p50, p95 = drift(steady, 0.1)
    assert 0.5 < p50 < 2.0 and p95 > 0


# ---- sensors -----------------------------------------------------------------------------------


def test_sensors_says_which_of_three_are_readable():
    found = sustain.sensors()
    assert set(found) == {"clock", "temperature", "energy"}
    assert all(type(v) is bool for v in found.values())


def test_sensor_readers_never_raise_on_this_machine():
    mhz, celsius, joules = sustain.cpu_mhz(), sustain.temperature_c(), sustain.rapl_joules()
    assert isinstance(mhz, float) and (math.isnan(mhz) or mhz > 0)
    assert isinstance(celsius, float)
    assert joules is None or joules >= 0


@pytest.fixture
def fake_sysfs(tmp_path, monkeypatch):
    """RAPL, two thermal zones (one unreadable) and two cpufreq cores under tmp_path."""
    (tmp_path / "energy_uj").write_text("123456\n")
    for name, text in {"zone0": "45000\n", "zone1": "52500\n", "zone2": "n/a\n"}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "temp").write_text(text)
    for name, khz in {"cpu0": "1800000", "cpu1": "2200000"}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "scaling_cur_freq").write_text(khz)
    monkeypatch.setattr(sustain, "RAPL", tmp_path / "energy_uj")
    monkeypatch.setattr(sustain, "THERMAL", str(tmp_path / "zone*" / "temp"))
    monkeypatch.setattr(sustain, "CPUFREQ", str(tmp_path / "cpu*" / "scaling_cur_freq"))
    return tmp_path


def test_rapl_joules_reads_microjoules(fake_sysfs):
    assert sustain.rapl_joules() == pytest.approx(0.123456)


def test_temperature_is_the_hottest_readable_zone(fake_sysfs):
    assert sustain.temperature_c() == pytest.approx(52.5)


def test_cpu_mhz_is_the_mean_cpufreq_clock(fake_sysfs):
    assert sustain.cpu_mhz() == pytest.approx(2000.0)


def test_sensors_all_found_on_fake_sysfs(fake_sysfs):
    assert sustain.sensors() == {"clock": True, "temperature": True, "energy": True}


def test_sensors_missing_read_as_none_and_nan(tmp_path, monkeypatch):
    monkeypatch.setattr(sustain, "RAPL", tmp_path / "absent" / "energy_uj")
    monkeypatch.setattr(sustain, "THERMAL", str(tmp_path / "zone*" / "temp"))
    monkeypatch.setattr(sustain, "CPUFREQ", str(tmp_path / "cpu*" / "scaling_cur_freq"))
    assert sustain.rapl_joules() is None
    assert math.isnan(sustain.temperature_c())
    assert sustain.sensors() == {"clock": False, "temperature": False, "energy": False}


def test_rapl_unreadable_text_is_none(tmp_path, monkeypatch):
    (tmp_path / "energy_uj").write_text("not a number")
    monkeypatch.setattr(sustain, "RAPL", tmp_path / "energy_uj")
    assert sustain.rapl_joules() is None


def test_cpu_mhz_ignores_the_nominal_clock_of_proc_cpuinfo(tmp_path, monkeypatch):
    monkeypatch.setattr(sustain, "CPUFREQ", str(tmp_path / "cpu*" / "scaling_cur_freq"))
    cpuinfo = "processor\t: 0\ncpu MHz\t\t: 2000.000\nprocessor\t: 1\ncpu MHz\t\t: 3000.000\n"
    monkeypatch.setattr(sustain, "open", lambda *a, **k: io.StringIO(cpuinfo), raising=False)
    assert math.isnan(sustain.cpu_mhz())  # a VM's cpuinfo repeats the nominal clock: not a sensor


def test_cpu_mhz_is_nan_when_nothing_is_readable(tmp_path, monkeypatch):
    monkeypatch.setattr(sustain, "CPUFREQ", str(tmp_path / "cpu*" / "scaling_cur_freq"))

    def no_file(*args, **kwargs):
        raise OSError("no /proc here")

    monkeypatch.setattr(sustain, "open", no_file, raising=False)
    assert math.isnan(sustain.cpu_mhz())


def test_describe_sensors_all_exposed():
    text = describe_sensors({"clock": True, "temperature": True, "energy": True})
    assert text == "this machine exposes its clock, temperature and energy counters: all three are read"


def test_describe_sensors_none_exposed():
    text = describe_sensors({"clock": False, "temperature": False, "energy": False})
    assert "does not expose clock, temperature or energy" in text and "read" not in text


def test_describe_sensors_some_exposed():
    one = describe_sensors({"clock": False, "temperature": True, "energy": False})
    assert "does not expose clock or energy" in one and one.endswith("; temperature is read")
    two = describe_sensors({"clock": True, "temperature": True})  # a missing key counts as hidden
    assert "does not expose energy" in two and two.endswith("; clock and temperature are read")


def test_cpu_times_reads_steal_and_total(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 5 50 800 10 1 2 30 0 0\ncpu0 50 2 25 400 5 0 1 15 0 0\n")
    assert sustain.cpu_times(stat) == (30, 998)
    stat.write_text("intr 1 2 3\n")
    assert sustain.cpu_times(stat) is None
    assert sustain.cpu_times(tmp_path / "missing") is None


def test_steal_share_is_the_hypervisors_part_of_the_interval():
    assert sustain.steal_share((30, 1000), (80, 2000)) == pytest.approx(0.05)
    assert sustain.steal_share(None, (80, 2000)) is None
    assert sustain.steal_share((30, 1000), (30, 1000)) is None  # no time passed


def test_sustained_load_records_steal(monkeypatch):
    readings = iter([(10, 1000), (60, 2000)])
    monkeypatch.setattr(sustain, "cpu_times", lambda path=None: next(readings))
    run = sustained_load(lambda: time.sleep(0.001), seconds=0.2, threads=1, warmup_s=0.0, progress=False)
    assert run.steal == pytest.approx(0.05)
