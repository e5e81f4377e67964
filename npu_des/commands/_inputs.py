"""Shared CLI plumbing: where a workload and a hardware config come from (zoo, SCALE-Sim, ONNX, YAML).

Not a subcommand: cli.py skips modules whose name starts with an underscore.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from npu_des.config import HardwareConfig, apply_overrides, hardware_from_dict, load_hardware
from npu_des.errors import ConfigError
from npu_des.models import build_model, model_names
from npu_des.workload import Workload


@dataclass
class Inputs:
    workload: Workload
    hardware: HardwareConfig
    notes: list[str] = field(default_factory=list)  # what the user should know: unmapped keys, skipped nodes


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="resnet50", help=f"zoo model ({', '.join(model_names())})")
    parser.add_argument(
        "--topology", type=Path, help="SCALE-Sim topology CSV (conv or GEMM format) instead of --model"
    )
    parser.add_argument("--onnx", type=Path, help="ONNX model (Conv/Gemm/MatMul) instead of --model")
    parser.add_argument(
        "--skip-unsupported",
        action="store_true",
        help="ONNX: treat unsupported ops as pass-through (listed in the output)",
    )
    parser.add_argument("--hw", default="edge_dual", help="hardware preset name or YAML file")
    parser.add_argument(
        "--scalesim-cfg", type=Path, help="SCALE-Sim .cfg mapped onto the hardware (instead of --hw)"
    )
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 1)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a hardware field (dram.bandwidth_gbps=22) or run option (run.prefetch_depth=2)",
    )


def load_inputs(args: argparse.Namespace, batch: int) -> Inputs:
    notes: list[str] = []
    sources = [flag for flag, value in (("--topology", args.topology), ("--onnx", args.onnx)) if value]
    if len(sources) > 1:
        raise ConfigError("give one workload source", field=" and ".join(sources))
    if args.topology:
        from npu_des.importers.scalesim import load_topology

        workload = load_topology(args.topology, batch=batch)
    elif args.onnx:
        from npu_des.importers.onnx_import import load_onnx

        workload, skipped = load_onnx(args.onnx, batch=args.batch, skip_unsupported=args.skip_unsupported)
        if skipped:
            notes.append(
                f"skipped {len(skipped)} unsupported ONNX node(s) as pass-through: {', '.join(skipped)}"
            )
    else:
        workload = build_model(args.model, batch=batch)
    if args.scalesim_cfg:
        from npu_des.importers.scalesim_config import load_scalesim_config

        data, config_notes = load_scalesim_config(args.scalesim_cfg)
        hw_overrides = [o for o in args.set if not o.startswith("run.")]
        hardware = hardware_from_dict(
            apply_overrides(data, hw_overrides, str(args.scalesim_cfg)), source=str(args.scalesim_cfg)
        )
        notes += config_notes
    else:
        hardware = load_hardware(args.hw, args.set)
    return Inputs(workload, hardware, notes)
