"""The book's figure style and recurring figures: roofline, scaling with fitted power laws, Pareto fronts.

`book_style()` sizes figures and fonts for the rendered page: call it once after importing
matplotlib. A figure at most `BOOK_WIDTH_IN` wide is shown at its natural size in the page's
column (at 1280 px), so its text, never smaller than `FONT_PT`, reads like the page's small print.
Put side-by-side panels under one another instead of making a figure wider.

Each function returns its matplotlib Figure and never calls `plt.show()`. In a notebook the figure
shows once at the end of the cell: assign it (`fig = pareto(...)`) or end the line with `;`, since a
Figure left as the cell's last value is shown a second time. Pass `ax=` to draw into your own axes.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from .fitting import PowerLaw

# The inline backend draws at 100 dpi; the page's column is about 750 px wide at a 1280 px window
# (measured in Chromium; tests/test_book_render.py fails on a figure shrunk by over 1.5x)
BOOK_WIDTH_IN = 7.2  # inches: 720 px, shown unshrunk
FONT_PT = 10  # points: 14 px at 100 dpi, the size of the page's small print (code, tables)
FIGSIZE = (6.5, 4.2)  # inches: the default figure


def book_style() -> None:
    """Set matplotlib's defaults to the book's figure size and fonts (readable at page width)."""
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.figsize": FIGSIZE, "figure.dpi": 100, "savefig.dpi": 100,
        "font.size": FONT_PT, "axes.titlesize": FONT_PT + 1, "axes.labelsize": FONT_PT,
        "xtick.labelsize": FONT_PT, "ytick.labelsize": FONT_PT, "legend.fontsize": FONT_PT,
        "legend.title_fontsize": FONT_PT, "figure.titlesize": FONT_PT + 2,
    })


def _axes(ax: Any) -> tuple[Any, Any]:
    """Return (figure, axes): the given axes' figure, or a new book-sized figure."""
    if ax is not None:
        return ax.figure, ax
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    return fig, ax


def _check_points(points: Sequence[tuple[str, float, float]], what: str) -> list[tuple[str, float, float]]:
    """Points as (label, x, y) with finite numbers, else ValueError."""
    out = []
    for point in points:
        if len(point) != 3:
            raise ValueError(f"{what} must be (label, x, y) triples, got {point!r}")
        label, x, y = point
        x, y = float(x), float(y)
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"{what} {label!r} has a non-finite value ({x}, {y})")
        out.append((str(label), x, y))
    return out


# ---------------------------------------------------------------------------------------------
# roofline


def roofline(
    bandwidth_gbs: float,
    peaks_gflops: Mapping[str, float],
    points: Sequence[tuple[str, float, float]] = (),
    ax: Any = None,
) -> Any:
    """Log-log roofline: bandwidth slope, one ceiling per peak, ridge points, measured kernels."""
    if not bandwidth_gbs > 0:
        raise ValueError(f"bandwidth_gbs must be > 0 GB/s, got {bandwidth_gbs}")
    if not peaks_gflops or any(not v > 0 for v in peaks_gflops.values()):
        raise ValueError("peaks_gflops needs at least one positive peak, e.g. {'FP32 GEMM': 90.0}")
    pts = _check_points(points, "roofline point")
    if any(x <= 0 or y <= 0 for _, x, y in pts):
        raise ValueError("roofline points need positive intensity and GFLOP/s (the axes are logarithmic)")
    ridges = {name: peak / bandwidth_gbs for name, peak in peaks_gflops.items()}  # FLOP/byte
    xs = list(ridges.values()) + [x for _, x, _ in pts]
    x_lo, x_hi = min(xs) / 30, max(xs) * 30
    fig, ax = _axes(ax)
    top = max(peaks_gflops.values())
    grid = np.geomspace(x_lo, max(ridges.values()), 50)
    ax.loglog(grid, bandwidth_gbs * grid, color="black", lw=2, label=f"memory: {bandwidth_gbs:.3g} GB/s")
    highest_first = sorted(peaks_gflops.items(), key=lambda kv: -kv[1])
    for (name, peak), color in zip(highest_first, _colors(), strict=False):
        ridge = ridges[name]
        unit = "GOP/s" if "INT" in name.upper() else "GFLOP/s"  # integer peaks count operations, not FLOPs
        ax.loglog([ridge, x_hi], [peak, peak], color=color, lw=2, label=f"{name}: {peak:.3g} {unit}")
        ax.plot([ridge], [peak], "o", color=color, ms=6)
        ax.annotate(f"ridge {ridge:.2g} FLOP/B", (ridge, peak), textcoords="offset points", xytext=(4, -12), color=color)
    for i, (label, x, y) in enumerate(sorted(pts, key=lambda p: p[1])):
        ax.plot([x], [y], "D", color="tab:red", ms=6)
        # alternate labels above and below, so neighbouring points don't print over each other
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 6 if i % 2 == 0 else -14))
    y_lo = min([bandwidth_gbs * x_lo] + [y for _, _, y in pts]) / 2
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, top * 2)
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("performance (GFLOP/s, or GOP/s for integer peaks)")
    ax.set_title("Roofline")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right")
    return fig


