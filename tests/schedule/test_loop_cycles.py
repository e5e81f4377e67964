"""The closed-form cycles of a gradient op in a loop order (npu_des/schedule/loop_cycles.py) equal what
the array model charges when the op's tiles are issued in that order and dealt by output tile, for every
loop order, dataflow, core count and ragged or one-tile axis; and the tuned baseline they rank never
costs more cycles than the fixed one, on a whole simulated network."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npu_des.config import ArrayConfig, load_hardware, run_options
from npu_des.kinds import CoreMapping, Op
from npu_des.models import build_model
from npu_des.schedule.estimate import LOOP_ORDERS
from npu_des.schedule.loop_cycles import op_cycles, op_cycles_floor
from npu_des.schedule.orders import Region, deal, op_steps
from npu_des.schedule.tasks import TaskList, TileRefs
from npu_des.sim.components.systolic_array import SystolicArray
from npu_des.sim.driver import simulate
from npu_des.tiling import TileGrid, TileShape
from npu_des.workload import conv, linear


def charged(layer, shape: TileShape, op: Op, loop: str, cores: int, array: ArrayConfig) -> int:
    """Issue the op's tiles in `loop`, deal them by output tile and charge each core's array in order."""
    grid = TileGrid.build(layer, 0, shape, 2)
    refs, tasks = TileRefs(grid), TaskList()
    add = tasks.add_input_gradient if op == Op.DX else tasks.add_weight_gradient
    for step, step_cores in deal(list(op_steps(Region.whole(grid), op, loop)), CoreMapping.OUTPUT,
                                 tuple(range(cores)), Region.whole(grid)):
        for (_, g, m, n, k), core in zip(step, step_cores):
            add(refs, g, m, n, k, core)
    arrays = [SystolicArray.from_config(None, array) for _ in range(cores)]
    return sum(arrays[task.core].charge(task) for task in tasks.tasks)


LAYERS = [
    linear("fc", ("x",), 70, 50, rows=90),  # M 90, N 50, K 70: ragged against 16 x 8
    conv("conv", ("x",), (6, 10, 12), 10, 3, padding=1),  # K = 6 * 3 * 3: channel-sized K tiles
    conv("dw", ("x",), (8, 6, 6), 8, 3, padding=1, groups=8),  # grouped: several groups per tile
]


@settings(max_examples=300, deadline=None)
@given(layer=st.sampled_from(LAYERS), op=st.sampled_from([Op.DX, Op.DW]), loop=st.sampled_from(LOOP_ORDERS),
       dataflow=st.sampled_from(["os", "ws", "is"]), cores=st.integers(1, 5),
       parts=st.tuples(st.integers(1, 7), st.integers(1, 7), st.integers(1, 7)), tg=st.integers(1, 3))
def test_closed_form_equals_the_array_model(layer, op, loop, dataflow, cores, parts, tg):
    gemm = layer.gemm
    unit = gemm.k_unit
    tk = max(unit, -(-gemm.K // parts[2]) // unit * unit)
    shape = TileShape(min(tg, gemm.groups), -(-gemm.M // parts[0]), -(-gemm.N // parts[1]), tk)
    array = ArrayConfig(rows=16, cols=8, dataflow=dataflow)
    expected = charged(layer, shape, op, loop, cores, array)
    assert op_cycles(gemm, shape, op, [loop], cores, 16, 8, dataflow)[loop] == expected


@settings(max_examples=300, deadline=None)
@given(layer=st.sampled_from(LAYERS), op=st.sampled_from([Op.DX, Op.DW]),
       dataflow=st.sampled_from(["os", "ws", "is"]), cores=st.integers(1, 5),
       parts=st.tuples(st.integers(1, 7), st.integers(1, 7), st.integers(1, 7)), tg=st.integers(1, 3))
def test_the_floor_the_tuner_prunes_by_is_below_every_loop_order(layer, op, dataflow, cores, parts, tg):
    """The tuned baseline skips a shape whose floor exceeds its cycle limit: a floor above any loop
    order's cycles would silently drop a valid candidate."""
    gemm = layer.gemm
    unit = gemm.k_unit
    tk = max(unit, -(-gemm.K // parts[2]) // unit * unit)
    shape = TileShape(min(tg, gemm.groups), -(-gemm.M // parts[0]), -(-gemm.N // parts[1]), tk)
    floor = op_cycles_floor(gemm, shape, op, cores, 16, 8, dataflow)
    assert floor <= min(op_cycles(gemm, shape, op, LOOP_ORDERS, cores, 16, 8, dataflow).values())


@pytest.mark.slow
def test_tuned_baseline_costs_no_more_cycles_than_fixed_per_layer():
    workload, hw = build_model("resnet50"), load_hardware("edge_dual")
    fixed = simulate(workload, hw, run_options(order="sequential"))
    tuned = simulate(workload, hw, run_options(order="sequential", baseline="tuned"))
    fixed_rows = {row.layer: row.compute_cycles for row in fixed.layers}
    assert all(row.compute_cycles <= fixed_rows[row.layer] for row in tuned.layers)
