"""MICRO'23's published numbers, per model and per figure, for printing beside the reproduction.

J. Kim et al., "Improving Data Reuse in NPU On-chip Memory with Interleaved Gradient Order for DNN
Training", MICRO 2023. Bar heights were read from the PDF's vector drawings (bar tops calibrated against
the axis ticks, about +-0.001 on a normalised axis); each average bar matches the paper's text to 0.1 pp.
All times are forward + backward, normalised to the baseline of the same configuration, except Fig. 5
(backward DRAM traffic shares). Models in the order of the paper's figures (Table 4 abbreviations).
"""

from __future__ import annotations

ABBREVIATIONS = ("rcnn", "goo", "ncf", "res", "dlrm", "mob", "yolo", "bert", "T5")

# The zoo model behind each abbreviation. Table 4 gives different sizes for yolo, bert and T5 on the two
# NPUs (v5 / v2-tiny 47M / 11M, large / tiny 340M / 14M, large / small 770M / 60M): YOLOv5l (46.5 M),
# TinyBERT-4 (14.5 M with embeddings), T5-small / -large. No zoo MobileNet has Table 4's 13M parameters
# (V1 4.2 M, V2 3.5 M); MobileNetV2 is the one PyTorch (the paper's framework, Fig. 3) ships.
SMALL_MODELS = dict(zip(ABBREVIATIONS, ("faster_rcnn", "googlenet", "ncf", "resnet50", "dlrm", "mobilenet_v2",
                                        "yolov2_tiny", "tinybert_4", "t5_small")))
LARGE_MODELS = {**SMALL_MODELS, "yolo": "yolov5l", "bert": "bert_large", "T5": "t5_large"}


def _row(*values: float) -> dict[str, float]:
    return dict(zip(ABBREVIATIONS, values))


# Fig. 12 (p.10): single core, cumulative steps. Text: small 0.8 / 23.8 / 29.3 %, large 7.4 / 10.9 / 14.5 %.
FIG12 = {
    "small": {
        "interleaved": _row(.9994, .9864, .9924, .9969, .9884, .9996, .9997, .9883, .9755),
        "rearranged": _row(.7977, .6983, .6315, .6999, .9778, .6509, .7749, .8451, .7851),
        "partitioned": _row(.7503, .5991, .6068, .6233, .9608, .6360, .7150, .8036, .6662),
    },
    "large": {
        "interleaved": _row(.9304, .8834, .8361, .9451, .9087, .9072, .9553, .9920, .9740),
        "rearranged": _row(.8793, .8652, .8193, .9330, .9236, .8842, .8234, .9557, .9384),
        "partitioned": _row(.8525, .8318, .7526, .8755, .9013, .8665, .8001, .9320, .8810),
    },
}
# §4.3 (p.8), no figure: the per-layer best of the three access orders, mean only (25.1 % / 12.4 %).
BEST_OF_THREE_MEAN = {"small": 1 - 0.251, "large": 1 - 0.124}
# §5 (p.9): dual-core data partitioning, ideal 22.4 % vs KNN 21.5 % (the only KNN number).
KNN_DUAL_CORE = {"ideal": 1 - 0.224, "knn": 1 - 0.215}
# Fig. 6 (p.5): "dY fetched once" (dW reads no dY), normalised fwd+bwd time; text 1.70x small, 1.43x large.
FIG6 = {
    "small": _row(.631, .504, .576, .609, .689, .552, .645, .522, .570),
    "large": _row(.726, .716, .659, .759, .569, .722, .618, .796, .748),
}
# Fig. 5 (p.5): dY share of the baseline's backward DRAM traffic, large NPU (text: 39.0 % and 51.4 %).
FIG5 = {
    "reads+writes": _row(.372, .338, .299, .263, .613, .505, .440, .342, .319),
    "reads": _row(.474, .445, .573, .369, .683, .618, .611, .428, .422),
}
# Fig. 14 (p.11): large NPU, all techniques, at 1/2/4/8 cores (SPM, bandwidth and batch scale).
FIG14 = {
    1: _row(.8525, .8318, .7526, .8755, .9013, .8665, .8001, .9320, .8810),
    2: _row(.7397, .7220, .6765, .7743, .8409, .7758, .7019, .9106, .8428),
    4: _row(.7262, .7089, .6712, .7519, .8268, .7749, .6834, .9011, .8254),
    8: _row(.7127, .7041, .6433, .6906, .6853, .7641, .5812, .8946, .8183),
}
# Fig. 15 (p.11): single-core large NPU, all techniques, at 150 / 75 / 37.5 GB/s.
FIG15 = {
    150.0: _row(.8520, .8318, .7526, .8755, .9013, .8665, .8001, .9320, .8810),
    75.0: _row(.7997, .7709, .7312, .8022, .8793, .8186, .7681, .8646, .8328),
    37.5: _row(.7966, .7666, .6720, .7757, .8482, .7299, .7449, .8234, .7959),
}
# Fig. 16 (p.12): single-core large NPU, all techniques, at batch 8 / 16 / 32.
FIG16 = {
    8: _row(.8525, .8317, .7526, .8755, .9013, .8664, .8001, .9320, .8810),
    16: _row(.8099, .8374, .7668, .8729, .8993, .8637, .8070, .9341, .8870),
    32: _row(.8253, .8697, .7651, .8844, .8974, .8709, .8199, .9288, .8760),
}


def mean(row: dict[str, float]) -> float:
    """The paper's "avg" bar: the arithmetic mean of the per-model normalised times."""
    return sum(row.values()) / len(row)
