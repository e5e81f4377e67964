"""Fused-layer execution of the forward pass (CGO'23 "fuse"): a chain of convs, row tile by row tile.

A group is a chain of conv layers in which each layer's only consumer is the next and the next
reads only it. For each tile of output rows of the group's last layer, the rows every earlier layer
must produce follow backwards: a k x k stride-s consumer (padding p) needs producer rows
[a*s - p, (b-1)*s - p + k) for its rows [a, b), clipped to the map, so neighbouring row tiles
overlap and the overlap (halo) is recomputed, not kept. The intermediate tiles never reach DRAM:
the producing task keeps its SPM reference (`write_back=False, hand_over=True`) and the consuming
task names the same SPM key as its X input and frees it afterwards.

Modelled exactly, and only this: full-channel tiles (all of N, K and the groups in one task, one
task per layer per row tile), whole output rows, one image per step, all of a group's steps of one
row tile on one core (row tiles dealt round-robin). A group whose step does not fit its share of
the SPM is refused with a ConfigError naming the layers and the bytes. A step's share is the SPM
budget's `tiles_bytes` over its in-flight tasks, like any tile's.
"""

from __future__ import annotations

from itertools import pairwise

from npu_des.errors import ConfigError
from npu_des.kinds import KIND_CODES, GemmExtents, Op, OpId, TensorKind, TileKey
from npu_des.schedule.forward import LayerAdder, forward_op_deps, forward_schedule
from npu_des.schedule.tasks import Schedule, TaskList, TileRef, TileTask
from npu_des.tiling import SpmBudget, TileGrid
from npu_des.workload.graph import consumers_of
from npu_des.workload.layers import ConvGeometry, Layer

Y_CODE, X_CODE, W_CODE = KIND_CODES[TensorKind.Y], KIND_CODES[TensorKind.X], KIND_CODES[TensorKind.W]


def geometry(layer: Layer) -> ConvGeometry:
    """The conv geometry of a layer in a fused group (groups hold only convs, see `can_fuse`)."""
    conv = layer.gemm.conv
    assert conv is not None, f"layer '{layer.name}' is not a conv"
    return conv


