"""The machine description and banner printed above every results table."""

import datetime as dt
import os

import numpy as np

from edgehelpers import machine

CPUINFO = """processor\t: 0
model name\t: Example CPU 9000
flags\t\t: fpu sse2 avx2 avx512f avx512_vnni amx_tile amx_int8
physical id\t: 0
core id\t\t: 0

processor\t: 1
model name\t: Example CPU 9000
flags\t\t: fpu sse2 avx2 avx512f avx512_vnni amx_tile amx_int8
physical id\t: 0
core id\t\t: 0

processor\t: 2
model name\t: Example CPU 9000
physical id\t: 0
core id\t\t: 1
"""


def test_machine_info_describes_this_machine():
    info = machine.machine_info()
    assert info["cpu"] and isinstance(info["cpu"], str)
    assert info["logical_cores"] == os.cpu_count()
    assert set(info["isa"]) == set(machine.ISA_FLAGS)
    assert all(isinstance(v, bool) for v in info["isa"].values())
    assert info["ram_gib"] is None or info["ram_gib"] > 0.1
    assert info["python"].count(".") == 2
    assert dt.datetime.fromisoformat(info["date"]).tzinfo is not None
    assert info["libs"]["numpy"] == np.__version__


def test_missing_libraries_are_skipped():
    info = machine.machine_info(libs=("numpy", "surely-not-an-installed-dist"))
    assert list(info["libs"]) == ["numpy"]


def test_cpuinfo_parsing():
    fields = machine._cpuinfo_fields(CPUINFO)
    assert fields["model name"] == "Example CPU 9000"
    assert machine._physical_cores(CPUINFO) == 2  # three logical processors on two cores
    assert machine._physical_cores("processor : 0\n") is None
    isa = machine.isa_flags(fields["flags"].split())
    assert isa == {"avx2": True, "avx512f": True, "avx512_vnni": True, "avx_vnni": False, "avx512_bf16": False, "avx512_fp16": False,
                   "amx": True}
    assert not any(machine.isa_flags(["sse2"]).values())


def test_banner_and_print_banner(capsys):
    text = machine.banner(libs=("numpy",))
    lines = text.splitlines()
    assert len(lines) == 4
    assert machine.machine_info(())["cpu"] in lines[0]
    assert f"{os.cpu_count()} logical" in lines[1] and "ISA" in lines[1]
    assert f"numpy {np.__version__}" in lines[2]
    assert lines[3].startswith("date")
    machine.print_banner(libs=("numpy",))
    assert "numpy" in capsys.readouterr().out


def test_table_note_is_one_line():
    note = machine.table_note(libs=("numpy",))
    assert "\n" not in note and note.startswith("[") and note.endswith("]")
    assert machine.short_machine() in note and f"numpy {np.__version__}" in note


def test_short_machine():
    info = {"cpu": "Example CPU", "logical_cores": 8, "usable_cores": 2}
    assert machine.short_machine(info) == "Example CPU, 2 cores"
    assert machine.short_machine().endswith("cores")
