"""The reader's own roofline: memory bandwidth and GEMM peaks, measured on this machine.

Chapter 1 draws it; later chapters read it to say how far a variant is from what the hardware
allows (e.g. "within 1.3x of the INT8 compute roofline"). Every number is a median of timed runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .timing import latency


def read_bandwidth_gbs(threads: int = 1, megabytes: int = 256, runs: int = 10) -> float:
    """GB/s of summing a float32 tensor far larger than the caches: each byte read once, ~no math."""
    import torch

    if megabytes < 64:
        raise ValueError(f"megabytes={megabytes} may fit in the CPU caches; use 64 or more")
    x = torch.ones(megabytes * 1_000_000 // 4)
    stats = latency(lambda: x.sum(), warmup=2, runs=runs, threads=threads)
    return x.numel() * 4 / (stats.p50_ms / 1e3) / 1e9


def fp32_gemm_gflops(threads: int = 1, sizes: tuple[int, ...] = (512, 1024, 2048), runs: int = 5) -> float:
    """Best GFLOP/s of square FP32 matrix products in PyTorch (2·n³ FLOP each) over `sizes`."""
    import torch

    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        stats = latency(lambda: a @ b, warmup=2, runs=runs, threads=threads)
        best = max(best, 2 * n**3 / (stats.p50_ms / 1e3) / 1e9)
    return best


def int8_matmul_model(n: int) -> bytes:
    """An ONNX model computing uint8[n,n] x int8[n,n] -> int32 with MatMulInteger (the INT8 kernel
    that ONNX Runtime's dynamic quantization uses)."""
    from onnx import TensorProto, helper, numpy_helper

    weight = np.random.default_rng(0).integers(-127, 128, size=(n, n), dtype=np.int8)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])],
        "int8_gemm",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [n, n])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [n, n])],
        [numpy_helper.from_array(weight, "B")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def int8_gemm_gops(threads: int = 1, sizes: tuple[int, ...] = (512, 1024, 2048), runs: int = 5) -> float:
    """Best GOP/s of square INT8 matrix products in ONNX Runtime (2·n³ ops each) over `sizes`."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads  # ONNX Runtime fixes its threads per session
    best = 0.0
    for n in sizes:
        session = ort.InferenceSession(int8_matmul_model(n), options, providers=["CPUExecutionProvider"])
        feed = {"A": np.random.default_rng(1).integers(0, 256, size=(n, n), dtype=np.uint8)}
        stats = latency(lambda: session.run(None, feed), warmup=2, runs=runs)
        best = max(best, 2 * n**3 / (stats.p50_ms / 1e3) / 1e9)
    return best


@dataclass(frozen=True)
class Roofline:
    """Measured ceilings: bandwidth in GB/s, compute peaks in G(FL)OP/s by name."""

    bandwidth_gbs: float
    peaks: dict[str, float] = field(default_factory=dict)
    threads: int = 1

    def _peak(self, peak: str) -> float:
        if peak not in self.peaks:
            raise KeyError(f"no peak named {peak!r}; this roofline has {sorted(self.peaks)}")
        return self.peaks[peak]

    def ridge(self, peak: str = "FP32") -> float:
        """Arithmetic intensity (FLOP/byte) above which `peak`, not bandwidth, limits speed."""
        return self._peak(peak) / self.bandwidth_gbs

    def attainable(self, intensity: float, peak: str = "FP32") -> float:
        """The most G(FL)OP/s a kernel of this intensity can reach: min(peak, bandwidth x intensity)."""
        if intensity <= 0:
            raise ValueError(f"arithmetic intensity must be positive, got {intensity}")
        return min(self._peak(peak), self.bandwidth_gbs * intensity)

    def bound(self, intensity: float, peak: str = "FP32") -> str:
        """'memory' or 'compute': which ceiling limits a kernel of this intensity."""
        return "memory" if intensity < self.ridge(peak) else "compute"

    def as_metrics(self) -> dict[str, float]:
        """Flat numbers for the results ledger."""
        out = {"bandwidth_gbs": self.bandwidth_gbs, "measured_threads": self.threads}
        out.update({f"peak_{name.lower()}_gops": value for name, value in self.peaks.items()})
        return out


def measure_roofline(threads: int = 1) -> Roofline:
    """Measure read bandwidth, the FP32 GEMM peak (PyTorch) and the INT8 GEMM peak (ONNX Runtime)."""
    return Roofline(
        bandwidth_gbs=read_bandwidth_gbs(threads),
        peaks={"FP32": fp32_gemm_gflops(threads), "INT8": int8_gemm_gops(threads)},
        threads=threads,
    )