def padding_of(layer: Layer) -> int:
    """The conv's padding, recovered from its geometry (the lowering keeps only the sizes); a dilated
    kernel covers `span_h` input rows, not `kernel_h`."""
    conv = geometry(layer)
    return max(0, ((conv.out_h - 1) * conv.stride + conv.span_h - conv.in_h + 1) // 2)


def input_rows(layer: Layer, first: int, last: int) -> tuple[int, int]:
    """Input rows [start, end) that output rows [first, last) of conv `layer` read (halo included)."""
    conv = geometry(layer)
    pad = padding_of(layer)
    return max(0, first * conv.stride - pad), min(conv.in_h, (last - 1) * conv.stride - pad + conv.span_h)


def can_fuse(producer: Layer, consumer: Layer, consumers: dict[str, list[str]]) -> bool:
    """Chain link: producer feeds only the consumer, which reads only it; both convs on the same map."""
    p, c = producer.gemm.conv, consumer.gemm.conv
    return (p is not None and c is not None and consumers.get(producer.name) == [consumer.name]
            and consumer.inputs == (producer.name,) and p.batch == c.batch
            and (p.out_h, p.out_w) == (c.in_h, c.in_w) and producer.out_shape[0] == c_in(consumer))


def c_in(layer: Layer) -> int:
    gemm = layer.gemm
    return gemm.groups * gemm.K // gemm.k_unit


def step_bytes(group: list[Layer], rows: int, bytes_per_element: int) -> tuple[int, int]:
    """(largest per-task working set, all weights of the group) for `rows` output rows of the last layer."""
    spans = row_spans(group, 0, rows)
    largest = 0
    for layer, (first, last) in zip(group, spans):
        conv = geometry(layer)
        start, end = input_rows(layer, first, last)
        x = c_in(layer) * (end - start) * conv.in_w
        y = layer.out_shape[0] * (last - first) * conv.out_w
        largest = max(largest, x + y + layer.gemm.weight_elements)
    weights = sum(layer.gemm.weight_elements for layer in group)
    return largest * bytes_per_element, weights * bytes_per_element


def row_spans(group: list[Layer], first: int, last: int) -> list[tuple[int, int]]:
    """Output rows each layer of the group computes for output rows [first, last) of the last layer."""
    spans = [(first, last)]
    for layer in reversed(group[1:]):
        spans.append(input_rows(layer, *spans[-1]))
    return spans[::-1]


def choose_rows(group: list[Layer], budget: SpmBudget) -> int:
    """Most output rows per step whose in-flight working sets (plus the group's weights) fit the budget."""
    budget_bytes, in_flight, bytes_per_element = (
        budget.tiles_bytes,
        budget.in_flight_tasks,
        budget.bytes_per_element,
    )
    out_h = geometry(group[-1]).out_h
    rows = out_h
    while rows >= 1:
        largest, weights = step_bytes(group, rows, bytes_per_element)
        if largest * in_flight + weights <= budget_bytes:
            return rows
        rows = rows // 2 if rows > 1 else 0
    names = "+".join(layer.name for layer in group)
    largest, weights = step_bytes(group, 1, bytes_per_element)
    need = largest * in_flight + weights
    raise ConfigError(
        f"fused group '{names}' needs {need / 1024:.1f} KB for one output row "
        f"({in_flight} in-flight steps and its weights), {(need - budget_bytes) / 1024:.1f} KB "
        f"over the {budget_bytes / 1024:.0f} KB available",
        field="run.fuse",
    )


def fits(group: list[Layer], budget: SpmBudget) -> bool:
    """Whether one output row of the group fits the budget (see `choose_rows`)."""
    largest, weights = step_bytes(group, 1, budget.bytes_per_element)
    return largest * budget.in_flight_tasks + weights <= budget.tiles_bytes


def fused_input_bytes(group: list[Layer], budget: SpmBudget) -> int:
    """DRAM bytes of the group input's row tiles (halo rows read again by each step), as `_add_group` reads
    them."""
    first, last = group[0], geometry(group[-1])
    rows = choose_rows(group, budget)
    total = 0
    for top in range(0, last.out_h, rows):
        start, end = input_rows(first, *row_spans(group, top, min(last.out_h, top + rows))[0])
        total += c_in(first) * (end - start) * geometry(first).in_w
    return total * last.batch * budget.bytes_per_element


def auto_groups(layers: list[Layer], budget: SpmBudget, max_depth: int = 3) -> list[list[Layer]]:
    """Greedy chains of up to `max_depth` fusible convs in forward order that fit (singletons left out)."""
    consumers = consumers_of(layers)
    groups: list[list[Layer]] = []
    current: list[Layer] = []
    for layer in layers:
        if (
            current
            and len(current) < max_depth
            and can_fuse(current[-1], layer, consumers)
            and fits([*current, layer], budget)
        ):
            current.append(layer)
            continue
        if len(current) > 1:
            groups.append(current)
        current = [layer] if layer.gemm.conv is not None else []
    if len(current) > 1:
        groups.append(current)
    return groups


def named_groups(layers: list[Layer], specs: tuple[str, ...]) -> list[list[Layer]]:
    """`a+b+c` specs -> layer chains; each must be a fusible chain in forward order."""
    by_name = {layer.name: layer for layer in layers}
    consumers = consumers_of(layers)
    groups = []
    for spec in specs:
        names = spec.split("+")
        unknown = [name for name in names if name not in by_name]
        if unknown or len(names) < 2:
            raise ConfigError(
                f"fused group '{spec}' "
                + (f"names unknown layer '{unknown[0]}'" if unknown else "needs at least two layers"),
                field="run.fuse",
                allowed="LAYER+LAYER[+...] chains of convs, or auto",
            )
        group = [by_name[name] for name in names]
        for producer, consumer in pairwise(group):
            if not can_fuse(producer, consumer, consumers):
                raise ConfigError(
                    f"fused group '{spec}': '{consumer.name}' is not the only consumer of "
                    f"'{producer.name}' reading only it (or not a conv on its map)",
                    field="run.fuse",
                )
        groups.append(group)
    return groups


def fused_schedule(
    layers: list[Layer],
    grids: dict[str, TileGrid],
    cores: int,
    groups: list[list[Layer]],
    budget: SpmBudget,
    pinned: dict[str, str] | None = None,
) -> Schedule:
    """Forward schedule where each group runs row tile by row tile and the other layers layer by layer
    (`pinned` producer -> consumer feature maps of those stay on chip; none may touch a group)."""
    group_of = {layer.name: tuple(group) for group in groups for layer in group}
    tasks = TaskList()
    adder = LayerAdder(cores, pinned)
    op_deps: dict[OpId, tuple[OpId, ...]] = forward_op_deps(layers)
    row_tiles: dict[str, int] = {}
    done: set[str] = set()
    for layer in layers:
        if layer.name in done:
            continue
        group = group_of.get(layer.name)
        if group is None:
            adder.add(tasks, grids[layer.name])
            continue
        done.update(member.name for member in group)
        rows = choose_rows(list(group), budget)
        row_tiles[group[-1].name] = rows
        _add_group(tasks, list(group), grids, cores, rows, budget.bytes_per_element)
        for member in group[1:]:
            op_deps[(member.name, Op.Y)] = ()  # within a group each task waits for its producer task
    choices = {
        member.name: {
            "fused_group": "+".join(m.name for m in group),
            "fused_rows": str(row_tiles[group[-1].name]),
        }
        for group in groups
        for member in group
    }
    return Schedule("forward", tuple(tasks.tasks), op_deps, grids, choices)


def _add_group(
    tasks: TaskList,
    group: list[Layer],
    grids: dict[str, TileGrid],
    cores: int,
    rows: int,
    bytes_per_element: int,
) -> None:
    """Append every step of one group: per row tile, each layer's task on the rows the next one needs."""
    last = geometry(group[-1])
    weights = {
        layer.name: TileRef(
            TileKey(grids[layer.name].index, W_CODE, 0, 0, 0),
            TensorKind.W,
            layer.name,
            layer.gemm.weight_elements * bytes_per_element,
        )
        for layer in group
    }
    step = 0
    for image in range(last.batch):
        for first in range(0, last.out_h, rows):
            spans = row_spans(group, first, min(last.out_h, first + rows))
            core = step % cores
            previous: TileRef | None = None
            previous_task = -1
            for position, (layer, (top, bottom)) in enumerate(zip(group, spans)):
                conv, gemm, index = geometry(layer), layer.gemm, grids[layer.name].index
                final = position == len(group) - 1
                if previous is None:
                    start, end = input_rows(layer, top, bottom)
                    x = TileRef(
                        TileKey(index, X_CODE, image, start, end),
                        TensorKind.X,
                        layer.name,
                        c_in(layer) * (end - start) * conv.in_w * bytes_per_element,
                    )
                else:
                    x = previous
                y_key = (
                    TileKey(index, Y_CODE, image, top, bottom)
                    if final
                    else TileKey(index, Y_CODE, step, top, -1 - image)
                )
                y = TileRef(
                    y_key,
                    TensorKind.Y,
                    layer.name,
                    layer.out_shape[0] * (bottom - top) * conv.out_w * bytes_per_element,
                )
                m_rows = (bottom - top) * conv.out_w
                task_id = len(tasks.tasks)
                tasks.tasks.append(
                    TileTask(
                        task_id,
                        core,
                        layer.name,
                        Op.Y,
                        (image, top, bottom, step),
                        (x, weights[layer.name]),
                        y,
                        first=True,
                        last=True,
                        prev=previous_task,
                        extents=GemmExtents(gemm.groups, m_rows, gemm.K, gemm.N),
                        write_back=final,
                        hand_over=not final,
                        frees=(x,) if previous is not None else (),
                    )
                )
                previous, previous_task = (None, -1) if final else (y, task_id)
            step += 1


def fusion_groups(layers: list[Layer], fuse: tuple[str, ...], budget: SpmBudget) -> list[list[Layer]]:
    """The fused groups `run.fuse` names, or `auto`'s greedy chains."""
    if not fuse:
        return []
    return auto_groups(layers, budget) if fuse == ("auto",) else named_groups(layers, fuse)


def build_forward_schedule(
    layers: list[Layer],
    grids: dict[str, TileGrid],
    cores: int,
    budget: SpmBudget,
    groups: list[list[Layer]],
    pinned: dict[str, str] | None = None,
) -> Schedule:
    """The forward schedule: layer by layer, with fused `groups` and `pinned` feature maps (producer ->
    consumer)."""
    if not groups:
        return forward_schedule(layers, grids, cores, pinned)
    return fused_schedule(layers, grids, cores, groups, budget, pinned)
