"""One self-contained HTML file of a saved run, to mail to a colleague: configuration, headline numbers,
energy, bounds, stalls, per-layer tables and every chart embedded as a base64 PNG.

Nothing is linked: no scripts, no style sheets, no fonts or images from elsewhere (the style is inline),
so the file opens the same anywhere. Built from the files `npu-des run --out` wrote, like every report.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Callable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from npu_des.files import write_text_atomically
from npu_des.kinds import DIRECTIONS, KINDS
from npu_des.report.compare import compare_runs, comparison_tables, draw_comparison
from npu_des.report.energy_bars import draw_energy_bars
from npu_des.report.explained import explained_rows
from npu_des.report.roofline import draw_roofline, layer_dram_bytes
from npu_des.report.saved import SavedRun

MB = 1e6
STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1400px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.85em; }
th, td { border: 1px solid #ddd; padding: 2px 8px; } th { background: #f2f2f2; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; border: 1px solid #eee; } .note { color: #666; font-size: 0.85em; }
"""
Figure = Callable[[list[SavedRun], Path], list[Path]]


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if i else ''}>{escape(str(cell))}</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def headline_rows(summaries: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    """Time, lower bound, DRAM bytes by direction and kind, SPM, utilisation, then the derived sections."""
    rows = [
        ("total cycles", [f"{s['total_cycles']:,.0f}" for s in summaries]),
        ("time", [f"{s['seconds'] * 1e3:.3f} ms" for s in summaries]),
        ("lower bound (cycles)", [f"{s.get('lower_bound_cycles', 0):,.0f}" for s in summaries]),
    ]
    for direction in DIRECTIONS:
        for kind in KINDS:
            values = [s.get("dram_bytes", {}).get(direction, {}).get(kind, 0) for s in summaries]
            if any(values):
                rows.append((f"DRAM {direction} {kind}", [f"{v / MB:.2f} MB" for v in values]))
    rows += [
        ("DRAM total", [f"{s.get('total_dram_bytes', 0) / MB:.2f} MB" for s in summaries]),
        ("SPM hit rate", [f"{s.get('spm', {}).get('hit_rate', 0):.1%}" for s in summaries]),
        ("PE utilisation", [f"{s.get('pe_utilisation', 0):.1%}" for s in summaries]),
    ]
    return rows + explained_rows(summaries)


def _configuration(runs: Sequence[SavedRun]) -> str:
    first = runs[0].summary
    machine = [
        ("model", first.get("model")),
        ("hardware", first.get("hardware")),
        ("cores", first.get("cores")),
        ("clock", f"{runs[0].cycles_per_us / 1e3:g} GHz"),
        ("DRAM", f"{first.get('dram_bytes_per_cycle', 0):g} B/cycle"),
        ("SPM", f"{first.get('spm', {}).get('capacity_bytes', 0) / 1024:g} KB"),
    ]
    energy = first.get("energy")
    if isinstance(energy, dict):
        machine += [(f"energy: {key}", value) for key, value in energy.get("prices", {}).items()]
        machine.append(("energy: technology", f"{energy.get('technology_nm')} nm"))
    keys = sorted({key for run in runs for key in run.summary.get("options", {})})
    options = [[key, *(_option(run.summary.get("options", {}).get(key)) for run in runs)] for key in keys]
    notes = [note for run in runs for note in run.summary.get("notes", [])]
    return (
        _table(["machine", ""], machine)
        + _table(["run option", *(run.order for run in runs)], options)
        + "".join(f'<p class="note">note: {escape(str(note))}</p>' for note in notes)
    )


def _option(value: Any) -> str:
    return "" if value is None else str(value)


def _number(row: Mapping[str, str], key: str) -> str:
    return f"{float(row[key]):,.0f}" if row.get(key) else ""


def _layer_table(run: SavedRun) -> str:
    stall_columns = sorted({c for row in run.layers for c in row if c.startswith("stall_")})
    headers = ["layer", "bound", "window (cyc)", "compute bound", "memory bound", "MACs", "DRAM (MB)",
               "energy (uJ)", *stall_columns]
    columns = ("window_cycles", "compute_bound_cycles", "memory_bound_cycles", "executed_macs")
    rows = [
        [row["layer"], row.get("bound", ""), *(_number(row, key) for key in columns),
         f"{layer_dram_bytes(row) / MB:.3f}",
         f"{float(row['energy_pj']) / 1e6:,.1f}" if row.get("energy_pj") else "",
         *(_number(row, column) for column in stall_columns)]
        for row in run.layers
    ]
    return _table(headers, rows)


def _embedded(draw: Figure, runs: list[SavedRun], title: str) -> str:
    """One chart as an inline PNG (data URI), or a note saying why it is missing."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            paths = draw(runs, Path(folder) / "figure")
        except Exception as error:  # a chart that cannot be drawn must not lose the rest of the report
            why = escape(f"{type(error).__name__}: {error}")
            return f'<p class="note">{escape(title)}: not drawn ({why})</p>'
        data = base64.b64encode(paths[0].read_bytes()).decode("ascii")
    return f'<h3>{escape(title)}</h3><img alt="{escape(title)}" src="data:image/png;base64,{data}">'


def _gantt(runs: list[SavedRun], stem: Path) -> list[Path]:
    from npu_des.report.gantt import draw_gantt

    end = max(max(run.total_cycles for run in runs), 1.0)
    return draw_gantt(runs, (0.0, end), stem, ("png",))[0]


def _layer_bars(runs: list[SavedRun], stem: Path) -> list[Path]:
    from npu_des.report.layer_bars import draw_layer_bars

    return draw_layer_bars(runs, stem, ("png",))


def _compare_chart(runs: list[SavedRun], stem: Path) -> list[Path]:
    return draw_comparison([compare_runs(runs[0], other) for other in runs[1:]], stem, ("png",))


def render_report(runs: list[SavedRun]) -> str:
    """The whole report as one HTML string."""
    first = runs[0]
    title = f"npu-des: {first.model} on {first.hardware} ({', '.join(run.order for run in runs)})"
    headline = headline_rows([run.summary for run in runs])
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>",
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>",
        "<h2>Results</h2>",
        _table(["metric", *(run.order for run in runs)], [[name, *values] for name, values in headline]),
        "<h2>Configuration</h2>",
        _configuration(runs),
        "<h2>Roofline and energy</h2>",
        _embedded(lambda r, s: draw_roofline(r, s, ("png",)), runs, "Roofline (one point per layer)"),
    ]
    if all(isinstance(run.summary.get("energy"), dict) for run in runs):
        parts.append(_embedded(lambda r, s: draw_energy_bars(r, s, ("png",)), runs, "Energy breakdown"))
    parts += [
        "<h2>Timeline</h2>",
        _embedded(_gantt, runs, "Gantt chart"),
        _embedded(_layer_bars, runs, "DRAM bytes per layer"),
    ]
    if len(runs) > 1:
        parts.append("<h2>Comparison</h2>")
        parts.append(_embedded(_compare_chart, runs, f"Per-layer deltas against {first.order}"))
        for other in runs[1:]:
            for table_title, headers, rows in comparison_tables(compare_runs(first, other)):
                parts.append(f"<h3>{escape(table_title)}</h3>{_table(headers, rows)}")
    for run in runs:
        parts.append(f"<h2>Layers: {escape(run.order)}</h2>{_layer_table(run)}")
    parts.append(
        '<p class="note">Written by npu-des report from the files of npu-des run --out; '
        "every chart is embedded, nothing is linked.</p></body></html>"
    )
    return "\n".join(parts) + "\n"


def write_report(runs: list[SavedRun], path: Path, option: str = "--out") -> Path:
    """The whole file or nothing (a temporary sibling renamed into place), as every other output."""
    write_text_atomically(path, render_report(runs), option)
    return path
