"""Parameter sweeps: what a sweep is (`spec`), running it on any executor (`runner`), its durable
result table (`table`), the progress bar (`progress`) and idealised simulator variants (`variants`).
"""

from npu_des.sweep.runner import make_executor, result_columns, run_point, run_sweep
from npu_des.sweep.spec import Axis, Point, SweepSpec, build_spec, parse_axis, split_list, validate

__all__ = [
    "Axis",
    "Point",
    "SweepSpec",
    "build_spec",
    "make_executor",
    "parse_axis",
    "result_columns",
    "run_point",
    "run_sweep",
    "split_list",
    "validate",
]
