"""The MICRO'23 presets against the paper's Table 3, the per-core scaling of the large NPU, and the presets'
default batch (used unless --batch or run.batch is given)."""

from __future__ import annotations

import pytest

from npu_des.api import simulate as api_simulate
from npu_des.config import (
    explicit_batch,
    hardware_from_dict,
    load_hardware,
    preset_names,
    run_options,
    with_preset_batch,
)
from npu_des.errors import ConfigError
from npu_des.sweep.runner import run_point
from npu_des.sweep.spec import Point


def test_small_npu_is_table_3s_small_column() -> None:
    """1 x (45 x 45 PE), 22 GB/s, 1 GHz, 1 MB; batch 4 (p.9); 2 bytes per element (TNPU's Float16)."""
    hw = load_hardware("micro23_small")
    assert (hw.cores.count, hw.cores.array.rows, hw.cores.array.cols) == (1, 45, 45)
    assert (hw.dram.bandwidth_gbps, hw.clock_ghz, hw.spm.capacity_bytes) == (22, 1.0, 1024 * 1024)
    assert hw.default_batch == 4 and hw.bytes_per_element == 2
    assert hw.dram_bytes_per_cycle == 22.0


@pytest.mark.parametrize("cores", [1, 2, 4, 8])
def test_large_npu_scales_spm_bandwidth_and_batch_with_the_cores(cores: int) -> None:
    """Table 3: 1~8 x (128 x 128 PE), 150 GB/s and 8 MB per core, 1050 MHz; batch 8 per core (p.9, p.11);
    one SPM shared by all cores, so its capacity is the sum."""
    hw = load_hardware("micro23_large", [f"cores.count={cores}"])
    assert (hw.cores.count, hw.cores.array.rows, hw.cores.array.cols) == (cores, 128, 128)
    assert hw.clock_ghz == 1.05 and hw.bytes_per_element == 2
    assert hw.dram.bandwidth_gbps == 150 * cores and hw.spm.capacity_bytes == cores * 8 * 1024 * 1024
    assert hw.default_batch == 8 * cores
    assert hw.energy is not None and hw.energy.leakage_mw == pytest.approx(456 * cores)  # one bank per core
    assert hw.dram_bytes_per_cycle == pytest.approx(150 * cores / 1.05)


def test_scaled_fields_given_with_set_are_per_core() -> None:
    """Fig. 15 sweeps 150 / 75 / 37.5 GB/s per core: an override of a scaled field is one core's value."""
    hw = load_hardware("micro23_large", ["cores.count=2", "dram.bandwidth_gbps=75"])
    assert hw.dram.bandwidth_gbps == 150
    assert load_hardware("micro23_large", ["dram.bandwidth_gbps=37.5"]).dram.bandwidth_gbps == 37.5


@pytest.mark.parametrize("cores", [0, 3, 16])
def test_a_core_count_the_preset_does_not_allow_names_it_and_the_allowed_ones(cores: int) -> None:
    with pytest.raises(ConfigError) as error:
        load_hardware("micro23_large", [f"cores.count={cores}"])
    text = str(error.value)
    assert f"--set cores.count={cores} (on hardware preset 'micro23_large')" in text
    assert f"{cores} cores is not a configuration of this NPU (allowed: 1, 2, 4, 8)" in text


def test_a_loaded_configuration_is_concrete_and_does_not_scale_again() -> None:
    hw = load_hardware("micro23_large", ["cores.count=4"])
    again = hardware_from_dict(hw.model_dump(mode="json"))
    assert again == hw and again.spm.capacity_kb == 4 * 8192


@pytest.mark.parametrize(("section", "message"), [
    ({"counts": [1, 1]}, "distinct core counts"),
    ({"counts": [1, 2], "scale": ["spm.policy"]}, "'spm.policy' is not a number"),
    ({"counts": [1, 2], "scale": ["spm.nothing"]}, "'spm.nothing' is not a number"),
    ({"counts": [1], "bogus": 1}, "unknown key"),
])
def test_a_bad_per_core_section_is_one_error(section: dict, message: str) -> None:
    data = load_hardware("micro23_small").model_dump(mode="json")
    with pytest.raises(ConfigError, match=message) as error:
        hardware_from_dict({**data, "per_core": section}, source="my.yaml")
    assert str(error.value).startswith("my.yaml: field 'per_core.")


@pytest.mark.parametrize("bytes_per_element", [1, 2, 4])
def test_every_element_size_prices_its_macs(bytes_per_element: int) -> None:
    """experiments/micro23.py sweeps 1 / 2 / 4 bytes: each needs its MAC energy in the preset."""
    for name in ("micro23_small", "micro23_large"):
        hw = load_hardware(name, [f"bytes_per_element={bytes_per_element}"])
        assert hw.mac_energy_pj == {1: 0.3, 2: 2.0, 4: 4.6}[bytes_per_element]


def test_both_presets_are_listed_and_carry_energy() -> None:
    assert {"micro23_small", "micro23_large"} <= set(preset_names())
    for name in ("micro23_small", "micro23_large"):
        energy = load_hardware(name).energy
        assert energy is not None and energy.technology_nm == 45


def test_the_preset_batch_applies_unless_a_batch_is_given() -> None:
    small = load_hardware("micro23_small")
    assert with_preset_batch(run_options(), small).batch == 4
    assert with_preset_batch(run_options(batch=2), small).batch == 2
    assert with_preset_batch(run_options(["run.batch=3"]), small).batch == 3
    assert with_preset_batch(run_options(), load_hardware("edge_dual")).batch == 1  # no default_batch
    resolved = with_preset_batch(run_options(), small)
    assert explicit_batch(resolved) == 4 and explicit_batch(run_options()) is None
    assert with_preset_batch(resolved, load_hardware("micro23_large")).batch == 4  # resolved once


def test_api_and_sweeps_build_the_workload_at_the_preset_batch() -> None:
    run = api_simulate("tiny_cnn", "micro23_small", order="sequential")
    assert run.summary["options"]["batch"] == 4
    assert run.summary["macs"] == 4 * api_simulate("tiny_cnn", "micro23_small", batch=1,
                                                   order="sequential").summary["macs"]
    row = run_point(Point("tiny_cnn", "micro23_large", "sequential", (("cores.count", "2"),)))
    single = run_point(Point("tiny_cnn", "micro23_large", "sequential"))
    assert row["error"] == "" and row["cores"] == 2
    assert row["read_X"] > single["read_X"]  # batch 16 against 8: twice the input images
