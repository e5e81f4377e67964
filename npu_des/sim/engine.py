"""The SimPy world of one planned run: build the components, run the cores' executors, detect a stuck run.

`run_schedule` executes a plan as given and `run_plan` plans and runs; `simulate_once` is one
simulation with fixed per-layer partitions, where a backward pin plan is first weighed by the dY
bytes an unpinned `run_plan` reads. Choosing partitions by simulation (`partition: auto`) sits on
top (npu_des/sim/autotune.py, npu_des/sim/driver.py), so nothing here calls itself.
"""

from __future__ import annotations

from collections.abc import Callable

from npu_des.config import HardwareConfig, RunOptions
from npu_des.errors import SimulationStuck
from npu_des.kinds import KIND_CODES, OpId, TensorKind, WaitReason
from npu_des.metrics import RunResult
from npu_des.schedule.plan import PinnedBytes, plan
from npu_des.schedule.tasks import Schedule
from npu_des.sim.clock import Clock
from npu_des.sim.collect import FinishedRun, collect
from npu_des.sim.components.dma import DmaEngine
from npu_des.sim.components.dram import DramChannel
from npu_des.sim.components.spm import Scratchpad
from npu_des.sim.components.systolic_array import SystolicArray
from npu_des.sim.components.vector_unit import VectorUnit
from npu_des.sim.executor import CoreExecutor, Synchronizer
from npu_des.sim.start_trace import mark_first_simulation
from npu_des.workload import Workload

Progress = Callable[[int, int], None]


def simulate_once(workload: Workload, hw: HardwareConfig, options: RunOptions,
                  partitions: dict[str, str] | None = None, dma_engine: type[DmaEngine] = DmaEngine,
                  progress: Progress | None = None, record_timeline: bool = True) -> RunResult:
    """One simulation with the given partitions (None: `options.partition` for every layer)."""
    dy_reads = None
    if options.pin_plan != "none" and options.pass_ == "backward":  # weigh dY pins by a measured unpinned run
        unpinned = run_plan(workload, hw, options.model_copy(update={"pin_plan": "none"}), partitions, None,
                            dma_engine, record_timeline=False)
        dy_reads = {row.layer: row.read_bytes[TensorKind.DY] for row in unpinned.layers}
    return run_plan(workload, hw, options, partitions, dy_reads, dma_engine, progress, record_timeline)


def run_plan(workload: Workload, hw: HardwareConfig, options: RunOptions, partitions: dict[str, str] | None,
             dy_reads: dict[str, int] | None, dma_engine: type[DmaEngine] = DmaEngine,
             progress: Progress | None = None, record_timeline: bool = True) -> RunResult:
    """Plan `workload` (partitions and dY reads as given) and run the plan."""
    schedule, pins = plan(workload, hw, options, partitions, dy_reads)
    return run_schedule(workload, hw, options, schedule, pins, dma_engine, progress, record_timeline)


