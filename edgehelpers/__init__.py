"""Helpers for the book *Transformers at the Edge*.

Modules are imported on demand, so ``import edgehelpers`` stays light (it never imports torch):

- ``machine``: CPU, cores, ISA flags, library versions, and the banner above every table
- ``timing``: latency percentiles, interleaved comparisons, threads, runtime adapters
- ``size``: bytes on disk and parameter counts
- ``memory``: peak resident memory of a snippet, in a fresh process
- ``accuracy``: accuracy with Wilson intervals, paired differences
- ``fitting``: power-law fits for scaling plots
- ``ledger``: the JSON results ledger every chapter appends to
- ``plots``: roofline, scaling and Pareto figures
- ``onnx_export``, ``onnxrt``: checked ONNX export; ORT sessions, logits and embeddings over many texts
- ``runtimes``: one interface (load, run, name, size) over ONNX Runtime, OpenVINO, LiteRT, ExecuTorch,
  PyTorch and Core ML; fidelity against a reference; cold start and peak memory in a fresh process
- ``quant``: the book's INT8 and n-bit weight recipes, and a fake quantizer matching them for QAT
- ``distill``: students made from a teacher, and the distillation losses
- ``prune``: sparsity, head and FFN-neuron importance and removal, movement-pruning masks
- ``attention``: tiled, linear, random-feature and sliding-window attention; swapping a model's attention
- ``flops``: FLOPs of a forward pass with fused CPU attention counted; ``images``: Fashion-MNIST, verified
- ``cache``, ``deps``: atomic cache writes, optional dependencies

Use ``from edgehelpers import timing`` or ``from edgehelpers.timing import latency``.
"""

__version__ = "0.1.0"


def _quiet_known_cpu_noise() -> None:
    """Drop three messages that are harmless on a CPU-only machine and alarm readers.

    torchao tries to load its CUDA-only kernels (mxfp8, CUTLASS) at import and logs "Failed to load";
    it then registers enums with torch's pytree, which logs a deprecation notice. tqdm.auto's note that
    ipywidgets is missing is dropped too. Nothing else is hidden.
    """
    import logging
    import warnings

    def cuda_kernel_noise(record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("Failed to load" in message and ("_C_mxfp8" in message or "_C_cutlass" in message))

    def pytree_enum_noise(record: logging.LogRecord) -> bool:
        return "is an Enum subclass and is now natively supported" not in record.getMessage()

    logging.getLogger("torchao").addFilter(cuda_kernel_noise)
    logging.getLogger("torch.utils._pytree").addFilter(pytree_enum_noise)
    # libraries import tqdm.auto; in Jupyter without ipywidgets it warns once and uses text bars,
    # which is exactly what this book wants (it never needs widgets)
    warnings.filterwarnings("ignore", message="IProgress not found")


_quiet_known_cpu_noise()


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
