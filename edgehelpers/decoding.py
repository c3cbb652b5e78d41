"""Generating text, measured: prefill and decode timed apart, the KV cache's size, perplexity, agreement.

A decoder answers in two phases with different bottlenecks: *prefill* runs the whole prompt at once
(matrix-matrix, compute-bound), *decode* makes one token per step (matrix-vector, every weight read
once per token: bandwidth-bound). One timed `generate` call mixes them, so the helpers here time
them apart for any runtime given as two functions: `prefill()` and `step(state)`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from edgehelpers.timing import LatencyStats, threads as fixed_threads


@dataclass(frozen=True)
class PrefillDecode:
    """Prefill latency of a prompt and decode latency per generated token, at fixed threads."""

    prompt_tokens: int
    new_tokens: int
    prefill: LatencyStats  # one sample per run
    decode: LatencyStats  # one sample per generated token, all runs pooled
    threads: int | None = None

    @property
    def tokens_per_s(self) -> float:
        """Decode speed at the p50 step."""
        return 1000.0 / self.decode.p50_ms

    def __str__(self) -> str:
        return (f"prompt {self.prompt_tokens} tok: prefill p50 {self.prefill.p50_ms:.1f} ms; decode p50 "
                f"{self.decode.p50_ms:.2f} ms/token ({self.tokens_per_s:.1f} tok/s), p95 {self.decode.spread()} ms")


def time_prefill_decode(prefill: Callable[[], Any], step: Callable[[Any], Any], *, prompt_tokens: int,
                        new_tokens: int = 64, runs: int = 3, warmup: int = 1,
                        threads: int | None = None, set_torch_threads: bool = True) -> PrefillDecode:
    """Time `prefill()` (returns a state) and `new_tokens` calls of `state = step(state)`, `runs` times.

    Warm-up runs (whole prefill + decode) are not timed. `threads` labels the result and, with
    `set_torch_threads`, is the thread count torch runs at; other runtimes fix theirs when they load.
    """
    if runs < 1 or warmup < 0 or new_tokens < 1:
        raise ValueError(f"need runs >= 1, warmup >= 0 and new_tokens >= 1; got {runs}, {warmup}, {new_tokens}")
    pre: list[float] = []
    steps: list[float] = []

    def one(record: bool) -> None:
        start = time.perf_counter()
        state = prefill()
        last = time.perf_counter()
        prefill_ms, step_ms = (last - start) * 1e3, []
        for _ in range(new_tokens):
            state = step(state)
            now = time.perf_counter()
            step_ms.append((now - last) * 1e3)
            last = now
        if record:
            pre.append(prefill_ms)
            steps.extend(step_ms)

    def loop() -> None:
        for i in range(warmup + runs):
            one(record=i >= warmup)

    if threads is None or not set_torch_threads:
        loop()
    else:
        with fixed_threads(threads):
            loop()
    return PrefillDecode(prompt_tokens, new_tokens, LatencyStats.from_samples(pre, threads),
                         LatencyStats.from_samples(steps, threads), threads)


def torch_steps(model: Any, input_ids: Any) -> tuple[Callable[[], Any], Callable[[Any], Any]]:
    """`prefill` and `step` functions for a transformers causal LM, greedy, with its KV cache (DynamicCache)."""
    import torch
    from transformers import DynamicCache

    def prefill() -> Any:
        with torch.inference_mode():
            out = model(input_ids=input_ids, past_key_values=DynamicCache(config=model.config), use_cache=True)
        return out.past_key_values, out.logits[:, -1:].argmax(-1)

    def step(state: Any) -> Any:
        cache, token = state
        with torch.inference_mode():
            out = model(input_ids=token, past_key_values=cache, use_cache=True)
        return out.past_key_values, out.logits[:, -1:].argmax(-1)

    return prefill, step


def cache_bytes(cache: Any) -> int:
    """Bytes held by a transformers KV cache: every layer's key and value tensors."""
    layers = getattr(cache, "layers", None)
    if layers is not None:
        tensors = [t for layer in layers for t in (getattr(layer, "keys", None), getattr(layer, "values", None))]
    else:  # older caches: key_cache / value_cache lists
        tensors = list(getattr(cache, "key_cache", [])) + list(getattr(cache, "value_cache", []))
    return sum(t.numel() * t.element_size() for t in tensors if t is not None and hasattr(t, "numel"))


def greedy_tokens(model: Any, input_ids: Any, new_tokens: int) -> list[int]:
    """The first `new_tokens` greedy tokens after `input_ids` (EOS does not stop it), from a torch model."""
    prefill, step = torch_steps(model, input_ids)
    state = prefill()
    out = [int(state[1])]
    for _ in range(new_tokens - 1):
        state = step(state)
        out.append(int(state[1]))
    return out


