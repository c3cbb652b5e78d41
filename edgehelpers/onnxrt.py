"""ONNX Runtime sessions with fixed threads, and logits over many texts with little padding."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .timing import InputLabel


def session(path: str | Path, threads: int = 1, *, spin: bool = True,
            disabled_optimizers: Sequence[str] = (), fixed_dims: Mapping[str, int] | None = None) -> Any:
    """A CPU InferenceSession of `path` using `threads` intra-op threads (one inter-op thread).

    spin=False stops idle worker threads from busy-waiting: slower to wake, but sessions (or PyTorch)
    timed in turn no longer steal each other's cores. fixed_dims (e.g. {"batch": 1, "seq": 32}) fixes
    named dynamic dimensions, so ORT plans for one shape, as a static-shape file does.
    """
    import onnxruntime as ort

    if not Path(path).is_file():
        raise FileNotFoundError(f"no ONNX model at {path}: export or quantize it first")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    options.log_severity_level = 3  # errors only: ORT's warnings about unused initializers are noise here
    for dim, value in (fixed_dims or {}).items():
        options.add_free_dimension_override_by_name(dim, value)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                disabled_optimizers=list(disabled_optimizers))


def ort_feed(session: Any, feed: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """What `session.run` takes for `feed`: numpy arrays by input name, in the model's order.

    The one rule set for feeding ONNX Runtime in the book: an encoder exported with token_type_ids
    gets zeros for it when the feed (a tokenizer's ids and mask) lacks it, and a tokenizer's
    token_type_ids are dropped for a model without them; any other missing or unknown input is an
    error naming what the model takes.
    """
    expected = [i.name for i in session.get_inputs()]
    if not isinstance(feed, Mapping):
        raise TypeError(f"an ONNX Runtime model needs its inputs as a dict {{input name: array}}; it takes {expected}")
    arrays = {name: np.asarray(value) for name, value in feed.items()}
    if "token_type_ids" in expected and "token_type_ids" not in arrays and "input_ids" in arrays:
        arrays["token_type_ids"] = np.zeros_like(arrays["input_ids"])
    if "token_type_ids" not in expected:
        arrays.pop("token_type_ids", None)
    missing = [n for n in expected if n not in arrays]
    extra = [n for n in arrays if n not in expected]
    if missing or extra:
        raise ValueError(f"inputs do not match the ONNX model: missing {missing}, unexpected {extra}; "
                         f"the model takes {expected}")
    return {name: arrays[name] for name in expected}


LEVELS = ("none", "basic", "extended", "all")  # ORT's graph optimisation levels, in the order they build up


def profile_ops(path: str | Path, feed: Mapping[str, np.ndarray], *, runs: int = 20, warmup: int = 5,
                level: str = "all", disabled_optimizers: Sequence[str] = (), threads: int = 1) -> Counter:
    """Mean milliseconds per run spent in each operator type, from ONNX Runtime's profiler.

    The warm-up runs in a session of its own (a profile cannot be restarted), so the trace holds only
    the `runs` timed calls; `level` is one of LEVELS. Traces are written to a temporary folder and removed.
    """
    import json
    import tempfile

    import onnxruntime as ort

    if level not in LEVELS:
        raise ValueError(f"unknown optimisation level {level!r}: choose from {LEVELS}")
    if runs < 1:
        raise ValueError("profile at least one run (runs=20 is the default)")
    if not Path(path).is_file():
        raise FileNotFoundError(f"no ONNX model at {path}: export or quantize it first")
    graph_level = {"none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
                   "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                   "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                   "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[level]
    per_op: Counter = Counter()
    with tempfile.TemporaryDirectory(prefix="ort-profile-") as folder:
        def profiled_session() -> Any:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
            opts.enable_profiling, opts.profile_file_prefix = True, str(Path(folder) / "profile")
            opts.graph_optimization_level = graph_level
            opts.log_severity_level = 3
            return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"],
                                        disabled_optimizers=list(disabled_optimizers))

        if warmup:
            sess = profiled_session()
            for _ in range(warmup):
                sess.run(None, dict(feed))
            sess.end_profiling()
        sess = profiled_session()
        for _ in range(runs):
            sess.run(None, dict(feed))
        trace = Path(sess.end_profiling())
        for event in json.loads(trace.read_text(encoding="utf-8")):
            if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
                per_op[event["args"]["op_name"]] += event["dur"] / 1e3 / runs
    return per_op


def fixed_inputs(tokenizer: Any, seq_len: int, batch: int = 1, text: str = "a headline") -> dict[str, np.ndarray]:
    """int64 ids and mask of `batch` rows padded to exactly `seq_len` tokens: the benchmark input."""
    enc = tokenizer([text] * batch, padding="max_length", truncation=True, max_length=seq_len, return_tensors="np")
    return {"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": enc["attention_mask"].astype(np.int64)}


def real_length_inputs(tokenizer: Any, texts: Sequence[str], quantile: float,
                       max_length: int = 128) -> tuple[int, dict[str, np.ndarray]]:
    """(tokens, int64 ids and mask) of one real text whose length is the `quantile` (0-100) of `texts`.

    Batch 1 and no padding: what an app feeds its model for one typical (p50) or long (p95) input.
    """
    if len(texts) == 0:
        raise ValueError("no texts to take a length from: pass the evaluation texts")
    if not 0 <= quantile <= 100:
        raise ValueError(f"quantile is a percentile from 0 to 100 (e.g. 50 or 95), got {quantile}")
    lengths = np.array([len(ids) for ids in tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]])
    target = int(np.percentile(lengths, quantile, method="nearest"))  # a length some text really has
    text = texts[int(np.flatnonzero(lengths == target)[0])]
    enc = tokenizer([text], truncation=True, max_length=max_length, return_tensors="np")
    return target, {"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": enc["attention_mask"].astype(np.int64)}


def benchmark_inputs(tokenizer: Any, texts: Sequence[str], *, quantiles: Sequence[float] = (50, 95),
                     padded: int | None = 128) -> dict[str, dict[str, np.ndarray]]:
    """The book's latency inputs, batch 1: real texts at the given length percentiles, and `padded` tokens.

    Keys name each input with its length, e.g. {"p50 (22 tok)": ..., "p95 (31 tok)": ..., "128 tok": ...}:
    `InputLabel`s, so the ledger reads each length from its label rather than parsing the text.
    """
    inputs = {}
    for q in quantiles:
        tokens, feed = real_length_inputs(tokenizer, texts, q)
        inputs[InputLabel.percentile(q, tokens)] = feed
    if padded:
        inputs[InputLabel.padded(padded)] = fixed_inputs(tokenizer, padded)
    return inputs


def _run_batched(sess: Any, tokenizer: Any, texts: Sequence[str], batch_size: int, max_length: int,
                 reduce: Any) -> np.ndarray:
    """reduce(outputs, mask) of every length-sorted batch, put back in the order of `texts`."""
    from edgehelpers.batching import batched_outputs

    def run(batch: Any) -> np.ndarray:
        feed = ort_feed(sess, {k: v.numpy().astype(np.int64) for k, v in batch.items()})
        return reduce(sess.run(None, feed), feed["attention_mask"])

    return batched_outputs(run, tokenizer, texts, batch_size=batch_size, max_length=max_length)


def onnx_logits(sess: Any, tokenizer: Any, texts: Sequence[str], *, batch_size: int = 64,
                max_length: int = 64) -> np.ndarray:
    """The first output (logits) of `sess` for every text, in the order of `texts`."""
    return _run_batched(sess, tokenizer, texts, batch_size, max_length, lambda outs, mask: outs[0])


def onnx_embeddings(sess: Any, tokenizer: Any, texts: Sequence[str], *, batch_size: int = 64,
                    max_length: int = 128) -> np.ndarray:
    """Mean-pooled, L2-normalised sentence embeddings from an encoder's token states (output 0)."""
    def mean_pool(outs: list[np.ndarray], mask: np.ndarray) -> np.ndarray:
        weights = mask[..., None].astype(np.float32)
        pooled = (outs[0] * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    return _run_batched(sess, tokenizer, texts, batch_size, max_length, mean_pool)
