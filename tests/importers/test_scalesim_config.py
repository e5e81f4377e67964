"""SCALE-Sim .cfg files map onto npu-des hardware with SCALE-Sim's bandwidth meaning kept, and every
file SCALE-Sim ships loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from npu_des.config import hardware_from_dict, run_options
from npu_des.errors import ConfigError
from npu_des.importers.scalesim import load_scalesim_config as old_home
from npu_des.importers.scalesim_config import CALC_GBPS, load_scalesim_config
from npu_des.models.tiny import single_linear
from npu_des.sim.driver import simulate
from npu_des.sim.scalesim_memory import Ports, gemm_operands, simulate_op

SHIPPED = sorted((Path(__file__).parent / "data" / "scalesim" / "configs").glob("*/*.cfg"))  # MIT

USER_CFG = """[general]
run_name = user_run

[architecture_presets]
ArrayHeight:    16
ArrayWidth:     8
IfmapSramSzkB:   64
FilterSramSzkB:  32
OfmapSramSzkB:   16
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 6, 40
Dataflow : ws
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 12
IfmapSRAMBankNum: 1
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 4
FilterSRAMBankNum: 1
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false

[run_presets]
InterfaceBandwidth: USER
UseRamulatorTrace: False
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.cfg"
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", SHIPPED, ids=[f"{path.parent.name}/{path.name}" for path in SHIPPED])
def test_every_shipped_config_loads(path):
    data, notes = load_scalesim_config(path)
    hardware = hardware_from_dict(data)
    assert hardware.cores.count == 1 and hardware.scalesim is not None
    assert hardware.spm.capacity_kb == (hardware.scalesim.ifmap_sram_kb + hardware.scalesim.filter_sram_kb
                                        + hardware.scalesim.ofmap_sram_kb)
    assert notes  # the shared channel (USER) or the never-stalling one (CALC) is always said


def test_shipped_set_is_complete():
    assert len(SHIPPED) == 16  # SCALE-Sim v2 (3) and v3 (13) configs


def test_user_ports_keep_scalesims_meaning(tmp_path):
    # ifmap port = IfmapSRAMBankBandwidth (12), filter = FilterSRAMBankBandwidth (4), ofmap = Bandwidth[0]
    # (6; the 40 is never read). One npu-des channel carries their sum, 22 B/cycle at 1 GHz, 1 B words.
    data, notes = load_scalesim_config(write(tmp_path, USER_CFG))
    hardware = hardware_from_dict(data)
    assert hardware.scalesim is not None
    memory = hardware.scalesim
    ports = (memory.ifmap_words_per_cycle, memory.filter_words_per_cycle, memory.ofmap_words_per_cycle)
    assert ports == (12, 4, 6)
    assert (memory.ifmap_sram_kb, memory.filter_sram_kb, memory.ofmap_sram_kb) == (64, 32, 16)
    assert hardware.dram_bytes_per_cycle == 22 and hardware.spm.capacity_kb == 112
    array = hardware.cores.array
    assert (array.rows, array.cols, array.dataflow) == (16, 8, "ws")
    assert any("12/4/6 words/cycle" in note and "22 B/cycle" in note for note in notes)
    assert old_home is load_scalesim_config


def test_scalesim_memory_model_uses_the_cfg_ports(tmp_path):
    data, _ = load_scalesim_config(write(tmp_path, USER_CFG))
    hardware = hardware_from_dict(data)
    workload = single_linear(m=64, k=96, n=40)
    result = simulate(workload, hardware, run_options(pass_="forward", memory_model="scalesim"))
    ports = Ports(64, 32, 16, 12, 4, 6)
    layers = [workload.layers[0].gemm, workload.layers[1].gemm]
    expected = sum(simulate_op(gemm_operands(g.M, g.N, g.K), "ws", 16, 8, ports).total_cycles for g in layers)
    assert result.total_cycles == expected


def test_calc_never_stalls_and_the_channel_never_limits(tmp_path):
    text = USER_CFG.replace("InterfaceBandwidth: USER", "InterfaceBandwidth: CALC")
    data, notes = load_scalesim_config(write(tmp_path, text))
    assert data["dram"]["bandwidth_gbps"] == CALC_GBPS
    assert any("CALC" in note for note in notes)


@pytest.mark.parametrize(("change", "note"), [
    (("Dataflow : ws", "Dataflow : rs"), "runs Dataflow 'rs' as os"),
    (("UseRamulatorTrace: False", "UseRamulatorTrace: True"), "Ramulator"),
    (("SparsitySupport : false", "SparsitySupport : true"), "sparse"),
    (("IfmapCustomLayout: False", "IfmapCustomLayout: True"), "bank-conflict"),
    (("MemoryBanks", "MemoryBanks"), "12/4/6"),
    (("[general]", "[general]\nShinyNewKey: 3"), "keys not mapped: general.ShinyNewKey"),
])
def test_what_npu_des_does_not_model_is_a_note_not_an_error(tmp_path, change, note):
    data, notes = load_scalesim_config(write(tmp_path, USER_CFG.replace(*change)))
    hardware_from_dict(data)
    assert any(note in line for line in notes), notes


def test_v2_file_without_layout_gives_every_port_bandwidth(tmp_path):
    text = USER_CFG[:USER_CFG.index("[layout]")] + "[run_presets]\nInterfaceBandwidth: USER\n"
    data, notes = load_scalesim_config(write(tmp_path, text))
    assert data["scalesim"]["ifmap_words_per_cycle"] == data["scalesim"]["filter_words_per_cycle"] == 6
    assert data["dram"]["bandwidth_gbps"] == 18
    assert any("v2" in note for note in notes)


@pytest.mark.parametrize(("change", "message"), [
    (("ArrayHeight:    16\n", ""), r"run\.cfg: field 'architecture_presets\.ArrayHeight': missing required"),
    (("ArrayWidth:     8", "ArrayWidth: wide"), r"'architecture_presets\.ArrayWidth': expected an integer"),
    (("IfmapSramSzkB:   64", "IfmapSramSzkB: 64.5"), r"IfmapSramSzkB': expected an integer"),
    (("InterfaceBandwidth: USER", "InterfaceBandwidth: calc"), r"'calc'.*allowed: USER, CALC"),
    (("ArrayHeight:    16", "ArrayHeight: 0"),
     r"run\.cfg: field 'architecture_presets\.ArrayHeight'.*allowed: 1\.\.4,096"),
    (("[general]", "run_name = x\n[general]"), r"run\.cfg: malformed SCALE-Sim config"),
])
def test_what_scalesim_crashes_on_is_one_config_error(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        load_scalesim_config(write(tmp_path, USER_CFG.replace(*change)))
