"""Tile-level cross-layer dependencies (`run.dependencies: tile`): a dX/dW tile of layer L waits only for
the dX tiles of L's consumers that produce the dY tiles it reads, not for the consumers' whole dX ops.

dY of L is the sum, over every consumer C (a skip connection has several), of the part of dX_C that
covers L's output. A consumer dX tile (g', m', k') covers the input pixels of its output rows m' (the
patch, halo included: rows r*stride - pad .. r*stride - pad + kh - 1 of each image, taken as whole rows)
and the input channels of its K range k' (whole kh*kw channels). A dY tile (g, m, n) of L is its output
pixels m and channels of n in groups g. Where the two layers' geometries do not line up (a pooling
between them, a flatten, a reshaped attention product), the mapping falls back to what it can prove:
whole images when the batch is shared, else every tile; channels likewise, with concatenated inputs
at their offsets and summed ones on the same channels. Coarser is always safe (it only waits longer).

`readers` is the pure mapping; `tile_dependencies` sets TileTask.after from it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from math import ceil, floor

from npu_des.kinds import Op
from npu_des.schedule.tasks import TileTask
from npu_des.tiling import TileGrid
from npu_des.workload.layers import Layer

Interval = tuple[int, int]  # [start, end)
DxTile = tuple[int, int, int]  # (g, m, k) of a consumer's dX
DyTile = tuple[int, int, int]  # (g, m, n) of a producer's dY


@dataclass(frozen=True)
class Link:
    """How a consumer reads a producer's output: `pixels` is conv / rows / images / all; `offset` is the
    first input channel of the consumer that is the producer's channel 0 (None: not known, every channel)."""

    pixels: str
    offset: int | None


def _channels(layer: Layer) -> int:
    """Output channels (all groups) of a layer."""
    return layer.gemm.groups * layer.gemm.N


