"""edgehelpers.devices: published peaks, lookup by name, and roofline estimates from them."""

from __future__ import annotations

import pytest

from edgehelpers import devices
from edgehelpers.devices import DEVICES, Device, compute_bound_above_gbs, device, estimate_on, roofline_estimate

PI4 = Device("Test board", "Cortex-A72", 2.0, 4, 8, 16, False, "LPDDR4", 10.0)


def test_peak_gops_is_clock_times_width_times_cores():
    assert PI4.peak_gops("FP32") == pytest.approx(16.0)
    assert PI4.peak_gops("INT8") == pytest.approx(32.0)
    assert PI4.peak_gops("INT8", cores=4) == pytest.approx(128.0)
    assert PI4.peak_gops() == PI4.peak_gops("INT8", 1)  # the default: INT8 on one core


@pytest.mark.parametrize("cores", [0, 5, -1])
def test_peak_gops_refuses_cores_the_device_lacks(cores):
    with pytest.raises(ValueError, match="has 4 Cortex-A72 cores; pass cores from 1 to 4"):
        PI4.peak_gops("FP32", cores=cores)


@pytest.mark.parametrize("precision", ["fp16", "int8", "BF16"])
def test_peak_gops_refuses_other_precisions(precision):
    with pytest.raises(ValueError, match="precision must be 'FP32' or 'INT8'"):
        PI4.peak_gops(precision)


def test_device_lookup_ignores_case_and_spaces():
    assert device("raspberry pi 5") is device("RASPBERRY PI 5") is device("  Raspberry Pi 5 ")
    assert device("raspberry pi 5").core == "Cortex-A76"


def test_unknown_device_lists_every_name():
    with pytest.raises(ValueError, match="unknown device 'Pi 6'") as err:
        device("Pi 6")
    assert all(d.name in str(err.value) for d in DEVICES)


def test_roofline_estimate_compute_bound():
    est = roofline_estimate(2e9, 1e6, peak_gops=100.0, bandwidth_gbs=10.0)  # 20 ms of arithmetic, 0.1 ms of bytes
    assert est.compute_ms == pytest.approx(20.0) and est.memory_ms == pytest.approx(0.1)
    assert est.ms == pytest.approx(20.0) and est.bound == "compute"


def test_roofline_estimate_memory_bound():
    est = roofline_estimate(1e8, 5e8, peak_gops=100.0, bandwidth_gbs=10.0)  # 1 ms of arithmetic, 50 ms of bytes
    assert est.compute_ms == pytest.approx(1.0) and est.memory_ms == pytest.approx(50.0)
    assert est.ms == pytest.approx(50.0) and est.bound == "memory"


def test_roofline_estimate_of_nothing_is_zero():
    est = roofline_estimate(0, 0, peak_gops=1.0, bandwidth_gbs=1.0)
    assert est.ms == 0.0


@pytest.mark.parametrize("args", [(-1, 1, 1, 1), (1, -1, 1, 1), (1, 1, 0, 1), (1, 1, 1, 0), (1, 1, -5, 1)])
def test_roofline_estimate_rejects_bad_arguments(args):
    with pytest.raises(ValueError, match="need ops, bytes >= 0"):
        roofline_estimate(*args)


def test_estimate_on_uses_the_devices_peak_and_bandwidth():
    est = estimate_on(PI4, 3.2e9, 1e8, precision="INT8", cores=4)  # 128 GOP/s and 10 GB/s
    assert est.compute_ms == pytest.approx(25.0) and est.memory_ms == pytest.approx(10.0)
    fp32 = estimate_on(PI4, 3.2e9, 1e8, precision="FP32")  # 16 GFLOP/s on one core
    assert fp32.compute_ms == pytest.approx(200.0)
    with pytest.raises(ValueError, match="cores from 1 to 4"):
        estimate_on(PI4, 1.0, 1.0, cores=8)


def test_every_device_has_positive_published_figures():
    assert len({d.name for d in DEVICES}) == len(DEVICES)  # names are unique: `device` finds each
    for d in DEVICES:
        assert d.ghz > 0 and d.cores >= 1 and d.bandwidth_gbs > 0, d.name
        assert d.fp32_per_cycle > 0 and d.int8_per_cycle > 0, d.name
        assert d.core and d.memory, d.name
        assert device(d.name) is d


def test_int8_width_follows_dotprod():
    for d in DEVICES:
        if d.dotprod:  # SDOT: four 8-bit products per 32-bit lane
            assert d.int8_per_cycle == 4 * d.fp32_per_cycle, d.name
        else:  # widening multiplies: at most twice the FP32 rate
            assert d.int8_per_cycle <= 2 * d.fp32_per_cycle, d.name
    assert any(d.dotprod for d in DEVICES) and any(not d.dotprod for d in DEVICES)
    assert devices.device("Raspberry Pi 4").dotprod is False


def test_estimate_on_takes_the_bandwidth_one_core_really_streams():
    chip = estimate_on(PI4, 1e6, 1e8)  # 1e8 bytes at the chip's 10 GB/s: 10 ms
    one_core = estimate_on(PI4, 1e6, 1e8, bandwidth_gbs=2.5)
    assert chip.memory_ms == pytest.approx(10.0) and one_core.memory_ms == pytest.approx(40.0)
    assert one_core.compute_ms == chip.compute_ms


def test_compute_bound_above_is_where_the_two_ceilings_meet():
    ops, moved, peak = 4e9, 2e7, 32.0
    gbs = compute_bound_above_gbs(ops, moved, peak)
    at_it = roofline_estimate(ops, moved, peak, gbs)
    assert at_it.compute_ms == pytest.approx(at_it.memory_ms)
    assert roofline_estimate(ops, moved, peak, 0.9 * gbs).bound == "memory"
    with pytest.raises(ValueError):
        compute_bound_above_gbs(0, moved, peak)


def test_budget_phones_without_dot_product_are_listed():
    cores = {d.core: d for d in DEVICES}
    assert {"Cortex-A53", "Cortex-A73", "Cortex-A55"} <= set(cores)
    assert not cores["Cortex-A53"].dotprod and not cores["Cortex-A73"].dotprod
