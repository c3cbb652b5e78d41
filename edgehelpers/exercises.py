"""Runnable checks for the chapters' exercises: call one on your answer and it says right or wrong.

Each exercise cell ends with `exercises.check("2.1", answer, ...)`: with `answer = None` it only
reminds you to answer; with an answer it recomputes the truth from what you pass (your predictions,
the chapter's measurements) and explains the verdict. The checks recompute, so they hold on any
machine: a right answer is right for *your* measurements.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: right (True), wrong (False) or not answered yet (None)."""

    exercise: str
    ok: bool | None
    message: str

    def __bool__(self) -> bool:
        return bool(self.ok)

    def __repr__(self) -> str:
        state = {True: "right", False: "not quite", None: "no answer yet"}[self.ok]
        return f"Exercise {self.exercise}: {state}. {self.message}"


CHECKS: dict[str, Callable[..., Verdict]] = {}


def _exercise(exercise_id: str) -> Callable[[Callable[..., Verdict]], Callable[..., Verdict]]:
    """Register a check under its exercise number."""

    def register(fn: Callable[..., Verdict]) -> Callable[..., Verdict]:
        CHECKS[exercise_id] = fn
        return fn

    return register


def check(exercise_id: str, answer: Any, **context: Any) -> Verdict:
    """Check `answer` to exercise `exercise_id` (e.g. "2.1"); `context` is what the exercise names."""
    if exercise_id not in CHECKS:
        raise ValueError(f"no exercise {exercise_id!r}; the checks are {', '.join(sorted(CHECKS))}")
    if answer is None:
        return Verdict(exercise_id, None, "Set `answer` in the cell above and run it again.")
    return CHECKS[exercise_id](exercise_id, answer, **context)


def _close(a: float, b: float, rel: float) -> bool:
    """Whether a is within a relative tolerance of b."""
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-12)


def _choice(answer: Any, options: Sequence[str]) -> str:
    """The answer as one of `options` (case and spaces ignored), or ValueError saying what to pass."""
    text = str(answer).strip().lower()
    if text not in options:
        raise ValueError(f"answer one of {', '.join(repr(o) for o in options)}, not {answer!r}")
    return text


def _beats(exercise: str, answer: Any, pred_a: Any, pred_b: Any, labels: Any, what: str) -> Verdict:
    """Right when `answer` says whether a beats b beyond the noise (paired, 95%)."""
    d = _paired(exercise, pred_a, pred_b, labels)
    return Verdict(exercise, bool(answer) == d.better(), f"{what}: {d}; {'beyond' if d.better() else 'not beyond'} the noise.")


def _beats_check(exercise_id: str, a: str, b: str, what: str) -> None:
    """Register a check of whether the predictions passed as `a` beat those passed as `b` beyond the noise."""
    def check_beats(exercise: str, answer: Any, *, labels: Any = None, **preds: Any) -> Verdict:
        if set(preds) != {a, b}:
            raise TypeError(f"exercise {exercise} takes {a}=, {b}= and labels=, not {', '.join(sorted(preds))}")
        missing = [name for name in (a, b) if preds[name] is None]
        if missing:
            raise ValueError(f"exercise {exercise}: pass your predictions as {' and '.join(missing)}, as the cell shows")
        return _beats(exercise, answer, preds[a], preds[b], labels, what)

    CHECKS[exercise_id] = check_beats


def _paired(name: str, pred_a: Any, pred_b: Any, labels: Any) -> Any:
    """compare(a, b) with an error that names the exercise's inputs when they are missing."""
    from edgehelpers.accuracy import compare

    if pred_a is None or pred_b is None or labels is None:
        raise ValueError(f"exercise {name} needs both prediction arrays and the labels: pass them as the cell shows")
    return compare(pred_a, pred_b, labels)


# ---------------------------------------------------------------------------------------------
# chapter 1


