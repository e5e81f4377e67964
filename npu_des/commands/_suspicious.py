"""Accepted but suspicious input: settings that change nothing in this run, each said in one warning line.

Not a subcommand (the leading underscore keeps cli.py from registering it). A warning never stops a run;
it tells the user that what they asked for has no effect, so a result is not read as its effect.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from npu_des.errors import warn

if TYPE_CHECKING:  # annotations only: the configuration (pydantic) loads when a command runs
    from npu_des.config import HardwareConfig, RunOptions


def set_keys(args: argparse.Namespace) -> set[str]:
    """The dotted keys the `--set` options name (run.density, cores.count, ...)."""
    return {item.partition("=")[0].strip() for item in getattr(args, "set", []) or []}


def warn_input_sources(args: argparse.Namespace) -> None:
    """Flags that the chosen workload or hardware source ignores."""
    if getattr(args, "scalesim_cfg", None) and getattr(args, "hw", None):
        warn(f"--hw {args.hw} is ignored: --scalesim-cfg gives the hardware (use --set to change fields)")
    if getattr(args, "skip_unsupported", False) and not getattr(args, "onnx", None):
        warn("--skip-unsupported changes nothing without --onnx")


def warn_run_options(args: argparse.Namespace, options: list[RunOptions], hardware: HardwareConfig) -> None:
    """Run options and hardware fields that have no effect on the runs about to start."""
    keys = set_keys(args)
    first = options[0]
    forward = first.pass_ == "forward"
    orders = {option.order for option in options}
    if forward:
        given = [flag for flag, value in (("--order", getattr(args, "order", None)),
                                          ("--loop-order", getattr(args, "loop_order", None)),
                                          ("--partition", getattr(args, "partition", None))) if value]
        given += sorted(keys & {"run.order", "run.sequential_first", "run.loop_order", "run.partition",
                                "run.partitions", "run.dw_dy", "run.dependencies"})
        if given:
            warn(f"{', '.join(given)} changes nothing with --pass forward (one forward run, layers in order)")
    else:
        if "fused" not in orders:
            given = [flag for flag, value in (("--loop-order", getattr(args, "loop_order", None)),) if value]
            given += sorted(keys & {"run.loop_order"})
            if given:
                warn(f"{', '.join(given)} changes nothing without the fused order (--order fused or "
                     "interleaved-auto)")
        if "sequential" not in orders and (getattr(args, "baseline", None) or "run.baseline" in keys):
            warn("--baseline/run.baseline changes nothing without the sequential order")
        if hardware.cores.count == 1 and (getattr(args, "core_mapping", None) or "run.core_mapping" in keys):
            warn("--core-mapping/run.core_mapping changes nothing on one core")
        if "sequential" not in orders and "run.sequential_first" in keys:
            warn("run.sequential_first changes nothing without the sequential order")
        if first.fuse:
            warn("run.fuse changes nothing in a backward run: fusion is modelled for --pass forward")
        if "run.partitions" in keys and all(option.partition == "none" for option in options):
            warn("run.partitions changes nothing without data partitioning (--partition or the partitioned "
                 "order)")
    sparse = any(option.density < 1 or option.density_file for option in options)
    zero_skipping = hardware.cores.array.zero_skipping
    compressed = any(option.compression != "none" for option in options)
    if sparse and not zero_skipping and not compressed:
        warn("run.density/run.density_file change nothing without cores.array.zero_skipping=true or "
             "run.compression=bitmap|csr")
    if not sparse and (zero_skipping or compressed):
        what = "cores.array.zero_skipping" if zero_skipping else f"run.compression={first.compression}"
        warn(f"{what} changes nothing at density 1 (set run.density or run.density_file)")
    dataflow = hardware.cores.array.dataflow
    single = isinstance(dataflow, str) or len(set(dataflow.values())) == 1
    if hardware.cores.array.reconfiguration_cycles and single:
        warn("cores.array.reconfiguration_cycles changes nothing with one dataflow for every op "
             "(set cores.array.dataflow={dX: ws, dW: os} to switch)")