def _input_channels(layer: Layer) -> int:
    gemm = layer.gemm
    return gemm.groups * (gemm.K // gemm.k_unit if gemm.conv else gemm.K)


def link(producer: Layer, consumer: Layer, layers: dict[str, Layer]) -> Link:
    """How `consumer` reads `producer`'s output (see the module docstring)."""
    p, c = producer.gemm, consumer.gemm
    plain_groups = (p.groups == 1 or p.conv is not None) and (c.groups == 1 or c.conv is not None)
    offset: int | None = None
    sources = [layers[name] for name in consumer.inputs if name in layers]
    wanted = _input_channels(consumer)
    if plain_groups and all(_channels(source) == wanted for source in sources):
        offset = 0  # summed inputs (a skip connection) or a single one
    elif plain_groups and sum(_channels(source) for source in sources) == wanted:
        offset = 0
        for source in sources:
            if source.name == producer.name:
                break
            offset += _channels(source)
    if not plain_groups:
        return Link("all", None)
    same_pixels = p.conv and c.conv and (c.conv.batch, c.conv.in_h, c.conv.in_w) == (
        p.conv.batch, p.conv.out_h, p.conv.out_w)
    if same_pixels:
        return Link("conv", offset)
    if p.M == c.M and c.conv is None and p.conv is None:
        return Link("rows", offset)
    if p.conv and ((c.conv and c.conv.batch == p.conv.batch) or (c.conv is None and p.conv.batch == c.M)):
        return Link("images", offset)
    return Link("all", offset)


def _padding_range(in_size: int, out_size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Symmetric paddings p consistent with out = (in + 2p - kernel) // stride + 1: (lowest, highest)."""
    low = max(0, ceil(((out_size - 1) * stride + kernel - in_size) / 2))
    high = max(low, floor((out_size * stride + kernel - in_size - 1) / 2))
    return low, high


def pixel_intervals(producer: Layer, consumer: Layer, pixels: str, m_start: int,
                    m_size: int) -> list[Interval]:
    """Producer output pixels (indices of its M) that consumer output rows [m_start, m_start + m_size)
    read."""
    p, c = producer.gemm, consumer.gemm
    if pixels == "rows":
        return [(m_start, m_start + m_size)]
    if pixels == "all" or p.conv is None:
        return [(0, p.M)]
    image = p.conv.out_h * p.conv.out_w
    if c.conv is None:  # a linear consumer over pooled images: row r is image r
        return [(m_start * image, (m_start + m_size) * image)]
    per_image = c.conv.out_h * c.conv.out_w
    first, last = m_start, m_start + m_size - 1
    if pixels == "images":
        return [(first // per_image * image, (last // per_image + 1) * image)]
    geometry = c.conv
    pad_low, pad_high = _padding_range(geometry.in_h, geometry.out_h, geometry.kernel_h, geometry.stride)
    out: list[Interval] = []
    for batch in range(first // per_image, last // per_image + 1):
        row_first = (max(first, batch * per_image) - batch * per_image) // geometry.out_w
        row_last = (min(last, (batch + 1) * per_image - 1) - batch * per_image) // geometry.out_w
        top = max(0, row_first * geometry.stride - pad_high)
        bottom = min(geometry.in_h - 1, row_last * geometry.stride - pad_low + geometry.kernel_h - 1)
        out.append((batch * image + top * geometry.in_w, batch * image + (bottom + 1) * geometry.in_w))
    return out


def channel_interval_of_dx(consumer: TileGrid, g: int, k: int) -> Interval:
    """Input channels (all groups) a consumer dX tile (g, ., k) covers."""
    gemm = consumer.layer.gemm
    per_group = gemm.K // gemm.k_unit if gemm.conv else gemm.K
    unit = gemm.k_unit if gemm.conv else 1
    g_start, g_size = consumer.g_tiles[g]
    k_start, k_size = consumer.k_tiles[k]
    return (g_start * per_group + k_start // unit,
            (g_start + g_size - 1) * per_group + ceil((k_start + k_size) / unit))


def channel_interval_of_dy(producer: TileGrid, g: int, n: int) -> Interval:
    """Output channels (all groups) a producer dY tile (g, ., n) covers."""
    per_group = producer.layer.gemm.N
    g_start, g_size = producer.g_tiles[g]
    n_start, n_size = producer.n_tiles[n]
    return g_start * per_group + n_start, (g_start + g_size - 1) * per_group + n_start + n_size


def _overlap(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def readers(producer: TileGrid, consumer: TileGrid, layers: dict[str, Layer]) -> dict[DyTile, list[DxTile]]:
    """Producer dY tile -> the consumer dX tiles that contribute to it (sorted)."""
    how = link(producer.layer, consumer.layer, layers)
    pg, pm, pn, _ = producer.counts
    cg, _, _, ck = consumer.counts
    starts = [start for start, _ in producer.m_tiles]
    ends = [start + size for start, size in producer.m_tiles]
    rows_of: dict[int, list[int]] = {m: [] for m in range(pm)}  # producer m tile -> consumer m' tiles
    for m_c, (start, size) in enumerate(consumer.m_tiles):
        touched: set[int] = set()
        for low, high in pixel_intervals(producer.layer, consumer.layer, how.pixels, start, size):
            touched.update(range(bisect_right(ends, low), bisect_left(starts, high)))
        for m in touched:
            rows_of[m].append(m_c)
    columns_of: dict[tuple[int, int], list[tuple[int, int]]] = {}
    dx_channels = {(g, k): channel_interval_of_dx(consumer, g, k) for g in range(cg) for k in range(ck)}
    for g in range(pg):
        for n in range(pn):
            low, high = channel_interval_of_dy(producer, g, n)
            columns_of[(g, n)] = [
                key for key, span in dx_channels.items()
                if how.offset is None or _overlap((low + how.offset, high + how.offset), span)
            ]
    return {
        (g, m, n): sorted((g_c, m_c, k_c) for g_c, k_c in columns_of[(g, n)] for m_c in rows_of[m])
        for g in range(pg) for m in range(pm) for n in range(pn)
    }


def tile_dependencies(tasks: Sequence[TileTask], layers_backward: list[Layer],
                      grids: dict[str, TileGrid]) -> tuple[TileTask, ...]:
    """`tasks` with `after` set: each task reading a layer's dY waits for the final dX tiles of the
    consumers that cover its dY tile (or for the layer's vector task on that tile, which waits for them)."""
    layers = {layer.name: layer for layer in layers_backward}
    consumers: dict[str, list[str]] = {}
    for layer in layers_backward:
        for producer in layer.inputs:
            consumers.setdefault(producer, []).append(layer.name)
    final_dx: dict[tuple[str, DxTile], int] = {}
    vector_of: dict[tuple[str, DyTile], int] = {}
    cache: dict[str, dict[DyTile, tuple[int, ...]]] = {}

    def producers_of(name: str) -> dict[DyTile, tuple[int, ...]]:
        """dY tile of `name` -> ids of the final consumer dX tasks it waits for."""
        if name not in cache:
            waits: dict[DyTile, set[int]] = {}
            for consumer in consumers.get(name, []):
                for dy_tile, dx_tiles in readers(grids[name], grids[consumer], layers).items():
                    waits.setdefault(dy_tile, set()).update(final_dx[(consumer, dx)] for dx in dx_tiles)
            cache[name] = {tile: tuple(sorted(ids)) for tile, ids in waits.items()}
        return cache[name]

    out = []
    for task in tasks:
        g, m, n, k = task.tile
        dy_tile = (g, m, n)
        if task.op == Op.VECTOR:
            after = producers_of(task.layer).get(dy_tile, ())
            vector_of[(task.layer, dy_tile)] = task.id
        elif (task.layer, dy_tile) in vector_of:
            after = (vector_of[(task.layer, dy_tile)],)
        else:
            after = producers_of(task.layer).get(dy_tile, ())
        if task.op == Op.DX and task.last:
            final_dx[(task.layer, (g, m, k))] = task.id
        out.append(replace(task, after=after) if after else task)
    return tuple(out)
