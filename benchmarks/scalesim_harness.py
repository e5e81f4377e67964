#!/usr/bin/env python3
"""Run the real `scalesim` 3.0.0 package on a topology and print its per-layer numbers as JSON.

Runs inside SCALE-Sim's own virtualenv (scalesim 3.0.0 crashes with numpy >= 2.4, so it cannot share
npu-des's environment); npu-des's differential test and benchmarks/scalesim_compare.py call it with
that interpreter (`$NPU_DES_SCALESIM_PYTHON`):

    $NPU_DES_SCALESIM_PYTHON benchmarks/scalesim_harness.py --topology T.csv --cfg C.cfg [--gemm]
        [--dataflow os|ws|is] [--set Key=Value ...]

It uses scalesim's Python API with save_disk_space=True (no traces) in a temporary folder, because
`python -m scalesim.scale` always writes full traces and needs a layout file. SCALE-Sim counts words
and hard-codes 1-byte words, so its DRAM counts are bytes.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time


def patched_config(source: str, target: str, overrides: dict[str, str], dataflow: str | None) -> None:
    """Copy a .cfg, replacing `overrides` (keys in any case, found in whichever section holds them)."""
    parser = configparser.ConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(source)
    if dataflow:
        overrides = {**overrides, "Dataflow": dataflow}
    for key, value in overrides.items():
        section = next((name for name in parser.sections()
                        if any(option.lower() == key.lower() for option in parser[name])),
                       "architecture_presets")
        for option in list(parser[section]):
            if option.lower() == key.lower():
                parser.remove_option(section, option)
        parser.set(section, key, value)
    with open(target, "w") as handle:
        parser.write(handle)


def run(topology: str, config: str, gemm: bool) -> list[dict[str, object]]:
    """Per-layer COMPUTE_REPORT and DETAILED_ACCESS_REPORT numbers and each layer's wall time."""
    from scalesim import single_layer_sim
    from scalesim.scale_sim import scalesim

    folder = tempfile.mkdtemp(prefix="npu_des_scalesim_")
    layout = os.path.join(folder, "layout.csv")
    with open(layout, "w") as handle:  # scalesim opens a layout file even with custom layouts off
        handle.write("Layer name,\n")
    seconds: dict[int, float] = {}
    original = single_layer_sim.single_layer_sim.run

    def timed(self: object) -> None:
        start = time.perf_counter()
        original(self)
        seconds[self.layer_id] = time.perf_counter() - start  # type: ignore[attr-defined]

    single_layer_sim.single_layer_sim.run = timed
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            simulator = scalesim(save_disk_space=True, verbose=False, config=config, topology=topology,
                                 layout=layout, input_type_gemm=gemm)
            simulator.run_scale(top_path=os.path.join(folder, "results"))
        layers = []
        for index, layer in enumerate(simulator.runner.single_layer_sim_object_list):
            compute = layer.get_compute_report_items()
            detail = layer.get_detail_report_items()
            layers.append({
                "name": simulator.runner.topo.get_layer_name(index),
                "total_cycles": int(compute[1]),
                "stall_cycles": int(compute[2]),
                "total_cycles_incl_prefetch": int(compute[0]),
                "dram_ifmap_reads": int(detail[11]),
                "dram_filter_reads": int(detail[14]),
                "dram_ofmap_writes": int(detail[17]),
                "seconds": round(seconds.get(index, float("nan")), 4),
            })
        return layers
    finally:
        single_layer_sim.single_layer_sim.run = original
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topology", required=True)
    parser.add_argument("--cfg", required=True)
    parser.add_argument("--gemm", action="store_true", help="SCALE-Sim's GEMM format (Layer, M, N, K)")
    parser.add_argument("--dataflow", choices=("os", "ws", "is"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="npu_des_scalesim_cfg_")
    try:
        config = os.path.join(folder, "run.cfg")
        patched_config(args.cfg, config, dict(item.split("=", 1) for item in args.set), args.dataflow)
        layers = run(os.path.abspath(args.topology), config, args.gemm)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    json.dump(layers, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