def agreement(reference: Sequence[int], other: Sequence[int], n: int = 32) -> float:
    """Share of the first `n` positions where `other` has the same token as `reference`."""
    if n < 1 or len(reference) < n:
        raise ValueError(f"the reference needs at least n={n} tokens, it has {len(reference)}")
    return sum(1 for i in range(n) if i < len(other) and int(other[i]) == int(reference[i])) / n


def first_difference(reference: Sequence[int], other: Sequence[int]) -> int:
    """Index of the first token where the two differ (the shorter length if one is a prefix of the other)."""
    for i, (a, b) in enumerate(zip(reference, other)):
        if int(a) != int(b):
            return i
    return min(len(reference), len(other))


def token_windows(token_ids: Sequence[int], window: int, count: int) -> list[list[int]]:
    """The first `count` non-overlapping windows of `window` tokens of a token stream."""
    if window < 2:
        raise ValueError(f"a window needs at least 2 tokens (one to predict from), got {window}")
    have = len(token_ids) // window
    if have < count:
        raise ValueError(f"the text has {len(token_ids)} tokens: {have} windows of {window}, {count} asked; "
                         "give more text or ask for fewer windows")
    return [list(token_ids[i * window:(i + 1) * window]) for i in range(count)]


def window_nll(logits: np.ndarray, ids: Sequence[int]) -> float:
    """Mean negative log-likelihood (nats) of tokens 1..n-1 given logits [n, vocab] for the window `ids`."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] != len(ids):
        raise ValueError(f"logits must be [len(ids), vocab] = [{len(ids)}, V], got {logits.shape}")
    shifted = logits[:-1]
    top = shifted.max(axis=1, keepdims=True)
    log_norm = (top + np.log(np.exp(shifted - top).sum(axis=1, keepdims=True)))[:, 0]
    target = np.asarray(ids[1:])
    return float(np.mean(log_norm - shifted[np.arange(len(target)), target]))


def nll_per_window(logits_fn: Callable[[list[int]], np.ndarray], windows: Sequence[Sequence[int]],
                   progress: bool = False, desc: str = "perplexity") -> np.ndarray:
    """Each window's mean NLL, from `logits_fn(ids) -> [len(ids), vocab]` logits of any runtime."""
    if not windows:
        raise ValueError("no windows to score: token_windows() makes them")
    items: Any = windows
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(windows, desc=desc, leave=False)
    return np.array([window_nll(logits_fn(list(w)), w) for w in items])


def torch_logits(model: Any) -> Callable[[list[int]], np.ndarray]:
    """`logits_fn` for a torch causal LM: one forward pass over the window, no cache."""
    import torch

    def fn(ids: list[int]) -> np.ndarray:
        with torch.inference_mode():
            return model(input_ids=torch.tensor([ids]), use_cache=False).logits[0].float().numpy()

    return fn


def perplexity(nll: Sequence[float]) -> float:
    """exp(mean NLL) over equal-length windows."""
    return float(math.exp(float(np.mean(nll))))


@dataclass(frozen=True)
class PerplexityChange:
    """A variant's perplexity over the reference's, with a paired bootstrap 95% interval over windows."""

    ratio: float
    low: float
    high: float

    def within(self, margin: float) -> bool:
        """True if the whole interval is below 1 + margin (margin fixed before measuring)."""
        return self.high <= 1 + margin

    def __str__(self) -> str:
        return f"{(self.ratio - 1) * 100:+.1f}% [{(self.low - 1) * 100:+.1f}%, {(self.high - 1) * 100:+.1f}%]"


def perplexity_change(reference_nll: Sequence[float], nll: Sequence[float], *, resamples: int = 2000,
                      seed: int = 0) -> PerplexityChange:
    """Perplexity ratio variant / reference, same windows, with a paired bootstrap 95% interval."""
    ref, var = np.asarray(reference_nll, float), np.asarray(nll, float)
    if ref.shape != var.shape or ref.size < 2:
        raise ValueError(f"need the same >= 2 windows scored by both, got {ref.shape} and {var.shape}")
    diff = var - ref
    rng = np.random.default_rng(seed)
    boots = diff[rng.integers(0, diff.size, size=(resamples, diff.size))].mean(axis=1)
    low, high = np.percentile(boots, [2.5, 97.5])
    return PerplexityChange(float(np.exp(diff.mean())), float(np.exp(low)), float(np.exp(high)))