@_exercise("1.1")
def _all_cores(exercise: str, answer: Any, *, rooflines: Mapping[int, Any]) -> Verdict:
    """Which ceiling grew more with all cores: bandwidth or compute?"""
    one, all_ = rooflines[min(rooflines)], rooflines[max(rooflines)]
    bw, fp = all_.bandwidth_gbs / one.bandwidth_gbs, all_.peaks["FP32"] / one.peaks["FP32"]
    given = _choice(answer, ("bandwidth", "compute"))
    facts = f"bandwidth grew {bw:.2f}x, the FP32 peak {fp:.2f}x"
    if abs(bw - fp) / max(bw, fp) < 0.05:
        return Verdict(exercise, True, f"{facts}: about equally on this machine, so either answer holds here.")
    truth = "bandwidth" if bw > fp else "compute"
    return Verdict(exercise, given == truth, f"{facts}, so {truth} grew more.")


@_exercise("1.2")
def _minilm_ridge(exercise: str, answer: Any, *, enc: Mapping[int, Mapping[str, Any]], roof: Any) -> Verdict:
    """The shortest measured sequence length at which MiniLM is compute-bound."""
    bound = [n for n in sorted(enc) if roof.bound(enc[n]["intensity"]) == "compute"]
    if not bound:
        return Verdict(exercise, int(answer) == -1, "MiniLM is memory-bound at every measured length here (answer -1).")
    truth = bound[0]
    return Verdict(exercise, int(answer) == truth, f"the shortest measured compute-bound length is {truth} tokens "
                   f"(intensity {enc[truth]['intensity']:.1f} FLOP/B against a ridge of {roof.ridge('FP32'):.1f}).")


@_exercise("1.3")
def _bf16_floor(exercise: str, answer: Any, *, weight_bytes: int, roof: Any) -> Verdict:
    """The bandwidth floor of a BF16 decode step on one core, in ms."""
    truth = weight_bytes / 2 / (roof.bandwidth_gbs * 1e9) * 1e3
    return Verdict(exercise, _close(answer, truth, 0.02), f"BF16 halves the {weight_bytes / 1e6:.0f} MB of weights; at "
                   f"{roof.bandwidth_gbs:.1f} GB/s streaming the rest takes {truth:.1f} ms, the floor of one step.")


@_exercise("1.4")
def _tail_drift(exercise: str, answer: Any, *, windows: Sequence[Mapping[str, Any]]) -> Verdict:
    """The ratio of the last window's p95 to the first window's p95."""
    truth = windows[-1]["stats"].p95_ms / windows[0]["stats"].p95_ms
    return Verdict(exercise, _close(answer, truth, 0.01), f"last p95 / first p95 = {truth:.3f} "
                   f"({'a slowdown' if truth > 1.1 else 'no slowdown'} beyond 10%).")


# ---------------------------------------------------------------------------------------------
# chapter 2


@_exercise("2.1")
def _per_tensor_without_ffn(exercise: str, answer: Any, *, logits: Any, reference: Any) -> Verdict:
    """The agreement with FP32 of per-tensor INT8 with the six FFN output layers left in FP32."""
    if logits is None:
        raise ValueError("pass logits= (your model's test logits) and reference= (FP32's, ref_test)")
    truth = float((np.asarray(logits).argmax(1) == np.asarray(reference).argmax(1)).mean())
    return Verdict(exercise, abs(float(answer) - truth) < 1e-3, f"your model agrees with FP32 on {truth:.2%} of "
                   "the test headlines; compare it with the per-tensor and per-channel rows of 2.3.")


@_exercise("2.2")
def _reduce_range(exercise: str, answer: Any, *, preds_reduce: Any, preds_full: Any, labels: Any) -> Verdict:
    """Is reduce_range INT8 no worse than full-range INT8 by one point?"""
    d = _paired(exercise, preds_reduce, preds_full, labels)
    truth = d.no_worse_than(0.01)
    return Verdict(exercise, bool(answer) == truth, f"reduce_range - full range: {d}; at a one-point margin it is "
                   f"{'' if truth else 'not shown to be '}no worse.")


_beats_check("2.3", "preds_qat", "preds_ptq", "QAT - PTQ at 4 bits")  # does QAT at 4 bits beat 4-bit PTQ?


@_exercise("2.4")
def _largest_factor(exercise: str, answer: Any, *, factors: Sequence[float]) -> Verdict:
    """Which factor of the speed-up is largest at 128 tokens: runtime, fusion or int8?"""
    names = ("runtime", "fusion", "int8")
    given = _choice(answer, names)
    truth = names[int(np.argmax(factors))]
    return Verdict(exercise, given == truth, "factors: " + ", ".join(f"{n} {f:.2f}x" for n, f in zip(names, factors))
                   + f"; the largest is {truth}.")


