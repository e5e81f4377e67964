"""Importers: SCALE-Sim topologies and configs, ONNX models (skipped when onnx is not installed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from npu_des.errors import ConfigError
from npu_des.importers import load_topology, save_topology, topology_rows
from npu_des.importers.scalesim import read_topology
from npu_des.models import build_model
from npu_des.models.transformer import bert_base
from npu_des.workload import Workload, backward_graph, conv, forward_graph


def gemm_shapes(workload) -> list[tuple[int, int, int, int]]:
    return [(layer.gemm.M, layer.gemm.K, layer.gemm.N, layer.gemm.groups) for layer in workload.layers]


def write(tmp_path: Path, text: str, name: str = "topo.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ---- SCALE-Sim topologies -------------------------------------------------------------------------

@pytest.mark.parametrize("batch", [1, 4])
def test_resnet50_round_trips_through_scalesim_csv_with_identical_gemms(tmp_path: Path, batch: int) -> None:
    zoo = build_model("resnet50", batch=batch)
    path = tmp_path / "resnet50_scalesim.csv"
    save_topology(zoo, path)
    imported = load_topology(path, batch=batch)
    assert [layer.name for layer in imported.layers] == [layer.name for layer in zoo.layers]
    assert gemm_shapes(imported) == gemm_shapes(zoo)
    assert [layer.kind for layer in imported.layers] == [layer.kind for layer in zoo.layers]
    # padding is folded into the IFMAP: conv1 7x7/2 pad 3 on 224 is a valid conv on 229 (= 111*2 + 7)
    assert topology_rows(zoo)[1] == ["conv1", "229", "229", "7", "7", "3", "64", "2"]


def test_mobilenet_depthwise_round_trips_through_the_dp_marker(tmp_path: Path) -> None:
    zoo = build_model("mobilenet_v2")
    path = tmp_path / "mobilenet_v2.csv"
    save_topology(zoo, path)
    imported = load_topology(path)
    assert gemm_shapes(imported) == gemm_shapes(zoo)
    assert imported.layers[1].name == "block1.dw_DP" and imported.layers[1].kind == "depthwise"


def test_gemm_format_columns_are_m_n_k(tmp_path: Path) -> None:
    # SCALE-Sim's GEMM topology: Layer, M, N, K with M rows, N outputs, K reduction
    path = write(tmp_path, "Layer, M, N, K,\nQKT, 1024, 1024, 64,\nFF1, 1024, 3072, 768,\n")
    workload = load_topology(path, batch=2)
    assert gemm_shapes(workload) == [(2048, 64, 1024, 1), (2048, 768, 3072, 1)]
    assert workload.layers[1].inputs == ("QKT",) and workload.layers[0].inputs == ()


def test_gemm_format_round_trips_a_transformer_without_attention_groups(tmp_path: Path) -> None:
    zoo = bert_base(seq_len=32)
    with pytest.raises(ConfigError, match="groups"):
        save_topology(zoo, tmp_path / "bert.csv", gemm_format=True)
    single_head = [layer for layer in zoo.layers if layer.kind == "linear"]
    path = tmp_path / "bert.csv"
    save_topology(type(zoo)("bert_linear", tuple(single_head)), path, gemm_format=True)
    assert gemm_shapes(load_topology(path)) == gemm_shapes(type(zoo)("x", tuple(single_head)))


def test_scalesim_style_file_with_blank_rows_extra_cells_and_comments(tmp_path: Path) -> None:
    text = (
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
        "Strides,,Eh\n"
        ",,,,,,,,,\n"
        "Conv1, 224, 224, 3, 3, 3, 32, 2,\n"
        "\tConv2_DP, 112, 112, 3, 3, 32, 1, 1,#dw\n"
        "Conv3,110,110,1,1,32,64,1\n"
        "Conv3,110,110,1,1,64,64,1,\n"
        "FC, 1, 1, 1, 1, 64, 10, 1,\n"
    )
    workload = load_topology(write(tmp_path, text))
    # Conv1: SCALE-Sim's ceil((224 - 3 + 2) / 2) = 112 (a valid conv would give 111: the last window
    # overhangs); depthwise 3x3 on 112 -> 110x110, 32 groups of K=9, N=1
    assert gemm_shapes(workload) == [
        (112 * 112, 27, 32, 1),
        (110 * 110, 9, 1, 32),
        (110 * 110, 32, 64, 1),
        (110 * 110, 64, 64, 1),
        (1, 64, 10, 1),
    ]
    assert [layer.name for layer in workload.layers] == ["Conv1", "Conv2_DP", "Conv3", "Conv3_2", "FC"]
    assert workload.layers[-1].kind == "linear"
    backward_graph(forward_graph(workload))


def test_nine_column_header_reads_stride_width(tmp_path: Path) -> None:
    header = (
        "Layer name,IFMAP height,IFMAP width,Filter height,Filter width,Channels,Num filter,"
        "Stride height,Stride width,\n"
    )
    workload = load_topology(write(tmp_path, header + "c,9,9,3,3,4,8,2,2,\n"))
    assert gemm_shapes(workload) == [(16, 36, 8, 1)]
    with pytest.raises(ConfigError, match=r"topo\.csv:2: field 'Stride width': unequal strides"):
        load_topology(write(tmp_path, header + "c,9,9,3,3,4,8,2,1,\n"))


HEADER = (
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
)
BAD_TOPOLOGIES = [
    # (file text, expected message parts: file:row, column, what)
    (HEADER + "c1,8,8,3,3,4,8,1,\nc2,6,6,3,3,8,0,1,\n", r"topo\.csv:3: field 'Num Filter': .*got '0'"),
    (
        HEADER + "c1,8,8,3,3,4,8,0,\n",
        r"topo\.csv:2: field 'Strides': expected a positive integer \(got '0'\)",
    ),
    (HEADER + "c1,8,8,3,3,four,8,1,\n", r"topo\.csv:2: field 'Channels': .*got 'four'"),
    (HEADER + "c1,8,8,3.5,3,4,8,1,\n", r"topo\.csv:2: field 'Filter Height': .*got '3.5'"),
    (HEADER + "c1,8,8,3,3,4,8\n", r"topo\.csv:2: field 'Strides': missing value"),
    (HEADER + "c1,8,,3,3,4,8,1\n", r"topo\.csv:2: field 'IFMAP Width': missing value"),
    (HEADER + "\nc1,2,2,3,3,4,8,1\n", r"topo\.csv:3: field 'Filter Height': filter 3x3 is larger"),
    ("Layer, M, N, K,\ng1, 64, 32,\n", r"topo\.csv:2: field 'K': missing value"),
    ("Layer, M, N, K,\ng1, 64, -1, 8,\n", r"topo\.csv:2: field 'N': .*got '-1'"),
    ("", r"topo\.csv: empty topology file"),
    ("\n ,,, \n", r"topo\.csv: empty topology file"),
    (HEADER, r"topo\.csv: no layers after the header"),
]


@pytest.mark.parametrize(("text", "message"), BAD_TOPOLOGIES)
def test_malformed_topology_names_file_row_and_column(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_topology(write(tmp_path, text))


def test_header_that_is_not_scalesims_is_a_note_and_columns_are_read_by_position(tmp_path: Path) -> None:
    seven = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Num Filter, Strides,\n"
    workload, notes = read_topology(write(tmp_path, seven + "c1,8,8,3,3,4,8,1,\n"))
    assert gemm_shapes(workload) == [(36, 36, 8, 1)] and "read by position" in notes[0]
    with pytest.raises(ConfigError, match=r"no layers after the header \(line 1"):
        read_topology(write(tmp_path, "c1,8,8,3,3,4,8,1,\n"))  # SCALE-Sim skips the first row too


def test_missing_topology_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the topology file: no such file"):
        load_topology(tmp_path / "nope.csv")


# ---- ONNX ------------------------------------------------------------------------------------------


def onnx_model(
    tmp_path: Path,
    nodes: list,
    inputs: list,
    outputs: list,
    weights: dict[str, tuple[int, ...]],
    name: str = "net.onnx",
) -> Path:
    """Save a small ONNX graph; `weights` become zero initializers of the given shapes."""
    onnx = pytest.importorskip("onnx")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    import numpy as np

    initializers = [
        numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name=weight)
        for weight, shape in weights.items()
    ]
    graph = helper.make_graph(nodes, "net", inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def tensor(name: str, shape: list) -> object:
    onnx = pytest.importorskip("onnx")
    return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, shape)


def node(op: str, inputs: list[str], outputs: list[str], name: str, **attributes: object) -> object:
    onnx = pytest.importorskip("onnx")
    return onnx.helper.make_node(op, inputs, outputs, name=name, **attributes)


def branched_net(tmp_path: Path, batch_dim: object = 1) -> Path:
    """conv0 -> relu -> (conv_a | conv_b 1x1) -> add -> conv_c (stride 2) -> pool -> flatten -> fc."""
    nodes = [
        node("Conv", ["x", "w0"], ["y0"], "conv0", pads=[1, 1, 1, 1]),
        node("Relu", ["y0"], ["r0"], "relu0"),
        node("Conv", ["r0", "wa"], ["ya"], "conv_a", pads=[1, 1, 1, 1]),
        node("Conv", ["r0", "wb"], ["yb"], "conv_b"),
        node("Add", ["ya", "yb"], ["s"], "add"),
        node("BatchNormalization", ["s", "g", "b", "m", "v"], ["bn"], "bn"),
        node("Conv", ["bn", "wc"], ["yc"], "conv_c", pads=[1, 1, 1, 1], strides=[2, 2]),
        node("GlobalAveragePool", ["yc"], ["p"], "pool"),
        node("Flatten", ["p"], ["f"], "flatten"),
        node("Gemm", ["f", "wf", "bf"], ["out"], "fc", transB=1),
    ]
    weights = {
        "w0": (16, 3, 3, 3),
        "wa": (16, 16, 3, 3),
        "wb": (16, 16, 1, 1),
        "wc": (32, 16, 3, 3),
        "g": (16,),
        "b": (16,),
        "m": (16,),
        "v": (16,),
        "wf": (10, 32),
        "bf": (10,),
    }
    return onnx_model(
        tmp_path, nodes, [tensor("x", [batch_dim, 3, 16, 16])], [tensor("out", [batch_dim, 10])], weights
    )


def test_onnx_branched_net_keeps_branch_edges_through_non_gemm_nodes(tmp_path: Path) -> None:
    workload, skipped = load_onnx_or_skip(branched_net(tmp_path))
    inputs = {layer.name: layer.inputs for layer in workload.layers}
    assert inputs == {
        "conv0": (),
        "conv_a": ("conv0",),
        "conv_b": ("conv0",),
        "conv_c": ("conv_a", "conv_b"),
        "fc": ("conv_c",),
    }
    assert skipped == []
    forward = forward_graph(workload)
    assert set(forward.edges) == {
        ("conv0", "conv_a"),
        ("conv0", "conv_b"),
        ("conv_a", "conv_c"),
        ("conv_b", "conv_c"),
        ("conv_c", "fc"),
    }
    assert backward_graph(forward).number_of_nodes() == 2 * 5 - 1


def test_onnx_gemms_match_the_equivalent_hand_built_layers(tmp_path: Path) -> None:
    workload, _ = load_onnx_or_skip(branched_net(tmp_path), batch=4)
    # 3x3 convs with pad 1 keep 16x16: M = 4*256; conv_c stride 2 -> 8x8: M = 4*64; fc: rows = batch
    assert gemm_shapes(workload) == [
        (1024, 27, 16, 1),
        (1024, 144, 16, 1),
        (1024, 16, 16, 1),
        (256, 144, 32, 1),
        (4, 32, 10, 1),
    ]
    conv_c = workload.layers[3]
    assert conv_c.gemm.conv is not None and conv_c.gemm.conv.stride == 2 and conv_c.out_shape == (32, 8, 8)
    assert workload.layers[-1].kind == "linear"


def test_onnx_symbolic_batch_becomes_one_or_the_given_batch(tmp_path: Path) -> None:
    path = branched_net(tmp_path, batch_dim="N")
    assert load_onnx_or_skip(path)[0].layers[0].gemm.M == 256
    assert load_onnx_or_skip(path, batch=3)[0].layers[0].gemm.M == 3 * 256


def test_onnx_depthwise_and_attention_matmuls(tmp_path: Path) -> None:
    nodes = [
        node("Conv", ["x", "wd"], ["yd"], "dw", group=8, pads=[1, 1, 1, 1]),
        node("Reshape", ["yd", "shape"], ["tokens"], "reshape"),
        node("MatMul", ["tokens", "wq"], ["q"], "proj"),
        node("Transpose", ["q"], ["kt"], "transpose", perm=[0, 2, 1]),
        node("MatMul", ["q", "kt"], ["scores"], "scores"),
    ]
    onnx = pytest.importorskip("onnx")
    import numpy as np

    path = onnx_model(
        tmp_path,
        nodes,
        [tensor("x", [2, 8, 4, 4])],
        [tensor("scores", [2, 8, 8])],
        {"wd": (8, 1, 3, 3), "wq": (16, 12)},
    )
    model = onnx.load(str(path))
    model.graph.initializer.append(
        onnx.numpy_helper.from_array(np.array([2, 8, 16], dtype=np.int64), "shape")
    )
    onnx.save(model, str(path))
    workload, _ = load_onnx_or_skip(path)
    layers = {layer.name: layer for layer in workload.layers}
    assert layers["dw"].kind == "depthwise" and gemm_shapes(workload)[0] == (32, 9, 1, 8)
    # tokens (2, 8, 16) . W (16, 12): a linear layer over 2*8 rows
    assert (layers["proj"].kind, layers["proj"].gemm.M, layers["proj"].gemm.K, layers["proj"].gemm.N) == (
        "linear",
        16,
        16,
        12,
    )
    # q (2, 8, 12) . q^T (2, 12, 8): one 8x12 . 12x8 product per batch element
    scores = layers["scores"].gemm
    assert (scores.M, scores.K, scores.N, scores.groups) == (8, 12, 8, 2)
    assert layers["scores"].inputs == ("proj",) and layers["proj"].inputs == ("dw",)


def test_onnx_conv_output_size_comes_from_pads_not_from_stale_stored_shapes(tmp_path: Path) -> None:
    nodes = [
        node("Conv", ["x", "w"], ["y"], "tf_style", pads=[0, 0, 1, 1], strides=[2, 2]),
        node("Conv", ["y", "w2"], ["z"], "same", auto_pad="SAME_UPPER"),
    ]
    # declared output 5x5 is wrong: (9 + 0 + 1 - 3) // 2 + 1 = 4, and SAME keeps 4x4
    path = onnx_model(
        tmp_path,
        nodes,
        [tensor("x", [1, 3, 9, 9])],
        [tensor("z", [1, 8, 5, 5])],
        {"w": (8, 3, 3, 3), "w2": (8, 8, 3, 3)},
    )
    for batch in (None, 5):
        workload, _ = load_onnx_or_skip(path, batch=batch)
        assert [layer.out_shape for layer in workload.layers] == [(8, 4, 4), (8, 4, 4)]
        assert (batch or 1) * 16 == workload.layers[1].gemm.M


def test_onnx_unsupported_op_names_the_node_or_is_skipped(tmp_path: Path) -> None:
    nodes = [
        node("Conv", ["x", "w0"], ["y0"], "conv0"),
        node("Hardmax", ["y0"], ["h"], "odd_one"),
        node("Conv", ["h", "w1"], ["y1"], "conv1"),
    ]
    path = onnx_model(
        tmp_path,
        nodes,
        [tensor("x", [1, 4, 8, 8])],
        [tensor("y1", [1, 4, 8, 8])],
        {"w0": (4, 4, 1, 1), "w1": (4, 4, 1, 1)},
    )
    with pytest.raises(ConfigError, match=r"net\.onnx: node 'odd_one': unsupported op 'Hardmax'"):
        load_onnx_or_skip(path)
    workload, skipped = load_onnx_or_skip(path, skip_unsupported=True)
    assert skipped == ["odd_one"]
    assert workload.layers[1].inputs == ("conv0",)


def test_onnx_unequal_dilations_are_refused_with_the_node_name(tmp_path: Path) -> None:
    nodes = [node("Conv", ["x", "w0"], ["y0"], "atrous", dilations=[2, 1])]
    path = onnx_model(
        tmp_path, nodes, [tensor("x", [1, 4, 8, 8])], [tensor("y0", [1, 4, 4, 6])], {"w0": (4, 4, 3, 3)}
    )
    with pytest.raises(ConfigError, match=r"node 'atrous': unequal dilations \[2, 1\]"):
        load_onnx_or_skip(path)


def test_onnx_unknown_shape_names_the_node(tmp_path: Path) -> None:
    nodes = [node("MatMul", ["x", "w"], ["y"], "mm")]
    path = onnx_model(tmp_path, nodes, [tensor("x", ["rows", 8])], [tensor("y", ["rows", 4])], {"w": (8, 4)})
    workload, _ = load_onnx_or_skip(path)  # a symbolic first dimension is the batch: 1
    assert workload.layers[0].gemm.M == 1
    path = onnx_model(
        tmp_path, nodes, [tensor("x", [2, "seq", 8])], [tensor("y", [2, "seq", 4])], {"w": (8, 4)}
    )
    with pytest.raises(ConfigError, match=r"node 'mm': unknown shape of 'x'"):
        load_onnx_or_skip(path)


def test_onnx_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    with pytest.raises(ConfigError, match=r"junk\.onnx: cannot read ONNX model"):
        load_onnx_or_skip(write(tmp_path, "not a protobuf", "junk.onnx"))


def test_missing_onnx_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from npu_des.importers import load_onnx

    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` raise ImportError
    with pytest.raises(ConfigError, match=r"pip install 'npu-des\[onnx\]'"):
        load_onnx(tmp_path / "any.onnx")


def load_onnx_or_skip(path: Path, **options: object):
    pytest.importorskip("onnx")
    from npu_des.importers import load_onnx

    return load_onnx(path, **options)


def test_dilated_conv_is_refused_in_conv_format_and_exact_in_gemm_format(tmp_path: Path) -> None:
    """SCALE-Sim's conv rows have no dilation: a 3x3 kernel at dilation 2 spans 5x5 input pixels, so
    any conv row gets the output size (M) or the taps (K, MACs) wrong. The conv format refuses it in one
    line; the GEMM format keeps M, N, K exactly."""
    dilated = conv("aspp", (), (16, 33, 33), 8, 3, dilation=2)
    workload = Workload("dilated", (dilated,))
    assert dilated.gemm.conv is not None and dilated.gemm.conv.span_h == 5
    with pytest.raises(ConfigError, match=r"layer aspp: field 'dilation': dilation 2.*spanning 5x5"):
        save_topology(workload, tmp_path / "conv.csv")
    path = tmp_path / "gemm.csv"
    save_topology(workload, path, gemm_format=True)
    assert gemm_shapes(load_topology(path)) == gemm_shapes(workload)
