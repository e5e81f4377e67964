"""SCALE-Sim's analytical compute model as pure formulas: no SimPy, no state (DESIGN.md).

For a GEMM of M x K times K x N on R x C PEs, the dataflow fixes which dimensions map onto the
array (Sr x Sc) and which one streams through it (T):
  OS: Sr=M, Sc=N, T=K    WS: Sr=K, Sc=N, T=M    IS: Sr=K, Sc=M, T=N
folds = ceil(Sr/R) * ceil(Sc/C); cycles = folds * (2R + C + T - 2)  (fill + stream + drain per fold).

The tiler ranks tile shapes with these formulas and the simulated systolic array
(npu_des.sim.components.systolic_array) charges tiles with them, so both agree by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import ceil

from npu_des.kinds import Op


def gemm_mapping(m: int, k: int, n: int, dataflow: str) -> tuple[int, int, int]:
    """(Sr, Sc, T) of a GEMM in a dataflow: the two spatial extents and the streamed one."""
    if dataflow == "os":
        return m, n, k
    if dataflow == "ws":
        return k, n, m
    if dataflow == "is":
        return k, m, n
    raise ValueError(f"unknown dataflow {dataflow!r} (allowed: os, ws, is)")


def fold_cycles(spatial_rows: int, spatial_cols: int, streamed: int, rows: int, cols: int) -> int:
    """Cycles of all folds of one mapped GEMM: folds * (2R + C + T - 2)."""
    folds = ceil(spatial_rows / rows) * ceil(spatial_cols / cols)
    return folds * (2 * rows + cols + streamed - 2)


def gemm_cycles(m: int, k: int, n: int, rows: int, cols: int, dataflow: str) -> int:
    """Cycles for Y[M x N] = X[M x K] . W[K x N] on a rows x cols array."""
    spatial_rows, spatial_cols, temporal = gemm_mapping(m, k, n, dataflow)
    return fold_cycles(spatial_rows, spatial_cols, temporal, rows, cols)


def op_dataflow(dataflow: str | Mapping[str, str], op: str) -> str:
    """The dataflow of gradient op `op` under an array's setting (one dataflow, or one per op)."""
    return dataflow if isinstance(dataflow, str) else dataflow.get(op, "os")


def gradient_dataflows(dataflow: str | Mapping[str, str]) -> tuple[str, str]:
    """(dataflow of dX tiles, dataflow of dW tiles) under an array's setting."""
    return op_dataflow(dataflow, Op.DX), op_dataflow(dataflow, Op.DW)
