"""Differential tests: npu-des's array and its SCALE-Sim memory model against the real `scalesim` 3.0.0
package on the same layers.

SCALE-Sim runs in its own virtualenv (it crashes with numpy >= 2.4): `.ci/scalesim_venv.sh` makes
one and `.ci/run` exports its interpreter as NPU_DES_SCALESIM_PYTHON. Large SRAMs and bandwidth
keep SCALE-Sim stall-free, so its Total Cycles is pure compute; npu-des runs each layer forward as one
tile and must charge exactly that, for OS, WS and IS, on a square and a non-square array.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import make_hw

from npu_des.config import run_options
from npu_des.importers.scalesim import load_topology
from npu_des.sim.driver import simulate
from npu_des.sim.scalesim_memory import Ports, conv_operands, gemm_operands, simulate_op

HARNESS = Path(__file__).parents[2] / "benchmarks" / "scalesim_harness.py"
PYTHON = os.environ.get("NPU_DES_SCALESIM_PYTHON", "")

# (name, M, N, K): skinny, ragged, all-ones, one-fold and many-fold shapes
GEMMS = [("ones", 1, 1, 1), ("ragged", 13, 37, 6), ("tall", 300, 3, 17), ("wide", 3, 300, 17),
         ("deep", 5, 7, 299), ("dot", 1, 1, 200), ("outer", 70, 90, 1), ("square", 64, 64, 64)]
# (name, ifmap h, w, filter h, w, channels, filters, stride)
CONVS = [("c3", 9, 9, 3, 3, 5, 7, 1), ("c7s2", 20, 17, 7, 7, 3, 11, 2), ("c1", 1, 1, 1, 1, 33, 9, 1)]

CONFIG = """[general]
run_name = differential

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: 4096
FilterSramSzkB: 4096
OfmapSramSzkB: 4096
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth: 10000
Dataflow: {dataflow}
MemoryBanks: 1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10000
IfmapSRAMBankNum: 1
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10000
FilterSRAMBankNum: 1
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40

[run_presets]
InterfaceBandwidth: USER
UseRamulatorTrace: False
"""


def scalesim_layers(topology: Path, config: Path, gemm: bool) -> list[dict[str, int]]:
    command = [PYTHON, str(HARNESS), "--topology", str(topology), "--cfg", str(config)]
    done = subprocess.run([*command, "--gemm"] if gemm else command, capture_output=True, text=True,
                          timeout=300, check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(not PYTHON, reason="NPU_DES_SCALESIM_PYTHON is not set: no scalesim 3.0.0 venv "
                    "(`bash .ci/scalesim_venv.sh` makes one; .ci/run exports it)")
@pytest.mark.parametrize(("rows", "cols"), [(8, 8), (16, 4)])
@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_whole_layer_cycles_equal_real_scalesim(tmp_path: Path, rows: int, cols: int, dataflow: str) -> None:
    config = tmp_path / "run.cfg"
    config.write_text(CONFIG.format(rows=rows, cols=cols, dataflow=dataflow))
    gemm_file = tmp_path / "gemms.csv"
    gemm_file.write_text("Layer, M, N, K,\n" + "".join(", ".join(map(str, row)) + ",\n" for row in GEMMS))
    conv_file = tmp_path / "convs.csv"
    header = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
              "Strides,")
    conv_file.write_text(header + "\n" + "".join(", ".join(map(str, row)) + ",\n" for row in CONVS))
    hw = make_hw(f"cores.array.rows={rows}", f"cores.array.cols={cols}", f"cores.array.dataflow={dataflow}",
                 "spm.capacity_kb=65536")
    whole = run_options(pass_="forward", tile={"m": 10**6, "n": 10**6, "k": 10**6})
    for path, gemm in ((gemm_file, True), (conv_file, False)):
        reference = scalesim_layers(path, config, gemm)
        assert all(layer["stall_cycles"] == 0 for layer in reference)
        ours = simulate(load_topology(path), hw, whole)
        assert [row.compute_cycles for row in ours.layers] == [layer["total_cycles"] for layer in reference]


@pytest.mark.skipif(not PYTHON, reason="NPU_DES_SCALESIM_PYTHON is not set: no scalesim 3.0.0 venv "
                    "(`bash .ci/scalesim_venv.sh` makes one; .ci/run exports it)")
@pytest.mark.parametrize("interface", ["USER", "CALC"])
@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_memory_model_equals_real_scalesim(tmp_path: Path, interface: str, dataflow: str) -> None:
    """4 KB SRAMs and 3 to 5 words/cycle: operands stream through refills and the ports stall."""
    config = tmp_path / "run.cfg"
    text = CONFIG.format(rows=8, cols=8, dataflow=dataflow).replace("InterfaceBandwidth: USER",
                                                                     f"InterfaceBandwidth: {interface}")
    text = text.replace("SramSzkB: 4096", "SramSzkB: 4").replace("\nBandwidth: 10000", "\nBandwidth: 3")
    config.write_text(text.replace("IfmapSRAMBankBandwidth: 10000", "IfmapSRAMBankBandwidth: 5")
                      .replace("FilterSRAMBankBandwidth: 10000", "FilterSRAMBankBandwidth: 4"))
    convs = [("c1", 20, 20, 3, 3, 8, 16, 1), ("c2", 15, 17, 1, 1, 24, 40, 2)]
    gemms = [("g1", 100, 40, 70), ("g2", 33, 90, 130)]
    conv_file, gemm_file = tmp_path / "convs.csv", tmp_path / "gemms.csv"
    conv_file.write_text("Layer name, H, W, R, S, C, N, Stride,\n"
                         + "".join(", ".join(map(str, row)) + ",\n" for row in convs))
    gemm_file.write_text("Layer, M, N, K,\n" + "".join(", ".join(map(str, row)) + ",\n" for row in gemms))
    reference = scalesim_layers(conv_file, config, False) + scalesim_layers(gemm_file, config, True)
    ports = Ports(4, 4, 4, 5, 4, 3)
    operands = [conv_operands(*row[1:]) for row in convs] + [gemm_operands(*row[1:]) for row in gemms]
    for matrices, theirs in zip(operands, reference, strict=True):
        ours = simulate_op(matrices, dataflow, 8, 8, ports, calc=interface == "CALC")
        got = (ours.ifmap_reads, ours.filter_reads, ours.ofmap_writes, ours.stall_cycles, ours.total_cycles)
        assert got == (theirs["dram_ifmap_reads"], theirs["dram_filter_reads"], theirs["dram_ofmap_writes"],
                       theirs["stall_cycles"], theirs["total_cycles"])
    if interface == "USER":
        assert any(layer["stall_cycles"] > 0 for layer in reference)
