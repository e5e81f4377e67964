"""A core's systolic array: SCALE-Sim's analytical cycle model, exactly (DESIGN.md).

For a GEMM of M x K times K x N on R x C PEs, the dataflow fixes which dimensions map onto the
array (Sr x Sc) and which one streams through it (T):
  OS: Sr=M, Sc=N, T=K    WS: Sr=K, Sc=N, T=M    IS: Sr=K, Sc=M, T=N
folds = ceil(Sr/R) * ceil(Sc/C); cycles = folds * (2R + C + T - 2)  (fill + stream + drain per fold).
"""

from __future__ import annotations

from functools import lru_cache
from math import ceil

import simpy


def gemm_cycles(m: int, k: int, n: int, rows: int, cols: int, dataflow: str) -> int:
    """Cycles for Y[M x N] = X[M x K] . W[K x N] on a rows x cols array."""
    if dataflow == "os":
        spatial_rows, spatial_cols, temporal = m, n, k
    elif dataflow == "ws":
        spatial_rows, spatial_cols, temporal = k, n, m
    elif dataflow == "is":
        spatial_rows, spatial_cols, temporal = k, m, n
    else:
        raise ValueError(f"unknown dataflow {dataflow!r} (allowed: os, ws, is)")
    folds = ceil(spatial_rows / rows) * ceil(spatial_cols / cols)
    return folds * (2 * rows + cols + temporal - 2)


class SystolicArray:
    """Computes tile GEMMs one at a time; records busy cycles and MACs for utilisation."""

    def __init__(self, env: simpy.Environment, rows: int, cols: int, dataflow: str) -> None:
        self.env = env
        self.rows, self.cols, self.dataflow = rows, cols, dataflow
        self.busy_cycles = 0
        self.macs = 0
        self._cycles = lru_cache(maxsize=None)(self._tile_cycles)

    def _tile_cycles(self, extents: tuple[int, int, int, int]) -> int:
        groups, m, k, n = extents
        return groups * gemm_cycles(m, k, n, self.rows, self.cols, self.dataflow)

    def cycles(self, extents: tuple[int, int, int, int]) -> int:
        """Cycles of a tile with extents (groups, M, K, N): groups run one after another."""
        return self._cycles(extents)

    def compute(self, extents: tuple[int, int, int, int]) -> simpy.Timeout:
        """Occupy the array for the tile; the caller yields the returned event."""
        cycles = self._cycles(extents)
        groups, m, k, n = extents
        self.busy_cycles += cycles
        self.macs += groups * m * k * n
        return self.env.timeout(cycles)
