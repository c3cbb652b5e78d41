"""What machine and software a measurement was taken on: printed above every results table."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

# distribution names (as pip knows them), not import names: versions come from package metadata,
# so asking for torch's version never imports torch
DEFAULT_LIBS: tuple[str, ...] = (
    "torch",
    "transformers",
    "onnxruntime",
    "onnx",
    "torchao",
    "timm",
    "litert-torch",
    "ai-edge-litert",
    "numpy",
)

# the instruction-set extensions that decide which fast kernels a CPU gets (VNNI: INT8 dot products;
# avx512_bf16, AMX: bfloat16 matrix maths; avx512_fp16: native half-precision arithmetic)
ISA_FLAGS: tuple[str, ...] = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16", "amx")

_CPUINFO = Path("/proc/cpuinfo")


def _cpuinfo_fields(text: str) -> dict[str, str]:
    """Return the `key: value` fields of the first processor block of /proc/cpuinfo text."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # the first block is enough: every core of a socket reports the same
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def _physical_cores(text: str) -> int | None:
    """Count distinct (physical id, core id) pairs in /proc/cpuinfo text, or None if absent."""
    pairs, phys = set(), "0"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            phys = value.strip()
        elif key == "core id":
            pairs.add((phys, value.strip()))
    return len(pairs) or None


def isa_flags(flags: Sequence[str]) -> dict[str, bool]:
    """Map each flag of ISA_FLAGS to whether it is present ('amx' means any amx_* flag)."""
    present = set(flags)
    return {
        name: (any(f.startswith("amx") for f in present) if name == "amx" else name in present)
        for name in ISA_FLAGS
    }


def _total_ram_bytes() -> int | None:
    """Total physical memory in bytes, or None where the OS will not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def lib_versions(libs: Sequence[str] = DEFAULT_LIBS) -> dict[str, str]:
    """Versions of the installed distributions among `libs`; missing ones are left out."""
    versions = {}
    for name in libs:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def usable_cores() -> int:
    """CPU cores this process may use (a container may see fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def machine_info(libs: Sequence[str] = DEFAULT_LIBS) -> dict:
    """Describe this machine: CPU, cores, ISA flags, RAM, OS, Python, date and library versions."""
    text = _CPUINFO.read_text(errors="replace") if _CPUINFO.exists() else ""
    fields = _cpuinfo_fields(text)
    cpu = fields.get("model name") or platform.processor() or platform.machine() or "unknown CPU"
    ram = _total_ram_bytes()
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        # a container may see fewer cores than the machine has: this is what we may actually use
        "usable_cores": usable_cores(),
        "physical_cores": _physical_cores(text),
        "isa": isa_flags(fields.get("flags", "").split()),
        "ram_gib": round(ram / 2**30, 1) if ram else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "libs": lib_versions(libs),
    }


def short_machine(info: dict | None = None) -> str:
    """A one-line machine id for tables and the ledger, e.g. 'AMD EPYC, 2 cores'."""
    info = info or machine_info(libs=())
    cores = info.get("usable_cores") or info.get("logical_cores")
    return f"{info['cpu']}, {cores} cores"


def banner(libs: Sequence[str] = DEFAULT_LIBS) -> str:
    """A compact human banner (machine, cores and ISA, libraries, date) to print above results."""
    info = machine_info(libs)
    physical = f", {info['physical_cores']} physical" if info["physical_cores"] else ""
    usable = info["usable_cores"]
    usable_txt = f" ({usable} usable)" if usable and usable != info["logical_cores"] else ""
    isa = " ".join(name for name, on in info["isa"].items() if on) or "none of " + "/".join(ISA_FLAGS)
    ram = f", {info['ram_gib']} GiB RAM" if info["ram_gib"] else ""
    libs_txt = "  ".join(f"{k} {v}" for k, v in info["libs"].items()) or "(none of the listed)"
    return "\n".join(
        [
            f"machine : {info['cpu']}{ram}, {info['os']}",
            f"cores   : {info['logical_cores']} logical{usable_txt}{physical}; ISA: {isa}",
            f"python  : {info['python']}   libs: {libs_txt}",
            f"date    : {info['date']}",
        ]
    )


def table_note(libs: Sequence[str] = ("torch", "onnxruntime")) -> str:
    """One line naming the machine and key versions, for every table after the chapter's banner."""
    info = machine_info(libs)
    isa = " ".join(name for name, on in info["isa"].items() if on) or "no listed ISA extensions"
    versions = ", ".join(f"{k} {v}" for k, v in info["libs"].items())
    return f"[{short_machine(info)}; {isa}; {versions}; {info['date'][:10]}]"


def print_banner(libs: Sequence[str] = DEFAULT_LIBS) -> None:
    """Print banner() (the second cell of every chapter does this)."""
    print(banner(libs), file=sys.stdout)
