"""`npu-des plot DIR`: Gantt chart, per-layer DRAM bars and Chrome trace of a run saved with `npu-des run
--out`.

`render` is also what `npu-des run --plot/--trace` calls after writing its results.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from npu_des.errors import ConfigError

COMMAND = "plot"
HELP = "draw Gantt/SPM/DRAM charts and write a Perfetto trace of a saved run"
FORMATS = ("png", "svg", "pdf")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(COMMAND, help=HELP)
    parser.add_argument("directory", type=Path, help="a directory written by `npu-des run --out DIR`")
    parser.add_argument("--window", metavar="START:END", help="zoom the Gantt chart to cycles START:END")
    parser.add_argument(
        "--layer", help="zoom the Gantt chart to one layer's backward ops (a name in layers.csv)"
    )
    parser.add_argument(
        "--trace", action="store_true", help="also write trace.json (Chrome trace events) per order"
    )
    parser.add_argument("--formats", default="png,svg", help="chart formats, comma-separated (png, svg, pdf)")
    parser.set_defaults(func=plot_command)


def parse_formats(text: str) -> tuple[str, ...]:
    formats = tuple(part.strip().lower().lstrip(".") for part in text.split(",") if part.strip())
    if not formats or any(f not in FORMATS for f in formats):
        raise ConfigError(
            f"'{text}' is not a list of chart formats", field="--formats", allowed=", ".join(FORMATS)
        )
    return formats


def render(
    directory: Path,
    *,
    charts: bool = True,
    trace: bool = False,
    window: str | None = None,
    layer: str | None = None,
    formats: tuple[str, ...] = ("png", "svg"),
) -> list[Path]:
    """Draw the charts and/or traces of the run(s) in `directory`; returns the files written.

    The whole-run view writes gantt.* and layer_bytes.*; a zoom writes gantt_<layer>.* or
    gantt_<start>-<end>.* beside them, so zooms never overwrite the overview. Traces cover the
    whole run (Perfetto zooms by itself): DIR/trace.json, or DIR/<order>/trace.json for both orders.
    """
    from npu_des.report.saved import layer_window, load_runs, parse_window

    runs = load_runs(directory)
    if window and layer:
        raise ConfigError("give either --window or --layer, not both", field="--window")
    if window:
        span = parse_window(window, runs)
        suffix = f"_{span[0]:.0f}-{span[1]:.0f}"
    elif layer:
        span = layer_window(layer, runs)
        suffix = "_" + re.sub(r"[^\w.-]+", "_", layer)
    else:
        span, suffix = (0.0, max(max(run.total_cycles for run in runs), 1.0)), ""
    written: list[Path] = []
    if charts:
        from npu_des.report.gantt import draw_gantt
        from npu_des.report.layer_bars import draw_layer_bars

        written += draw_gantt(runs, span, directory / f"gantt{suffix}", formats, highlight_layer=layer)[0]
        if not suffix:
            written += draw_layer_bars(runs, directory / "layer_bytes", formats)
    if trace:
        from npu_des.report.trace import write_trace

        written += [write_trace(run, run.directory / "trace.json") for run in runs]
    return written


def plot_command(args: argparse.Namespace) -> int:
    formats = parse_formats(args.formats)
    for path in render(
        args.directory, trace=args.trace, window=args.window, layer=args.layer, formats=formats
    ):
        print(f"wrote {path}")
    return 0
