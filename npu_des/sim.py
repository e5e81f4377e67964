"""Build the SimPy world from hardware + workload + options, run the backward pass, return a RunResult."""

from __future__ import annotations

from collections.abc import Callable

import simpy

from npu_des.config import HardwareConfig, RunOptions
from npu_des.errors import ConfigError, SimulationStuck
from npu_des.executor import CoreExecutor, Synchronizer
from npu_des.hw import DmaEngine, DramChannel, Scratchpad, SystolicArray
from npu_des.hw.vector_unit import VectorUnit
from npu_des.metrics import ALL_KINDS, DIRECTIONS, KINDS, LayerRow, RunResult, TimelineEvent
from npu_des.planner import PinCandidate, check_pins_fit, plan_pins
from npu_des.schedule import Schedule, build_schedule
from npu_des.schedule.compulsory import compulsory_traffic
from npu_des.schedule.forward import forward_layer_order
from npu_des.schedule.pinning import (
    backward_candidates,
    disjoint_pin_deps,
    estimated_dy_reads,
    in_flight_bytes,
    mark_pins,
    plan_forward_pins,
)
from npu_des.schedule.tasks import KIND_CODES, VECTOR_OP
from npu_des.sparsity import Sparsity
from npu_des.tiling import TileGrid, plan_tiles
from npu_des.workload import Workload, backward_graph, backward_layer_order, forward_graph

KIND_NAMES = {code: kind for kind, code in KIND_CODES.items()}


def plan(workload: Workload, hw: HardwareConfig, options: RunOptions,
         partitions: dict[str, str] | None = None,
         dy_reads: dict[str, int] | None = None) -> tuple[Schedule, dict[tuple[int, int], int]]:
    """Graph -> tiles -> schedule, with every capacity check done before any simulation.

    A plan that cannot fit names the hardware and model it failed on. `dy_reads` (layer -> dY bytes
    read by an unpinned run) lets the backward pin planner weigh each dY pin by what it saves.
    """
    try:
        return _plan(workload, hw, options, partitions, dy_reads)
    except ConfigError as error:
        raise error.with_source(f"model '{workload.name}' on hardware '{hw.name}'") from None


def _plan(workload: Workload, hw: HardwareConfig, options: RunOptions, partitions: dict[str, str] | None,
          dy_reads: dict[str, int] | None) -> tuple[Schedule, dict[tuple[int, int], int]]:
    forward = forward_graph(workload)
    backward = backward_graph(forward)
    forward_pass = options.pass_ == "forward"
    layers = forward_layer_order(forward) if forward_pass else backward_layer_order(forward)
    indices = {layer.name: index for index, layer in enumerate(workload.layers)}
    in_flight = hw.cores.count * (options.prefetch_depth + 1)
    override = (options.tile.m, options.tile.n, options.tile.k) if options.tile else None
    common = {"capacity_bytes": hw.spm.capacity_bytes, "in_flight_tasks": in_flight,
                  "bytes_per_element": hw.bytes_per_element, "spm_fraction": options.spm_fraction, "override": override,
                  "cores": hw.cores.count,
                  "array": (hw.cores.array.rows, hw.cores.array.cols, hw.cores.array.dataflow),
                  "sparsity": Sparsity.from_options(options)}
    grids = plan_tiles(layers, indices, **common)
    if options.pins and options.pin_plan != "none":
        raise ConfigError("give either run.pins or run.pin_plan, not both", field="run.pin_plan")
    if forward_pass:
        return plan_forward_pins(layers, grids, hw, options, in_flight, check_task_count)
    check_task_count(grids, options.max_tasks, hw.spm.capacity_bytes)
    budget = hw.spm.capacity_bytes - in_flight_bytes(grids, in_flight)
    pins = resolve_pins(options.pins, grids, {layer.name: q for q, layer in enumerate(layers)})
    if options.pin_plan != "none":
        reads = dy_reads if dy_reads is not None else estimated_dy_reads(grids, options.order)
        chosen = plan_pins(options.pin_plan, backward_candidates(layers, grids, reads), budget)
        by_name = {f"{grid.layer.name}:dY": grid.index for grid in grids.values()}
        pins = {(by_name[pin.tensor], KIND_CODES["dY"]): pin for pin in chosen}
    check_pins_fit(list(pins.values()), budget, "run.pin_plan" if options.pin_plan != "none" else "run.pins")
    schedule = build_schedule(layers, backward, grids, hw.cores.count, options, hw.spm.capacity_bytes, partitions)
    names = {grid.index: name for name, grid in grids.items()}
    ops = {name: tuple(op for op in schedule.op_deps if op[0] == name) for name in grids}
    schedule = disjoint_pin_deps(schedule, [(ops[names[index]], ops[names[index]], pin.start, pin.end)
                                            for (index, _), pin in pins.items()])
    return mark_pins(schedule, {names[index]: KIND_NAMES[code] for index, code in pins}), \
        {key: pin.nbytes for key, pin in pins.items()}


