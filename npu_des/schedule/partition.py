"""MICRO'23 technique 3, data partitioning (§5, Fig. 11): a layer's GEMM split into P partitions.

| scheme (paper's name) | split | duplicated in every partition | accumulated across partitions |
|---|---|---|---|
| weight-sharing | M | W (dX reads all of it) | dW (each partition adds its rows' share) |
| dY-sharing     | N | X (dW reads all of it) | dX (each partition adds its columns' share) |
| ifmap-sharing  | K | dY (both gradients read all of it) | nothing |

A partition is a contiguous block of the layer's tiles along the split axis. The tile shape is chosen
for the partition's GEMM (the tiler, Algorithm 1 and the tuned baseline see M/P, N/P or K/P), and the
layer's grid is that shape over the whole layer, so tiles keep their identity across partitions: a
duplicated tile is fetched again unless the SPM still holds it, and an accumulated output's first
contribution in partition p > 0 reads back partition p-1's partial sum (from the SPM if it survived,
else from DRAM after its write-back). That is where the traffic of the split arises in the simulation.
Partitions mapped to the same core run one after another; on P >= cores, partition p runs on core
p mod cores; with fewer partitions than cores, each partition gets the cores c with c mod P = p.
"""

from __future__ import annotations

from dataclasses import replace
from math import ceil

from npu_des.kinds import SPLIT_AXIS, Scheme
from npu_des.schedule.orders import Region
from npu_des.workload.layers import Gemm


def default_partitions(cores: int) -> int:
    """P when run.partitions is not given: one partition per core; 2 on one core (the paper's Fig. 11)."""
    return cores if cores >= 2 else 2


def split_units(gemm: Gemm, scheme: Scheme) -> int:
    """How many pieces the split axis can be cut into: rows of M, columns of N, input channels of K."""
    axis = SPLIT_AXIS[scheme]
    if axis == "m":
        return gemm.M
    if axis == "n":
        return gemm.N
    return gemm.K // gemm.k_unit if gemm.conv else gemm.K


def partition_gemm(gemm: Gemm, scheme: Scheme, count: int) -> Gemm:
    """The GEMM of one partition (the largest, when the split is uneven), for tiling and Algorithm 1."""
    if scheme == Scheme.NONE or count <= 1:
        return gemm
    pieces = ceil(split_units(gemm, scheme) / count)
    axis = SPLIT_AXIS[scheme]
    if axis == "m":
        return replace(gemm, M=pieces)
    if axis == "n":
        return replace(gemm, N=pieces)
    return replace(gemm, K=pieces * (gemm.k_unit if gemm.conv else 1))


def split_region(whole: Region, scheme: Scheme, count: int) -> tuple[Region, ...]:
    """`count` contiguous blocks of `whole` along the scheme's axis, balanced in tiles (count <= tiles)."""
    if scheme == Scheme.NONE or count <= 1:
        return (whole,)
    axis = SPLIT_AXIS[scheme]
    tiles = whole.axis(axis)
    if count > len(tiles):
        raise ValueError(f"{count} partitions of {len(tiles)} tiles")
    bounds = [tiles.start + round(p * len(tiles) / count) for p in range(count + 1)]
    return tuple(replace(whole, **{axis: range(bounds[p], bounds[p + 1])}) for p in range(count))


def core_groups(count: int, cores: int) -> tuple[tuple[int, ...], ...]:
    """The cores each partition runs on."""
    if count >= cores:
        return tuple((p % cores,) for p in range(count))
    return tuple(tuple(c for c in range(cores) if c % count == p) for p in range(count))
