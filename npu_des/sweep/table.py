"""The durable result table of a sweep: one JSON line per finished point, fsynced as it lands.

A sweep killed at any instant leaves whole lines plus at most one torn last line; reopening
drops the torn line, so `--resume` recomputes exactly the points that have no row. The exported
table (CSV, and Parquet when pyarrow is installed) is sorted canonically, so an interrupted and
resumed sweep exports the same table as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from npu_des.config import ORDER_NAMES, resolve_preset
from npu_des.errors import ConfigError, one_line, warn
from npu_des.files import read_bytes, read_text
from npu_des.kinds import KINDS
from npu_des.sweep.spec import Point, SweepSpec

if TYPE_CHECKING:
    import pandas

JOURNAL = "points.jsonl"
MANIFEST = "sweep.json"
LOCK = ".sweep.lock"
CSV = "results.csv"
PARQUET = "results.parquet"
LEADING = ("model", "hw", "variant")
MEASURES = (
    "error",
    "total_cycles",
    "seconds",
    "compute_cycles",
    "lower_bound_cycles",
    *(f"read_{kind}" for kind in KINDS),
    "read_bytes",
    *(f"write_{kind}" for kind in KINDS),
    "write_bytes",
    "total_dram_bytes",
    "compulsory_dY",
    "spm_hit_rate",
    "spm_evictions",
    "pe_utilisation",
    "cores",
)


@contextmanager
def sweep_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on a sweep directory, taken before anything is read or written there, so
    two sweeps never both record points into it. The kernel drops it when the process dies, even by
    SIGKILL, so a killed sweep never leaves a stale lock."""
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    handle = (directory / LOCK).open("a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip()
            raise ConfigError(
                f"{directory} is in use by another sweep{f' (pid {holder})' if holder.isdigit() else ''}; "
                "wait for it to finish or choose another --out",
                field="--out",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


def hardware_hashes(names: tuple[str, ...]) -> dict[str, str]:
    """SHA-256 of each hardware file's content (presets too), so --resume can tell an edited file."""
    return {name: hashlib.sha256(read_bytes(resolve_preset(name), "hardware file", field="--hw")).hexdigest()
            for name in names}


def _value_key(value: Any) -> tuple[int, float, str]:
    """Numbers sort numerically and before text, so 6 < 11 < 22 GB/s."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return (1, 0.0, json.dumps(value, sort_keys=True))
    return (0, float(value), "")


def canonical_key(row: dict[str, Any], keys: list[str]) -> tuple:
    order = ORDER_NAMES.index(row["order"]) if row["order"] in ORDER_NAMES else len(ORDER_NAMES)
    return (
        *(_value_key(row[name]) for name in LEADING),
        *(_value_key(row.get(key)) for key in keys),
        order,
        row["order"],
    )


@dataclass
class SweepTable:
    """Rows of one sweep directory: the journal on disk plus the finished rows in memory."""

    directory: Path
    spec: SweepSpec
    point_ids: list[str]
    done: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def open(cls, directory: Path, spec: SweepSpec, points: list[Point], resume: bool) -> SweepTable:
        """Start a new table, or with `resume` reload a previous one whose points are all in this sweep."""
        journal = directory / JOURNAL
        if journal.exists() and not resume:
            raise ConfigError(
                f"{directory} already holds a sweep; pass --resume to continue it, or choose another --out",
                field="--out",
            )
        directory.mkdir(parents=True, exist_ok=True)
        table = cls(directory, spec, [point.id for point in points])
        hashes = hardware_hashes(spec.hardware)
        if journal.exists():
            _check_same_hardware(directory, hashes)
            table.done = _read_journal(journal, repair=True)
            unknown = set(table.done) - set(table.point_ids)
            if unknown:
                raise ConfigError(
                    f"{directory} holds {len(unknown)} point(s) that this sweep does not have; "
                    "rerun with the arguments that started it (values may only be added)",
                    field="--resume",
                )
        _write_atomically(directory / MANIFEST,
                          json.dumps({**spec.to_json(), "hardware_sha256": hashes}, indent=2) + "\n")
        return table

    def append(self, row: dict[str, Any]) -> None:
        """Make one finished point durable before anything else happens."""
        line = json.dumps(row, sort_keys=True)
        with (self.directory / JOURNAL).open("a") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.done[row["point"]] = json.loads(line)  # exactly what a resumed sweep would read back

    def rows(self) -> list[dict[str, Any]]:
        """Finished rows of this sweep's points, canonically sorted, without worker-side extras (`_*`)."""
        rows = [
            {k: v for k, v in self.done[pid].items() if not k.startswith("_")}
            for pid in self.point_ids
            if pid in self.done
        ]
        return sorted(rows, key=lambda row: canonical_key(row, self.spec.keys))

    def export(self) -> list[Path]:
        """Write results.csv (and results.parquet if pyarrow is installed)."""
        frame = to_frame(self.rows(), self.spec.keys)
        paths = [self.directory / CSV]
        frame.to_csv(paths[0], index=False)
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            return paths
        paths.append(self.directory / PARQUET)
        frame.to_parquet(paths[1], index=False)
        return paths


def _check_same_hardware(directory: Path, hashes: dict[str, str]) -> None:
    """Finished points were simulated on the hardware files as they were then: resuming after one was
    edited would mix two machines in one table, so it is refused (matched by content, not by path)."""
    try:
        before = json.loads((directory / MANIFEST).read_text()).get("hardware_sha256", {})
    except (OSError, ValueError, AttributeError):
        before = {}
    for name, digest in hashes.items():
        if name in before and before[name] != digest:
            raise ConfigError(
                f"hardware '{name}' changed since the sweep in {directory} started (its content differs); "
                "its finished points ran on the old file: restore it or sweep into a new --out",
                field="--resume",
            )


def _write_atomically(path: Path, data: str | bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    os.replace(temporary, path)


def _read_journal(path: Path, repair: bool = False) -> dict[str, dict[str, Any]]:
    """The rows of whole, valid lines. A torn last line (killed mid-write) and lines that are not a row
    (`null`, NUL bytes from a crashed file system, other garbage) are dropped with a warning, so those
    points run again; with `repair` the journal is rewritten without them so appends start clean."""
    rows: dict[str, dict[str, Any]] = {}
    good: list[bytes] = []
    bad: list[int] = []
    raw = read_bytes(path, "sweep journal", limit=1 << 34)
    lines = raw.split(b"\n")
    for number, line in enumerate(lines[:-1], start=1):  # the last piece has no newline: torn or empty
        row = _row_of(line)
        if row is None:
            bad.append(number)
            continue
        if row["point"] not in rows:
            rows[row["point"]] = row
            good.append(line + b"\n")
    torn = bool(lines[-1])
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
        warn(f"{path}: skipped {len(bad)} unreadable line(s) (line {shown}); their points run again")
    if repair and (bad or torn):
        _write_atomically(path, b"".join(good))
    return rows


def _row_of(line: bytes) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    if not isinstance(row, dict) or not isinstance(row.get("point"), str):
        return None
    return row


def to_frame(rows: list[dict[str, Any]], keys: list[str]) -> pandas.DataFrame:
    """Rows -> DataFrame with columns: identity, swept keys, then measurements (stable order)."""
    import pandas

    identity = ["model", "hw", "variant", *keys, "order"]
    seen = {name for row in rows for name in row} - {*identity, "point"}
    rest = [name for name in MEASURES if name in seen]
    rest += sorted(seen - set(rest), key=lambda name: (len(name), name))  # core2 before core10
    columns = [*identity, *rest, "point"]
    frame = pandas.DataFrame(rows, columns=columns)
    for name in rest:  # integer counts stay integers when a failed point leaves them empty
        raw = [row.get(name) for row in rows]
        present = [value for value in raw if value is not None]
        if present and len(present) < len(raw) and all(type(value) is int for value in present):
            frame[name] = pandas.array(raw, dtype="Int64")
    for key in keys:  # mixed-type swept values would break Parquet; keep them as text then
        if frame[key].map(type).nunique() > 1:
            frame[key] = frame[key].map(
                lambda value: json.dumps(value) if not isinstance(value, str) else value
            )
    return frame


def load_sweep(directory: Path) -> tuple[SweepSpec, pandas.DataFrame]:
    """Read a sweep directory (manifest + journal) for plots and experiments."""
    manifest = directory / MANIFEST
    if not manifest.is_file():
        raise ConfigError(f"no sweep found in {directory} (missing {MANIFEST})", field="DIR")
    try:
        spec = SweepSpec.from_json(json.loads(read_text(manifest, "sweep manifest")))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigError(f"unreadable sweep manifest ({type(error).__name__}: {one_line(str(error))[:120]})",
                          source=str(manifest)) from None
    points = spec.points()
    table = SweepTable(directory, spec, [point.id for point in points])
    if (directory / JOURNAL).exists():
        table.done = _read_journal(directory / JOURNAL)
    return spec, to_frame(table.rows(), spec.keys)
