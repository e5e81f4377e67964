"""SCALE-Sim's analytical compute model as pure formulas: no SimPy, no state (DESIGN.md, docs/scalesim.md).

For a GEMM of M x K times K x N on R x C PEs, the dataflow fixes which dimensions map onto the
array (Sr x Sc) and which one streams through it (T):
  OS: Sr=M, Sc=N, T=K    WS: Sr=K, Sc=N, T=M    IS: Sr=K, Sc=M, T=N
folds = ceil(Sr/R) * ceil(Sc/C). Per fold SCALE-Sim's demand matrices have
  OS:    T + (C - 1) drain + (R - 1) skew          = R + C + T - 2 rows
  WS/IS: R (load the stationary operand) + T + (C - 1) + (R - 1) = 2R + C + T - 2 rows
and its COMPUTE_REPORT says `Total Cycles = folds * per_fold - 1` (the index of the last demand
row, counted from 0). `gemm_cycles` is the rows (the cycles the array is busy); an array charges
the `- 1` once per op (`REPORT_OFFSET`), so a whole layer run as one tile, or as tiles that continue
each other back to back, equals SCALE-Sim's number exactly.

A tile that continues the fold the array still holds (the same OS output accumulating over more
K, or the same WS / IS stationary operand streaming more rows) skips that fold's `fold_overhead`:
no new stationary load, skew or drain, as a real accumulator or weight register does.

The tiler ranks tile shapes with these formulas and the simulated systolic array
(npu_des.sim.components.systolic_array) charges tiles with them, so both agree by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import ceil

from npu_des.kinds import Op

REPORT_OFFSET = 1  # SCALE-Sim reports the last demand row's index: rows - 1, once per layer


def gemm_mapping(m: int, k: int, n: int, dataflow: str) -> tuple[int, int, int]:
    """(Sr, Sc, T) of a GEMM in a dataflow: the two spatial extents and the streamed one."""
    if dataflow == "os":
        return m, n, k
    if dataflow == "ws":
        return k, n, m
    if dataflow == "is":
        return k, m, n
    raise ValueError(f"unknown dataflow {dataflow!r} (allowed: os, ws, is)")


def fold_overhead(rows: int, cols: int, dataflow: str) -> int:
    """Rows of a fold beyond its T streamed ones: skew and drain (R + C - 2), plus the stationary load
    (R more) in WS / IS, where SCALE-Sim prepends R rows to every fold."""
    return rows + cols - 2 if dataflow == "os" else 2 * rows + cols - 2


def fold_count(spatial_rows: int, spatial_cols: int, rows: int, cols: int) -> int:
    """Folds of a mapped GEMM: ceil(Sr/R) * ceil(Sc/C)."""
    return ceil(spatial_rows / rows) * ceil(spatial_cols / cols)


def fold_cycles(spatial_rows: int, spatial_cols: int, streamed: int, rows: int, cols: int,
                dataflow: str) -> int:
    """Demand rows of all folds of one mapped GEMM: folds * (overhead + T)."""
    folds = fold_count(spatial_rows, spatial_cols, rows, cols)
    return folds * (fold_overhead(rows, cols, dataflow) + streamed)


def gemm_cycles(m: int, k: int, n: int, rows: int, cols: int, dataflow: str) -> int:
    """Cycles the array is busy for Y[M x N] = X[M x K] . W[K x N] on a rows x cols array (one tile,
    nothing resident before it); SCALE-Sim reports this minus `REPORT_OFFSET`."""
    spatial_rows, spatial_cols, temporal = gemm_mapping(m, k, n, dataflow)
    return fold_cycles(spatial_rows, spatial_cols, temporal, rows, cols, dataflow)


def scalesim_cycles(m: int, k: int, n: int, rows: int, cols: int, dataflow: str) -> int:
    """SCALE-Sim 3.0.0's `Total Cycles` of one GEMM layer without stalls: folds * per_fold - 1."""
    return gemm_cycles(m, k, n, rows, cols, dataflow) - REPORT_OFFSET


def op_dataflow(dataflow: str | Mapping[str, str], op: str) -> str:
    """The dataflow of gradient op `op` under an array's setting (one dataflow, or one per op)."""
    return dataflow if isinstance(dataflow, str) else dataflow.get(op, "os")


def gradient_dataflows(dataflow: str | Mapping[str, str]) -> tuple[str, str]:
    """(dataflow of dX tiles, dataflow of dW tiles) under an array's setting."""
    return op_dataflow(dataflow, Op.DX), op_dataflow(dataflow, Op.DW)