def _colors() -> list[str]:
    """Ten distinct colours (the first six as before), repeated."""
    return ["tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown", "tab:cyan",
            "tab:red", "tab:olive", "tab:pink", "tab:gray"] * 3


# ---------------------------------------------------------------------------------------------
# scaling


def scaling(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    *,
    xlabel: str,
    ylabel: str,
    fits: Mapping[str, PowerLaw] | None = None,
    loglog: bool = True,
    ax: Any = None,
) -> Any:
    """Plot each series against x; fitted power laws dashed, with their exponents in the legend."""
    xs = np.asarray(x, dtype=float)
    if not series:
        raise ValueError("series is empty: pass {'name': [y values...]}")
    for name, ys in series.items():
        if len(ys) != xs.size:
            raise ValueError(f"series {name!r} has {len(ys)} values for {xs.size} x values")
    if not xlabel or not ylabel:
        raise ValueError("label both axes with quantity and unit, e.g. ylabel='latency (ms)'")
    fig, ax = _axes(ax)
    colors = dict(zip(series, _colors(), strict=False))  # colours repeat after 30 series
    for name, ys in series.items():
        ax.plot(xs, np.asarray(ys, dtype=float), "o-", color=colors[name], label=name)
    lo, hi = xs.min(), xs.max()
    grid = np.geomspace(lo, hi, 100) if loglog and lo > 0 else np.linspace(lo, hi, 100)
    for name, law in (fits or {}).items():
        ax.plot(grid, law(grid), "--", color=colors.get(name, "gray"),
                label=f"{name} fit ∝ x^{law.exponent:.2f} (R² {law.r2:.2f})")
    if loglog:
        ax.set_xscale("log")
        ax.set_yscale("log")
        if xs.size <= 12:  # label the measured x values plainly (128, 256, ...), not as 2×10²
            from matplotlib.ticker import NullFormatter

            ax.set_xticks(xs, [f"{v:g}" for v in xs])
            ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return fig


# ---------------------------------------------------------------------------------------------
# Pareto front


def pareto_front(points: Sequence[tuple[str, float, float]], higher_is_better: bool = True) -> list[str]:
    """Labels of the points no other point beats (lower x better; higher y better), by increasing x."""
    pts = _check_points(points, "Pareto point")
    sign = 1.0 if higher_is_better else -1.0

    def beats(a: tuple[str, float, float], b: tuple[str, float, float]) -> bool:
        """a is at least as good as b on both axes and strictly better on one."""
        ax_, ay, bx, by = a[1], sign * a[2], b[1], sign * b[2]
        return ax_ <= bx and ay >= by and (ax_ < bx or ay > by)

    front = [p for p in pts if not any(beats(q, p) for q in pts)]
    return [label for label, _, _ in sorted(front, key=lambda p: (p[1], -sign * p[2]))]


def _place_labels(ax: Any, pts: Sequence[tuple[str, float, float]], fontsize: float = FONT_PT) -> None:
    """Annotate each point with its label, moving a label that would overlap one placed earlier."""
    scale = ax.figure.dpi / 72  # display pixels per point
    height = 1.25 * fontsize * scale
    placed: list[tuple[float, float, float, float]] = []
    for label, x, y in sorted(pts, key=lambda p: (p[1], -p[2])):
        px, py = ax.transData.transform((x, y))
        width = 0.58 * fontsize * scale * len(label)
        candidates = [(5, 4), (5, -12), (5, 14), (5, -22), (5, 24), (5, -32), (-5 - width / scale, 4),
                      (-5 - width / scale, -12), (5, 34), (5, -42)]
        chosen = candidates[0]
        for dx, dy in candidates:
            box = (px + dx * scale, py + dy * scale, px + dx * scale + width, py + dy * scale + height)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                chosen = (dx, dy)
                break
        dx, dy = chosen
        placed.append((px + dx * scale, py + dy * scale, px + dx * scale + width, py + dy * scale + height))
        ax.annotate(label, (x, y), textcoords="offset points", xytext=chosen, fontsize=fontsize,
                    arrowprops=None if chosen == candidates[0] else {"arrowstyle": "-", "color": "0.6", "lw": 0.5})