# ---------------------------------------------------------------------------------------------
# chapter 3


@_exercise("3.1")
def _first_layer(exercise: str, answer: Any, *, preds_first: Any, preds_last: Any, labels: Any) -> Verdict:
    """The paired accuracy difference, in points, of the first-layer student minus the last-layer one."""
    d = _paired(exercise, preds_first, preds_last, labels)
    lesson = ("A fine-tuned encoder keeps much of its task knowledge in the upper layers, which the first layer "
              "lacks." if d.worse() else "Here the first layer is not worse beyond the noise: look at how far the "
              "upper layers moved during fine-tuning.")
    return Verdict(exercise, abs(float(answer) - 100 * d.diff) < 0.01, f"first - last layer: {d}. {lesson}")


@_exercise("3.2")
def _seed_spread(exercise: str, answer: Any, *, accuracies: Sequence[float], n: int) -> Verdict:
    """Is the seed-to-seed spread (max - min) larger than one accuracy's 95% interval half-width?"""
    from edgehelpers.accuracy import wilson_interval

    if len(accuracies) < 2:
        raise ValueError("pass the test accuracies (fractions) of at least two seeds")
    mean = float(np.mean(accuracies))
    low, high = wilson_interval(round(mean * n), n)
    spread, half = max(accuracies) - min(accuracies), (high - low) / 2
    truth = spread > half
    return Verdict(exercise, bool(answer) == truth, f"spread {100 * spread:.2f} pt against a half-width of "
                   f"{100 * half:.2f} pt: seeds matter {'more' if truth else 'less'} than the test set's sampling noise.")


# does the distilled 1-layer student beat the teacher-labelled TF-IDF model?
_beats_check("3.3", "preds_student", "preds_tfidf", "student - TF-IDF")


# ---------------------------------------------------------------------------------------------
# chapter 4


@_exercise("4.3")
def _two_four(exercise: str, answer: Any, *, weight: Any) -> Verdict:
    """A 2:4 mask for `weight`: in every group of 4 along the input dimension, keep the 2 largest |w|."""
    import torch

    w = torch.as_tensor(weight).detach()
    mask = torch.as_tensor(answer)
    if mask.shape != w.shape:
        return Verdict(exercise, False, f"the mask has shape {tuple(mask.shape)}, the weight {tuple(w.shape)}.")
    groups, keep = w.abs().reshape(w.shape[0], -1, 4), mask.reshape(w.shape[0], -1, 4).bool()
    if not bool((keep.sum(-1) == 2).all()):
        return Verdict(exercise, False, "every group of 4 consecutive weights must keep exactly 2.")
    best = torch.zeros_like(keep).scatter_(-1, groups.topk(2, dim=-1).indices, True)
    kept_mass, best_mass = float((groups * keep).sum()), float((groups * best).sum())
    return Verdict(exercise, _close(kept_mass, best_mass, 1e-6), "a valid 2:4 pattern" + (
        " that keeps the two largest weights of every group." if _close(kept_mass, best_mass, 1e-6)
        else f", but it keeps {kept_mass / best_mass:.1%} of the magnitude the two largest per group would."))


@_exercise("4.1")
def _csr_break_even(exercise: str, answer: Any, *, speedup: Mapping[float, float]) -> Verdict:
    """The lowest measured sparsity at which the CSR kernel beats the dense one (-1 if never)."""
    wins = [s for s in sorted(speedup) if speedup[s] > 1.0]
    truth = wins[0] if wins else -1
    return Verdict(exercise, _close(answer, truth, 1e-6), f"CSR beats dense from {truth:.0%} sparsity on." if wins
                   else "CSR never beats dense here (answer -1).")


@_exercise("4.2")
def _bitmask_bytes(exercise: str, answer: Any, *, weights: Sequence[Any]) -> Verdict:
    """Bytes of a bitmask (1 bit per weight) plus the FP32 non-zero values of `weights`."""
    truth = sum(math.ceil(int(w.numel()) / 8) + 4 * int((w != 0).sum()) for w in weights)
    dense = sum(4 * int(w.numel()) for w in weights)
    return Verdict(exercise, _close(answer, truth, 0.01), f"{truth / 1e6:.2f} MB against {dense / 1e6:.2f} MB dense "
                   f"({truth / dense:.0%}).")


