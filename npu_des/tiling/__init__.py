"""GEMM -> tiles that fit the SPM: the pure compute model, tile shapes, the SPM budget, grids, sparsity.

Nothing here imports SimPy or the scheduler: the tiler ranks shapes with `compute_model`'s formulas.
"""

from npu_des.tiling.budget import SpmBudget
from npu_des.tiling.compute_model import gemm_cycles, gemm_mapping, op_dataflow, scalesim_cycles
from npu_des.tiling.grid import TileGrid, largest_working_set_bytes, plan_tiles
from npu_des.tiling.shapes import (
    TileShape,
    TilingCost,
    balanced,
    choose_tile_shape,
    split,
    task_working_set_elements,
    tile_size_candidates,
)

__all__ = [
    "SpmBudget",
    "TileGrid",
    "TileShape",
    "TilingCost",
    "balanced",
    "choose_tile_shape",
    "gemm_cycles",
    "gemm_mapping",
    "largest_working_set_bytes",
    "op_dataflow",
    "plan_tiles",
    "scalesim_cycles",
    "split",
    "task_working_set_elements",
    "tile_size_candidates",
]