def pareto(
    points: Sequence[tuple[str, float, float]],
    *,
    xlabel: str,
    ylabel: str,
    higher_is_better: bool = True,
    ties: Collection[str] = (),
    ax: Any = None,
) -> Any:
    """Scatter (label, x, y) points, lower x better, and draw their Pareto front as a staircase.

    `ties` names front points whose lead over a faster front point is within the noise: they are
    drawn hollow, as ties rather than real steps of the front.
    """
    pts = _check_points(points, "Pareto point")
    if not pts:
        raise ValueError("no points to plot: pass (label, x, y) triples")
    if not xlabel or not ylabel:
        raise ValueError("label both axes with quantity and unit, e.g. xlabel='latency (ms)'")
    unknown = set(ties) - {label for label, _, _ in pts}
    if unknown:
        raise ValueError(f"ties names points that are not plotted: {sorted(unknown)}")
    front = set(pareto_front(pts, higher_is_better))
    fig, ax = _axes(ax)
    for label, x, y in pts:
        on = label in front
        if label in ties:
            ax.plot([x], [y], "o", mfc="none", mec="tab:blue", ms=8)
        else:
            ax.plot([x], [y], "o", color="tab:blue" if on else "tab:gray", ms=7 if on else 5)
    fx = [(x, y) for label, x, y in pts if label in front]
    fx.sort()
    ax.step([p[0] for p in fx], [p[1] for p in fx], where="post", color="tab:blue", lw=1.5,
            label="Pareto front")
    if ties:
        ax.plot([], [], "o", mfc="none", mec="tab:blue", ms=8, label="on the front by a margin within the noise")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.autoscale_view()
    _place_labels(ax, pts)
    return fig


# ---------------------------------------------------------------------------------------------
# waterfall and the ledger's bubble chart


def waterfall(start: tuple[str, float], steps: Sequence[tuple[str, float]], *, ylabel: str,
              higher_is_better: bool = False, ax: Any = None, fmt: str = "{:.3g}") -> Any:
    """A waterfall: the starting value, then each step's change as a floating bar, then the result.

    steps are (label, value after the step); a bar is green where the step improved the quantity
    (lower, or higher with higher_is_better), red where it cost and grey where nothing changed.
    """
    if not steps:
        raise ValueError("a waterfall needs at least one step after the start")
    values = [float(start[1])] + [float(v) for _, v in steps]
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"waterfall values must be finite, got {values}")
    if not ylabel:
        raise ValueError("label the axis with quantity and unit, e.g. ylabel='p50 latency (ms)'")
    fig, ax = _axes(ax)
    labels = [start[0]] + [label for label, _ in steps] + ["result"]
    ax.bar(0, values[0], color="0.55")
    for i in range(1, len(values)):
        before, after = values[i - 1], values[i]
        better = after > before if higher_is_better else after < before
        colour = "0.7" if after == before else "tab:green" if better else "tab:red"  # grey: the step changed nothing
        ax.bar(i, after - before, bottom=before, color=colour)
        ax.plot([i - 1.4, i + 0.4], [before, before], color="0.3", lw=0.6)  # connector from the last level
        ax.annotate(fmt.format(after - before) if after < before else "+" + fmt.format(after - before),
                    (i, max(before, after)), ha="center", va="bottom")
    ax.bar(len(values), values[-1], color="tab:blue")
    ax.annotate(fmt.format(values[0]), (0, values[0]), ha="center", va="bottom")
    ax.annotate(fmt.format(values[-1]), (len(values), values[-1]), ha="center", va="bottom")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def bubble_pareto(points: Sequence[tuple[str, str, float, float, float | None]], *, xlabel: str, ylabel: str,
                  ax: Any = None) -> tuple[Any, list[str]]:
    """Scatter (label, group, x, y, size) with colour = group and area = size; mark and name the Pareto front.

    Lower x and higher y are better. A point without a size is drawn hollow. Returns (figure, front labels).
    """
    if not points:
        raise ValueError("no points to plot: pass (label, group, x, y, size) tuples")
    if not xlabel or not ylabel:
        raise ValueError("label both axes with quantity and unit")
    pts = _check_points([(label, x, y) for label, _, x, y, _ in points], "point")
    front = pareto_front(pts)
    fig, ax = _axes(ax)
    sizes = [s for *_, s in points if s]
    biggest = max(sizes) if sizes else 1.0
    colours = dict(zip(sorted({g for _, g, *_ in points}), _colors() * 4))
    for label, group, x, y, size in points:
        area = 20 + 280 * (size / biggest) if size else 40
        if size:
            ax.scatter([x], [y], s=area, color=colours[group], alpha=0.55, edgecolors="0.2", linewidths=0.5)
        else:
            ax.scatter([x], [y], s=area, facecolors="none", edgecolors=colours[group], linewidths=1.2)
    for group, colour in colours.items():
        ax.scatter([], [], s=60, color=colour, alpha=0.55, label=group)
    fx = sorted((x, y) for label, x, y in pts if label in front)
    ax.step([p[0] for p in fx], [p[1] for p in fx], where="post", color="black", lw=1.2, label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    _place_labels(ax, [p for p in pts if p[0] in front])
    ax.legend(loc="lower right")
    return fig, front
