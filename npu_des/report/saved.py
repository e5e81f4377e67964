"""Saved runs read back from `npu-des run --out DIR`, and the time windows plots and traces zoom into.

Plots and traces work from the files, not from a live RunResult, so any earlier run can be drawn
again; `npu-des run --plot` goes through the same path right after writing them.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from npu_des.errors import ConfigError, one_line
from npu_des.files import check_input_dir, read_text
from npu_des.metrics import TimelineEvent
from npu_des.report.tables import read_timeline

RUN_FILES = ("summary.json", "layers.csv", "timeline.csv", "spm.csv")
ORDER_RANK = {"sequential": 0, "interleaved": 1}


@dataclass(frozen=True)
class SavedRun:
    """One order's results as written by `write_run`: headline numbers, layers, timeline, SPM curve."""

    directory: Path
    summary: dict[str, Any]
    layers: list[dict[str, str]]
    timeline: list[TimelineEvent]
    spm_cycles: np.ndarray          # float64, change points in cycles
    spm_used_bytes: np.ndarray      # int64, occupancy from each change point on
    spm_pinned_bytes: np.ndarray    # int64

    @property
    def order(self) -> str:
        return str(self.summary.get("order", self.directory.name))

    @property
    def pass_name(self) -> str:
        """The simulated pass (summary options' `pass`), for titles: backward unless it says otherwise."""
        options = self.summary.get("options")
        default = "forward" if self.order == "forward" else "backward"
        return str(options.get("pass", default)) if isinstance(options, dict) else default

    @property
    def model(self) -> str:
        return str(self.summary.get("model", "?"))

    @property
    def hardware(self) -> str:
        return str(self.summary.get("hardware", "?"))

    @property
    def total_cycles(self) -> float:
        return float(self.summary["total_cycles"])

    @property
    def cores(self) -> int:
        return int(self.summary.get("cores", 1))

    @property
    def spm_capacity_bytes(self) -> int:
        return int(self.summary["spm"]["capacity_bytes"])

    @property
    def cycles_per_us(self) -> float:
        """Clock in cycles per µs, recovered from seconds / total_cycles (summary.json has no clock field)."""
        seconds = float(self.summary.get("seconds", 0.0))
        if seconds <= 0 or self.total_cycles <= 0:
            return 1e3  # an empty run: any clock draws the same nothing; 1 GHz keeps axes finite
        return self.total_cycles / seconds / 1e6

    def layer_span(self, name: str) -> tuple[float, float] | None:
        """(start, end) cycles of a layer's backward ops in this run, or None if the layer is not here."""
        for row in self.layers:
            if row.get("layer") == name:
                return float(row["start"]), float(row["end"])
        return None


def load_run(directory: Path) -> SavedRun:
    """Read one order's four files; a missing, truncated or garbage one is a ConfigError naming it."""
    missing = [name for name in RUN_FILES if not (directory / name).exists()]
    if missing:
        raise ConfigError(
            f"missing {', '.join(missing)} (write results with `npu-des run --out {directory}`)",
            source=str(directory),
        )
    summary = _saved(directory / "summary.json", _summary)
    layers = _saved(directory / "layers.csv", _layers)
    timeline = _saved(directory / "timeline.csv", read_timeline)
    spm = _saved(directory / "spm.csv", _spm)
    return SavedRun(
        directory,
        summary,
        layers,
        timeline,
        spm[:, 0],
        spm[:, 1].astype(np.int64),
        spm[:, 2].astype(np.int64),
    )


T = TypeVar("T")
TIMELINE_LIMIT = 4 * 1024**3  # a timeline of ~50 M events; far beyond what a run writes in reasonable time


def _saved(path: Path, read: Callable[[Path], T]) -> T:
    """Read one saved file with `read`; whatever is wrong with it becomes one line naming the file."""
    read_text(path, "saved result file", limit=TIMELINE_LIMIT)  # regular, UTF-8, no NUL bytes: before parsing
    try:
        return read(path)
    except ConfigError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError, csv.Error,
            OSError) as error:  # OverflowError: an integer of thousands of digits where a float is read
        detail = one_line(str(error))[:160]
        raise ConfigError(
            f"unreadable saved results ({type(error).__name__}{': ' + detail if detail else ''}); it may be "
            "truncated or not written by npu-des",
            source=str(path), allowed=f"the files `npu-des run --out {path.parent}` writes",
        ) from None


