"""Latency measured the book's way: warm-up, many timed runs, percentiles, variants interleaved.

The book's measurement protocol: warm up, then time enough runs for a stable p95 with
`time.perf_counter_ns`; report p50, p95 and mean with the thread count; compare variants
interleaved in one run, so drift of the machine (heat, a neighbour's job) hits them all alike,
and quote ratios rather than absolute numbers.

A percentile is reported only from enough timed runs to estimate it: the q-th percentile needs at
least 1 / (1 - q/100) of them, so that at least one run lies beyond it (20 for the p95, 100 for a
p99). With fewer, `LatencyStats.p95_ms` is None and the tables show the p50 with the spread (the
range of the runs) instead. The loops time at least `min_runs` (20 by default) and then stop when
the budget is spent, or earlier once the p50 is known to within `stable` (its 95% confidence
interval, from the order statistics, within +-1% by default): a fast call needs no 2,000 runs.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# looked up at call time, so tests can swap in a fake clock
_now_ns: Callable[[], int] = time.perf_counter_ns

MIN_RUNS_P95 = 20  # timed runs needed before a p95 is reported (one run in 20 lies beyond it)
STABLE = 0.01  # default early stop: the p50's 95% interval within +-1% of it


# ---------------------------------------------------------------------------------------------
# threads


def _check_threads(n: int) -> int:
    """Return `n` if it is a usable thread count, else raise an error that says what to pass."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"threads must be an int, got {type(n).__name__} {n!r}")
    cores = os.cpu_count() or 1
    if not 1 <= n <= cores:
        raise ValueError(
            f"threads={n} is not possible on this machine: pass a number from 1 to {cores} "
            "(os.cpu_count()); 1 thread stands in for one phone core"
        )
    return int(n)


@contextlib.contextmanager
def threads(n: int) -> Iterator[int]:
    """Run the block with torch using `n` intra-op threads; restore the previous count on exit."""
    n = _check_threads(n)
    import torch  # only here: the other helpers of this module must not need torch

    # Only intra-op threads: torch allows setting inter-op threads once per process, before any
    # parallel work, and never back, and eager batch-1 inference does not use them anyway.
    # ONNX Runtime and LiteRT fix their threads when the session/interpreter is created.
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)


_use_threads = threads  # `latency(threads=...)` shadows the name inside the functions below


# ---------------------------------------------------------------------------------------------
# statistics


def _decimals(value_ms: float) -> int:
    """Decimals that give about three significant digits for a latency in ms."""
    if value_ms >= 100:
        return 0
    if value_ms >= 10:
        return 1
    if value_ms >= 1:
        return 2
    return 3


