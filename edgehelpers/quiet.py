"""Silencing the libraries' noise, in one place: what is dropped, and why, is written here.

Each helper hides messages that are harmless on the book's CPU-only machines and would alarm a
reader; none hides an error (errors are raised, not printed). Standard library only at import:
``import edgehelpers`` runs `known_cpu_noise()`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any


def known_cpu_noise() -> None:
    """Drop three messages that are harmless on a CPU-only machine, for the whole process.

    torchao tries to load its CUDA-only kernels (mxfp8, CUTLASS) at import and logs "Failed to load";
    it then registers enums with torch's pytree, which logs a deprecation notice. tqdm.auto's note that
    ipywidgets is missing is dropped too. Nothing else is hidden.
    """

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


@contextlib.contextmanager
def loggers_below_error(*names: str) -> Iterator[None]:
    """Raise the named loggers to ERROR for a block ("" is the root logger): no INFO or WARNING lines."""
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


@contextlib.contextmanager
def transformers_logs() -> Iterator[None]:
    """Silence transformers' load report and progress bars (callers check what was missing themselves)."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _rich_console() -> Any:
    """rich's global console, if rich is installed (NNCF draws its progress bars with it)."""
    try:
        import rich
    except ImportError:
        return None
    return rich.get_console()


@contextlib.contextmanager
def converters() -> Iterator[None]:
    """Silence a converter's progress bars, warnings and INFO logs (its errors still raise)."""
    console = _rich_console()
    jupyter = getattr(console, "is_jupyter", False)
    if console is not None:
        console.is_jupyter = False  # NNCF's rich progress bars would otherwise draw notebook widgets
    # "" is the root logger: ai-edge-quantizer warns through it that it overwrites the (atomic) temporary file
    try:
        with loggers_below_error("", "nncf", "coremltools", "absl", "executorch", "torch._export"), \
                contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        if console is not None:
            console.is_jupyter = jupyter


@contextlib.contextmanager
def native_stderr() -> Iterator[None]:
    """Send what C++ libraries print to stderr (fd 2, or Python's sys.stderr) to /dev/null for a moment.

    ExecuTorch logs its CPU probing and every thread-pool reset, LiteRT announces its XNNPACK
    delegate; Python's own warnings and errors are not affected (they are raised, not printed here).
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (some embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
            os.dup2(devnull.fileno(), 2)  # C++ writing to fd 2 directly, and through Python's sys.stderr
            yield
            _flush_c_streams()  # a C library may buffer what it wrote: flush it into /dev/null too
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _flush_c_streams() -> None:
    """fflush(NULL): write out every C stdio buffer of this process."""
    import ctypes

    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass
