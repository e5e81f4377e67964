"""Parameter sweeps: expand a cartesian product of configurations, run each point on any
concurrent.futures executor (a local process pool, or a dask.distributed cluster's executor),
and append every finished point to a durable table so that an interrupted sweep can resume.

A point is plain data (model, hardware, order, variant, `key=value` overrides), so it pickles
cheaply to any worker, and its canonical id is what `--resume` matches on.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from npu_des.config import ORDERS, load_hardware, parse_value, run_options
from npu_des.errors import ConfigError, SimulationStuck
from npu_des.metrics import DIRECTIONS, RunResult, kinds_of
from npu_des.models import build_model
from npu_des.sim import simulate
from npu_des.sweep_progress import progress_bar
from npu_des.sweep_table import SweepTable
from npu_des.sweep_variants import VARIANTS, variant_engine
from npu_des.workload import Workload

RESERVED_KEYS = {"run.order": "--order"}


@dataclass(frozen=True)
class Axis:
    """One swept configuration key and its values, kept as the text the user wrote."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Point:
    """One configuration of the sweep: everything a worker needs to simulate it."""

    model: str
    hardware: str
    order: str
    settings: tuple[tuple[str, str], ...] = ()
    variant: str = "baseline"

    @property
    def overrides(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.settings]

    @property
    def id(self) -> str:
        """Canonical identity (JSON text), stable across runs: what `--resume` matches on."""
        return json.dumps([self.model, self.hardware, self.variant, self.order, [list(s) for s in self.settings]])


