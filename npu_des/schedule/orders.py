"""The backward-pass orders as pure functions: a block of a layer's tile grid -> tile products in steps.

Tile indices (g, m, n, k) name dY[g,m,n], X/dX[g,m,k] and W/dW[g,n,k]; dX = dY . W^T reduces over n,
dW = X^T . dY over m (the forward GEMM is X(M,K) . W(K,N), MICRO'23 Alg. 1 line 1). A *step* is one
sweep of a loop nest's innermost loop: in the traditional orders one complete output tile (its whole
reduction), in a fused nest the dW and dX products of the innermost iterations. Steps are the unit that
interleaving alternates and that partitions on different cores are merged by (docs/orders.md).

- sequential: all dX steps (dY walked row-major: m, k outer, n innermost), then all dW steps (dY walked
  column-major: k, n outer, m innermost); with the tuned baseline each op gets its own loop order.
- interleaved (MICRO'23 "Only Interleaving"): the same two sequences, alternating step by step
  (dX-step, dW-step, ...); every output tile completes within its step, so no partial sum is spilled.
- dXmajor / dWmajor (Fig. 10b/c): one fused loop walking dY row-major (m, k, n: fused loop `mkn`) or
  column-major (n, k, m: fused loop `nkm`) for both gradients; the other gradient's partial sums stay live.
- fused(loop_order): any of the six fused nests (the `fused` order, an extension beyond the paper).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import zip_longest

from npu_des.kinds import Access, CoreMapping, Op
from npu_des.tiling import TileGrid

Product = tuple[Op, int, int, int, int]  # (op, g, m, n, k): one tile product of one gradient
Step = tuple[Product, ...]

TRADITIONAL_LOOPS: dict[Op, str] = {Op.DX: "mkn", Op.DW: "knm"}  # reduction innermost: n for dX, m for dW
ACCESS_LOOPS: dict[Access, str] = {Access.DX_MAJOR: "mkn", Access.DW_MAJOR: "nkm"}
PARTITIONS = tuple(mapping.value for mapping in CoreMapping)  # the core-mapping schemes (old name)


@dataclass(frozen=True)
class Region:
    """A block of a grid's tiles: index ranges along G, M, N, K (one data partition, or the whole grid)."""

    g: range
    m: range
    n: range
    k: range

    @classmethod
    def whole(cls, grid: TileGrid) -> Region:
        g, m, n, k = grid.counts
        return cls(range(g), range(m), range(n), range(k))

    @property
    def counts(self) -> tuple[int, int, int, int]:
        return len(self.g), len(self.m), len(self.n), len(self.k)

    def axis(self, name: str) -> range:
        return {"g": self.g, "m": self.m, "n": self.n, "k": self.k}[name]

    def extents(self, grid: TileGrid) -> tuple[int, int, int]:
        """Elements (M, N, K) of one group of this block: the partition's GEMM, which Algorithm 1 sees."""
        return (sum(grid.m_tiles[m][1] for m in self.m), sum(grid.n_tiles[n][1] for n in self.n),
                sum(grid.k_tiles[k][1] for k in self.k))


def _positions(loop_order: str) -> tuple[int, int, int]:
    """Where m, n and k sit among a loop nest's (outer, middle, inner) indices."""
    return loop_order.index("m"), loop_order.index("n"), loop_order.index("k")


def op_steps(region: Region, op: Op, loop_order: str) -> Iterator[Step]:
    """One gradient's tile products in `loop_order` (outer first), a step per innermost sweep."""
    outer, middle, inner = (region.axis(axis) for axis in loop_order)
    m, n, k = _positions(loop_order)
    for g in region.g:
        for a in outer:
            for b in middle:
                yield tuple((op, g, abc[m], abc[n], abc[k]) for abc in ((a, b, c) for c in inner))


def fused_steps(region: Region, loop_order: str, has_input_gradient: bool) -> Iterator[Step]:
    """One fused nest: per iteration the dW product, then the dX product sharing its dY tile."""
    outer, middle, inner = (region.axis(axis) for axis in loop_order)
    ops = (Op.DW, Op.DX) if has_input_gradient else (Op.DW,)
    m, n, k = _positions(loop_order)
    for g in region.g:
        for a in outer:
            for b in middle:
                yield tuple((op, g, abc[m], abc[n], abc[k]) for abc in ((a, b, c) for c in inner)
                            for op in ops)


