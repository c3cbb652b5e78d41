"""Edge devices readers ship to, from published figures, and roofline latency estimates for them.

Peaks are theoretical: clock x operations per cycle per core, the per-cycle widths from Arm's
Software Optimization Guides (FP32: an FMA counts 2 FLOP; INT8: a multiply-accumulate counts 2
OP); memory bandwidth is transfer rate x bus width of the published memory configuration. Sources
are in the book's references (`book/references.md`, "Performance models and hardware"). A real
core reaches a fraction of these ceilings, so every figure computed from them is an *estimate*,
and chapter 9b shows how far the same estimate is from a measurement on the machine that runs it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Device:
    """One core of an edge device and the memory it shares, as published."""

    name: str
    core: str
    ghz: float
    cores: int
    fp32_per_cycle: int  # FLOP per cycle per core (FMA = 2)
    int8_per_cycle: int  # OP per cycle per core (multiply-accumulate = 2)
    dotprod: bool  # Armv8.2 SDOT/UDOT: four 8-bit products per lane per instruction
    memory: str
    bandwidth_gbs: float  # theoretical peak of the whole chip
    note: str = ""

    def peak_gops(self, precision: str = "INT8", cores: int = 1) -> float:
        """Theoretical peak of `cores` cores in G(FL)OP/s for "FP32" or "INT8"."""
        per_cycle = {"FP32": self.fp32_per_cycle, "INT8": self.int8_per_cycle}
        if precision not in per_cycle:
            raise ValueError(f"precision must be 'FP32' or 'INT8', got {precision!r}")
        if not 1 <= cores <= self.cores:
            raise ValueError(f"{self.name} has {self.cores} {self.core} cores; pass cores from 1 to {self.cores}")
        return self.ghz * per_cycle[precision] * cores


DEVICES = [
    Device("Raspberry Pi 4", "Cortex-A72", 1.8, 4, 8, 16, False, "LPDDR4-3200, 32-bit", 12.8,
           "1.8 GHz on rev 1.4+ boards (1.5 on older); no SDOT: INT8 by widening multiplies (SMLAL), an upper bound"),
    Device("Raspberry Pi 5", "Cortex-A76", 2.4, 4, 16, 64, True, "LPDDR4X-4267, 32-bit", 17.1),
    Device("Jetson Orin Nano 8GB (CPU)", "Cortex-A78AE", 1.5, 6, 16, 64, True, "LPDDR5, 128-bit", 68.0,
           "the 'Super' mode runs 1.7 GHz and 102 GB/s"),
    Device("Budget phone (Helio G99 class)", "Cortex-A55", 2.0, 6, 8, 32, True, "LPDDR4X-4266, 2 x 16-bit (assumed)", 17.1,
           "SDOT is optional on the A55: check asimddp in /proc/cpuinfo; the bus width is not published"),
    Device("Budget phone (Snapdragon 665 class), big core", "Cortex-A73", 2.0, 4, 8, 16, False,
           "LPDDR4X-3733, 2 x 16-bit (assumed)", 14.9,
           "Kryo 260 Gold, an A73 derivative (Armv8.0): no SDOT, so INT8 by widening multiplies; widths as the A72's, an upper bound"),
    Device("Entry phone (Snapdragon 450 class)", "Cortex-A53", 1.8, 8, 8, 16, False, "LPDDR3-1866, 32-bit (assumed)", 7.5,
           "in-order core, as in the Pi 3 and Pi Zero 2; no SDOT; Arm publishes no optimization guide for it: widths as the A72's, an upper bound"),
    Device("Pixel 6 (Tensor G1), big core", "Cortex-X1", 2.8, 2, 32, 128, True, "LPDDR5-6400, 4 x 16-bit", 51.2),
    Device("Pixel 6 (Tensor G1), middle core", "Cortex-A76", 2.25, 2, 16, 64, True, "LPDDR5-6400, 4 x 16-bit", 51.2),
]


def device(name: str) -> Device:
    """The device of that name (case-insensitive), or ValueError listing the names."""
    for d in DEVICES:
        if d.name.lower() == name.strip().lower():
            return d
    raise ValueError(f"unknown device {name!r}; choose one of {', '.join(d.name for d in DEVICES)}")


@dataclass(frozen=True)
class Estimate:
    """A roofline estimate: the time to do the arithmetic and to read the bytes, and the larger of the two."""

    compute_ms: float
    memory_ms: float

    @property
    def ms(self) -> float:
        """The estimate: whichever ceiling is reached first bounds the run."""
        return max(self.compute_ms, self.memory_ms)

    @property
    def bound(self) -> str:
        """'compute' or 'memory': which ceiling sets the estimate."""
        return "compute" if self.compute_ms >= self.memory_ms else "memory"


def roofline_estimate(ops: float, bytes_moved: float, peak_gops: float, bandwidth_gbs: float) -> Estimate:
    """Lower bound on latency: ops at peak_gops, bytes_moved at bandwidth_gbs (overlapped perfectly)."""
    if ops < 0 or bytes_moved < 0 or peak_gops <= 0 or bandwidth_gbs <= 0:
        raise ValueError(f"need ops, bytes >= 0 and peak, bandwidth > 0; got {ops}, {bytes_moved}, {peak_gops}, {bandwidth_gbs}")
    return Estimate(ops / (peak_gops * 1e9) * 1e3, bytes_moved / (bandwidth_gbs * 1e9) * 1e3)


def estimate_on(dev: Device, ops: float, bytes_moved: float, *, precision: str = "INT8", cores: int = 1,
                bandwidth_gbs: float | None = None) -> Estimate:
    """The roofline estimate of one inference on `cores` cores of `dev`.

    The memory ceiling is the whole chip's published bandwidth unless `bandwidth_gbs` says what
    those cores really stream (one core, a little one above all, reaches only part of the chip's).
    """
    return roofline_estimate(ops, bytes_moved, dev.peak_gops(precision, cores), bandwidth_gbs or dev.bandwidth_gbs)


def compute_bound_above_gbs(ops: float, bytes_moved: float, peak_gops: float) -> float:
    """The bandwidth (GB/s) above which the arithmetic, not reading the bytes, sets the roofline floor."""
    if ops <= 0 or bytes_moved < 0 or peak_gops <= 0:
        raise ValueError(f"need ops, peak > 0 and bytes >= 0; got {ops}, {bytes_moved}, {peak_gops}")
    return bytes_moved / (ops / peak_gops)  # bytes per (seconds x 1e-9) = GB/s