def run_schedule(workload: Workload, hw: HardwareConfig, options: RunOptions, schedule: Schedule,
                 pins: PinnedBytes, dma_engine: type[DmaEngine] = DmaEngine,
                 progress: Progress | None = None, record_timeline: bool = True) -> RunResult:
    """Simulate a planned schedule to the end and collect what it measured.

    `progress(done, total)` is called as tile tasks complete (about every 1%), for progress bars.
    With `record_timeline` False no transfer, DRAM busy interval or SPM sample is kept: the result's
    `timeline` and `spm_occupancy` are empty, every number is the same.
    """
    clock = Clock()
    dram = DramChannel(clock, hw.dram_bytes_per_cycle, hw.dram.latency_cycles, record_timeline)
    spm = Scratchpad(clock, hw.spm.capacity_bytes, hw.spm.policy, len(workload.layers), record_timeline)
    for layer_index, kind_code in pins:
        spm.pin_tensor(layer_index, kind_code)
    sync = Synchronizer(clock, schedule)
    if progress is not None:
        total = len(schedule.tasks)
        progress(0, total)
        sync.progress = lambda done: progress(done, total)
    cores = hw.cores
    executors = [
        CoreExecutor(
            clock,
            core,
            SystolicArray.from_config(clock, cores.array),
            dma_engine(clock, core, dram, cores.dma.outstanding, record_timeline),
            spm,
            schedule.tasks_of_core(core),
            sync,
            options.prefetch_depth,
            VectorUnit(clock, cores.vector.elements_per_cycle, cores.vector.startup_cycles),
        )
        for core in range(cores.count)
    ]
    _unpin_when_layer_done(schedule, sync, spm, _releases(workload, pins), executors[0].dma)
    for executor in executors:
        clock.spawn(executor.run)
    mark_first_simulation()
    clock.run()
    if progress is not None:
        progress(sync.computed, len(schedule.tasks))
    for executor in executors:
        executor.stalls.idle(executor.free_since, clock.now)
    stuck = [executor for executor in executors if not executor.finished]
    if stuck or any(sync.remaining.values()):
        raise SimulationStuck(describe_stuck(stuck, spm, clock.now))
    return collect(workload, hw, options, schedule, FinishedRun(clock.now, dram, spm, executors, sync))


def _releases(workload: Workload, pins: PinnedBytes) -> dict[tuple[int, int], str]:
    """The layer whose completion frees each pin: its own, or for a forward feature map its only consumer."""
    names = [layer.name for layer in workload.layers]
    consumer = {producer: layer.name for layer in workload.layers for producer in layer.inputs}
    return {
        (index, code): consumer[names[index]] if code == KIND_CODES[TensorKind.Y] else names[index]
        for index, code in pins
    }


def _unpin_when_layer_done(
    schedule: Schedule,
    sync: Synchronizer,
    spm: Scratchpad,
    releases: dict[tuple[int, int], str],
    dma: DmaEngine,
) -> None:
    """A pinned tensor is released once every op of the layer that last reads it has finished."""
    if not releases:
        return
    ops_left = {
        grid.layer.name: sum(1 for op in sync.remaining if op[0] == grid.layer.name)
        for grid in schedule.grids.values()
    }

    def on_op_done(op: OpId) -> None:
        ops_left[op[0]] -= 1
        if ops_left[op[0]] == 0:
            for (layer_index, kind_code), layer in releases.items():
                if layer == op[0]:
                    spm.unpin_tensor(layer_index, kind_code, dma)

    sync.on_op_done.append(on_op_done)


def describe_stuck(stuck: list[CoreExecutor], spm: Scratchpad, now: float) -> str:
    """The error of a run whose event queue ran dry: up to three waiting tasks per core and why they wait."""
    lines = [f"simulation stopped progressing at cycle {now:.0f} with work left:"]
    for executor in stuck:
        for waiting in list(executor.waiting.values())[:3]:
            task = waiting.task
            what = f"{task.op} tile {tuple(task.tile)} of layer '{task.layer}'"
            if waiting.reason is WaitReason.PREVIOUS_CONTRIBUTION:
                why = f"waits for task {waiting.task_id} (previous partial sum of {task.output.kind} tile)"
            elif waiting.reason is WaitReason.DY_PRODUCERS:
                why = "waits for the ops producing its dY, which never finished"
            elif waiting.reason is WaitReason.AFTER:
                missing = [i for i in task.after if not executor.sync.landed[i]]
                why = f"waits for tasks {missing} (its `after`) to compute and write back"
            else:
                why = "waits for SPM space for its operands"
            lines.append(f"  core {executor.core}: {what} {why}")
    if spm.waiting_for_space:
        lines.append(
            f"  SPM: {len(spm.waiting_for_space)} allocation(s) of up to "
            f"{max(spm.waiting_for_space) / 1024:.1f} KB wait; {spm.used_bytes / 1024:.1f} KB of "
            f"{spm.capacity_bytes / 1024:.0f} KB in use ({spm.pinned_bytes / 1024:.1f} KB pinned)"
        )
    return "\n".join(lines)
