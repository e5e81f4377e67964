"""The model zoo against published sizes, and every model as a valid forward and backward graph."""

from __future__ import annotations

import networkx as nx
import pytest

from npu_des.errors import ConfigError
from npu_des.models import MODELS, build_model, model_names, model_table
from npu_des.models.faster_rcnn import faster_rcnn, vgg16_convs
from npu_des.models.ncf import ncf
from npu_des.models.transformer import bert_base, gpt2_small
from npu_des.workload import backward_graph, forward_graph

# (model, published MACs, published weights, relative tolerance). Published figures are rounded and
# count biases and batch-norm parameters that the GEMM lowering leaves out, hence the tolerances.
PUBLISHED = [
    ("resnet50", 4.1e9, 25.5e6, 0.02),      # He et al. 2016; torchvision 25.557 M incl. BN and fc bias
    ("mobilenet_v1", 569e6, 4.2e6, 0.02),   # Howard et al. 2017, Table 1 / Table 8
    ("mobilenet_v2", 300e6, 3.47e6, 0.02),  # Sandler et al. 2018: 300 M MACs, 3.4 M (torchvision 3.50 M)
    ("googlenet", 1.5e9, 6.8e6, 0.06),      # Szegedy et al. 2015, Table 1: 1.5 G mult-adds, ~6.8 M
]


@pytest.mark.parametrize(("name", "macs", "weights", "tolerance"), PUBLISHED)
def test_zoo_model_matches_published_macs_and_weights(name: str, macs: float, weights: float,
                                                      tolerance: float) -> None:
    workload = build_model(name)
    assert workload.macs == pytest.approx(macs, rel=tolerance)
    assert workload.parameters == pytest.approx(weights, rel=tolerance)


def test_vgg16_conv_part_is_15_3_gmacs_at_224() -> None:
    layers = vgg16_convs(image=224)
    assert len(layers) == 13
    assert sum(layer.gemm.macs for layer in layers) == pytest.approx(15.35e9, rel=0.01)
    assert sum(layer.gemm.weight_elements for layer in layers) == pytest.approx(14.71e6, rel=0.01)


def test_faster_rcnn_rpn_heads_read_the_rpn_conv_at_stride_16() -> None:
    workload = faster_rcnn(image=(600, 800))
    layers = {layer.name: layer for layer in workload.layers}
    # four 2x2 pools, rounding up: 600 -> 300 -> 150 -> 75 -> 38, 800 -> 400 -> 200 -> 100 -> 50
    assert layers["rpn_conv"].out_shape == (512, 38, 50)
    assert layers["rpn_cls"].out_shape == (18, 38, 50) and layers["rpn_bbox"].out_shape == (36, 38, 50)
    assert layers["rpn_cls"].inputs == layers["rpn_bbox"].inputs == ("rpn_conv",)


def test_bert_base_has_85m_encoder_weights_and_11_gmacs_at_seq_128() -> None:
    # per block 768*2304 + 768*768 + 2*768*3072 = 7,077,888 weights; x 12 blocks
    workload = bert_base(seq_len=128)
    assert workload.parameters == 12 * 7_077_888
    # per block 128 tokens x 7,077,888 + scores and context 2 x 12 heads x 128*64*128
    assert workload.macs == 12 * (128 * 7_077_888 + 2 * 12 * 128 * 64 * 128)


def test_attention_gemms_run_once_per_sequence_and_head() -> None:
    layers = {layer.name: layer for layer in bert_base(batch=2, seq_len=64).layers}
    scores, context = layers["layer3.scores"].gemm, layers["layer3.context"].gemm
    assert (scores.M, scores.K, scores.N, scores.groups) == (64, 64, 64, 24)
    assert (context.M, context.K, context.N, context.groups) == (64, 64, 64, 24)
    assert layers["layer3.qkv"].gemm.M == 128
    assert set(layers["layer3.context"].inputs) == {"layer3.scores", "layer3.qkv"}


def test_gpt2_small_weights_are_124m_less_position_embeddings() -> None:
    workload = gpt2_small(seq_len=64)
    # 12 blocks x 7,077,888 + tied LM head 768 x 50257 = 123.5 M (published 124 M incl. 0.8 M positions)
    assert workload.parameters == 12 * 7_077_888 + 768 * 50257
    assert gpt2_small(seq_len=64, lm_head=False).parameters == 12 * 7_077_888


def test_residual_stream_readers_list_every_contributor() -> None:
    layers = {layer.name: layer for layer in gpt2_small(seq_len=16).layers}
    assert layers["layer0.qkv"].inputs == ()
    assert set(layers["layer2.qkv"].inputs) == {
        f"layer{b}.{op}" for b in (0, 1) for op in ("attn_out", "ffn_down")
    }
    assert len(layers["lm_head"].inputs) == 24


def test_ncf_rows_are_the_batch() -> None:
    workload = ncf(batch=256)
    shapes = [(layer.gemm.M, layer.gemm.K, layer.gemm.N) for layer in workload.layers]
    assert shapes == [(256, 256, 256), (256, 256, 128), (256, 128, 64), (256, 64, 1)]


def test_googlenet_concat_consumers_list_all_four_branches() -> None:
    layers = {layer.name: layer for layer in build_model("googlenet").layers}
    branches = ("inception4e.1x1", "inception4e.3x3", "inception4e.5x5", "inception4e.pool_proj")
    for reader in (
        "inception5a.1x1",
        "inception5a.3x3_reduce",
        "inception5a.5x5_reduce",
        "inception5a.pool_proj",
    ):
        assert layers[reader].inputs == branches
    assert layers["inception5a.1x1"].out_shape[1:] == (7, 7)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_zoo_model_builds_forward_and_backward_graphs(name: str) -> None:
    workload = build_model(name, batch=2)
    forward = forward_graph(workload)
    backward = backward_graph(forward)
    assert nx.is_directed_acyclic_graph(backward)
    sources = [node for node in forward if forward.in_degree(node) == 0]
    # only layers reading the network input lack dX; every layer has dW
    assert backward.number_of_nodes() == 2 * len(workload.layers) - len(sources)
    assert all(forward.nodes[node]["layer"].inputs == () for node in sources)


def test_model_table_reports_every_model_at_two_bytes_per_parameter() -> None:
    rows = {row.name: row for row in model_table()}
    assert sorted(rows) == model_names()
    assert rows["resnet50"].parameter_bytes == 2 * build_model("resnet50").parameters
    assert rows["mobilenet_v2"].layers == 53


def test_unknown_model_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"allowed: .*gpt2_small"):
        build_model("vgg19")
    assert build_model("GPT2").name == "gpt2_small"