@_exercise("5.1")
def _kv_bytes(exercise: str, answer: Any, *, layers: int, kv_heads: int, head_dim: int, tokens: int,
              bytes_per_value: int) -> Verdict:
    """Bytes of a KV cache: K and V, for every layer, KV head, head dimension and token."""
    truth = 2 * layers * kv_heads * head_dim * tokens * bytes_per_value
    return Verdict(exercise, _close(answer, truth, 0.01), f"2 x {layers} layers x {kv_heads} KV heads x {head_dim} "
                   f"dims x {tokens} tokens x {bytes_per_value} bytes = {truth:,} bytes ({truth / 2**20:.1f} MiB).")


@_exercise("5.2")
def _causal_window(exercise: str, answer: Any) -> Verdict:
    """A function (n, w) -> (n, n) bool mask: token i sees j when i - w < j <= i."""
    import torch

    if not callable(answer):
        raise ValueError("pass your function itself as the answer: answer = causal_window")
    for n, w in [(1, 1), (7, 1), (7, 3), (10, 4), (9, 20)]:
        pos = torch.arange(n)
        offset = pos[:, None] - pos[None, :]
        truth = (offset >= 0) & (offset < w)
        got = torch.as_tensor(answer(n, w))
        if tuple(got.shape) != (n, n):
            return Verdict(exercise, False, f"for n={n}, w={w} the mask should be ({n}, {n}), got {tuple(got.shape)}.")
        if not torch.equal(got.bool(), truth):
            bad = (got.bool() != truth).nonzero()[0].tolist()
            return Verdict(exercise, False, f"for n={n}, w={w}, entry (i={bad[0]}, j={bad[1]}) should be "
                           f"{bool(truth[bad[0], bad[1]])}: token i sees j when i - w < j <= i.")
    return Verdict(exercise, True, "each token sees itself and the w - 1 tokens before it, never a later one.")


# does the window with one global token beat the plain window?
_beats_check("5.3", "pred_global", "pred_window", "window + global [CLS] vs window")


@_exercise("6.1")
def _static_length(exercise: str, answer: Any, *, padded_ms: float, exact_ms: float) -> Verdict:
    """How many times faster the exact-length static model is than the padded one, on one headline."""
    if not (padded_ms > 0 and exact_ms > 0):
        raise ValueError("pass the two measured p50 latencies in ms (padded_ms, exact_ms), both > 0")
    truth = padded_ms / exact_ms
    return Verdict(exercise, _close(answer, truth, 0.10), f"{padded_ms:.2f} ms padded / {exact_ms:.2f} ms exact = "
                   f"{truth:.2f}x: what padding to the static length costs on this headline.")


@_exercise("6.2")
def _activation_sign(exercise: str, answer: Any, *, u8_ms: float, s8_ms: float) -> Verdict:
    """Which activation type ran faster in ORT's static INT8 (QDQ) model: "u8" or "s8"."""
    truth = "u8" if u8_ms < s8_ms else "s8"
    given = _choice(answer, ("u8", "s8"))
    return Verdict(exercise, given == truth, f"u8 activations {u8_ms:.2f} ms, s8 {s8_ms:.2f} ms. The CPU's INT8 "
                   "dot-product instructions (VNNI) multiply unsigned by signed 8-bit numbers; s8 x s8 needs extra "
                   "work or another kernel.")


@_exercise("6.3")
def _new_fusions(exercise: str, answer: Any, *, basic: Mapping[str, int], extended: Mapping[str, int]) -> Verdict:
    """The operator types present after level "extended" that level "basic" did not have."""
    truth = sorted(set(extended) - set(basic))
    given = sorted({str(a) for a in answer}) if isinstance(answer, (set, list, tuple)) else None
    return Verdict(exercise, given == truth, f"level 'extended' adds {', '.join(truth)}: each one replaces a chain "
                   "of smaller operators of the 'basic' graph.")