def check_task_count(grids: dict[str, TileGrid], max_tasks: int, capacity_bytes: int) -> None:
    """Refuse plans whose tiles are so small that the run would effectively never finish."""
    total = 0
    for grid in grids.values():
        g, m, n, k = grid.counts
        total += g * m * n * k * (2 if grid.layer.has_input_gradient else 1)
    if total > max_tasks:
        worst = max(grids.values(), key=lambda grid: grid.counts[0] * grid.counts[1] * grid.counts[2] * grid.counts[3])
        shape = worst.shape
        raise ConfigError(
            f"SPM {capacity_bytes / 1024:.0f} KB forces tiles as small as {shape.tm}x{shape.tn}x{shape.tk} "
            f"(layer '{worst.layer.name}'), giving {total:,} tile tasks, more than run.max_tasks={max_tasks:,}; "
            "use a larger spm.capacity_kb or raise run.max_tasks", field="spm.capacity_kb")


def resolve_pins(specs: tuple[str, ...], grids: dict[str, TileGrid],
                 positions: dict[str, int]) -> dict[tuple[int, int], PinCandidate]:
    """Backward `LAYER:KIND` pin specs -> {(layer index, kind code): pin alive over [q, q+1] of backward order}.

    A layer's pins last until all its ops finish, which may be after the next layer has started,
    so the pins of consecutive layers share the SPM and are checked together.
    """
    pins: dict[tuple[int, int], PinCandidate] = {}
    for spec in specs:
        layer, colon, kind = spec.rpartition(":")
        if not colon:
            raise ConfigError(f"pin '{spec}' names no tensor kind", field="run.pins",
                              allowed="LAYER:KIND, e.g. conv1:dY")
        if layer not in grids:
            raise ConfigError(f"pin '{spec}' names unknown layer '{layer}'", field="run.pins",
                              allowed="LAYER:KIND with a layer of the model")
        if kind not in KINDS:
            raise ConfigError(f"pin '{spec}' names unknown tensor kind '{kind}'", field="run.pins",
                              allowed=", ".join(KINDS) + " (Y on forward runs)")
        grid = grids[layer]
        nbytes = grid.compulsory_bytes()[kind]
        pins[(grid.index, KIND_CODES[kind])] = PinCandidate(spec, nbytes, 0, positions[layer], positions[layer] + 1)
    return pins


