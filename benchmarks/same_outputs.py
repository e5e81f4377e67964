"""Byte-for-byte check that an engine change moved no simulated number.

    python benchmarks/same_outputs.py write DIR          # run every case, keep its files in DIR/<case>/
    python benchmarks/same_outputs.py compare OLD NEW    # exit 1 naming every file that differs

Run `write` with PYTHONPATH pointing at the old tree, then at the new one, then `compare`. Each case is
an `npu-des run` command line (in-process); its `--out` files (summary.json, layers.csv, timeline.csv,
spm.csv, comparison.json) and its printed JSON are kept. The cases cover both orders, the loop-order
and partition search, a forward pass with fusion and a pin plan, vector ops, pins, the explicit SPM
policy and a configurable array (per-op dataflow, stationary reuse, zero skipping) with sparsity.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from pathlib import Path

CASES: dict[str, list[str]] = {
    "tiny_cnn": ["--model", "tiny_cnn", "--order", "both"],
    "resnet50_edge": ["--model", "resnet50", "--hw", "edge_dual", "--json"],
    "resnet50_server": ["--model", "resnet50", "--hw", "server_dual", "--json"],
    "mnv2_forward_fuse_pin": ["--model", "mobilenet_v2", "--pass", "forward", "--set", "run.fuse=auto",
                              "--set", "run.pin_plan=optimal"],
    "resnet50_auto": ["--model", "resnet50", "--order", "interleaved-auto", "--partition", "auto"],
    "resnet50_vector": ["--model", "resnet50", "--hw", "edge_dual", "--set", "run.vector_ops=true"],
    "tiny_cnn_pin": ["--model", "tiny_cnn", "--pin", "conv2:dY", "--order", "both"],
    "resnet50_pin_plan": ["--model", "resnet50", "--pass", "backward", "--order", "sequential",
                          "--set", "run.pin_plan=optimal"],
    "mnv1_explicit": ["--model", "mobilenet_v1", "--set", "spm.policy=explicit"],
    "mnv1_dataflow": ["--model", "mobilenet_v1", "--order", "interleaved", "--loop-order", "knm",
                      "--set", "cores.array.dataflow={dX: ws, dW: os}",
                      "--set", "cores.array.reconfiguration_cycles=16",
                      "--set", "cores.array.stationary_reuse=true", "--set", "cores.array.zero_skipping=true",
                      "--set", "run.density=0.6", "--set", "run.compression=bitmap"],
    "googlenet_ethos": ["--model", "googlenet", "--hw", "ethos_n77", "--set", "run.prefetch_depth=2"],
}


def write(directory: Path, only: list[str]) -> None:
    from npu_des.cli import main

    for name, argv in CASES.items():
        if only and name not in only:
            continue
        out = directory / name
        out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = main(["run", *argv, "--out", str(out)])
        if "--json" in argv:
            (out / "printed.json").write_text(printed.getvalue())
        print(f"{name}: exit {code}, {time.perf_counter() - started:.1f} s", file=sys.stderr)


def compare(old: Path, new: Path) -> int:
    old_files = {p.relative_to(old) for p in old.rglob("*") if p.is_file()}
    new_files = {p.relative_to(new) for p in new.rglob("*") if p.is_file()}
    problems = [f"only in {old}: {p}" for p in sorted(old_files - new_files)]
    problems += [f"only in {new}: {p}" for p in sorted(new_files - old_files)]
    problems += [f"differs: {p}" for p in sorted(old_files & new_files)
                 if (old / p).read_bytes() != (new / p).read_bytes()]
    for line in problems:
        print(line)
    print(f"{len(old_files & new_files)} files compared, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "write":
        write(Path(sys.argv[2]), sys.argv[3:])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        sys.exit(__doc__)
