"""Helpers for the book *Transformers at the Edge*: the package's map, floor by floor.

A module imports only from lower floors (tests/test_package_floors.py checks every import, at the
top of a file or inside a function), so each floor can be read, tested and changed knowing only the
floors below it. Modules are imported on demand: ``import edgehelpers`` stays light (no torch).

Floor 1: tools that need no other module
- ``machine``: the CPU, cores, ISA flags and library versions printed above every table
- ``timing``: latency percentiles, interleaved comparisons, fixed threads, latency tables
- ``accuracy``: accuracy with Wilson intervals, paired differences
- ``size``: bytes on disk and parameter counts
- ``fitting``: power-law fits for scaling plots
- ``tables``: result tables rendered in the notebook and in the book
- ``flops``: FLOPs of a forward pass, fused attention counted
- ``devices``: edge devices' published figures and roofline estimates for them
- ``attention``: tiled, linear, random-feature and sliding-window attention; swapping a model's attention
- ``tokens``: Token Merging and EViT for timm ViTs
- ``batching``: token ids in batches padded only to their longest member; the one loop that runs a
  model over many texts
- ``deps``: optional dependencies, with the pip command when one is missing
- ``quiet``: silencing the libraries' harmless noise, in one place
- ``fresh``: measuring in a fresh Python process (cold start, peak memory)
- ``webserve``: a loopback web server whose pages are cross-origin isolated (wasm threads)
- ``browser``: headless Chromium driven over WebDriver with the standard library

Floor 2: the cache, and measurements built on floor 1
- ``cache``: atomic writes, locks, and `build_once` for every cached model
- ``claims``: the prose's claims checked in code, with their margins
- ``memory``: peak resident memory of a snippet, in a fresh process
- ``roofline``: this machine's memory bandwidth and GEMM peaks
- ``sustain``: sustained load: latency, clock, temperature and energy over time
- ``profiling``: where a PyTorch forward pass spends its time, by kind of operator
- ``plots``: the book's figure style; roofline, scaling and Pareto figures
- ``onnxrt``: ONNX Runtime sessions, logits and embeddings over many texts, operator profiles
- ``prune``: sparsity, head and FFN-neuron importance and removal, movement masks
- ``e5``: multilingual-e5-small from its pip package, as a transformers model
- ``decoding``: generation measured: prefill and decode timed apart, KV-cache bytes, perplexity with
  a paired interval, greedy agreement

Floor 3: files the book reads and writes
- ``datafiles``: pinned data files from a mirror, a pip package or a download, verified by SHA-256
- ``ledger``: the JSON results ledger; its fixed fields (task, accuracy, latency, size) say what each
  row measured
- ``modelcard``: model cards written from measurements
- ``classifiers``: loading a saved classifier folder, offline (chapter 8's class included)
- ``onnx_export``: checked ONNX export of a transformers model
- ``quant``: the book's INT8 and n-bit weight recipes, and a fake quantizer matching them for QAT

Floor 4: datasets and runtimes
- ``data``: the text datasets and their clean splits
- ``images``: Fashion-MNIST, verified
- ``runtimes``: one interface over ONNX Runtime, OpenVINO, LiteRT, ExecuTorch, PyTorch and Core ML;
  the one place that feeds a model for timing (`as_callable`, `compare_at`, `threads_by_input`);
  fidelity against a reference; cold start and peak memory in a fresh process
- ``convert``: converting a classifier for each runtime
- ``vit``: a pretrained DINOv2-S and checked image inputs
- ``slm``: the packaged SmolLM2-135M (GGUF, verified) and its cached FP32 folder; decoder shapes to
  bytes per token, and device estimates

Floor 5: training, and the small language model in its runtimes
- ``train``: fine-tuning and evaluating a classifier on a text dataset
- ``baselines``: the majority class and TF-IDF + a linear model
- ``slm_runtimes``: the small language model in PyTorch/torchao, ONNX Runtime GenAI and OpenVINO GenAI
  behind one interface; their cached builds; cold start in a fresh process

Floor 6: the book's models
- ``models``: the packaged MiniLM backbone and the shared teacher, built once and cached
- ``distill``: students made from a teacher, and the distillation losses
- ``imagetrain``: a tiny ViT, a small CNN and one training loop for them

Floor 7: chapter 8's models
- ``indic``: the Indic tasks, vocabulary tools and the cached e5 teachers and students

Floor 8: the web bundle
- ``webbundle``: the offline page that runs the book's models in a browser (ONNX Runtime Web)

Floor 9: the exercises
- ``exercises``: runnable checks of the chapters' exercises

Use ``from edgehelpers import timing`` or ``from edgehelpers.timing import latency``.
"""

__version__ = "0.1.0"


# harmless start-up messages of the libraries, dropped once for the process (edgehelpers.quiet)
from edgehelpers.quiet import known_cpu_noise as _known_cpu_noise  # noqa: E402

_known_cpu_noise()


def __getattr__(name: str) -> object:
    """Import a submodule on first attribute access (`edgehelpers.timing`), keeping start-up light."""
    import importlib

    if name.startswith("_"):
        raise AttributeError(name)
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module 'edgehelpers' has no attribute {name!r}") from None