def min_runs_for(q: float) -> int:
    """Timed runs needed to report the q-th percentile: at least one run must lie beyond it."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be between 0 and 100 (e.g. 99 for p99), got {q}")
    if q <= 50 or q == 100:  # the median and the maximum exist for any number of runs
        return 1
    return math.ceil(round(100 / (100 - q), 9))  # rounded first: 100 / 5 must give 20, not 20.000000001


def median_ci(samples: Sequence[float]) -> tuple[float, float]:
    """A distribution-free 95% confidence interval of the median, from the order statistics."""
    arr = np.sort(np.asarray(samples, dtype=float).ravel())
    n = arr.size
    if n == 0:
        raise ValueError("no samples: a median needs at least one")
    # ranks j = floor((n - z sqrt n) / 2) and k = ceil(1 + (n + z sqrt n) / 2), counted from 1
    z_root_n = 1.96 * math.sqrt(n)
    lo = max(0, math.floor((n - z_root_n) / 2) - 1)
    hi = min(n - 1, math.ceil(1 + (n + z_root_n) / 2) - 1)
    return float(arr[lo]), float(arr[hi])


@dataclass(frozen=True)
class LatencyStats:
    """Latency samples of one variant and their summary (all in milliseconds).

    `p95_ms` is None when fewer than MIN_RUNS_P95 runs were timed: too few to estimate it.
    """

    samples_ms: tuple[float, ...] = field(repr=False)  # thousands of them: keep repr readable
    n: int
    p50_ms: float
    p95_ms: float | None
    mean_ms: float
    std_ms: float
    min_ms: float
    threads: int | None = None

    @classmethod
    def from_samples(cls, samples_ms: Sequence[float], threads: int | None = None) -> LatencyStats:
        """Summarise latency samples given in milliseconds."""
        arr = np.asarray(samples_ms, dtype=float).ravel()
        if arr.size == 0:
            raise ValueError("no latency samples: time at least one run")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError("latency samples must be finite and non-negative milliseconds")
        return cls(
            samples_ms=tuple(arr.tolist()),
            n=int(arr.size),
            p50_ms=float(np.percentile(arr, 50)),
            p95_ms=float(np.percentile(arr, 95)) if arr.size >= MIN_RUNS_P95 else None,
            mean_ms=float(arr.mean()),
            std_ms=float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
            min_ms=float(arr.min()),
            threads=threads,
        )

    @property
    def max_ms(self) -> float:
        """The slowest timed run."""
        return max(self.samples_ms)

    def percentile(self, q: float) -> float:
        """The q-th percentile of the samples in ms (q from 0 to 100, linear interpolation).

        Raises ValueError when there are too few samples for it (see `min_runs_for`).
        """
        need = min_runs_for(q)
        if self.n < need:
            raise ValueError(f"a p{q:g} needs at least {need} timed runs, this has {self.n}: time more runs "
                             "(min_runs=...) or report the p50 and the spread")
        return float(np.percentile(np.asarray(self.samples_ms), q))

    def spread(self, d: int | None = None) -> str:
        """The p95 if there are enough runs for it, else the range of the runs: '12.6' or '11.9-13.0'."""
        d = _decimals(self.p50_ms) if d is None else d
        if self.p95_ms is not None:
            return f"{self.p95_ms:.{d}f}"
        return f"{self.min_ms:.{d}f}-{self.max_ms:.{d}f}"

    def __str__(self) -> str:
        d = _decimals(self.p50_ms)
        who = "" if self.threads is None else f", {self.threads} thread{'s' * (self.threads != 1)}"
        tail = (f"p95 {self.p95_ms:.{d}f} ms" if self.p95_ms is not None
                else f"range {self.spread(d)} ms")
        few = "" if self.p95_ms is not None else ": too few for a p95"
        return (
            f"p50 {self.p50_ms:.{d}f} ms  {tail}  "
            f"mean {self.mean_ms:.{d}f} ± {self.std_ms:.{d}f} ms  (n={self.n}{who}{few})"
        )


# ---------------------------------------------------------------------------------------------
# timing loops


def _check_loop_args(warmup: int, runs: int | None, min_runs: int, budget_s: float, max_runs: int) -> None:
    """Raise ValueError for loop settings that cannot give a measurement."""
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0 runs, got {warmup}")
    if runs is not None and runs < 1:
        raise ValueError(f"runs must be >= 1 (or None to run for budget_s), got {runs}")
    if min_runs < 1:
        raise ValueError(f"min_runs must be >= 1, got {min_runs}")
    if not budget_s > 0:
        raise ValueError(f"budget_s must be > 0 seconds, got {budget_s}")
    if max_runs < min_runs:
        raise ValueError(f"max_runs ({max_runs}) must be >= min_runs ({min_runs})")


class _Loop:
    """When to stop timing: exactly `runs`; else after min_runs once the budget is spent, max_runs
    are done, or (with `stable`) every variant's p50 is known to within +-stable of itself."""

    def __init__(self, runs: int | None, min_runs: int, budget_s: float, max_runs: int,
                 stable: float | None, samples: Sequence[list[int]]) -> None:
        self.runs, self.min_runs, self.budget_ns, self.max_runs = runs, min_runs, budget_s * 1e9, max_runs
        self.stable, self.samples = stable, samples
        self.started = _now_ns()
        self.next_check = min_runs

    def _is_stable(self, done: int) -> bool:
        """Checked at growing intervals (every ~12% more runs), so sorting costs little."""
        if self.stable is None or done < self.next_check:
            return False
        self.next_check = done + max(5, done // 8)
        for s in self.samples:
            mid = float(np.median(s))
            lo, hi = median_ci(s)
            if mid <= 0 or max(mid - lo, hi - mid) > self.stable * mid:
                return False
        return True

    def keep_going(self, done: int) -> bool:
        """Whether to time another run (or round) after `done` of them."""
        if self.runs is not None:
            return done < self.runs
        if done >= self.max_runs:
            return False
        if done < self.min_runs:
            return True
        return (_now_ns() - self.started) < self.budget_ns and not self._is_stable(done)


def latency(
    fn: Callable[[], object],
    *,
    warmup: int = 3,
    runs: int | None = None,
    min_runs: int = MIN_RUNS_P95,
    budget_s: float = 2.0,
    max_runs: int = 10_000,
    threads: int | None = None,
    stable: float | None = STABLE,
) -> LatencyStats:
    """Time `fn()`: `warmup` untimed calls, then `runs` calls, or at least `min_runs` calls and more
    until budget_s is spent or the p50 is known to within +-`stable` (None: use the whole budget).

    `threads` sets torch's thread count for the run; ONNX Runtime and LiteRT take theirs when the
    session or interpreter is created (`intra_op_num_threads`, `num_threads`).
    """
    if not callable(fn):
        raise TypeError(f"fn must be a callable taking no arguments, got {type(fn).__name__}; "
                        "wrap a model and its inputs with runtimes.as_callable(model, inputs)")
    _check_loop_args(warmup, runs, min_runs, budget_s, max_runs)
    scope = _use_threads(threads) if threads is not None else contextlib.nullcontext()
    with scope:
        for _ in range(warmup):
            fn()
        samples: list[int] = []
        loop = _Loop(runs, min_runs, budget_s, max_runs, stable, [samples])
        while loop.keep_going(len(samples)):
            t0 = _now_ns()
            fn()
            samples.append(_now_ns() - t0)
    return LatencyStats.from_samples([s / 1e6 for s in samples], threads=threads)


def compare_latency(
    fns: Mapping[str, Callable[[], object]],
    *,
    warmup: int = 3,
    rounds: int | None = None,
    min_rounds: int = MIN_RUNS_P95,
    budget_s: float = 4.0,
    max_rounds: int = 10_000,
    threads: int | None = None,
    stable: float | None = STABLE,
) -> dict[str, LatencyStats]:
    """Time several variants interleaved: one call of each per round, in a new random order each round.

    At least `min_rounds` rounds, then more until budget_s is spent or every variant's p50 is known
    to within +-`stable` (None: use the whole budget).
    """
    names = list(fns)
    if not names:
        raise ValueError("compare_latency needs at least one variant: {'name': fn, ...}")
    for name in names:
        if not callable(fns[name]):
            raise TypeError(f"variant {name!r} is a {type(fns[name]).__name__}, not a callable; "
                            "wrap models with runtimes.as_callable(model, inputs)")
    _check_loop_args(warmup, rounds, min_rounds, budget_s, max_rounds)
    samples: dict[str, list[int]] = {name: [] for name in names}
    scope = _use_threads(threads) if threads is not None else contextlib.nullcontext()
    with scope:
        for _ in range(warmup):
            for name in names:
                fns[name]()
        # a fresh random order every round (seeded: the same schedule on every run), so no variant
        # always runs right after the same one: a variant that leaves the CPU slower for a moment
        # (a lower clock after wide vector or matrix instructions, evicted caches) spreads its cost
        # over all the others instead of hitting one of them every time, as a fixed rotation would
        schedule = np.random.default_rng(0)
        done, loop = 0, _Loop(rounds, min_rounds, budget_s, max_rounds, stable, list(samples.values()))
        while loop.keep_going(done):
            for name in (names[i] for i in schedule.permutation(len(names))):
                t0 = _now_ns()
                fns[name]()
                samples[name].append(_now_ns() - t0)
            done += 1
    return {name: LatencyStats.from_samples([s / 1e6 for s in samples[name]], threads) for name in names}


def throughput(fn: Callable[[], object], items_per_call: int, **latency_kwargs: Any) -> float:
    """Items per second from the median latency of `fn()`, which processes `items_per_call` items."""
    if items_per_call < 1:
        raise ValueError(f"items_per_call must be >= 1 (e.g. the batch size), got {items_per_call}")
    stats = latency(fn, **latency_kwargs)
    if stats.p50_ms <= 0:
        raise ValueError("the call is faster than the clock can resolve: give it more work per call")
    return items_per_call / (stats.p50_ms / 1e3)


# ---------------------------------------------------------------------------------------------
# adapters: models of each runtime as a zero-argument callable


ThreadTable = dict[str, dict[tuple[int, str], LatencyStats]]  # variant -> (threads, input label) -> stats


def threads_table(table: ThreadTable, labels: Sequence[str], many: int, *, digits: int = 2
                  ) -> tuple[list[str], list[list[str]], list[tuple[str, int]]]:
    """(header, rows, groups) for tables.markdown_table: p50 and p95 on one thread and the p50 on
    `many` threads per input, fastest first on one thread at labels[0]; "-" where not timed."""
    def cell(stats: LatencyStats | None, p95: bool = False) -> str:
        if stats is None:
            return "-"
        return stats.spread(digits) if p95 else f"{stats.p50_ms:.{digits}f}"

    order = sorted(table, key=lambda v: table[v][(1, labels[0])].p50_ms)
    header = ["variant"] + [c for _ in labels for c in ("p50 1t", "p95 1t", f"p50 {many}t")]
    rows = [[v] + [c for lb in labels for c in (cell(table[v].get((1, lb))), cell(table[v].get((1, lb)), True),
                                                  cell(table[v].get((many, lb))))]
            for v in order]
    return header, rows, [("", 1)] + [(str(lb), 3) for lb in labels]


# ---------------------------------------------------------------------------------------------
# reporting


def latency_table(results: Mapping[str, LatencyStats], baseline: str | None = None) -> str:
    """A fixed-width table of results; with `baseline`, a speed-up column (baseline p50 / p50)."""
    if not results:
        raise ValueError("no results to tabulate")
    if baseline is not None and baseline not in results:
        raise KeyError(f"baseline {baseline!r} is not among the variants {list(results)}")
    width = max(7, *(len(name) for name in results))
    spread = max(9, *(len(s.spread(_decimals(min(s.p50_ms, s.mean_ms)))) for s in results.values()))
    header = (f"{'variant':<{width}}  {'p50 ms':>9}  {'p95 ms':>{spread}}  {'mean ms':>9}  {'n':>6}  "
              f"{'threads':>7}")
    if baseline is not None:
        header += f"  {'speed-up':>8}"
    lines = [header, "-" * len(header)]
    for name, s in results.items():
        d = _decimals(min(s.p50_ms, s.mean_ms))
        row = (f"{name:<{width}}  {s.p50_ms:>9.{d}f}  {s.spread(d):>{spread}}  {s.mean_ms:>9.{d}f}  "
               f"{s.n:>6}  {'-' if s.threads is None else s.threads:>7}")
        if baseline is not None:
            ratio = results[baseline].p50_ms / s.p50_ms if s.p50_ms > 0 else math.inf
            row += f"  {ratio:>7.2f}x"
        lines.append(row)
    return "\n".join(lines + _few_runs_note(results.values()))


def _few_runs_note(stats: Iterable[LatencyStats]) -> list[str]:
    """A footnote for tables where some variant had too few runs for a p95 (its range is shown)."""
    if all(s.p95_ms is not None for s in stats):
        return []
    return [f"a range a-b in the p95 column: fewer than {MIN_RUNS_P95} timed runs, too few for a p95; "
            "it is the fastest and slowest run"]


def lengths_table(results: Mapping[str, Mapping[str, LatencyStats]], baseline: str | None = None) -> str:
    """A table of compare_at results: one row per variant, p50/p95 (and speed-up) per input."""
    if not results:
        raise ValueError("no results to tabulate")
    labels = list(results)
    names = list(next(iter(results.values())))
    for label in labels:
        if list(results[label]) != names:
            raise ValueError(f"every input must time the same variants; {label!r} has {list(results[label])}")
    if baseline is not None and baseline not in names:
        raise KeyError(f"baseline {baseline!r} is not among the variants {names}")
    width = max(7, *(len(n) for n in names))
    cells_p95 = [st.spread() for t in results.values() for st in t.values()]
    w95 = max(8, *(len(c) for c in cells_p95))
    cols = 3 if baseline is not None else 2
    block = 8 * (cols - 1) + w95 + (cols - 1)
    head1 = f"{'':<{width}}" + "".join(f"  {label:^{block}}" for label in labels)
    sub = ["p50 ms", "p95 ms"] + (["speed-up"] if baseline is not None else [])
    widths = [8, w95, 8]
    head2 = f"{'variant':<{width}}" + "".join("  " + " ".join(f"{c:>{w}}" for c, w in zip(sub, widths)) for _ in labels)
    lines = [head1, head2, "-" * len(head2)]
    for name in names:
        row = f"{name:<{width}}"
        for label in labels:
            st = results[label][name]
            d = _decimals(st.p50_ms)
            cells = [f"{st.p50_ms:>8.{d}f}", f"{st.spread(d):>{w95}}"]
            if baseline is not None:
                ratio = results[label][baseline].p50_ms / st.p50_ms if st.p50_ms > 0 else math.inf
                cells.append(f"{ratio:>7.2f}x")
            row += "  " + " ".join(cells)
        lines.append(row)
    return "\n".join(lines + _few_runs_note(st for t in results.values() for st in t.values()))


class InputLabel(str):
    """A benchmark input's name that carries its length: "p50 (22 tok)" with key "p50len" and tokens 22."""

    key: str
    tokens: int | None

    def __new__(cls, text: str, key: str, tokens: int | None = None) -> InputLabel:
        label = super().__new__(cls, text)
        label.key, label.tokens = key, tokens
        return label

    @classmethod
    def percentile(cls, q: float, tokens: int) -> InputLabel:
        """A real input at the q-th length percentile, e.g. "p50 (22 tok)"."""
        return cls(f"p{q:g} ({tokens} tok)", f"p{q:g}len", tokens)

    @classmethod
    def padded(cls, tokens: int) -> InputLabel:
        """An input padded to `tokens`, e.g. "128 tok"."""
        return cls(f"{tokens} tok", f"{tokens}tok", tokens)


def _field_key(label: str) -> tuple[str, int | None]:
    """(ledger key, tokens) of an input label; a plain string's key is its words joined by _."""
    if isinstance(label, InputLabel):
        return label.key, label.tokens
    return "_".join("".join(ch if ch.isalnum() else " " for ch in label).split()), None


def latency_metrics(by_input: Mapping[str, LatencyStats], tag: str = "1t") -> dict[str, float | int | None]:
    """Ledger fields of one variant timed on several inputs, e.g. p50_ms_1t_p50len and p50len_tokens.

    A p95 from too few runs is recorded as None (the ledger's "missing").
    """
    fields: dict[str, float | int | None] = {}
    for label, stats in by_input.items():
        key, tokens = _field_key(label)
        fields[f"p50_ms_{tag}_{key}"] = stats.p50_ms
        fields[f"p95_ms_{tag}_{key}"] = stats.p95_ms
        if tokens is not None:
            fields[f"{key}_tokens"] = tokens
    return fields