def simulate(workload: Workload, hw: HardwareConfig, options: RunOptions,
             partitions: dict[str, str] | None = None, dma_engine: type[DmaEngine] = DmaEngine,
             progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Simulate the backward pass of `workload` on `hw` in the order `options.order`.

    `partitions` (layer -> multi-core scheme) overrides `options.partition` for those layers;
    with `partition: auto` each layer's scheme is chosen by simulating it alone (autotune.py).
    `dma_engine` lets an oracle variant (e.g. sweep_variants.DyOnceDmaEngine) replace the DMA model.
    `progress(done, total)` is called as tile tasks complete (about every 1%), for progress bars.
    """
    if options.partition == "auto" and partitions is None:
        from npu_des.autotune import choose_partitions

        partitions = choose_partitions(workload, hw, options)
    dy_reads = None
    if options.pin_plan != "none" and options.pass_ == "backward":  # weigh dY pins by a measured unpinned run
        unpinned = simulate(workload, hw, options.model_copy(update={"pin_plan": "none"}), partitions, dma_engine)
        dy_reads = {row.layer: row.read_bytes["dY"] for row in unpinned.layers}
    schedule, pins = plan(workload, hw, options, partitions, dy_reads)
    env = simpy.Environment()
    dram = DramChannel(env, hw.dram_bytes_per_cycle, hw.dram.latency_cycles)
    spm = Scratchpad(env, hw.spm.capacity_bytes, hw.spm.policy, len(workload.layers))
    for layer_index, kind_code in pins:
        spm.pin_tensor(layer_index, kind_code)
    sync = Synchronizer(env, schedule)
    if progress is not None:
        total = len(schedule.tasks)
        progress(0, total)
        sync.progress = lambda done: progress(done, total)
    array = hw.cores.array
    executors = []
    for core in range(hw.cores.count):
        executors.append(CoreExecutor(
            env, core, SystolicArray.from_config(env, array),
            dma_engine(env, core, dram, hw.cores.dma.outstanding), spm, schedule.tasks_of_core(core), sync,
            options.prefetch_depth, VectorUnit(env, hw.cores.vector.elements_per_cycle, hw.cores.vector.startup_cycles)))
    _unpin_when_layer_done(schedule, sync, spm, _releases(workload, pins), executors[0].dma)
    for executor in executors:
        env.process(executor.run())
    env.run()
    if progress is not None:
        progress(sync.computed, len(schedule.tasks))
    stuck = [executor for executor in executors if not executor.finished]
    if stuck or any(sync.remaining.values()):
        raise SimulationStuck(_describe_stuck(stuck, spm, env.now))
    return _collect(workload, hw, options, schedule, env, dram, spm, executors, sync)


def _releases(workload: Workload, pins: dict[tuple[int, int], int]) -> dict[tuple[int, int], str]:
    """The layer whose completion frees each pin: its own, or for a forward feature map its only consumer."""
    names = [layer.name for layer in workload.layers]
    consumer = {producer: layer.name for layer in workload.layers for producer in layer.inputs}
    return {(index, code): consumer[names[index]] if code == KIND_CODES["Y"] else names[index]
            for index, code in pins}


def _unpin_when_layer_done(schedule: Schedule, sync: Synchronizer, spm: Scratchpad,
                           releases: dict[tuple[int, int], str], dma: DmaEngine) -> None:
    """A pinned tensor is released once every op of the layer that last reads it has finished."""
    if not releases:
        return
    ops_left = {grid.layer.name: sum(1 for op in sync.remaining if op[0] == grid.layer.name)
                for grid in schedule.grids.values()}

    def on_op_done(op: tuple[str, str]) -> None:
        ops_left[op[0]] -= 1
        if ops_left[op[0]] == 0:
            for (layer_index, kind_code), layer in releases.items():
                if layer == op[0]:
                    spm.unpin_tensor(layer_index, kind_code, dma)

    sync.on_op_done.append(on_op_done)


def _describe_stuck(stuck: list[CoreExecutor], spm: Scratchpad, now: float) -> str:
    lines = [f"simulation stopped progressing at cycle {now:.0f} with work left:"]
    for executor in stuck:
        for task, reason, detail in list(executor.waiting.values())[:3]:
            what = f"{task.op} tile {task.tile} of layer '{task.layer}'"
            if reason == "previous contribution":
                why = f"waits for task {detail} (previous partial sum of {task.output.kind} tile)"
            elif reason == "dY producers":
                why = "waits for the ops producing its dY, which never finished"
            else:
                why = "waits for SPM space for its operands"
            lines.append(f"  core {executor.core}: {what} {why}")
    if spm.waiting_for_space:
        lines.append(f"  SPM: {len(spm.waiting_for_space)} allocation(s) of up to "
                     f"{max(spm.waiting_for_space) / 1024:.1f} KB wait; {spm.used_bytes / 1024:.1f} KB of "
                     f"{spm.capacity_bytes / 1024:.0f} KB in use ({spm.pinned_bytes / 1024:.1f} KB pinned)")
    return "\n".join(lines)


def _collect(workload: Workload, hw: HardwareConfig, options: RunOptions, schedule: Schedule,
             env: simpy.Environment, dram: DramChannel, spm: Scratchpad, executors: list[CoreExecutor],
             sync: Synchronizer) -> RunResult:
    names = [layer.name for layer in workload.layers]
    forward_pass = options.pass_ == "forward"
    kinds = ALL_KINDS if forward_pass or options.vector_ops else KINDS  # vector ops read the saved Y
    timeline: list[TimelineEvent] = []
    layer_compute: dict[str, list[float]] = {}
    for executor in executors:
        for start, end, task in executor.compute_records:
            resource = f"core{executor.core}.{'vector' if task.op == VECTOR_OP else 'array'}"
            timeline.append(TimelineEvent(resource, start, end, task.op, task.layer, task.op,
                                          ".".join(map(str, task.tile)), task.macs, ""))
            stats = layer_compute.setdefault(task.layer, [start, 0, 0, 0])
            stats[0] = min(stats[0], start)
            stats[1] += end - start
            stats[2] += task.macs if task.op != VECTOR_OP else 0
            stats[3] += 1
    layer_bytes = {name: {"read": dict.fromkeys(kinds, 0), "write": dict.fromkeys(kinds, 0)} for name in names}
    for executor in executors:
        resource = f"core{executor.core}.dma"
        for start, end, kind, direction, nbytes, key in executor.dma.records:
            layer = names[key[0]]
            layer_bytes[layer][direction][kind] += nbytes
            timeline.append(TimelineEvent(resource, start, end, kind, layer, "", ".".join(map(str, key[2:])), nbytes,
                                          direction))
    timeline.extend(TimelineEvent("dram", start, end, "busy", "", "", "", 0, "")
                    for start, end in dram.busy_intervals)
    timeline.sort(key=lambda event: (event.start, event.resource, event.end))

    rows = []
    compulsory = dict.fromkeys(kinds, 0)
    for (_layer, kind), nbytes in compulsory_traffic(schedule).items():
        compulsory[kind] += nbytes
    for grid in sorted(schedule.grids.values(), key=lambda g: g.index):
        name = grid.layer.name
        start, busy, macs, count = layer_compute.get(name, [0.0, 0, 0, 0])
        dx_end = sync.op_end.get((name, "dX"), 0.0)
        dw_end = sync.op_end.get((name, "dW"), 0.0)
        end = max(dx_end, dw_end, sync.op_end.get((name, "Y"), 0.0), sync.op_end.get((name, VECTOR_OP), 0.0))
        gemm, shape = grid.layer.gemm, grid.shape
        rows.append(LayerRow(name, grid.layer.kind, gemm.M, gemm.N, gemm.K, gemm.groups,
                             f"{shape.tg}x{shape.tm}x{shape.tn}x{shape.tk}", count, start, end,
                             dx_end, dw_end, int(busy), macs, layer_bytes[name]["read"],
                             layer_bytes[name]["write"], spm.hits[grid.index], spm.misses[grid.index]))
    dram_bytes = {direction: dict.fromkeys(kinds, 0) for direction in DIRECTIONS}
    for (kind, direction), nbytes in dram.bytes.items():
        dram_bytes[direction][kind] += nbytes
    return RunResult(
        model=workload.name, hardware=hw.name, order=order_label(options), cores=hw.cores.count,
        clock_ghz=hw.clock_ghz, total_cycles=env.now,
        compute_cycles=sum(e.array.busy_cycles for e in executors), macs=sum(e.array.macs for e in executors),
        core_busy_cycles=[e.array.busy_cycles + e.vector.busy_cycles for e in executors],
        vector_cycles=sum(e.vector.busy_cycles for e in executors),
        vector_span_cycles=_vector_span(executors, sync),
        pe_count_per_core=hw.cores.array.rows * hw.cores.array.cols, dram_bytes=dram_bytes,
        compulsory_bytes=compulsory, dram_bytes_per_cycle=hw.dram_bytes_per_cycle,
        spm_capacity_bytes=spm.capacity_bytes, spm_peak_bytes=spm.peak_bytes, spm_hits=sum(spm.hits),
        spm_misses=sum(spm.misses), spm_evictions=spm.evictions, dram_transfers=dram.transfers,
        tasks=len(schedule.tasks), layers=rows, timeline=timeline, spm_occupancy=spm.occupancy,
        options=options.model_dump(mode="json", by_alias=True), choices=_choices(schedule),
        arrays=[dict(executor.array.statistics()) for executor in executors])


def _vector_span(executors: list[CoreExecutor], sync: Synchronizer) -> float:
    """Wall cycles from each layer's first vector task to the end of its vector op (write-backs included)."""
    first: dict[str, float] = {}
    for executor in executors:
        for start, _, task in executor.compute_records:
            if task.op == VECTOR_OP:
                first[task.layer] = min(first.get(task.layer, start), start)
    return sum(sync.op_end[(layer, VECTOR_OP)] - start for layer, start in first.items())


def order_label(options: RunOptions) -> str:
    """`interleaved-auto` when the interleaved loop order is chosen per layer, else the order's name."""
    if options.pass_ == "forward":
        return "forward"
    return "interleaved-auto" if options.order == "interleaved" and options.loop_order == "auto" else options.order


def _choices(schedule: Schedule) -> dict[str, dict[str, str]]:
    """Per layer: the tile shape, and for interleaved runs the loop order and partition scheme used."""
    return {name: {"tile": f"{g.shape.tg}x{g.shape.tm}x{g.shape.tn}x{g.shape.tk}",
                   **schedule.layer_choices.get(name, {})} for name, g in schedule.grids.items()}