def sequential_steps(region: Region, has_input_gradient: bool, first: Op = Op.DX,
                     loops: dict[Op, str] = TRADITIONAL_LOOPS) -> list[Step]:
    """The baseline: every dX step, then every dW step (or dW first), each op in its own loop order."""
    ordered = (Op.DX, Op.DW) if first == Op.DX else (Op.DW, Op.DX)
    ops = [op for op in ordered if op == Op.DW or has_input_gradient]
    return [step for op in ops for step in op_steps(region, op, loops[op])]


def interleaved_steps(region: Region, has_input_gradient: bool) -> list[Step]:
    """MICRO'23 Only Interleaving: the traditional dX and dW sequences alternate step by step, dX first;
    the first layer has no dX, so it is just its dW sequence."""
    dw = op_steps(region, Op.DW, TRADITIONAL_LOOPS[Op.DW])
    if not has_input_gradient:
        return list(dw)
    dx = op_steps(region, Op.DX, TRADITIONAL_LOOPS[Op.DX])
    return [step for pair in zip_longest(dx, dw) for step in pair if step is not None]


def access_steps(region: Region, access: Access, has_input_gradient: bool) -> list[Step]:
    """A layer block in one of the three MICRO'23 access orders (Algorithm 1 picks among them)."""
    if access == Access.INTERLEAVING:
        return interleaved_steps(region, has_input_gradient)
    return list(fused_steps(region, ACCESS_LOOPS[access], has_input_gradient))


def core_of(mapping: str, cores: int, counts: tuple[int, int, int, int], op: Op, m: int, n: int,
            dy_tile: int, output_tile: int) -> int:
    """Which of `cores` (0-based, within a partition's core group) runs one tile product.

    output: each op's output tiles dealt round-robin in order of first use; a partial sum stays on
            one core and the cores share each dY tile through the SPM.
    m / n:  dY split along M / N (block-local tile index m / n); each core computes both gradients for
            its part of dY (the other gradient's partial sums then hop between cores).
    op:     dX on one half of the cores, dW on the other, consuming the same dY tiles via the SPM.
    A split with fewer tiles than cores falls back to dealing dY tiles round-robin.
    """
    if cores == 1:
        return 0
    _, m_tiles, n_tiles, _ = counts
    if mapping == CoreMapping.OUTPUT:
        return output_tile % cores
    if mapping == CoreMapping.OP:
        half = cores // 2
        return (output_tile % half) if op == Op.DW else half + (output_tile % (cores - half))
    extent = {CoreMapping.M: (m_tiles, m), CoreMapping.N: (n_tiles, n)}.get(CoreMapping(mapping))
    if extent is not None and extent[0] >= cores:
        return extent[1] % cores
    return dy_tile % cores


def deal(steps: Sequence[Step], mapping: str, group: tuple[int, ...],
         region: Region) -> list[tuple[Step, tuple[int, ...]]]:
    """Each step with the core of each of its products (`group`: the cores this block runs on)."""
    dy_first: dict[tuple[int, int, int], int] = {}
    output_first: dict[Op, dict[tuple[int, int, int], int]] = {Op.DX: {}, Op.DW: {}}
    counts = region.counts
    if len(group) == 1:  # core_of is 0 for every product
        return [(step, group * len(step)) for step in steps]
    dealt = []
    m_start, n_start = region.m.start, region.n.start
    for step in steps:
        cores = []
        for op, g, m, n, k in step:
            dy_tile = dy_first.setdefault((g, m, n), len(dy_first))
            outputs = output_first[op]
            output_tile = outputs.setdefault((g, m, k) if op == Op.DX else (g, n, k), len(outputs))
            index = core_of(mapping, len(group), counts, op, m - m_start, n - n_start, dy_tile, output_tile)
            cores.append(group[index])
        dealt.append((step, tuple(cores)))
    return dealt


def merge(streams: Sequence[Sequence[tuple[Step, tuple[int, ...]]]]) -> list[tuple[Step, tuple[int, ...]]]:
    """Streams that run on different cores, issued one step from each in turn, so partial sums shared
    across them (accumulated partitions) pass from stream to stream instead of waiting for a whole stream."""
    return [step for group in zip_longest(*streams) for step in group if step is not None]
