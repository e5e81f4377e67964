"""The MICRO'23 models (its Table 4) added to the zoo, against published sizes and their architectures.

What is compared: the Workload counts GEMM weights only (no biases, norms, embeddings), so CNNs are
held to their published parameter counts (biases and batch norm are < 0.5% there) and transformers
to an exact count derived from the published configuration, plus the embedding matrices against
the published total. MACs are held to published FLOPs / 2 where a source publishes them, else to a
count derived in the test from the configuration.
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from npu_des.models import build_model
from npu_des.models.bert import bert_embedding_parameters, bert_large, bert_tiny, tinybert_4
from npu_des.models.yolo import yolov2_tiny, yolov5l, yolov5s
from npu_des.workload import Workload

# (builder, published GFLOPs = 2 x GMACs, published parameters): Ultralytics README "Pretrained
# Checkpoints" at 640x640 (thop MACs x 2); darknet's yolov2-tiny.cfg (COCO) at 416x416 prints 5.41 BFLOPs
PUBLISHED_DETECTORS = [
    (yolov5s, 16.5e9, 7.2e6),
    (yolov5l, 109.1e9, 46.5e6),
]


def _layers(workload: Workload) -> dict:
    return {layer.name: layer for layer in workload.layers}


@pytest.mark.parametrize(("builder", "flops", "parameters"), PUBLISHED_DETECTORS)
def test_yolov5_matches_published_flops_and_parameters_at_640(builder, flops: float, parameters: float) -> None:
    workload = builder()
    assert 2 * workload.macs == pytest.approx(flops, rel=0.02)
    assert workload.parameters == pytest.approx(parameters, rel=0.02)


def test_yolov2_tiny_is_darknets_5_41_bflops_and_table4s_11m_weights() -> None:
    workload = yolov2_tiny()
    assert 2 * workload.macs == pytest.approx(5.41e9, rel=0.02)
    # cfg: 3x3 convs 3-16-32-64-128-256-512-1024-512, then 1x1 512 -> 425 (5 anchors x 85)
    widths = (3, 16, 32, 64, 128, 256, 512, 1024, 512)
    assert workload.parameters == sum(9 * a * b for a, b in pairwise(widths)) + 512 * 425 == 11_226_544
    assert round(workload.parameters / 1e6) == 11  # MICRO'23 Table 4: "11M"
    # five 2x2/2 pools: 416 -> 13; the stride-1 pool keeps 13x13
    assert [layer.out_shape[1] for layer in workload.layers] == [416, 208, 104, 52, 26, 13, 13, 13, 13]


def test_yolov5_concat_readers_list_both_sides_and_c3_sums_its_bottlenecks() -> None:
    small, large = _layers(yolov5s()), _layers(yolov5l())
    # head: layer 12 concatenates the upsampled layer 10 with backbone layer 6 (C3 output cv3)
    assert small["layer13.cv1"].inputs == small["layer13.cv2"].inputs == ("layer10", "layer6.cv3")
    assert small["layer13.cv1"].gemm.K == 256 + 256  # width 0.5: 512 -> 256 per side, at 40x40
    assert small["layer13.cv1"].out_shape[1:] == (40, 40)
    # backbone C3 (shortcut): cv3 reads the residual sum of its bottleneck stream and the cv2 branch
    assert small["layer2.cv3"].inputs == ("layer2.m0.cv2", "layer2.cv1", "layer2.cv2")
    # depth 1.0: three bottlenecks; neck C3 has no shortcut, so cv3 reads the last bottleneck only
    assert large["layer2.cv3"].inputs == ("layer2.m2.cv2", "layer2.m1.cv2", "layer2.m0.cv2", "layer2.cv1",
                                          "layer2.cv2")
    assert large["layer13.cv3"].inputs == ("layer13.m2.cv2", "layer13.cv2")
    # Detect at strides 8 / 16 / 32 of 640, 3 x 85 outputs each
    assert [small[f"detect.{p}"].out_shape for p in ("p3", "p4", "p5")] == [(255, 80, 80), (255, 40, 40),
                                                                           (255, 20, 20)]


def _bert_gemm_weights(layers: int, hidden: int, ffn: int) -> int:
    return layers * (4 * hidden * hidden + 2 * hidden * ffn)  # Q, K, V, output; FFN up and down


def _bert_macs(layers: int, hidden: int, ffn: int, heads: int, seq_len: int) -> int:
    head_dim = hidden // heads
    return layers * (seq_len * (4 * hidden * hidden + 2 * hidden * ffn) + 2 * heads * seq_len * head_dim * seq_len)


# (builder, L, H, A, FFN, published total parameters incl. embeddings)
PUBLISHED_BERTS = [
    (bert_large, 24, 1024, 16, 4096, 340e6),   # Devlin et al. 2019 (checkpoint: 335.1 M)
    (bert_large, 24, 1024, 16, 4096, 335_141_888),  # bert-large-uncased, incl. biases, norms, pooler
    (bert_tiny, 2, 128, 2, 512, 4.4e6),        # Turc et al. 2019
    (tinybert_4, 4, 312, 12, 1200, 14.5e6),    # Jiao et al. 2020; MICRO'23 Table 4 "14M"
]


@pytest.mark.parametrize(("builder", "layers", "hidden", "heads", "ffn", "total"), PUBLISHED_BERTS)
def test_bert_gemm_weights_follow_the_config_and_with_embeddings_match_the_published_total(
        builder, layers: int, hidden: int, heads: int, ffn: int, total: float) -> None:
    workload = builder(seq_len=128)
    assert workload.parameters == _bert_gemm_weights(layers, hidden, ffn)
    assert workload.macs == _bert_macs(layers, hidden, ffn, heads, 128)
    assert workload.parameters + bert_embedding_parameters(hidden) == pytest.approx(total, rel=0.02)


def test_bert_large_gemms_are_302m_weights_and_39_5_gmacs_at_seq_128() -> None:
    workload = bert_large()
    # 24 x (4 x 1024^2 + 2 x 1024 x 4096) = 24 x 12,582,912
    assert workload.parameters == 301_989_888
    # 24 x (128 x 12,582,912 + 2 x 16 heads x 128 x 64 x 128)
    assert workload.macs == 24 * (128 * 12_582_912 + 2 * 16 * 128 * 64 * 128) == 39_460_012_032


@pytest.mark.parametrize(("alias", "name"), [
    ("yolov2-tiny", "yolov2_tiny"), ("YOLOv5s", "yolov5s"), ("yolov5l", "yolov5l"),
    ("bert-large", "bert_large"), ("bert-tiny", "bert_tiny"), ("tinybert", "tinybert_4"),
])
def test_micro23_models_build_by_name_and_alias(alias: str, name: str) -> None:
    assert build_model(alias, batch=2).name == name
