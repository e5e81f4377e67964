"""Backward graphs: dX/dW per layer, no dX for the first layer, skip connections and branches."""

from __future__ import annotations

import pytest

from npu_des.errors import ConfigError
from npu_des.models import build_model
from npu_des.workload import Workload, backward_graph, backward_layer_order, conv, forward_graph, linear
from npu_des.workload.layers import ConvGeometry


def test_first_layer_has_no_input_gradient():
    backward = backward_graph(forward_graph(build_model("resnet50")))
    assert ("conv1", "dW") in backward and ("conv1", "dX") not in backward
    assert backward.number_of_nodes() == 2 * 54 - 1


def test_skip_connection_output_gradient_waits_for_every_consumer():
    backward = backward_graph(forward_graph(build_model("resnet50")))
    # layer1.0's output (conv3 + downsample) feeds layer1.1.conv1 and, through identity skips,
    # layer1.2.conv1 and stage 2's conv1 and downsample: all their dX ops produce its dY.
    producers = set(backward.predecessors(("layer1.0.conv3", "dW")))
    assert producers == {("layer1.1.conv1", "dX"), ("layer1.2.conv1", "dX"), ("layer2.0.conv1", "dX"),
                         ("layer2.0.downsample", "dX")}


def test_backward_order_visits_consumers_before_producers():
    forward = forward_graph(build_model("tiny_cnn"))
    order = [layer.name for layer in backward_layer_order(forward)]
    assert order == ["fc", "conv4", "conv3", "conv2", "conv1"]
    for producer, consumer in forward.edges:
        assert order.index(consumer) < order.index(producer)


def test_resnet50_macs_and_weights_match_published():
    workload = build_model("resnet50")
    assert workload.macs == pytest.approx(4.09e9, rel=0.01)
    assert workload.parameters == pytest.approx(25.5e6, rel=0.01)


def test_conv_lowering_shapes():
    layer = conv("c", (), (64, 56, 56), 128, 3, stride=2, batch=2)
    assert (layer.gemm.M, layer.gemm.K, layer.gemm.N, layer.gemm.groups) == (2 * 28 * 28, 64 * 9, 128, 1)
    depthwise = conv("dw", (), (32, 112, 112), 32, 3, groups=32)
    assert (depthwise.gemm.M, depthwise.gemm.K, depthwise.gemm.N, depthwise.gemm.groups) == (
        112 * 112,
        9,
        1,
        32,
    )
    assert depthwise.kind == "depthwise"


def test_input_patch_bytes_include_halo_not_im2col():
    geometry = ConvGeometry(batch=1, in_h=8, in_w=8, out_h=8, out_w=8, kernel_h=3, kernel_w=3, stride=1)
    assert geometry.patch_pixels(0, 16) == 4 * 8  # two output rows of a 3x3 conv read (2-1)+3 = 4 input rows
    assert geometry.patch_pixels(0, 64) == 64  # whole image
    assert geometry.patch_pixels(0, 4) == 3 * 6  # four pixels of one row: 3 rows x (4-1+3) cols


def test_cyclic_and_dangling_graphs_are_rejected():
    a = linear("a", ("b",), 4, 4)
    b = linear("b", ("a",), 4, 4)
    with pytest.raises(ConfigError, match="cycle"):
        forward_graph(Workload("loop", (a, b)))
    with pytest.raises(ConfigError, match="not a layer"):
        forward_graph(Workload("dangling", (linear("a", ("ghost",), 4, 4),)))
