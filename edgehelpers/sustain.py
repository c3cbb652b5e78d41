"""Sustained load: run one call for a fixed time and record latency, clock, temperature and energy.

A phone or a fanless board slows down once it is hot, so a short benchmark can flatter it. The
sensors Linux exposes (cpufreq clocks, /sys/class/thermal zones, RAPL energy under
/sys/class/powercap) are read where they exist; a virtual machine usually hides most of them, and
`sensors()` says which ones this machine has. On a virtual machine a slowdown can also come from the
host giving its cores to other guests: the *steal* time of /proc/stat, recorded for every run, says
how much of the run's CPU time the host took.
"""

from __future__ import annotations

import glob
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .timing import LatencyStats, threads as thread_pool

RAPL = Path("/sys/class/powercap/intel-rapl:0/energy_uj")
PROC_STAT = Path("/proc/stat")
THERMAL = "/sys/class/thermal/thermal_zone*/temp"
CPUFREQ = "/sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq"


def _read_number(path: str | Path) -> float | None:
    """The number in a one-line sysfs file, or None where it is absent or unreadable."""
    try:
        return float(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def cpu_mhz() -> float:
    """Mean current clock over all cores from cpufreq; nan where the kernel exposes no clock sensor.

    /proc/cpuinfo's "cpu MHz" is not used: on a virtual machine it repeats the nominal clock, which
    a sustained-load test would misread as a clock that held.
    """
    values = [v / 1e3 for p in glob.glob(CPUFREQ) if (v := _read_number(p)) is not None]
    return float(np.mean(values)) if values else float("nan")


def temperature_c() -> float:
    """The hottest thermal zone in degrees Celsius; nan where no zone is readable."""
    values = [v / 1e3 for p in glob.glob(THERMAL) if (v := _read_number(p)) is not None]
    return max(values) if values else float("nan")


def rapl_joules() -> float | None:
    """The CPU package's energy counter in joules, or None where RAPL is absent or unreadable."""
    value = _read_number(RAPL)
    return None if value is None else value / 1e6


def cpu_times(path: str | Path = PROC_STAT) -> tuple[int, int] | None:
    """(steal, total) jiffies of all CPUs from /proc/stat's first line, or None where it is unreadable."""
    try:
        fields = Path(path).read_text(encoding="ascii").splitlines()[0].split()
    except (OSError, IndexError, UnicodeDecodeError):
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    values = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal (guest is in user)
    return values[7], sum(values)


def steal_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of the CPU time between two `cpu_times` readings that the hypervisor took for other guests."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def sensors() -> dict[str, bool]:
    """Which sensors this machine exposes: the live clock (cpufreq), temperature and energy.

    A virtual machine's /proc/cpuinfo usually repeats a nominal clock, so only cpufreq counts as a clock sensor.
    """
    live_clock = any(_read_number(p) is not None for p in glob.glob(CPUFREQ))
    return {"clock": live_clock, "temperature": bool(np.isfinite(temperature_c())), "energy": rapl_joules() is not None}


@dataclass
class Window:
    """One window of a sustained run: its end time (s from the start), latency, clock and temperature."""

    t: float
    stats: LatencyStats
    mhz: float
    celsius: float


@dataclass
class Sustained:
    """A sustained run: the warm-up (kept apart), every timed call, windows, and energy where measured."""

    threads: int
    warmup: LatencyStats
    times_s: np.ndarray  # when each timed call ended, seconds from the start of the timed part
    latencies_ms: np.ndarray
    windows: list[Window] = field(default_factory=list)
    joules: float | None = None  # package energy over the timed part (RAPL), None where unreadable
    steal: float | None = None  # share of all CPU time the hypervisor gave to other guests (/proc/stat)

    @property
    def seconds(self) -> float:
        """Length of the timed part."""
        return float(self.times_s[-1]) if len(self.times_s) else 0.0

    def span(self, start_s: float, end_s: float) -> LatencyStats:
        """Latency of the calls that ended between start_s and end_s (negative: from the end)."""
        if start_s < 0 or end_s <= 0:
            start_s, end_s = self.seconds + start_s, self.seconds + end_s
        picked = self.latencies_ms[(self.times_s > start_s) & (self.times_s <= end_s)]
        if len(picked) == 0:
            raise ValueError(f"no calls ended between {start_s:.1f} and {end_s:.1f} s of a {self.seconds:.1f} s run")
        return LatencyStats.from_samples(picked.tolist(), self.threads)

    def first_last(self, seconds: float = 10.0) -> tuple[LatencyStats, LatencyStats]:
        """Latency of the first and the last `seconds` of the timed part."""
        if 2 * seconds > self.seconds + 1e-9:
            raise ValueError(f"a {self.seconds:.0f} s run has no separate first and last {seconds:g} s: run longer")
        return self.span(0.0, seconds), self.span(-seconds, 0.0)


def sustained_load(call: Callable[[], object], *, seconds: float, threads: int, window_s: float = 5.0,
                   warmup_s: float = 2.0, progress: bool = True, desc: str = "sustained load") -> Sustained:
    """Call `call` back to back for warmup_s (kept apart) and then `seconds`, on `threads` threads."""
    from tqdm import tqdm

    if seconds <= 0 or window_s <= 0 or warmup_s < 0:
        raise ValueError(f"need seconds > 0, window_s > 0 and warmup_s >= 0; got {seconds}, {window_s}, {warmup_s}")
    with thread_pool(threads):
        warm: list[float] = []
        w0 = time.perf_counter()
        while time.perf_counter() - w0 < warmup_s or not warm:  # thread pools start, caches fill
            t0 = time.perf_counter_ns()
            call()
            warm.append((time.perf_counter_ns() - t0) / 1e6)
        ends: list[float] = []
        lat: list[float] = []
        windows: list[Window] = []
        e0, cpu0, start = rapl_joules(), cpu_times(), time.perf_counter()
        next_window, first_in_window = window_s, 0
        with tqdm(total=int(round(seconds)), desc=desc, unit="s", disable=not progress, mininterval=5.0) as bar:
            while (now := time.perf_counter() - start) < seconds:
                t0 = time.perf_counter_ns()
                call()
                t1 = time.perf_counter_ns()
                lat.append((t1 - t0) / 1e6)
                ends.append(now + (t1 - t0) / 1e9)
                if ends[-1] >= next_window:
                    windows.append(Window(ends[-1], LatencyStats.from_samples(lat[first_in_window:], threads),
                                          cpu_mhz(), temperature_c()))
                    bar.update(int(round(next_window)) - bar.n)
                    first_in_window, next_window = len(lat), next_window + window_s
            e1, cpu1 = rapl_joules(), cpu_times()
    if first_in_window < len(lat) and ends[-1] - (next_window - window_s) >= window_s / 2:  # drop a sliver
        windows.append(Window(ends[-1], LatencyStats.from_samples(lat[first_in_window:], threads),
                              cpu_mhz(), temperature_c()))
    joules = e1 - e0 if e0 is not None and e1 is not None and e1 > e0 else None
    return Sustained(threads, LatencyStats.from_samples(warm, threads), np.asarray(ends), np.asarray(lat),
                     windows, joules, steal_share(cpu0, cpu1))


def drift(run: Sustained, seconds: float = 10.0) -> tuple[float, float]:
    """(p50, p95) of the last `seconds` divided by those of the first: above 1 means it slowed down."""
    first, last = run.first_last(seconds)
    if first.p95_ms is None or last.p95_ms is None:
        raise ValueError(f"fewer than 20 calls in the first or last {seconds:g} s ({first.n} and {last.n}): "
                         "a p95 needs 20; compare longer spans")
    return last.p50_ms / first.p50_ms, last.p95_ms / first.p95_ms


def _either(names: Sequence[str], word: str) -> str:
    """'a', 'a or b', 'a, b or c' (word: 'or' / 'and')."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {word} {names[-1]}"


def describe_sensors(found: dict[str, bool], names: Sequence[str] = ("clock", "temperature", "energy")) -> str:
    """A plain sentence on which sensors were readable, for the chapter's output."""
    shown = [n for n in names if found.get(n)]
    hidden = [n for n in names if not found.get(n)]
    if not hidden:
        return "this machine exposes its clock, temperature and energy counters: all three are read"
    text = f"this machine does not expose {_either(hidden, 'or')} to programs (a virtual machine usually hides them)"
    return text + (f"; {_either(shown, 'and')} {'is' if len(shown) == 1 else 'are'} read" if shown else "")
