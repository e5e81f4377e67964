"""Tile-level cross-layer dependencies: which consumer dX tiles produce each dY tile, and the schedule."""

from __future__ import annotations

import pytest

from npu_des.analysis.checks import check_run
from npu_des.config import load_hardware, run_options
from npu_des.kinds import Op
from npu_des.models import build_model
from npu_des.schedule.plan import plan
from npu_des.schedule.tile_deps import link, readers
from npu_des.sim.driver import simulate
from npu_des.tiling import TileGrid, TileShape
from npu_des.workload import Workload, conv, linear


def grid(layer, tm, tn, tk, index=0) -> TileGrid:
    return TileGrid.build(layer, index, TileShape(1, tm, tn, tk), 2)


PRODUCER = conv("p", ("a",), (4, 8, 8), 8, 1)  # output 8 channels x 8 x 8 pixels (M = 64)
CONSUMER = conv("c", ("p",), (8, 8, 8), 4, 3)  # 3x3, stride 1, padding 1: K = 8 x 9 = 72
LAYERS = {layer.name: layer for layer in (PRODUCER, CONSUMER)}


def test_conv_consumer_tiles_cover_their_input_patch_with_halo():
    """Producer dY tiles of 16 pixels (two rows of 8) x 4 channels; consumer dX tiles of two output rows x
    4 channels (K tile 36 = 4 channels x 9). Consumer rows r read input rows r - 1 .. r + 1:
    consumer tile 0 (rows 0-1) reads rows 0-2 = pixels 0-23 -> producer tiles 0, 1;
    tile 1 (rows 2-3) rows 1-4 = pixels 8-39 -> 0, 1, 2; tile 2 (rows 4-5) rows 3-6 -> 1, 2, 3;
    tile 3 (rows 6-7) rows 5-7 -> 2, 3. Channels 0-3 are consumer K tile 0, channels 4-7 tile 1."""
    mapping = readers(grid(PRODUCER, 16, 4, 8), grid(CONSUMER, 16, 4, 36), LAYERS)
    assert link(PRODUCER, CONSUMER, LAYERS).pixels == "conv"
    assert mapping[(0, 0, 0)] == [(0, 0, 0), (0, 1, 0)]
    assert mapping[(0, 1, 0)] == [(0, 0, 0), (0, 1, 0), (0, 2, 0)]
    assert mapping[(0, 2, 1)] == [(0, 1, 1), (0, 2, 1), (0, 3, 1)]
    assert mapping[(0, 3, 1)] == [(0, 2, 1), (0, 3, 1)]


def test_strided_conv_halo():
    """3x3 stride 2 padding 1 on 8x8 -> 4x4 output; consumer tiles of one output row (4 pixels): output
    row r reads input rows 2r - 1 .. 2r + 1. Producer tiles of one row (8 pixels) each."""
    consumer = conv("s", ("p",), (8, 8, 8), 4, 3, stride=2)
    layers = {"p": PRODUCER, "s": consumer}
    mapping = readers(grid(PRODUCER, 8, 8, 8), grid(consumer, 4, 4, 72), layers)
    assert mapping[(0, 0, 0)] == [(0, 0, 0)]  # input row 0: output row 0 only
    assert mapping[(0, 1, 0)] == [(0, 0, 0), (0, 1, 0)]  # row 1: output rows 0 (2*0+1) and 1 (2*1-1)
    assert mapping[(0, 2, 0)] == [(0, 1, 0)]
    assert mapping[(0, 7, 0)] == [(0, 3, 0)]


def test_concatenated_inputs_map_to_their_channel_offsets():
    q = conv("q", ("a",), (4, 8, 8), 4, 1)
    r = conv("r", ("a",), (4, 8, 8), 4, 1)
    s = conv("s", ("q", "r"), (8, 8, 8), 4, 1)  # reads q's 4 channels, then r's 4
    layers = {layer.name: layer for layer in (q, r, s)}
    assert link(r, s, layers).offset == 4 and link(q, s, layers).offset == 0
    mapping = readers(grid(r, 64, 4, 4), grid(s, 64, 4, 4), layers)  # s: K tiles of 4 channels
    assert mapping[(0, 0, 0)] == [(0, 0, 1)]


