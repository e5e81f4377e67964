"""Benchmark: npu-des against SCALE-Sim 3.0.0 on SCALE-Sim's own ResNet-50, MobileNet and GoogLeNet.

    python benchmarks/scalesim_compare.py --quick          # MobileNet only, cached SCALE-Sim numbers
    python benchmarks/scalesim_compare.py                  # all three networks
    python benchmarks/scalesim_compare.py --run-scalesim   # run the real package for missing layers
        (needs NPU_DES_SCALESIM_PYTHON, see .ci/scalesim_venv.sh; minutes to an hour per network)
    python benchmarks/scalesim_compare.py --reference DIR  # also read <net>_<config>_<df>.json(l) there

Forward pass (SCALE-Sim simulates forward GEMMs), every dataflow, on the configs in
benchmarks/scalesim/ (large32: 32x32 with 64 MB SRAMs, SCALE-Sim's stall-free "large SRAM" setting;
ethos: the Ethos-N77-like 45x45, 341 KB SRAMs, 22 words/cycle per port) and SCALE-Sim's shipped
scale.cfg (32x32, 64 KB SRAMs, CALC). Three tables:
- compute: SCALE-Sim's whole-GEMM cycles per layer (folds x per-fold rows - 1, verified exact against
  the package on 462 layers, so no run is needed) against npu-des's compute cycles with its default
  tiling (a full DES run of the .cfg-mapped hardware);
- memory: SCALE-Sim's DRAM bytes per operand and stall cycles (from real runs, cached) against
  npu-des under `run.memory_model: scalesim` and under its own model (stalls there = total - compute);
- wall clock of the two tools on the same network.
Real-package results are cached per layer as JSON lines in --cache (default results/scalesim_compare),
so an interrupted --run-scalesim resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from npu_des.config import HardwareConfig, apply_overrides, hardware_from_dict, run_options
from npu_des.importers.scalesim import load_topology
from npu_des.importers.scalesim_config import load_scalesim_config
from npu_des.kinds import Direction, TensorKind
from npu_des.sim.driver import simulate
from npu_des.tiling.compute_model import scalesim_cycles
from npu_des.workload import Workload

HERE = Path(__file__).parent
SHIPPED = HERE.parent / "tests" / "importers" / "data" / "scalesim" / "configs"  # SCALE-Sim's own (MIT)
NETWORKS = {"resnet50": "resnet50.csv", "mobilenet": "mobilenet.csv", "googlenet": "googlenet.csv"}
CONFIGS = {"large32": HERE / "scalesim" / "large32.cfg", "ethos": HERE / "scalesim" / "ethos.cfg",
           "scalecfg": SHIPPED / "v3" / "scale.cfg"}
MEMORY_CONFIGS = ("ethos", "large32")  # where SCALE-Sim's DRAM numbers are compared
DATAFLOWS = ("os", "ws", "is")
FIELDS = ("total_cycles", "stall_cycles", "dram_ifmap_reads", "dram_filter_reads", "dram_ofmap_writes",
          "seconds")


@dataclass
class Job:
    network: str
    config: str
    dataflow: str

    @property
    def name(self) -> str:
        return f"{self.network}_{self.config}_{self.dataflow}"


def hardware(config: str, dataflow: str) -> tuple[HardwareConfig, list[str]]:
    data, notes = load_scalesim_config(CONFIGS[config])
    data = apply_overrides(data, [f"cores.array.dataflow={dataflow}"], source=config)
    return hardware_from_dict(data), notes


def topology_rows(path: Path) -> list[str]:
    """Data lines of a topology as SCALE-Sim reads them (first line skipped, blank lines dropped)."""
    return [line for line in path.read_text().splitlines()[1:] if line.strip(" ,")]


def cached(job: Job, cache: Path, reference: Path | None) -> dict[int, dict[str, Any]]:
    """Per-layer SCALE-Sim results already known: the cache's JSON lines, then a reference folder's."""
    layers: dict[int, dict[str, Any]] = {}
    sources = [cache / f"{job.name}.jsonl"]
    if reference is not None:
        sources += [reference / f"{job.name}.jsonl", reference / f"{job.name}.json"]
    for source in sources:
        if not source.exists():
            continue
        if source.suffix == ".json":
            records = json.loads(source.read_text()).get("layers", [])
        else:
            records = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
        for index, record in enumerate(records):
            layer = record.get("layer_id", record.get("index", index))
            if all(field in record for field in FIELDS):
                layers.setdefault(int(layer), {field: record[field] for field in FIELDS})
    return layers


def run_scalesim(job: Job, rows: list[str], cache: Path, known: dict[int, dict[str, Any]]) -> None:
    """Run the real package on every layer not yet cached, one layer per call, appending to the cache."""
    python = os.environ.get("NPU_DES_SCALESIM_PYTHON")
    if not python:
        sys.exit("npu-des: error: NPU_DES_SCALESIM_PYTHON: not set (bash .ci/scalesim_venv.sh makes a venv)")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, (cache / f"{job.name}.jsonl").open("a") as out:
        topology = Path(folder) / "layer.csv"
        for index, row in enumerate(rows):
            if index in known:
                continue
            topology.write_text("Layer name, H, W, R, S, C, N, Stride,\n" + row.rstrip(" ,") + ",\n")
            done = subprocess.run([python, str(HERE / "scalesim_harness.py"), "--topology", str(topology),
                                   "--cfg", str(CONFIGS[job.config]), "--dataflow", job.dataflow],
                                  capture_output=True, text=True, check=True)
            record = {"index": index, **json.loads(done.stdout)[0]}
            known[index] = {field: record[field] for field in FIELDS}
            out.write(json.dumps(record) + "\n")
            out.flush()
            print(f"  scalesim {job.name} layer {index + 1}/{len(rows)}: {record['seconds']:.1f} s",
                  file=sys.stderr)


def compute_row(workload: Workload, job: Job) -> dict[str, Any]:
    """SCALE-Sim's whole-GEMM cycles against npu-des's default-tiled compute cycles, per layer."""
    hw, _ = hardware(job.config, job.dataflow)
    start = time.perf_counter()
    result = simulate(workload, hw, run_options(pass_="forward"))
    seconds = time.perf_counter() - start
    rows, cols = hw.cores.array.rows, hw.cores.array.cols
    reference = [scalesim_cycles(layer.gemm.M, layer.gemm.K, layer.gemm.N, rows, cols, job.dataflow)
                 * layer.gemm.groups for layer in workload.layers]
    ratios = [row.compute_cycles / cycles for row, cycles in zip(result.layers, reference, strict=True)]
    worst = max(range(len(ratios)), key=lambda index: abs(ratios[index] - 1))
    return {"layers": len(ratios), "scalesim_cycles": sum(reference), "npu_des_cycles": result.compute_cycles,
            "ratio": result.compute_cycles / sum(reference), "worst_layer": workload.layers[worst].name,
            "worst_ratio": ratios[worst], "outside_5pct": sum(abs(ratio - 1) > 0.05 for ratio in ratios),
            "tasks": result.tasks, "npu_des_seconds": seconds, "total_cycles": result.total_cycles}


def memory_row(workload: Workload, job: Job, reference: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """DRAM bytes per operand and stalls: SCALE-Sim, npu-des's scalesim model, npu-des's own model."""
    hw, _ = hardware(job.config, job.dataflow)
    read, write = Direction.READ, Direction.WRITE
    row: dict[str, Any] = {}
    for model in ("scalesim", "npu-des"):
        start = time.perf_counter()
        result = simulate(workload, hw, run_options(pass_="forward", memory_model=model))
        row[model] = {"ifmap": result.dram_bytes[read][TensorKind.X],
                      "filter": result.dram_bytes[read][TensorKind.W],
                      "ofmap": result.dram_bytes[write][TensorKind.Y],
                      "stall_cycles": result.total_cycles - result.compute_cycles,
                      "total_cycles": result.total_cycles, "seconds": time.perf_counter() - start,
                      "layers": {layer.layer: layer for layer in result.layers}}
    if len(reference) == len(workload.layers):
        layers = [reference[index] for index in range(len(workload.layers))]
        row["scalesim_package"] = {
            "ifmap": sum(layer["dram_ifmap_reads"] for layer in layers),
            "filter": sum(layer["dram_filter_reads"] for layer in layers),
            "ofmap": sum(layer["dram_ofmap_writes"] for layer in layers),
            "stall_cycles": sum(layer["stall_cycles"] for layer in layers),
            "total_cycles": sum(layer["total_cycles"] for layer in layers),
            "seconds": sum(layer["seconds"] for layer in layers)}
        row["worst_layer_error"] = _worst_layer_error(workload, row["scalesim"]["layers"], layers)
    for model in ("scalesim", "npu-des"):
        del row[model]["layers"]
    return row


def _worst_layer_error(workload: Workload, ours: dict[str, Any], theirs: list[dict[str, Any]]) -> float:
    """Largest relative error of DRAM bytes per operand or stalls over the layers (stalls against the
    layer's total cycles when SCALE-Sim has none)."""
    worst = 0.0
    for layer, reference in zip(workload.layers, theirs, strict=True):
        row = ours[layer.name]
        pairs = ((row.read_bytes[TensorKind.X], reference["dram_ifmap_reads"]),
                 (row.read_bytes[TensorKind.W], reference["dram_filter_reads"]),
                 (row.write_bytes[TensorKind.Y], reference["dram_ofmap_writes"]),
                 (row.end - row.start - row.compute_cycles, reference["stall_cycles"]))
        for mine, real in pairs:
            worst = max(worst, abs(mine - real) / max(real, 1))
    return worst


def megabytes(nbytes: float) -> str:
    return f"{nbytes / 1e6:,.2f}"


def print_tables(results: dict[str, Any]) -> None:
    print("## Compute cycles, forward, default tiling vs SCALE-Sim's whole GEMM\n")
    print("| network | config | layers | dataflow | SCALE-Sim cycles | npu-des cycles | ratio | worst layer "
          "| layers off >5% |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key, row in results["compute"].items():
        network, config, dataflow = key.split("_")
        print(f"| {network} | {config} | {row['layers']} | {dataflow} | {row['scalesim_cycles']:,} | "
              f"{row['npu_des_cycles']:,} | {row['ratio']:.4f} | {row['worst_layer']} "
              f"{row['worst_ratio']:.3f} | {row['outside_5pct']} |")
    print("\n## DRAM bytes (MB: ifmap / filter / ofmap) and stall cycles, forward\n")
    print("| network | config | dataflow | SCALE-Sim | stalls | npu-des scalesim model | stalls "
          "| worst layer err | npu-des model | total - compute "
          "| wall s SCALE-Sim / npu-des / scalesim model |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for key, row in results["memory"].items():
        network, config, dataflow = key.split("_")
        real = row.get("scalesim_package")
        ours, own = row["scalesim"], row["npu-des"]

        def split(numbers: dict[str, Any]) -> str:
            return " / ".join(megabytes(numbers[operand]) for operand in ("ifmap", "filter", "ofmap"))

        real_text = (split(real), f"{real['stall_cycles']:,}") if real else ("not run", "")
        error = f"{row['worst_layer_error']:.2%}" if "worst_layer_error" in row else ""
        wall = f"- / {own['seconds']:.2f} / {ours['seconds']:.1f}"
        if real:
            wall = (f"{real['seconds']:.0f} / {own['seconds']:.2f} / {ours['seconds']:.1f} "
                    f"({real['seconds'] / own['seconds']:,.0f}x)")
        print(f"| {network} | {config} | {dataflow} | {real_text[0]} | {real_text[1]} | {split(ours)} | "
              f"{ours['stall_cycles']:,.0f} | {error} | {split(own)} | {own['stall_cycles']:,.0f} | {wall} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="MobileNet; memory on the ethos config only")
    parser.add_argument("--networks", nargs="+", choices=sorted(NETWORKS), default=None)
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=None)
    parser.add_argument("--run-scalesim", action="store_true", help="run the package for uncached layers")
    parser.add_argument("--cache", type=Path, default=Path("results/scalesim_compare"))
    parser.add_argument("--reference", type=Path, default=None, help="folder of earlier SCALE-Sim results")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    args = parser.parse_args()
    networks = args.networks or (["mobilenet"] if args.quick else list(NETWORKS))
    memory_configs = ("ethos",) if args.quick else MEMORY_CONFIGS
    results: dict[str, Any] = {"compute": {}, "memory": {}}
    for network in networks:
        path = HERE / "scalesim" / "topologies" / NETWORKS[network]
        workload = load_topology(path)
        for config in args.configs or CONFIGS:
            for dataflow in DATAFLOWS:
                job = Job(network, config, dataflow)
                results["compute"][job.name] = compute_row(workload, job)
                if config not in memory_configs:
                    continue
                known = cached(job, args.cache, args.reference)
                if args.run_scalesim:
                    run_scalesim(job, topology_rows(path), args.cache, known)
                results["memory"][job.name] = memory_row(workload, job, known)
                print(f"  {job.name} done", file=sys.stderr)
    print_tables(results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