@_exercise("7.1")
def _attention_crossover(exercise: str, answer: Any, *, d: int, patch: int) -> Verdict:
    """(tokens, side): where a ViT block's attention FLOPs (4n²d) equal its linear layers' (24nd²)."""
    if not (isinstance(answer, (tuple, list)) and len(answer) == 2):
        raise ValueError("answer a pair (tokens, side in pixels), e.g. (1000, 512)")
    tokens, side = 6 * d, patch * math.sqrt(6 * d)
    ok = _close(answer[0], tokens, 0.02) and _close(answer[1], side, 0.05)
    return Verdict(exercise, ok, f"4n²d = 24nd² at n = 6d = {tokens} tokens, a square grid of "
                   f"{math.sqrt(tokens):.0f} patches of {patch} px: about {side:.0f} px per side.")


@_exercise("7.2")
def _most_efficient(exercise: str, answer: Any, *, achieved: Mapping[str, float]) -> Verdict:
    """The zoo model with the highest measured GFLOP/s on one thread."""
    truth = max(achieved, key=achieved.get)
    names = {name.lower(): name for name in achieved}
    given = names.get(str(answer).strip().lower())
    if given is None:
        raise ValueError(f"answer one of {', '.join(repr(n) for n in achieved)}, not {answer!r}")
    return Verdict(exercise, given == truth, f"{truth} reached {achieved[truth]:.0f} GFLOP/s on one thread here; "
                   f"{given} {achieved[given]:.0f}.")


@_exercise("7.3")
def _tokens_left(exercise: str, answer: Any, *, counts: Sequence[int]) -> Verdict:
    """How many tokens leave the last block: `counts` is token_counts of the merged model."""
    if not counts:
        raise ValueError("pass counts=token_counts(model, images) for the merged model")
    truth = int(counts[-1])
    return Verdict(exercise, answer == truth, f"the blocks leave {list(counts)} tokens: {truth} reach the end.")


@_exercise("7.4")
def _head_params(exercise: str, answer: Any, *, model: Any) -> Verdict:
    """The parameters one attention head of a timm ViT block costs, measured by pruning it from a copy."""
    import copy

    from edgehelpers.prune import prune_vit_heads
    from edgehelpers.size import param_count

    pruned = copy.deepcopy(model)
    prune_vit_heads(pruned, {0: [0]})
    truth = param_count(model) - param_count(pruned)
    return Verdict(exercise, answer == truth, f"removing head 0 of block 0 removes {truth:,} parameters "
                   f"({100 * truth / param_count(model):.1f}% of the model).")


@_exercise("7.5")
def _sensitive_block(exercise: str, answer: Any, *, agreement: Mapping[int, float]) -> Verdict:
    """The block whose INT8 quantization alone changes the most predictions (lowest agreement)."""
    if not agreement:
        raise ValueError("pass agreement={block: agreement with FP32} from the sensitivity scan")
    truth = min(agreement, key=agreement.get)
    return Verdict(exercise, answer == truth, f"block {truth}: {100 * agreement[truth]:.2f}% agreement with FP32 "
                   f"when it alone is INT8.")


@_exercise("7.6")
def _cnn_static_int8(exercise: str, answer: Any, *, pred_int8: Any, pred_fp32: Any, labels: Any) -> Verdict:
    """Whether the CNN's static INT8 export keeps accuracy within one point of FP32 (paired, 95%)."""
    if pred_int8 is None:
        raise ValueError("pass your INT8 model's test predictions as pred_int8")
    if not isinstance(answer, bool):
        raise ValueError(f"answer True or False, not {answer!r}")
    diff = _paired("INT8 - FP32", pred_int8, pred_fp32, labels)
    truth = diff.no_worse_than(0.01)
    return Verdict(exercise, answer == truth, f"INT8 - FP32: {100 * diff.diff:+.2f} points (95% CI "
                   f"{100 * diff.low:+.2f} to {100 * diff.high:+.2f}): "
                   f"{'within' if truth else 'not shown to be within'} one point.")

@_exercise("8.1")
def _kept_with_bengali(exercise: str, answer: Any, *, tokenizer: Any, texts: Sequence[str]) -> Verdict:
    """How many pieces the trimming rule keeps for `texts` (the training text plus Bengali)."""
    from edgehelpers.indic import kept_pieces_for

    truth = len(kept_pieces_for(tokenizer, texts))
    return Verdict(exercise, int(answer) == truth, f"{truth:,} pieces: every piece the text uses, plus the "
                   "fallback pieces (indic.fallback_pieces).")


