"""ONNX as torch exports it: external data, dynamo module names, dilated convs, skipped work reported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from npu_des.cli import main
from npu_des.errors import ConfigError
from npu_des.workload import conv

onnx = pytest.importorskip("onnx")
np = pytest.importorskip("numpy")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from npu_des.importers.onnx_import import LARGE_SKIP_SHARE, import_onnx, load_onnx  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "onnx" / "tiny_atrous.onnx"


def scoped(
    op: str,
    inputs: list[str],
    outputs: list[str],
    name: str,
    scopes: list[str] | None = None,
    **attributes: object,
):
    """A node as torch's dynamo exporter writes it: an opaque name, the module path in metadata."""
    made = helper.make_node(op, inputs, outputs, name=name, **attributes)
    if scopes is not None:
        entry = made.metadata_props.add()
        entry.key, entry.value = "pkg.torch.onnx.name_scopes", repr(scopes)
    return made


def save(
    tmp_path: Path,
    nodes: list,
    weights: dict[str, tuple[int, ...]],
    x_shape: list[int],
    external: bool = False,
    name: str = "model.onnx",
) -> Path:
    initializers = [
        numpy_helper.from_array(np.ones(shape, np.float32), key) for key, shape in weights.items()
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)],
        initializers,
    )
    path = tmp_path / name
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
        str(path),
        save_as_external_data=external,
        all_tensors_to_one_file=True,
        location=f"{name}.data",
        size_threshold=0,
    )
    return path


def resnet_like(tmp_path: Path, external: bool) -> Path:
    nodes = [
        scoped(
            "Conv",
            ["x", "w1"],
            ["a"],
            "node_Conv_292",
            ["", "layer1", "layer1.0", "layer1.0.conv1", "conv2d"],
            pads=[1, 1, 1, 1],
        ),
        scoped("Relu", ["a"], ["r"], "node_relu", ["", "relu"]),
        scoped(
            "Conv",
            ["r", "w2"],
            ["b"],
            "node_Conv_293",
            ["", "layer1", "layer1.0", "layer1.0.conv2", "conv2d_1"],
            pads=[1, 1, 1, 1],
        ),
        scoped("Conv", ["b", "w3"], ["c"], "node_Conv_294", ["", "conv2d_2"]),  # no module: keep the name
    ]
    weights = {"w1": (16, 3, 3, 3), "w2": (16, 16, 3, 3), "w3": (8, 16, 1, 1)}
    return save(tmp_path, nodes, weights, [1, 3, 32, 32], external=external)


def test_torch_export_with_external_data_imports_with_module_names() -> None:
    """The committed file is a real torch 2.13 dynamo export (examples/onnx/export_tiny_atrous.py)."""
    assert EXAMPLE.with_name("tiny_atrous.onnx.data").is_file()
    workload, skipped = load_onnx(EXAMPLE)
    assert skipped == []
    assert [layer.name for layer in workload.layers] == ["bn", "atrous", "fc"]  # BN fused into conv1
    atrous = workload.layers[1]
    assert atrous.gemm.conv is not None and atrous.gemm.conv.dilation == 2
    assert (atrous.gemm.M, atrous.gemm.K, atrous.gemm.N) == (16 * 16, 8 * 3 * 3, 8)  # padding 2 keeps 16x16


def test_external_data_builds_the_same_workload_without_reading_the_weights(tmp_path: Path) -> None:
    (tmp_path / "inline").mkdir()
    inline = load_onnx(resnet_like(tmp_path / "inline", external=False))[0]
    path = resnet_like(tmp_path, external=True)
    data = path.with_name("model.onnx.data")
    assert data.stat().st_size == 4 * (16 * 27 + 16 * 144 + 8 * 16)
    data.write_bytes(b"")  # weights are never read: an empty data file still imports
    external = load_onnx(path)[0]
    assert external == inline
    assert [layer.name for layer in external.layers] == ["layer1.0.conv1", "layer1.0.conv2", "node_Conv_294"]