@dataclass(frozen=True)
class SweepSpec:
    """The cartesian product models x hardware x axes x variants x orders."""

    models: tuple[str, ...]
    hardware: tuple[str, ...]
    orders: tuple[str, ...] = ORDERS
    axes: tuple[Axis, ...] = ()
    variants: tuple[str, ...] = ("baseline",)

    @property
    def keys(self) -> list[str]:
        return [axis.key for axis in self.axes]

    def points(self) -> list[Point]:
        """Every point, in canonical order (later fields vary fastest, so the two orders sit side by side)."""
        value_lists = [[(axis.key, value) for value in axis.values] for axis in self.axes]
        return [Point(model, hw, order, tuple(settings), variant)
                for model, hw, settings, variant, order in itertools.product(
                    self.models, self.hardware, itertools.product(*value_lists), self.variants, self.orders)]

    def to_json(self) -> dict[str, Any]:
        return {"models": list(self.models), "hardware": list(self.hardware), "orders": list(self.orders),
                "axes": [{"key": a.key, "values": list(a.values)} for a in self.axes],
                "variants": list(self.variants)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SweepSpec:
        return cls(tuple(data["models"]), tuple(data["hardware"]), tuple(data["orders"]),
                   tuple(Axis(a["key"], tuple(a["values"])) for a in data["axes"]),
                   tuple(data.get("variants", ("baseline",))))


def split_list(text: str) -> list[str]:
    """Split on commas that are not inside brackets or quotes, so `run.pins=[a:dY,b:dY]` stays one value."""
    items, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    items.append("".join(current).strip())
    return items


def parse_axis(text: str) -> Axis:
    """`key=v1,v2,...` -> Axis; an empty list or an empty item is a user error."""
    if "=" not in text:
        raise ConfigError(f"'{text}' is not of the form key=value[,value...]", field="--set")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key:
        raise ConfigError(f"'{text}' has no key", field="--set")
    if key in RESERVED_KEYS:
        raise ConfigError(f"sweep '{key}' with {RESERVED_KEYS[key]}", field="--set")
    values = split_list(raw) if raw.strip() else []
    if not values or any(not value for value in values):
        raise ConfigError(f"empty value in '{text}'; give one or more comma-separated values", field=key)
    if len(set(values)) != len(values):
        raise ConfigError(f"repeated value in '{text}'", field=key)
    return Axis(key, tuple(values))


def build_spec(models: Sequence[str], hardware: Sequence[str], orders: Sequence[str],
               sets: Sequence[str] = (), variants: Sequence[str] = ("baseline",)) -> SweepSpec:
    """Parse and check the parts of a sweep; model names become canonical zoo names."""
    axes = tuple(parse_axis(text) for text in sets)
    keys = [axis.key for axis in axes]
    for key in keys:
        if keys.count(key) > 1:
            raise ConfigError(f"key '{key}' given twice; list all its values in one --set", field="--set")
    for order in orders:
        if order not in ORDERS:
            raise ConfigError(f"unknown order '{order}'", field="--order", allowed=", ".join(ORDERS))
    for variant in variants:
        if variant not in VARIANTS:
            raise ConfigError(f"unknown variant '{variant}'", field="--variant", allowed=", ".join(VARIANTS))
    for name, values in (("--model", models), ("--hw", hardware), ("--order", orders), ("--variant", variants)):
        if not values or any(not value for value in values) or len(set(values)) != len(values):
            raise ConfigError("needs one or more distinct comma-separated values", field=name)
    canonical = tuple(build_model(model).name for model in models)
    return SweepSpec(canonical, tuple(hardware), tuple(orders), axes, tuple(variants))


def validate(points: Sequence[Point]) -> None:
    """Check every point's hardware and run options before anything runs: one bad value, one line."""
    checked: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for point in points:
        if (point.hardware, point.settings) in checked:
            continue
        load_hardware(point.hardware, point.overrides)
        run_options(point.overrides, order=point.order)
        checked.add((point.hardware, point.settings))


@lru_cache(maxsize=8)
def _workload(model: str, batch: int) -> Workload:
    return build_model(model, batch=batch)


def run_point(point: Point) -> dict[str, Any]:
    """Simulate one point in a worker and return its table row; a point that cannot run records its error."""
    started = time.perf_counter()
    row: dict[str, Any] = {"point": point.id, "model": point.model, "hw": point.hardware,
                           "variant": point.variant, "order": point.order}
    row.update({key: parse_value(value) for key, value in point.settings})
    try:
        hardware = load_hardware(point.hardware, point.overrides)
        options = run_options(point.overrides, order=point.order)
        workload = _workload(point.model, options.batch)
        engine, check = variant_engine(point.variant)
        result = simulate(workload, hardware, options, dma_engine=engine)
        check(result)
        row.update(result_columns(result))
        row["error"] = ""
    except (ConfigError, SimulationStuck) as error:
        row["error"] = f"{type(error).__name__}: {error}".replace("\n", " | ")
    row["_wall_seconds"] = time.perf_counter() - started
    return row


def result_columns(result: RunResult) -> dict[str, Any]:
    """The measured columns of a row: time, DRAM bytes by kind and direction, hit rate, utilisation."""
    columns: dict[str, Any] = {
        "total_cycles": result.total_cycles, "seconds": result.seconds,
        "compute_cycles": result.compute_cycles, "lower_bound_cycles": result.lower_bound_cycles,
    }
    for direction in DIRECTIONS:
        for kind in kinds_of(result.dram_bytes):
            columns[f"{direction}_{kind}"] = result.dram_bytes[direction][kind]
        columns[f"{direction}_bytes"] = sum(result.dram_bytes[direction].values())
    columns["total_dram_bytes"] = result.total_dram_bytes
    columns["compulsory_dY"] = result.compulsory_bytes.get("dY", 0)
    columns["spm_hit_rate"] = result.spm_hit_rate
    columns["spm_evictions"] = result.spm_evictions
    columns["cores"] = result.cores
    for core, utilisation in enumerate(result.core_utilisation):
        columns[f"core{core}_utilisation"] = utilisation
    columns["pe_utilisation"] = result.pe_utilisation
    return columns


@contextmanager
def make_executor(jobs: int | None = None, dask_address: str | None = None) -> Iterator[Executor]:
    """A local process pool (`jobs` workers, default one per CPU), or a dask.distributed cluster's executor."""
    if dask_address is None:
        with ProcessPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as executor:
            yield executor
        return
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError("needs dask.distributed: pip install 'npu-des[dask]'", field="--dask") from None
    try:
        client = Client(dask_address, timeout="10s")
    except (OSError, TimeoutError) as error:
        raise ConfigError(f"cannot reach the dask scheduler at {dask_address} ({error})", field="--dask") from None
    with client:
        yield client.get_executor()


def run_sweep(spec: SweepSpec, out: Path, *, executor: Executor | None = None, jobs: int | None = None,
              dask_address: str | None = None, resume: bool = False, quiet: bool = False) -> list[dict[str, Any]]:
    """Run every point not yet in `out`'s table and return the table's rows in canonical order.

    Pass `executor` to reuse one you own; otherwise one is made from `jobs` / `dask_address`.
    """
    if jobs is not None and jobs < 1:
        raise ConfigError(f"must be at least 1 (got {jobs})", field="--jobs")
    points = spec.points()
    validate(points)
    table = SweepTable.open(Path(out), spec, points, resume=resume)
    pending = [point for point in points if point.id not in table.done]
    if pending:
        if executor is not None:
            _run_points(executor, pending, table, len(points), quiet)
        else:
            with make_executor(jobs, dask_address) as made:
                _run_points(made, pending, table, len(points), quiet)
    table.export()
    return table.rows()


def _run_points(executor: Executor, pending: list[Point], table: SweepTable, total: int, quiet: bool) -> None:
    futures: dict[Future, Point] = {executor.submit(run_point, point): point for point in pending}
    try:
        with progress_bar(total, total - len(pending), quiet) as advance:
            for future in as_completed(futures):
                table.append(future.result())
                advance()
    finally:
        for future in futures:
            future.cancel()