@_exercise("8.2")
def _one_language(exercise: str, answer: Any, *, tokenizer: Any, texts: Sequence[str], hidden: int) -> Verdict:
    """Word-embedding parameters left when only `texts` choose the kept pieces."""
    from edgehelpers.indic import kept_pieces_for

    pieces = len(kept_pieces_for(tokenizer, texts))
    truth = pieces * hidden
    return Verdict(exercise, int(answer) == truth, f"{pieces:,} pieces x {hidden} = {truth / 1e6:.2f} M parameters "
                   f"({4 * truth / 1e6:.1f} MB in FP32, {truth / 1e6:.1f} MB in 8 bits).")


@_exercise("8.3")
def _four_bit_everything(exercise: str, answer: Any, *, q4_path: Any, pred_q4: Any, int8_path: Any, pred_int8: Any,
                         labels: Any) -> Verdict:
    """Whether the 4-bit file is smaller than the INT8 one and within 1 point of its accuracy (paired)."""
    from edgehelpers.size import size_on_disk

    if q4_path is None or pred_q4 is None:
        raise ValueError("pass q4_path= (your 4-bit ONNX file) and pred_q4= (its predictions on the test texts)")
    q4_bytes, int8_bytes = size_on_disk(q4_path), size_on_disk(int8_path)
    d = _paired(exercise, pred_q4, pred_int8, labels)
    truth = q4_bytes < int8_bytes and d.no_worse_than(0.01)
    return Verdict(exercise, bool(answer) == truth, f"4-bit {q4_bytes / 1e6:.1f} MB against INT8 {int8_bytes / 1e6:.1f} MB; "
                   f"accuracy 4-bit minus INT8 {d}: {d.verdict(0.01)}.")


# ---------------------------------------------------------------------------------------------
# chapter 9


@_exercise("9.1")
def _biggest_step(exercise: str, answer: Any, *, step_ms: Mapping[str, float], order: Sequence[str]) -> Verdict:
    """The pipeline step that saved the most milliseconds (each step against the one before)."""
    saved = {b: step_ms[a] - step_ms[b] for a, b in zip(order, order[1:])}
    names = {name.lower(): name for name in saved}
    given = names.get(str(answer).strip().lower())
    if given is None:
        raise ValueError(f"answer one of {', '.join(repr(n) for n in saved)}, not {answer!r}")
    truth = max(saved, key=saved.get)
    return Verdict(exercise, given == truth, f"{truth} saved {saved[truth]:.2f} ms here; {given} {saved[given]:.2f} ms.")


@_exercise("9.2")
def _harder_pruning(exercise: str, answer: Any, *, pred: Any, pred_teacher: Any, labels: Any, margin: float) -> Verdict:
    """Whether the harder-pruned model stays within the chapter's margin of the teacher."""
    d = _paired(exercise, pred, pred_teacher, labels)
    truth = d.no_worse_than(margin)
    return Verdict(exercise, bool(answer) == truth, f"vs the teacher: {d}; {d.verdict(margin)}.")


@_exercise("9.6")
def _length_factor(exercise: str, answer: Any, *, p50_ms: Mapping[str, float], short: str, long: str) -> Verdict:
    """How much slower the final model is at the long input than at the short one (within 5%)."""
    truth = p50_ms[long] / p50_ms[short]
    return Verdict(exercise, _close(answer, truth, 0.05), f"{p50_ms[long]:.2f} ms / {p50_ms[short]:.2f} ms = {truth:.2f}x.")


@_exercise("9.3")
def _which_order(exercise: str, answer: Any, *, pred_prune_first: Any, pred_quantize_first: Any, labels: Any) -> Verdict:
    """Which order kept more accuracy beyond the noise, or a tie."""
    d = _paired(exercise, pred_prune_first, pred_quantize_first, labels)
    truth = "prune first" if d.better() else "quantize first" if d.worse() else "tie"
    given = _choice(answer, ("prune first", "quantize first", "tie"))
    return Verdict(exercise, given == truth, f"prune first minus quantize first: {d}, so: {truth}.")


