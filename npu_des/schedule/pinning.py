"""Pins as schedule facts: candidates, the tile shapes forward pins need, and the waits that bound lifetimes.

Forward pinning is modelled exactly only where the consumer's X tiles are the producer's Y tiles:
the consumer is the producer's only consumer, reads only it, and comes next in forward order;
both layers use full-channel tiles (all groups, the producer all of N, the consumer all of K), and
either the consumer is pointwise (a linear on the same rows, or a 1x1 stride-1 conv on the same
map) and both share the M tiling (`rows`), or both take all of M in one tile (`whole`). The
pinned Y is never written to DRAM and the consumer's X never read from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from itertools import pairwise

from npu_des.config import RunOptions
from npu_des.errors import ConfigError
from npu_des.kinds import KIND_CODES, Op, OpId, TensorKind
from npu_des.schedule.fusion import build_forward_schedule, can_fuse, fits, fused_input_bytes, fusion_groups
from npu_des.schedule.planner import (
    ForwardLink,
    PinCandidate,
    check_pins_fit,
    components_fit,
    greedy_forward_links,
    pin_components,
    plan_forward_links,
)
from npu_des.schedule.tasks import Schedule
from npu_des.tiling import (
    SpmBudget,
    TileGrid,
    TileShape,
    largest_working_set_bytes,
    task_working_set_elements,
    tile_size_candidates,
)
from npu_des.workload.graph import consumers_of
from npu_des.workload.layers import Layer


def _pointwise(producer: Layer, consumer: Layer) -> bool:
    p, c = producer.gemm, consumer.gemm
    if c.M != p.M or c.K * c.groups != p.N * p.groups:
        return False
    conv = c.conv
    return conv is None or (conv.kernel_h == conv.kernel_w == 1 and conv.stride == 1 and c.groups == 1
                            and (conv.in_h, conv.in_w) == (conv.out_h, conv.out_w))


def full_channel_shape(layer: Layer, tm: int) -> TileShape:
    gemm = layer.gemm
    return TileShape(gemm.groups, tm, gemm.N, gemm.K)


def fits_rows(layer: Layer, tm: int, task_budget_bytes: int, bytes_per_element: int) -> bool:
    return task_working_set_elements(layer.gemm, full_channel_shape(layer, tm)) * bytes_per_element \
        <= task_budget_bytes


def largest_rows(layer: Layer, task_budget_bytes: int, bytes_per_element: int) -> int:
    """Largest M tile (of the tiler's 1, 2, 4, ... split candidates) whose full-channel task fits; 0 if
    none."""
    for tm in tile_size_candidates(layer.gemm.M):
        if fits_rows(layer, tm, task_budget_bytes, bytes_per_element):
            return tm
    return 0


def forward_links(
    layers: list[Layer], grids: dict[str, TileGrid], task_budget_bytes: int, fusible: set[tuple[str, str]]
) -> list[ForwardLink]:
    """Every producer -> next-layer link whose feature map could be pinned (see the module doc) or fused."""
    consumers = consumers_of(layers)
    links = []
    for position, (producer, consumer) in enumerate(pairwise(layers)):
        if consumers.get(producer.name) != [consumer.name] or consumer.inputs != (producer.name,):
            continue
        p_grid, c_grid = grids[producer.name], grids[consumer.name]
        bpe = p_grid.bytes_per_element
        nbytes = producer.gemm.M * producer.gemm.N * producer.gemm.groups * bpe
        saving = (
            p_grid.forward_compulsory_bytes()[TensorKind.Y] + c_grid.forward_compulsory_bytes()[TensorKind.X]
        )
        mode = "rows" if _pointwise(producer, consumer) else "whole"
        if mode == "rows":
            pinnable = all(largest_rows(layer, task_budget_bytes, bpe) for layer in (producer, consumer))
        else:
            pinnable = all(
                fits_rows(layer, layer.gemm.M, task_budget_bytes, bpe) for layer in (producer, consumer)
            )
        links.append(
            ForwardLink(
                producer.name,
                consumer.name,
                position,
                nbytes,
                saving,
                mode,
                pinnable,
                (producer.name, consumer.name) in fusible,
            )
        )
    return links


def retile_pinned(
    grids: dict[str, TileGrid],
    pinned: tuple[ForwardLink, ...],
    task_budget_bytes: int,
) -> dict[str, TileGrid]:
    """Full-channel tiles for every layer of a pinned chain, one M tiling per chain (all of M if any link is
    whole)."""
    grids = dict(grids)
    for names, whole in pin_components(pinned):
        layers = [grids[name].layer for name in names]
        bpe = grids[names[0]].bytes_per_element
        tm = (
            layers[0].gemm.M
            if whole
            else min(largest_rows(layer, task_budget_bytes, bpe) for layer in layers)
        )
        for layer in layers:
            grid = grids[layer.name]
            grids[layer.name] = TileGrid.build(layer, grid.index, full_channel_shape(layer, tm), bpe)
    return grids


def backward_candidates(
    layers_backward: list[Layer], grids: dict[str, TileGrid], dy_reads: dict[str, int]
) -> list[PinCandidate]:
    """dY of each layer, alive over [q, q+1] of backward order; pinned it is read once, saving the
    re-reads."""
    candidates = []
    for position, layer in enumerate(layers_backward):
        nbytes = grids[layer.name].compulsory_bytes()[TensorKind.DY]
        candidates.append(
            PinCandidate(
                f"{layer.name}:dY",
                nbytes,
                max(0, dy_reads.get(layer.name, 0) - nbytes),
                position,
                position + 1,
            )
        )
    return candidates


def estimated_dy_reads(grids: dict[str, TileGrid], order: str) -> dict[str, int]:
    """Without a measured run: the sequential order reads dY once per op (twice), interleaved once."""
    reads = 2 if order == "sequential" else 1
    return {
        name: (reads if grid.layer.has_input_gradient else 1) * grid.compulsory_bytes()[TensorKind.DY]
        for name, grid in grids.items()
    }


def disjoint_pin_deps(
    schedule: Schedule,
    lifetimes: list[tuple[tuple[OpId, ...], tuple[OpId, ...], int, int]],
) -> Schedule:
    """Make pins with disjoint lifetimes never coexist: a pin's first users wait for earlier pins' releases.

    `lifetimes`: (ops that fill the pin, ops whose completion frees it, start, end). Only ops that
    exist in the schedule are waited for.
    """
    if not lifetimes:
        return schedule
    present = {(task.layer, task.op) for task in schedule.tasks}
    op_deps = dict(schedule.op_deps)
    for owners, _, start, _ in lifetimes:
        waits = sorted(
            {op for _, releases, _, end in lifetimes if end < start for op in releases if op in present}
        )
        if not waits:
            continue
        for owner in owners:
            if owner in present:
                op_deps[owner] = tuple(sorted({*op_deps.get(owner, ()), *waits}))
    return replace(schedule, op_deps=op_deps)


def plan_forward_pins(
    layers: list[Layer],
    grids: dict[str, TileGrid],
    cores: int,
    budget: SpmBudget,
    options: RunOptions,
    check_task_count: Callable[[dict[str, TileGrid]], None],
) -> tuple[Schedule, dict[tuple[int, int], int]]:
    """Forward: decide fused groups and pinned feature maps (given, or by the planner), then the schedule.

    Re-tiled pinned layers and fused steps stay within `spm_fraction` of the SPM like every tile, so
    pins get what the in-flight working sets can never need: capacity - max(those, fraction).
    """
    bpe = budget.bytes_per_element
    task_budget = budget.task_bytes
    pin_budget = budget.forward_pin_bytes(largest_working_set_bytes(grids.values()))
    by_name = {layer.name: layer for layer in layers}
    consumers = consumers_of(layers)
    fusible = {(a.name, b.name) for a, b in pairwise(layers) if can_fuse(a, b, consumers)}
    links = forward_links(layers, grids, task_budget, fusible)

    def whole_fits(name: str) -> bool:
        return fits_rows(by_name[name], by_name[name].gemm.M, task_budget, bpe)

    def group_cost(names: tuple[str, ...]) -> int | None:
        group = [by_name[name] for name in names]
        if not fits(group, budget):
            return None
        return fused_input_bytes(group, budget) - grids[names[0]].forward_compulsory_bytes()[TensorKind.X]

    groups = [[layer.name for layer in group] for group in fusion_groups(layers, options.fuse, budget)]
    if options.pins:
        pinned = _given_forward_pins(options.pins, links, by_name)
        if not components_fit(pinned, whole_fits):
            raise ConfigError(
                f"pins {', '.join(link.tensor for link in pinned)} need one M tile for a layer "
                f"whose full-channel task does not fit {task_budget / 1024:.1f} KB",
                field="run.pins",
            )
    elif options.pin_plan == "optimal":
        fixed = {name for group in groups for name in group} if options.fuse != ("auto",) else set()
        free = [
            link
            if link.producer not in fixed and link.consumer not in fixed
            else replace(link, pinnable=False)
            for link in links
        ]
        result = plan_forward_links(free, pin_budget, True, options.fuse == ("auto",), group_cost, whole_fits)
        pinned = result.pinned
        groups = [list(group) for group in result.groups] if options.fuse == ("auto",) else groups
    elif options.pin_plan == "greedy":
        pinned = greedy_forward_links(links, pin_budget, groups, whole_fits).pinned
    else:
        pinned = ()
    in_groups = {name for group in groups for name in group}
    clash = [link.tensor for link in pinned if {link.producer, link.consumer} & in_groups]
    if clash:
        raise ConfigError(
            f"pinned {', '.join(clash)} touches a fused group",
            field="run.pins",
            allowed="pins of layers outside run.fuse groups",
        )
    check_pins_fit(
        [
            PinCandidate(link.tensor, link.nbytes, link.saving, link.position, link.position + 1)
            for link in pinned
        ],
        pin_budget,
        "run.pins" if options.pins else "run.pin_plan",
    )
    grids = retile_pinned(grids, pinned, task_budget)
    check_task_count(grids)
    schedule = build_forward_schedule(
        layers,
        grids,
        cores,
        budget,
        [[by_name[name] for name in group] for group in groups],
        {link.producer: link.consumer for link in pinned},
    )
    schedule = disjoint_pin_deps(
        schedule,
        [
            (((link.producer, Op.Y),), ((link.consumer, Op.Y),), link.position, link.position + 1)
            for link in pinned
        ],
    )
    schedule = mark_pins(schedule, {link.producer: f"Y->{link.consumer}" for link in pinned})
    return schedule, {(grids[link.producer].index, KIND_CODES[TensorKind.Y]): link.nbytes for link in pinned}


def _given_forward_pins(
    specs: tuple[str, ...], links: list[ForwardLink], by_name: dict[str, Layer]
) -> tuple[ForwardLink, ...]:
    """`LAYER:Y` specs -> the links they pin; anything else is one ConfigError."""
    by_producer = {link.producer: link for link in links}
    pinned = []
    for spec in specs:
        layer, _, kind = spec.rpartition(":")
        if layer not in by_name or kind != TensorKind.Y:
            raise ConfigError(
                f"pin '{spec}' is not LAYER:Y with a layer of the model",
                field="run.pins",
                allowed="LAYER:Y on a forward run",
            )
        link = by_producer.get(layer)
        if link is None or not link.pinnable:
            why = (
                "its full-channel tiles do not fit"
                if link is not None
                else "it does not feed only the next layer, which must read only it"
            )
            raise ConfigError(f"pin '{spec}': the feature map cannot be pinned ({why})", field="run.pins")
        pinned.append(link)
    return tuple(sorted(set(pinned), key=lambda link: link.position))


def mark_pins(schedule: Schedule, pinned: dict[str, str]) -> Schedule:
    """Record in the layer choices (and so the summary) which tensors the run pins."""
    if not pinned:
        return schedule
    choices = {name: dict(values) for name, values in schedule.layer_choices.items()}
    for name, what in pinned.items():
        choices.setdefault(name, {})["pinned"] = what
    return replace(schedule, layer_choices=choices)
