"""Roofline, scaling and Pareto figures, and the Pareto front itself."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from edgehelpers import plots  # noqa: E402
from edgehelpers.fitting import power_law_fit  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_roofline():
    fig = plots.roofline(19.0, {"FP32 GEMM": 88.0, "INT8 GEMM": 160.0}, [("MiniLM b=1", 2.0, 30.0)])
    ax = fig.axes[0]
    assert "FLOP/byte" in ax.get_xlabel() and "GFLOP/s" in ax.get_ylabel()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("19 GB/s" in t for t in legend) and any("INT8 GEMM" in t for t in legend)
    assert any(t.startswith("INT8 GEMM") and t.endswith("GOP/s") for t in legend)  # integer ops are not FLOPs
    assert any(t.startswith("FP32 GEMM") and t.endswith("GFLOP/s") for t in legend)
    texts = _texts(ax)
    assert "MiniLM b=1" in texts and f"ridge {88 / 19:.2g} FLOP/B" in texts
    lo, hi = ax.get_xlim()
    assert lo < 2.0 < hi and lo < 160 / 19 < hi


def test_roofline_draws_into_given_axes():
    fig, (a, b) = plt.subplots(1, 2)
    assert plots.roofline(10.0, {"FP32": 50.0}, ax=b) is fig and b.get_xlabel() and not a.get_xlabel()


@pytest.mark.parametrize(
    "args",
    [(0.0, {"FP32": 50.0}), (10.0, {}), (10.0, {"FP32": -1.0}), (10.0, {"FP32": 5.0}, [("bad", 0.0, 1.0)])],
)
def test_roofline_rejects_bad_input(args):
    with pytest.raises(ValueError):
        plots.roofline(*args)


def test_scaling_with_fit_in_legend():
    x = [128, 256, 512, 1024]
    naive = [1.0, 4.0, 16.0, 64.0]
    fig = plots.scaling(x, {"naive": naive, "sdpa": [1.0, 2.0, 4.0, 8.0]}, xlabel="sequence length (tokens)",
                        ylabel="latency (ms)", fits={"naive": power_law_fit(x, naive)})
    ax = fig.axes[0]
    assert ax.get_xlabel() == "sequence length (tokens)" and ax.get_ylabel() == "latency (ms)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("x^2.00" in t for t in legend)
    assert len(ax.lines) == 3 and ax.lines[2].get_linestyle() == "--"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["128", "256", "512", "1024"]


def test_scaling_rejects_bad_input():
    with pytest.raises(ValueError, match="3 values for 2"):
        plots.scaling([1, 2], {"a": [1, 2, 3]}, xlabel="x (s)", ylabel="y (s)")
    with pytest.raises(ValueError, match="label"):
        plots.scaling([1, 2], {"a": [1, 2]}, xlabel="", ylabel="y (s)")


POINTS = [("fp32", 20.0, 0.90), ("int8", 10.0, 0.89), ("int8-bad", 10.0, 0.80),
          ("slow", 30.0, 0.85), ("tiny", 5.0, 0.70)]


def test_pareto_front():
    assert plots.pareto_front(POINTS) == ["tiny", "int8", "fp32"]
    # lower y better (e.g. error rate): the cheapest with the lowest error wins
    assert plots.pareto_front([("a", 1, 5), ("b", 2, 3), ("c", 3, 4)], higher_is_better=False) == ["a", "b"]
    assert plots.pareto_front([("a", 1, 1), ("b", 1, 1)]) == ["a", "b"]  # equal points both stay
    assert plots.pareto_front([]) == []
    with pytest.raises(ValueError, match="non-finite"):
        plots.pareto_front([("a", math.nan, 1)])
    with pytest.raises(ValueError, match="triples"):
        plots.pareto_front([("a", 1)])  # type: ignore[list-item]


def test_pareto_figure():
    fig = plots.pareto(POINTS, xlabel="latency p50 (ms)", ylabel="accuracy")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "latency p50 (ms)" and ax.get_ylabel() == "accuracy"
    assert set(_texts(ax)) == {p[0] for p in POINTS}
    front = [line for line in ax.lines if line.get_label() == "Pareto front"]
    assert len(front) == 1 and list(front[0].get_xdata()) == [5.0, 10.0, 20.0]
    with pytest.raises(ValueError, match="no points"):
        plots.pareto([], xlabel="x", ylabel="y")


def test_pareto_ties_are_hollow_and_labels_do_not_overlap():
    crowded = [("INT8 dyn/channel", 2.0, 89.0), ("INT8 dyn/tensor", 2.05, 88.9), ("INT8 static", 2.1, 88.8),
               ("FP32 ORT", 5.0, 89.1), ("W4", 5.1, 88.9)]
    fig = plots.pareto(crowded, xlabel="latency (ms)", ylabel="accuracy (%)", ties={"FP32 ORT"})
    ax = fig.axes[0]
    hollow = [line for line in ax.lines if line.get_markerfacecolor() == "none" and len(line.get_xdata())]
    assert len(hollow) == 1 and list(hollow[0].get_xdata()) == [5.0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("within the noise" in t for t in legend)
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in ax.texts]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:]), "labels overlap"
    with pytest.raises(ValueError, match="not plotted"):
        plots.pareto(crowded, xlabel="x (ms)", ylabel="y (%)", ties={"ghost"})


def test_scaling_gives_up_to_ten_series_distinct_colours():
    series = {f"s{i}": [1.0 + i, 2.0 + i] for i in range(10)}
    fig = plots.scaling([1, 2], series, xlabel="n (tokens)", ylabel="time (ms)")
    colours = [line.get_color() for line in fig.axes[0].get_lines()]
    assert len(set(colours)) == 10
    plt.close(fig)


# ---- waterfall and bubble Pareto ----------------------------------------------------------------

GREEN, RED = to_rgba("tab:green"), to_rgba("tab:red")
STEPS = [("prune", 12.0), ("distil", 14.0), ("INT8", 5.0)]  # from 20 ms: -8, +2, -9


def _bars(fig):
    return fig.axes[0].patches


def test_waterfall_floats_each_step_from_the_level_before():
    fig = plots.waterfall(("teacher", 20.0), STEPS, ylabel="p50 latency (ms)")
    ax = fig.axes[0]
    bars = _bars(fig)
    assert len(bars) == 1 + len(STEPS) + 1  # start, the steps, the result
    assert [b.get_height() for b in bars] == pytest.approx([20.0, -8.0, 2.0, -9.0, 5.0])
    assert [b.get_y() for b in bars[1:4]] == pytest.approx([20.0, 12.0, 14.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["teacher", "prune", "distil", "INT8", "result"]
    assert {"-8", "+2", "-9", "20", "5"} <= set(_texts(ax))
    assert ax.get_ylabel() == "p50 latency (ms)"


def test_waterfall_colours_improvements_green_and_costs_red():
    lower = _bars(plots.waterfall(("teacher", 20.0), STEPS, ylabel="p50 latency (ms)"))
    assert [b.get_facecolor() for b in lower[1:4]] == [GREEN, RED, GREEN]
    higher = _bars(plots.waterfall(("teacher", 20.0), STEPS, ylabel="accuracy (%)", higher_is_better=True))
    assert [b.get_facecolor() for b in higher[1:4]] == [RED, GREEN, RED]
    assert higher[-1].get_facecolor() == to_rgba("tab:blue")  # the result is neither


def test_waterfall_colours_a_step_that_changed_nothing_grey():
    bars = _bars(plots.waterfall(("teacher", 20.0), [("distil", 20.0), ("INT8", 5.0)], ylabel="size (MB)"))
    assert bars[1].get_facecolor() == to_rgba("0.7") and bars[2].get_facecolor() == GREEN


def test_waterfall_draws_into_given_axes():
    fig, (a, b) = plt.subplots(1, 2)
    assert plots.waterfall(("start", 1.0), [("step", 2.0)], ylabel="size (MB)", ax=b) is fig
    assert len(b.patches) == 3 and not a.patches


def test_waterfall_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one step"):
        plots.waterfall(("teacher", 20.0), [], ylabel="ms")
    with pytest.raises(ValueError, match="finite"):
        plots.waterfall(("teacher", 20.0), [("prune", math.nan)], ylabel="ms")
    with pytest.raises(ValueError, match="finite"):
        plots.waterfall(("teacher", math.inf), [("prune", 1.0)], ylabel="ms")
    with pytest.raises(ValueError, match="label the axis"):
        plots.waterfall(("teacher", 20.0), STEPS, ylabel="")


BUBBLES = [("a", "ch2", 10.0, 0.90, 1000), ("b", "ch3", 5.0, 0.85, None), ("c", "ch3", 20.0, 0.80, 500),
           ("d", "ch2", 2.0, 0.70, 200)]


def _drawn(ax):
    """Scatter collections that hold a point (legend handles are empty)."""
    return [c for c in ax.collections if len(c.get_offsets())]


def test_bubble_pareto_returns_the_front_fastest_first():
    fig, front = plots.bubble_pareto(BUBBLES, xlabel="p50 (ms)", ylabel="accuracy")
    assert front == ["d", "b", "a"]  # c is slower and less accurate than a
    ax = fig.axes[0]
    step = [line for line in ax.lines if line.get_label() == "Pareto front"]
    assert len(step) == 1 and list(step[0].get_xdata()) == [2.0, 5.0, 10.0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "p50 (ms)" and ax.get_ylabel() == "accuracy"
    assert set(_texts(ax)) == {"a", "b", "d"}  # only the front is named
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ch2", "ch3", "Pareto front"]


def test_bubble_pareto_area_follows_size_and_no_size_is_hollow():
    fig, _ = plots.bubble_pareto(BUBBLES, xlabel="p50 (ms)", ylabel="accuracy")
    drawn = _drawn(fig.axes[0])
    assert len(drawn) == len(BUBBLES)
    hollow = [c for c in drawn if len(c.get_facecolor()) == 0 or c.get_facecolor()[0][3] == 0]
    assert len(hollow) == 1 and tuple(hollow[0].get_offsets()[0]) == (5.0, 0.85)
    area = {tuple(c.get_offsets()[0]): c.get_sizes()[0] for c in drawn}
    assert area[(10.0, 0.90)] == pytest.approx(300.0)  # the biggest
    assert area[(20.0, 0.80)] == pytest.approx(160.0)  # half the bytes, about half the area
    assert area[(10.0, 0.90)] > area[(20.0, 0.80)] > area[(2.0, 0.70)]


def test_bubble_pareto_rejects_bad_input():
    with pytest.raises(ValueError, match="no points"):
        plots.bubble_pareto([], xlabel="x (ms)", ylabel="y (%)")
    with pytest.raises(ValueError, match="label both axes"):
        plots.bubble_pareto(BUBBLES, xlabel="", ylabel="y (%)")
    with pytest.raises(ValueError, match="label both axes"):
        plots.bubble_pareto(BUBBLES, xlabel="x (ms)", ylabel="")
    with pytest.raises(ValueError, match="non-finite"):
        plots.bubble_pareto([("a", "g", math.nan, 1.0, None)], xlabel="x (ms)", ylabel="y (%)")


def _smallest_text_pt(fig) -> float:
    """The smallest font size (points) of any visible, non-empty text in `fig`."""
    from matplotlib.text import Text

    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes)


@pytest.fixture
def book_style():
    saved = matplotlib.rcParams.copy()
    plots.book_style()
    yield
    matplotlib.rcParams.update(saved)


def test_book_figures_are_readable_at_page_width(book_style):
    """Every recurring figure fits the page's column unshrunk, and no text is below the book's size."""
    figures = {
        "roofline": plots.roofline(19.0, {"FP32 GEMM": 88.0, "INT8 GEMM": 160.0}, [("MiniLM b=1", 2.0, 30.0)]),
        "scaling": plots.scaling([64, 128, 256], {"naive": [1.0, 4.0, 16.0]}, xlabel="tokens", ylabel="ms"),
        "pareto": plots.pareto([("a", 1.0, 90.0), ("b", 2.0, 92.0)], xlabel="ms", ylabel="accuracy (%)"),
        "waterfall": plots.waterfall(("teacher", 20.0), STEPS, ylabel="p50 latency (ms)"),
        "bubble": plots.bubble_pareto(BUBBLES, xlabel="p50 (ms)", ylabel="accuracy")[0],
    }
    for name, fig in figures.items():
        assert fig.get_size_inches()[0] <= plots.BOOK_WIDTH_IN, f"{name} is wider than the page's column"
        if fig.texts or any(ax.texts or ax.get_xlabel() for ax in fig.axes):
            assert _smallest_text_pt(fig) >= plots.FONT_PT, f"{name} has text under {plots.FONT_PT} pt"