@_exercise("9.4")
def _late_p99(exercise: str, answer: Any, *, run: Any) -> Verdict:
    """The p99 of the last 10 s of a sustained run (within 5%)."""
    truth = run.span(-10, 0).percentile(99)
    return Verdict(exercise, _close(answer, truth, 0.05), f"the last 10 s had p99 {truth:.2f} ms.")


@_exercise("9.5")
def _sdot_factor(exercise: str, answer: Any, *, slow: float, fast: float) -> Verdict:
    """The ratio of two roofline estimates (within 5%)."""
    truth = slow / fast
    return Verdict(exercise, _close(answer, truth, 0.05), f"{slow:.2f} ms / {fast:.2f} ms = {truth:.2f}x.")


@_exercise("9.7")
def _threads_pay(exercise: str, answer: Any, *, speedup: Mapping[int, float]) -> Verdict:
    """The sweep length with the largest multi-thread speed-up in the page."""
    truth = max(speedup, key=speedup.get)
    listed = ", ".join(f"{n} tok {s:.2f}x" for n, s in speedup.items())
    return Verdict(exercise, answer == truth, f"speed-ups: {listed}; the largest at {truth} tokens.")


@_exercise("9.8")
def _fp32_page(exercise: str, answer: Any, *, int8_page: int, work: Any) -> Verdict:
    """FP32 page weight / INT8 page weight, from the bundle the solution builds (within 2%)."""
    import json
    from pathlib import Path

    manifest = Path(work) / "web-fp32" / "models.json"
    if not manifest.is_file():
        return Verdict(exercise, False, f"no FP32 bundle at {manifest.parent}: build it as the exercise says.")
    from edgehelpers.webbundle import page_weight

    truth = page_weight(json.loads(manifest.read_text(encoding="utf-8")), "indic")["total"] / int8_page
    return Verdict(exercise, _close(answer, truth, 0.02), f"the FP32 page is {truth:.2f}x the INT8 one.")


@_exercise("9.9")
def _opt_disabled(exercise: str, answer: Any, *, disabled_ms: float, default_ms: float) -> Verdict:
    """Whether the page is over 10% slower with graph optimisation off."""
    truth = disabled_ms > 1.1 * default_ms
    return Verdict(exercise, bool(answer) == truth,
                   f"{disabled_ms:.2f} ms with optimisation off, {default_ms:.2f} ms with it on: {disabled_ms / default_ms:.2f}x.")


@_exercise("10.1")
def _kv_context(exercise: str, answer: Any, *, shape: Any, budget_bytes: int) -> Verdict:
    """Tokens of FP16 KV cache that fit in `budget_bytes` (exact whole number)."""
    truth = int(budget_bytes // shape.kv_bytes_per_token(2))
    return Verdict(exercise, int(answer) == truth,
                   f"{shape.kv_bytes_per_token(2):,.0f} bytes per token: {truth:,} tokens fit in {budget_bytes:,} bytes.")


@_exercise("10.2")
def _fastest_device(exercise: str, answer: Any, *, rates: Mapping[str, float]) -> Verdict:
    """The device with the highest estimated decode tokens/s."""
    truth = max(rates, key=rates.__getitem__)
    return Verdict(exercise, str(answer) == truth, f"{truth} decodes fastest: {rates[truth]:.0f} tokens/s (estimate).")


@_exercise("10.3")
def _four_vs_eight_bits(exercise: str, answer: Any, *, efficiency: float) -> Verdict:
    """4-bit / 8-bit estimated tokens/s of Llama-3.2-1B on the Raspberry Pi 5 (within 2%)."""
    from edgehelpers.devices import device
    from edgehelpers.slm import BITS_8BIT_GROUP32, LLAMA_3_2_1B, estimate_on_device

    pi5 = device("Raspberry Pi 5")
    four = estimate_on_device(LLAMA_3_2_1B, pi5.bandwidth_gbs, efficiency)
    eight = estimate_on_device(LLAMA_3_2_1B, pi5.bandwidth_gbs, efficiency, bits=BITS_8BIT_GROUP32,
                               head_bits=BITS_8BIT_GROUP32)
    truth = four.tokens_per_s / eight.tokens_per_s
    return Verdict(exercise, _close(answer, truth, 0.02),
                   f"4-bit: {four.tokens_per_s:.1f} tokens/s, 8-bit: {eight.tokens_per_s:.1f}: {truth:.2f}x.")