def _summary(path: Path) -> dict[str, Any]:
    summary = json.loads(path.read_text())
    if not isinstance(summary, dict):
        raise ValueError("expected a JSON object")
    total, capacity = float(summary["total_cycles"]), int(summary["spm"]["capacity_bytes"])
    if not (np.isfinite(total) and total >= 0 and capacity > 0):  # fail here, not mid-plot
        raise ValueError(f"total_cycles {total} or spm.capacity_bytes {capacity} out of range")
    float(summary.get("seconds", 0.0))
    return summary


def _layers(path: Path) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(path.read_text(), newline="")))
    if not rows:
        raise ValueError("no layer rows (every run writes one per layer)")
    for number, row in enumerate(rows, start=2):
        if row.get("layer") is None or not all(np.isfinite(float(row[key])) for key in ("start", "end")):
            raise ValueError(f"line {number}: needs a layer name and finite start, end")
        if None in row or None in row.values():  # more or fewer fields than the header: a cut row
            raise ValueError(f"line {number}: not as many fields as the header")
    return rows


def _spm(path: Path) -> np.ndarray:
    if not path.read_text().strip().partition("\n")[2].strip():  # the header alone: a run without SPM
        return np.zeros((0, 3))                                 # samples (run.memory_model=scalesim)
    spm = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, dtype=np.float64)
    if spm.shape[1] < 3 or not np.isfinite(spm).all():
        raise ValueError("expected finite cycle, used_bytes, pinned_bytes on every row")
    return spm


def load_runs(directory: Path) -> list[SavedRun]:
    """A single-order DIR gives one run; a both-orders DIR gives each order's subfolder, sequential first."""
    directory = check_input_dir(directory, "saved run directory")
    summary, comparison = directory / "summary.json", directory / "comparison.json"
    if summary.exists() and not (
        comparison.is_file() and comparison.stat().st_mtime > summary.stat().st_mtime
    ):
        return [load_run(directory)]  # (a newer comparison.json means a later both-orders run reused DIR)
    subfolders = [child for child in directory.iterdir() if (child / "summary.json").is_file()]
    if not subfolders:
        raise ConfigError(
            "no run results here (expected summary.json, or sequential/ and interleaved/ "
            "from `npu-des run --out DIR`)",
            source=str(directory),
        )
    subfolders.sort(key=lambda child: (ORDER_RANK.get(child.name, len(ORDER_RANK)), child.name))
    return [load_run(child) for child in subfolders]


def parse_window(text: str, runs: list[SavedRun]) -> tuple[float, float]:
    """`START:END` in cycles (either side may be empty), clipped to the run; a window missing the run is an
    error."""
    run_end = max(run.total_cycles for run in runs)
    parts = text.split(":")
    if len(parts) != 2:
        raise ConfigError(f"'{text}' is not START:END in cycles", field="--window")
    try:
        start = float(parts[0].replace("_", "")) if parts[0].strip() else 0.0
        end = float(parts[1].replace("_", "")) if parts[1].strip() else run_end
    except ValueError:
        raise ConfigError(
            f"'{text}' is not START:END in cycles (numbers like 1000:2e5)", field="--window"
        ) from None
    if not (np.isfinite(start) and np.isfinite(end)) or start >= end:
        raise ConfigError(f"'{text}' needs START < END", field="--window")
    if end <= 0 or start >= run_end:
        raise ConfigError(f"'{text}' is outside the run (0:{run_end:.0f} cycles)", field="--window")
    return max(start, 0.0), min(end, run_end)


def layer_window(name: str, runs: list[SavedRun]) -> tuple[float, float]:
    """The cycles a layer's backward ops span; across orders, the union, so both fit on one shared axis."""
    spans = [span for run in runs if (span := run.layer_span(name)) is not None]
    if not spans:
        names = [row["layer"] for row in runs[0].layers]
        close = difflib.get_close_matches(name, names, n=3)
        hint = (
            f"did you mean {' or '.join(close)}?"
            if close
            else f"layers.csv has {len(names)}, e.g. {', '.join(names[:4])}"
        )
        raise ConfigError(f"unknown layer '{name}'; {hint}", field="--layer")
    start, end = min(s for s, _ in spans), max(e for _, e in spans)
    if end <= start:
        end = start + 1.0  # a layer with no work still gets a visible window
    return start, end
