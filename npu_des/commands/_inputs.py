"""Shared CLI plumbing: where a workload and a hardware config come from (zoo, SCALE-Sim, ONNX, YAML).

Not a subcommand: cli.py skips modules whose name starts with an underscore.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from npu_des.commands._suspicious import warn_input_sources
from npu_des.errors import ConfigError
from npu_des.files import check_regular_file

if TYPE_CHECKING:  # the models and configuration load only when a command runs (start-up time)
    from npu_des.config import HardwareConfig
    from npu_des.workload import Workload

DEFAULT_HW = "edge_dual"


@dataclass
class Inputs:
    workload: Workload
    hardware: HardwareConfig
    notes: list[str] = field(default_factory=list)  # what the user should know: unmapped keys, skipped nodes
    batch: int = 1  # the batch the workload was built with (given, or the hardware's default_batch)


def add_input_arguments(parser: argparse.ArgumentParser, default_hw: str = DEFAULT_HW) -> None:
    from npu_des.models import model_names

    parser.add_argument("--model", default="resnet50", help=f"zoo model ({', '.join(model_names())})")
    parser.add_argument(
        "--topology", type=Path, help="SCALE-Sim topology CSV (conv or GEMM format) instead of --model"
    )
    parser.add_argument("--onnx", type=Path, help="ONNX model (Conv/Gemm/MatMul) instead of --model")
    parser.add_argument(
        "--skip-unsupported",
        action="store_true",
        help="ONNX: treat unsupported ops as pass-through (listed in the output with the MACs and bytes "
        "they drop)",
    )
    parser.add_argument(
        "--allow-large-skips",
        action="store_true",
        help="ONNX: with --skip-unsupported, also skip nodes carrying over 1%% of the model's MACs",
    )
    parser.add_argument("--hw", help=f"hardware preset name or YAML file (default {default_hw})")
    parser.set_defaults(default_hw=default_hw)
    parser.add_argument(
        "--scalesim-cfg", type=Path, help="SCALE-Sim .cfg mapped onto the hardware (instead of --hw)"
    )
    parser.add_argument(
        "--batch", type=int, default=None,
        help="batch size (default: the hardware's default_batch, e.g. 4 on micro23_small; else 1)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a hardware field (dram.bandwidth_gbps=22) or run option (run.prefetch_depth=2)",
    )


def load_inputs(args: argparse.Namespace, batch: int | None) -> Inputs:
    """The workload and hardware the flags name; `batch` None means the hardware's `default_batch` (or 1)."""
    from npu_des.config import apply_overrides, hardware_from_dict, load_hardware
    from npu_des.models import build_model

    warn_input_sources(args)
    notes: list[str] = []
    sources = [flag for flag, value in (("--topology", args.topology), ("--onnx", args.onnx)) if value]
    if len(sources) > 1:
        raise ConfigError("give one workload source", field=" and ".join(sources))
    if args.scalesim_cfg:
        from npu_des.importers.scalesim_config import load_scalesim_config

        data, config_notes = load_scalesim_config(args.scalesim_cfg)
        hw_overrides = [o for o in args.set if not o.startswith("run.")]
        hardware = hardware_from_dict(
            apply_overrides(data, hw_overrides, str(args.scalesim_cfg)), source=str(args.scalesim_cfg)
        )
        notes += config_notes
    else:
        hardware = load_hardware(args.hw or getattr(args, "default_hw", DEFAULT_HW), args.set)
    if batch is None:
        batch = hardware.default_batch or 1
    if args.topology:
        from npu_des.importers.scalesim import read_topology

        workload, topology_notes = read_topology(args.topology, batch=batch)
        notes.extend(topology_notes)
    elif args.onnx:
        from npu_des.importers.onnx_import import import_onnx

        check_regular_file(args.onnx, "ONNX model", field="--onnx")
        imported = import_onnx(args.onnx, args.batch, args.skip_unsupported, args.allow_large_skips)
        workload = imported.workload
        notes += imported.notes()
    else:
        workload = build_model(args.model, batch=batch)
    return Inputs(workload, hardware, notes, batch)