def test_missing_external_data_file_is_one_line_naming_it(tmp_path: Path, capsys) -> None:
    path = resnet_like(tmp_path, external=True)
    alone = tmp_path / "copied"
    alone.mkdir()
    shutil.copy(path, alone / "model.onnx")
    with pytest.raises(ConfigError, match=r"model\.onnx: external data file 'model\.onnx\.data' is missing"):
        load_onnx(alone / "model.onnx")
    assert main(["run", "--onnx", str(alone / "model.onnx")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "model.onnx.data" in error and "Traceback" not in error


def test_shape_inference_failure_names_the_node(tmp_path: Path) -> None:
    from npu_des.importers.onnx_import import _inference_failure

    message = (
        "[ShapeInferenceError] Inference error(s): (op_type:Concat, node name: cat): "
        "[ShapeInferenceError] Can't merge shape info.\nmore"
    )
    assert (
        _inference_failure(message)
        == "shape inference failed at node 'cat' (Concat): Can't merge shape info."
    )
    nodes = [scoped("MatMul", ["x", "w"], ["y"], "node_MatMul_7", ["", "proj", "matmul"])]
    path = save(tmp_path, nodes, {"w": (8, 4)}, [2, "seq", 8])  # 'seq' cannot be resolved
    with pytest.raises(ConfigError, match=r"node 'proj': unknown shape of 'x'"):
        load_onnx(path)


def test_dilated_conv_lowering_keeps_macs_and_widens_the_kernel_span() -> None:
    """dilation 2, 3x3 kernel: span 5, so 'same' padding is 2 and a 16x16 input stays 16x16; MACs are those
    of a 3x3 conv; an output row's input patch is 5 rows (halo of the span, not of the kernel)."""
    dense = conv("c", (), (8, 16, 16), 4, 3, padding=2)
    dilated = conv("c", (), (8, 16, 16), 4, 3, dilation=2)
    assert dilated.out_shape == (4, 16, 16) and dense.out_shape == (4, 18, 18)
    assert dilated.gemm.K == dense.gemm.K == 8 * 9
    assert dilated.gemm.macs == 16 * 16 * 8 * 9 * 4
    geometry = dilated.gemm.conv
    assert geometry is not None and (geometry.span_h, geometry.span_w) == (5, 5)
    assert geometry.patch_pixels(0, 16) == 5 * 16  # one output row reads 5 input rows
    assert geometry.patch_pixels(0, 1) == 5 * 5
    strided = conv("s", (), (8, 33, 33), 4, 3, stride=2, padding=0, dilation=4)
    assert strided.out_shape == (4, 13, 13)  # (33 - 9) // 2 + 1
    with pytest.raises(ConfigError, match="dilation"):
        conv("c", (), (8, 16, 16), 4, 3, dilation=0)


def test_onnx_dilated_conv_matches_the_hand_built_layer(tmp_path: Path) -> None:
    nodes = [scoped("Conv", ["x", "w"], ["y"], "atrous", None, pads=[4, 4, 4, 4], dilations=[4, 4])]
    path = save(tmp_path, nodes, {"w": (16, 8, 3, 3)}, [1, 8, 20, 20])
    (layer,) = load_onnx(path)[0].layers
    expected = conv("atrous", (), (8, 20, 20), 16, 3, padding=4, dilation=4)
    assert layer.gemm == expected.gemm and layer.out_shape == expected.out_shape


def skip_net(tmp_path: Path, odd_filters: int) -> Path:
    """conv -> ConvTranspose (unsupported, its MACs known) -> conv."""
    nodes = [
        scoped("Conv", ["x", "w0"], ["a"], "conv0", None, pads=[1, 1, 1, 1]),
        scoped("ConvTranspose", ["a", "wt"], ["b"], "up", None, strides=[2, 2]),
        scoped("Conv", ["b", "w1"], ["y"], "conv1", None),
    ]
    weights = {"w0": (8, 3, 3, 3), "wt": (8, odd_filters, 2, 2), "w1": (4, odd_filters, 1, 1)}
    return save(tmp_path, nodes, weights, [1, 3, 8, 8], name=f"skip{odd_filters}.onnx")


def test_skipped_nodes_report_the_macs_and_bytes_they_drop(tmp_path: Path) -> None:
    imported = import_onnx(skip_net(tmp_path, 1), skip_unsupported=True, allow_large_skips=True)
    (up,) = imported.skipped
    assert up.name == "up" and up.op == "ConvTranspose"
    assert up.macs == (8 * 8 * 8) * (1 * 2 * 2)  # input pixels x channels x (Cout/g * kh * kw)
    assert up.bytes == 4 * (8 * 8 * 8 + 8 * 1 * 2 * 2 + 1 * 16 * 16)  # input, weight, output as float32
    conv_macs = 8 * 8 * 27 * 8 + 16 * 16 * 1 * 4
    assert imported.imported_macs == conv_macs
    (note,) = imported.notes()
    assert note.startswith(
        "skipped 1 unsupported ONNX node(s) as pass-through, dropping 2,048 MACs (12.12% of "
        "the model's 16,896 MACs) and 3.2 KB of tensors: up (ConvTranspose, 2,048 MACs, 3.2 KB)"
    )


def test_a_skip_carrying_a_large_share_of_the_macs_needs_a_second_flag(tmp_path: Path, capsys) -> None:
    path = skip_net(tmp_path, 64)
    imported = import_onnx(path, skip_unsupported=True, allow_large_skips=True)
    assert imported.skipped_macs > LARGE_SKIP_SHARE * (imported.skipped_macs + imported.imported_macs)
    with pytest.raises(ConfigError, match=r"node 'up': unsupported op 'ConvTranspose', and it carries"):
        import_onnx(path, skip_unsupported=True)
    argv = ["run", "--onnx", str(path), "--order", "sequential", "--skip-unsupported"]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "--allow-large-skips" in error and error.count("\n") == 1
    assert main([*argv, "--allow-large-skips", "--json"]) == 0
    assert "dropping" in capsys.readouterr().out
