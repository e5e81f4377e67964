"""Running a sweep: each point on any concurrent.futures executor (a local process pool, or a
dask.distributed cluster's executor), every finished point appended to a durable table so that an
interrupted sweep can resume (npu_des/sweep/table.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import signal
import time
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager, suppress
from functools import lru_cache
from pathlib import Path
from typing import Any

from npu_des.config import (
    HardwareConfig,
    RunOptions,
    load_hardware,
    order_fields,
    parse_value,
    run_options,
    with_preset_batch,
)
from npu_des.errors import ConfigError, Interrupted, SimulationStuck, one_line
from npu_des.files import check_output_dir
from npu_des.kinds import DIRECTIONS, TensorKind
from npu_des.metrics import RunResult, kinds_of
from npu_des.models import build_model
from npu_des.sim.driver import simulate
from npu_des.sweep.progress import progress_bar
from npu_des.sweep.spec import Point, SweepSpec, validate
from npu_des.sweep.table import SweepTable, sweep_lock
from npu_des.sweep.variants import variant_engine, variant_overrides
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
        overrides = [*point.overrides, *variant_overrides(point.variant)]
        options = with_preset_batch(run_options(overrides, **order_fields(point.order)), hardware)
        workload = _workload(point.model, options.batch)
        engine, check = variant_engine(point.variant)
        result = simulate(workload, hardware, options, dma_engine=engine, record_timeline=False)
        check(result)
        row.update(result_columns(result))
        row.update(energy_columns(result, workload, hardware, options))
        row["error"] = ""
    except (ConfigError, SimulationStuck) as error:
        row["error"] = f"{type(error).__name__}: {error}".replace("\n", " | ")
    row["_wall_seconds"] = time.perf_counter() - started
    return row


def energy_columns(result: RunResult, workload: Workload, hardware: HardwareConfig,
                   options: RunOptions) -> dict[str, Any]:
    """Energy (total pJ, pJ/MAC, by component) under the hardware's `energy:` prices, as `npu-des run`
    prices it (npu_des/analysis/explain.py); none without prices or under memory model scalesim, whose
    whole-layer GEMMs have no tiles to count accesses of."""
    if hardware.energy is None or options.memory_model == "scalesim":
        return {}
    from npu_des.analysis.counts import count_accesses
    from npu_des.analysis.explain import energy_of
    from npu_des.analysis.replay import rebuild_schedule

    counts = count_accesses(result, rebuild_schedule(result, workload, hardware, options), hardware)
    energy = energy_of(result, counts, hardware).summary()
    return {"energy_pj": energy["total_pj"], "pj_per_mac": energy["pj_per_mac"],
            **{f"energy_{part}_pj": value for part, value in sorted(energy["components_pj"].items())}}


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
    for reasons in result.stalls.values():  # array cycles by stall reason, summed over the cores
        for reason, cycles in reasons.items():
            columns[f"stall_{reason}_cycles"] = columns.get(f"stall_{reason}_cycles", 0.0) + cycles
    return columns


MIN_JOBS_LIMIT = 64  # --jobs above max(64, 8 x CPUs) is a typo, not a machine: each worker is a process
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def jobs_limit() -> int:
    return max(MIN_JOBS_LIMIT, 8 * (os.cpu_count() or 1))


def _worker_init(parent_pid: int) -> None:
    """In each worker: die with the parent (even a SIGKILLed one), and leave Ctrl-C to the parent, which
    stops the workers itself (a terminal's SIGINT reaches the whole process group)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the parent's cleanup still kills workers it can see
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _kill_workers(executor: ProcessPoolExecutor) -> None:
    """Stop a local pool now: running points are abandoned (their rows are simply missing, so --resume
    reruns them), no worker outlives the sweep."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    for process in processes:
        with suppress(OSError, ValueError):
            process.kill()
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with suppress(OSError, ValueError, AssertionError):
            process.join(timeout=10)


DASK_ADDRESS = re.compile(r"^(?:(?P<scheme>[a-z][a-z0-9+.-]*)://)?(?P<host>\[[0-9a-fA-F:.]+\]|[^\s/:\[\]]+)"
                          r"(?::(?P<port>\d{1,5}))?/?$")
DASK_SCHEMES = ("tcp", "tls", "inproc", "ucx", "ws", "wss")


def check_dask_address(address: str) -> None:
    """A scheduler address as dask.distributed takes it, checked before any connection is tried."""
    allowed = "tcp://HOST:PORT (or tls://, ws://, wss://, ucx://, inproc://), port 1..65535"
    match = DASK_ADDRESS.match(address.strip())
    if not address.strip() or match is None:
        raise ConfigError(f"'{one_line(address)[:100]}' is not a scheduler address", field="--dask",
                          allowed=allowed)
    scheme, port = match.group("scheme") or "tcp", match.group("port")
    if scheme not in DASK_SCHEMES:
        raise ConfigError(f"unknown protocol '{one_line(scheme)}' in '{one_line(address)[:100]}'",
                          field="--dask", allowed=allowed)
    if port is not None and not 1 <= int(port) <= 65535:
        raise ConfigError(f"port {port} is out of range in '{one_line(address)[:100]}'", field="--dask",
                          allowed=allowed)


@contextmanager
def make_executor(jobs: int | None = None, dask_address: str | None = None) -> Iterator[Executor]:
    """A local process pool (`jobs` workers, default one per CPU), or a dask.distributed cluster's
    executor. An exception (or Ctrl-C / SIGTERM) inside kills the local workers instead of waiting."""
    if dask_address is None:
        executor = ProcessPoolExecutor(max_workers=jobs or os.cpu_count() or 1, initializer=_worker_init,
                                       initargs=(os.getpid(),))
        try:
            yield executor
        except BaseException:
            _kill_workers(executor)
            raise
        executor.shutdown(wait=True)
        return
    check_dask_address(dask_address)
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError("needs dask.distributed: pip install 'npu-des[dask]'", field="--dask") from None
    try:
        client = Client(dask_address, timeout="10s")
    except Exception as error:  # OSError, TimeoutError, ValueError for addresses distributed rejects
        raise ConfigError(
            f"cannot reach the dask scheduler at {one_line(dask_address)[:100]} "
            f"({one_line(str(error))[:200]})",
            field="--dask",
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

    Pass `executor` to reuse one you own; otherwise one is made from `jobs` / `dask_address`. The
    directory is locked for the whole sweep (a second sweep on it is refused). Interrupted (Ctrl-C,
    SIGTERM), the workers are stopped, the finished points stay in the table and `Interrupted` is
    raised with a note on how to resume.
    """
    if jobs is not None and not 1 <= jobs <= jobs_limit():
        raise ConfigError(f"{jobs} worker processes is not a usable number", field="--jobs",
                          allowed=f"1..{jobs_limit()} (8 per CPU, at least {MIN_JOBS_LIMIT})")
    if dask_address is not None:
        check_dask_address(dask_address)
    check_output_dir(Path(out), "--out")
    points = spec.points()
    validate(points)
    with sweep_lock(Path(out)):
        table = SweepTable.open(Path(out), spec, points, resume=resume)
        pending = [point for point in points if point.id not in table.done]
        try:
            if pending and executor is not None:
                _run_points(executor, pending, table, len(points), quiet)
            elif pending:
                workers = min(jobs or os.cpu_count() or 1, len(pending))  # never start idle workers
                with make_executor(workers, dask_address) as made:
                    _run_points(made, pending, table, len(points), quiet)
        except KeyboardInterrupt:
            raise Interrupted(signal.SIGINT, _resume_note(table, points, out)) from None
        except Interrupted as interrupt:
            raise Interrupted(interrupt.signal_number, _resume_note(table, points, out)) from None
        finally:
            table.export()
    return table.rows()


def _resume_note(table: SweepTable, points: list[Point], out: Path) -> str:
    done = sum(point.id in table.done for point in points)
    return (f"{done} of {len(points)} points are saved in {out}; no worker is left running; rerun the same "
            "command with --resume to finish")


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
