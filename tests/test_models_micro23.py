"""The MICRO'23 models (its Table 4) added to the zoo, against published sizes and their architectures.

What is compared: the Workload counts GEMM weights only (no biases, norms, embeddings), so CNNs are
held to their published parameter counts (biases and batch norm are < 0.5% there), and MACs to the
published FLOPs / 2.
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from npu_des.models import build_model
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


@pytest.mark.parametrize(("alias", "name"), [
    ("yolov2-tiny", "yolov2_tiny"), ("YOLOv5s", "yolov5s"), ("yolov5l", "yolov5l"),
])
def test_micro23_models_build_by_name_and_alias(alias: str, name: str) -> None:
    assert build_model(alias, batch=2).name == name