def test_unmatched_geometry_falls_back_to_whole_images_or_everything():
    resnet = {layer.name: layer for layer in build_model("resnet50", batch=2).layers}
    assert link(resnet["conv1"], resnet["layer1.0.conv1"], resnet).pixels == "images"  # a max pool between
    assert link(resnet["layer4.2.conv3"], resnet["fc"], resnet).pixels == "images"  # global average pool
    bert = {layer.name: layer for layer in build_model("bert_base").layers}
    assert link(bert["layer0.qkv"], bert["layer0.scores"], bert).pixels == "all"  # heads as groups
    assert link(bert["layer0.attn_out"], bert["layer0.ffn_up"], bert).pixels == "rows"


def skip_workload() -> Workload:
    """a -> p -> {c (3x3), d (1x1)}: p's dY is the sum of c's and d's dX (a skip connection's fan-out)."""
    a = conv("a", (), (4, 8, 8), 4, 1)
    d = conv("d", ("p",), (8, 8, 8), 4, 1)
    return Workload("skip", (a, PRODUCER, CONSUMER, d))


def test_a_skip_connection_waits_for_the_covering_tiles_of_every_consumer():
    hw = load_hardware("ethos_n77")
    options = run_options(order="sequential", tile={"m": 16, "n": 4, "k": 36}, dependencies="tile")
    schedule, _ = plan(skip_workload(), hw, options)
    final = {(t.layer, (t.tile[0], t.tile[1], t.tile[3])): t.id
             for t in schedule.tasks if t.op == Op.DX and t.last}
    task = next(t for t in schedule.tasks if t.layer == "p" and t.tile[:3] == (0, 1, 0))
    expected = {final[("c", (0, m, 0))] for m in (0, 1, 2)} | {final[("d", (0, 1, 0))]}
    assert set(task.after) == expected
    assert schedule.op_deps[("p", Op.DX)] == ()
    assert all(t.after == () for t in schedule.tasks if t.layer in ("c", "d"))  # network outputs


@pytest.mark.parametrize("order", ["sequential", "interleaved", "rearranged", "fused"])
@pytest.mark.parametrize("settings", [[], ["run.vector_ops=true"], ["cores.count=1"]])
def test_tile_dependencies_keep_every_invariant(order, settings):
    workload = skip_workload()
    hw = load_hardware("edge_dual", [s for s in settings if not s.startswith("run.")])
    options = run_options(settings, order=order, dependencies="tile")
    result = simulate(workload, hw, options)
    assert check_run(result, workload, hw, options) == []


def test_tile_dependencies_let_a_layer_start_before_its_consumers_finish():
    """Interleaved, c's last dX tile comes at the end of its layer; per op, p waits for it, per tile only
    for the tiles over its first dY tile."""
    workload = skip_workload()
    hw = load_hardware("ethos_n77")
    tile = {"m": 16, "n": 4, "k": 36}
    runs = {dependencies: simulate(workload, hw, run_options(order="interleaved", tile=tile,
                                                             dependencies=dependencies))
            for dependencies in ("op", "tile")}
    for dependencies, result in runs.items():
        first = min(e.start for e in result.timeline if e.layer == "p" and e.resource.endswith(".array"))
        consumers_done = max(row.dX_end for row in result.layers if row.layer in ("c", "d"))
        assert (first >= consumers_done) == (dependencies == "op")
    assert runs["tile"].total_cycles < runs["op"].total_cycles


def test_linear_consumers_map_rows_one_to_one():
    one = linear("one", ("zero",), 16, 16, rows=32)
    two = linear("two", ("one",), 16, 8, rows=32)
    layers = {"one": one, "two": two}
    mapping = readers(grid(one, 8, 8, 8), grid(two, 8, 8, 8), layers)
    assert mapping[(0, 1, 1)] == [(0, 1, 1)]
