"""Running a sweep: each point on any concurrent.futures executor (a local process pool, or a
dask.distributed cluster's executor), every finished point appended to a durable table so that an
interrupted sweep can resume (npu_des/sweep/table.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from npu_des.config import load_hardware, parse_value, run_options
from npu_des.errors import ConfigError, SimulationStuck
from npu_des.kinds import DIRECTIONS, TensorKind
from npu_des.metrics import RunResult, kinds_of
from npu_des.models import build_model
from npu_des.sim.driver import simulate
from npu_des.sweep.progress import progress_bar
from npu_des.sweep.spec import Point, SweepSpec, validate
from npu_des.sweep.table import SweepTable
from npu_des.sweep.variants import variant_engine
from npu_des.workload import Workload


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
        result = simulate(workload, hardware, options, dma_engine=engine, record_timeline=False)
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
    columns["compulsory_dY"] = result.compulsory_bytes.get(TensorKind.DY, 0)
    columns["spm_hit_rate"] = result.spm_hit_rate
    columns["spm_evictions"] = result.spm_evictions
    columns["cores"] = result.cores
    for core, utilisation in enumerate(result.core_utilisation):
        columns[f"core{core}_utilisation"] = utilisation
    columns["pe_utilisation"] = result.pe_utilisation
    return columns


@contextmanager
def make_executor(jobs: int | None = None, dask_address: str | None = None) -> Iterator[Executor]:
    """A local process pool (`jobs` workers, default one per CPU), or a dask.distributed cluster's
    executor."""
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
        raise ConfigError(
            f"cannot reach the dask scheduler at {dask_address} ({error})", field="--dask"
        ) from None
    with client:
        yield client.get_executor()


def run_sweep(
    spec: SweepSpec,
    out: Path,
    *,
    executor: Executor | None = None,
    jobs: int | None = None,
    dask_address: str | None = None,
    resume: bool = False,
    quiet: bool = False,
) -> list[dict[str, Any]]:
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
